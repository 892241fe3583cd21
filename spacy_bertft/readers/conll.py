"""CoNLL-2003 and other IOB files: one token per line (``TOKEN [POS
[CHUNK]] TAG``, split on whitespace), a blank line between sentences,
``-DOCSTART-`` lines between documents.

Tags are IOB1 (CoNLL-2003's own: ``I-X`` starts an entity unless it continues
one of type X; ``B-X`` only separates two adjacent entities of one type) or
IOB2 (every entity starts with ``B-X``). One decoder reads both: an ``I-X``
that does not continue an X entity starts one. ``iob_scheme="iob2"`` makes
such a tag an error instead; ``"auto"`` reports which scheme the file used.
With four columns the POS tags go to ``token.tag_`` and the chunks to
``doc.spans["chunks"]``, so nothing of the file is lost.
"""
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors
from ._util import (
    GROUP_KEY, ID_KEY, SOURCE_KEY, Guard, InvalidRecord, ReadReport, iter_lines, parse_label_map,
)

IOB_SCHEMES = ("auto", "iob1", "iob2")
DOCSTART = "-DOCSTART-"
CHUNKS_KEY = "chunks"
_TAG = re.compile(r"^(?:O|[BI]-\S+)$")


def iob_to_spans(
    tags: List[str], *, where: str, lines: List[int], strict_iob2: bool = False
) -> Tuple[List[Tuple[int, int, str]], bool]:
    """Decode IOB1 or IOB2 tags into (start, end, label) token spans.

    tags (List[str]): One tag per token.
    where (str): The file, for errors.
    lines (List[int]): The line of each tag, for errors.
    strict_iob2 (bool): An I- tag that starts an entity is an error.
    RETURNS (Tuple[List[Tuple[int, int, str]], bool]): The spans, and whether
        an I- tag started an entity (the file is IOB1).
    """
    spans = []
    start, label = None, None
    i_starts = False
    for i, tag in enumerate(tags):
        if not _TAG.match(tag):
            raise InvalidRecord(
                Errors.E207.format(
                    where=f"{where}:{lines[i]}",
                    detail=f"the tag {tag!r} is not IOB (O, B-TYPE or I-TYPE); BILUO/BIOES tags and bare types "
                           "are not read",
                ),
                line=lines[i],
            )
        prefix, _, type_ = tag.partition("-")
        continues = prefix == "I" and label == type_
        if start is not None and not continues:
            spans.append((start, i, label))
            start, label = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            if prefix == "I":
                if strict_iob2:
                    raise InvalidRecord(Errors.E227.format(where=f"{where}:{lines[i]}", tag=tag), line=lines[i])
                i_starts = True
            start, label = i, type_
    if start is not None:
        spans.append((start, len(tags), label))
    return spans, i_starts


def read_conll(
    path: Union[str, Path],
    nlp: Language,
    *,
    n_sents: int = 1,
    iob_scheme: str = "auto",
    label_map: Optional[Union[str, Dict[str, str]]] = None,
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read a CoNLL/IOB file into docs with ``doc.ents``.

    path (Union[str, Path]): The file.
    nlp (Language): Its vocab makes the docs (the file's tokens are kept).
    n_sents (int): Sentences per doc (never across ``-DOCSTART-``); 0: one doc
        per ``-DOCSTART-`` document.
    iob_scheme (str): "auto", "iob1" or "iob2" (strict: I- never starts).
    label_map (Optional[Union[str, Dict[str, str]]]): Renames entity types.
    skip_invalid (bool): Skip and count bad sentences instead of raising.
    max_examples (int): How many skipped sentences the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    if iob_scheme not in IOB_SCHEMES:
        raise ValueError(Errors.E209.format(what="IOB scheme", value=iob_scheme, options=", ".join(IOB_SCHEMES)))
    if n_sents < 0:
        raise ValueError(Errors.E240.format(n=n_sents))
    labels_map = parse_label_map(label_map)
    report = ReadReport(path=str(path), format="conll", max_examples=max_examples)
    guard = Guard(report, skip_invalid=skip_invalid)
    n_cols: Optional[int] = None
    any_i_start = False
    docs: List[Doc] = []
    pending: List[Tuple[List[str], List[str], List[Optional[str]], List[Tuple[int, int, str]],
                        List[Tuple[int, int, str]], int]] = []
    doc_index = 0
    sentence: List[Tuple[int, List[str]]] = []
    bad_line: Optional[InvalidRecord] = None
    undecodable = False  # a line of this sentence was not UTF-8 (already counted)

    def flush_doc() -> None:
        if pending:
            docs.append(_make_doc(nlp, pending, path=path, doc_index=doc_index, report=report))
            pending.clear()

    def end_sentence() -> None:
        nonlocal bad_line, any_i_start, undecodable
        if undecodable:
            # The guard counted the bad line; the rest of its sentence goes too.
            report.count("invalid", len(sentence) + (1 if bad_line is not None else 0))
            sentence.clear()
            bad_line, undecodable = None, False
            return
        if not sentence and bad_line is None:
            return
        lines = [ln for ln, _ in sentence]
        try:
            if bad_line is not None:
                raise bad_line
            words = [cols[0] for _, cols in sentence]
            tags = [cols[-1] for _, cols in sentence]
            ents, i_starts = iob_to_spans(tags, where=str(path), lines=lines, strict_iob2=iob_scheme == "iob2")
            ents = [(s, e, labels_map.get(lab, lab)) for s, e, lab in ents]
            pos = [cols[1] for _, cols in sentence] if len(sentence[0][1]) >= 3 else [None] * len(words)
            chunks: List[Tuple[int, int, str]] = []
            if len(sentence[0][1]) >= 4:
                chunks, _ = iob_to_spans([cols[2] for _, cols in sentence], where=str(path), lines=lines)
        except InvalidRecord as err:
            err.lines = len(sentence) + (1 if bad_line is not None else 0)
            bad_line = None
            sentence.clear()
            guard.invalid(err)
            return
        any_i_start = any_i_start or i_starts
        report.count("tokens", len(sentence))
        pending.append((words, tags, pos, ents, chunks, lines[0]))
        sentence.clear()
        if n_sents and len(pending) >= n_sents:
            flush_doc()

    for line, text in iter_lines(path, guard):
        report.read += 1
        if text is None:
            undecodable = True
            continue
        cols = text.split()
        if not cols:
            report.count("blank")
            end_sentence()
            continue
        if cols[0] == DOCSTART:
            report.count("docstart")
            end_sentence()
            flush_doc()
            doc_index += 1
            continue
        if bad_line is not None:
            sentence.append((line, cols))
            continue
        if n_cols is None:
            n_cols = len(cols)
        if len(cols) < 2 or len(cols) != n_cols:
            bad_line = InvalidRecord(
                Errors.E228.format(where=f"{path}:{line}", n=len(cols), expected=n_cols, text=text[:80]), line=line
            )
            continue
        sentence.append((line, cols))
    end_sentence()
    flush_doc()
    report.scheme = {"auto": "iob1" if any_i_start else "iob2", "iob1": "iob1", "iob2": "iob2"}[iob_scheme]
    if iob_scheme == "auto":
        report.scheme += " (detected)"
    report.labels = sorted(report.label_counts)
    report.docs = len(docs)
    report.notes.append(f"{report.outcomes['docstart']} -DOCSTART- documents, "
                        f"{sum(d.user_data['bertft_sentences'] for d in docs)} sentences")
    report.check()
    return docs, report


def _make_doc(nlp: Language, sentences, *, path: Path, doc_index: int, report: ReadReport) -> Doc:
    words: List[str] = []
    sent_starts: List[bool] = []
    tags: List[Optional[str]] = []
    ents: List[Tuple[int, int, str]] = []
    chunks: List[Tuple[int, int, str]] = []
    for s_words, _, s_pos, s_ents, s_chunks, _ in sentences:
        offset = len(words)
        words.extend(s_words)
        sent_starts.extend([True] + [False] * (len(s_words) - 1))
        tags.extend(s_pos)
        ents.extend((s + offset, e + offset, lab) for s, e, lab in s_ents)
        chunks.extend((s + offset, e + offset, lab) for s, e, lab in s_chunks)
    spaces = [True] * len(words)
    spaces[-1] = False
    doc = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=sent_starts,
              tags=tags if all(t is not None for t in tags) else None)
    doc.set_ents([Span(doc, s, e, label=lab) for s, e, lab in ents], default="outside")
    if chunks:
        doc.spans[CHUNKS_KEY] = [Span(doc, s, e, label=lab) for s, e, lab in chunks]
    for _, _, lab in ents:
        report.label_counts[lab] += 1
    report.spans += len(ents)
    first_line = sentences[0][-1]
    doc.user_data[ID_KEY] = f"{path.name}:{first_line}"
    doc.user_data[GROUP_KEY] = f"document:{doc_index}"
    doc.user_data[SOURCE_KEY] = f"{path.name}:{first_line}"
    doc.user_data["bertft_sentences"] = len(sentences)
    return doc
