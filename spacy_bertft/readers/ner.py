"""Prodigy NER JSONL (``text``, ``spans`` with character offsets and
``token_start``/``token_end``, optionally ``tokens``) to docs with
``doc.ents``.

When a record has ``tokens``, the doc keeps exactly that tokenization
(``Doc(words=..., spaces=...)``) and the spans are taken by their token
indices, checked against their character offsets. Otherwise the pipeline's
tokenizer makes the doc and spans are snapped by ``alignment_mode``.
``answer``: accept (or none) keeps the record, reject and ignore leave it out
(counted). Records of the same input (``_input_hash``) are merged into one doc.
"""
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import Errors
from ._util import (
    GROUP_KEY, ID_KEY, SOURCE_KEY, Guard, InvalidRecord, ReadReport, check_alignment_mode,
    iter_jsonl, parse_label_map, require, snap_span,
)
from .textcat import ANSWERS


def _tokens_doc(nlp: Language, text: str, tokens: List[Any], *, where: str, line: int) -> Doc:
    words, spaces = [], []
    for j, tok in enumerate(tokens):
        if not isinstance(tok, dict) or not isinstance(tok.get("text"), str):
            raise InvalidRecord(
                Errors.E212.format(where=where, field=f"tokens[{j}]", expected="object with a 'text'",
                                   value=repr(tok)[:80]),
                line=line,
            )
        words.append(tok["text"])
        if "ws" in tok:
            spaces.append(bool(tok["ws"]))
        else:
            # No "ws": a space follows when the text has one right after the
            # token (found by walking the text; a mismatch fails below).
            pos = sum(len(w) for w in words) + sum(spaces)
            spaces.append(j + 1 < len(tokens) and text[pos:pos + 1] == " ")
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    if doc.text != text:
        first = next(
            (i for i, (a, b) in enumerate(zip(doc.text, text)) if a != b), min(len(doc.text), len(text))
        )
        raise InvalidRecord(
            Errors.E223.format(where=where, pos=first, doc_text=doc.text[max(0, first - 20):first + 20],
                               text=text[max(0, first - 20):first + 20]),
            line=line,
        )
    for j, tok in enumerate(tokens):
        for key, expected in (("start", doc[j].idx), ("end", doc[j].idx + len(doc[j]))):
            if key in tok and tok[key] != expected:
                raise InvalidRecord(
                    Errors.E224.format(where=where, what=f"tokens[{j}].{key}", value=tok[key], expected=expected,
                                       token=doc[j].text),
                    line=line,
                )
    return doc


def _record_spans(
    obj: Dict[str, Any], doc: Doc, has_tokens: bool, *, where: str, line: int, alignment_mode: str,
    report: ReadReport, label_map: Dict[str, str],
) -> List[Tuple[int, int, str, int]]:
    """(start token, end token, label, line) of each span of the record."""
    spans = obj.get("spans", [])
    if not isinstance(spans, list):
        raise InvalidRecord(
            Errors.E212.format(where=where, field="spans", expected="list", value=repr(spans)[:80]), line=line
        )
    out = []
    for j, span in enumerate(spans):
        swhere = f"{where} spans[{j}]"
        if not isinstance(span, dict):
            raise InvalidRecord(
                Errors.E212.format(where=swhere, field="span", expected="object", value=repr(span)[:80]), line=line
            )
        start = require(span, "start", (int,), where=swhere, line=line)
        end = require(span, "end", (int,), where=swhere, line=line)
        label = require(span, "label", (str,), where=swhere, line=line)
        label = label_map.get(label, label)
        if not 0 <= start < end <= len(doc.text):
            raise InvalidRecord(Errors.E204.format(where=swhere, start=start, end=end, n=len(doc.text)), line=line)
        if "text" in span and span["text"] != doc.text[start:end]:
            raise InvalidRecord(
                Errors.E205.format(where=swhere, start=start, end=end, actual=doc.text[start:end],
                                   expected=span["text"]),
                line=line,
            )
        if has_tokens and "token_start" in span and "token_end" in span:
            ts, te = span["token_start"], span["token_end"]
            if not (isinstance(ts, int) and isinstance(te, int) and 0 <= ts <= te < len(doc)):
                raise InvalidRecord(
                    Errors.E204.format(where=f"{swhere} tokens", start=ts, end=te, n=len(doc)), line=line
                )
            sp = doc[ts:te + 1]
            if sp.start_char != start or sp.end_char != end:
                raise InvalidRecord(
                    Errors.E224.format(where=swhere, what="token_start/token_end", value=f"{ts}..{te}",
                                       expected=f"characters {start}:{end}", token=sp.text),
                    line=line,
                )
        else:
            sp = snap_span(doc, start, end, label, alignment_mode=alignment_mode, where=swhere, line=line,
                           report=report)
        out.append((sp.start, sp.end, label, line))
    return out


def read_prodigy_ner(
    path: Union[str, Path],
    nlp: Language,
    *,
    alignment_mode: str = "strict",
    label_map: Optional[Union[str, Dict[str, str]]] = None,
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read Prodigy NER JSONL into docs with ``doc.ents``.

    path (Union[str, Path]): The JSONL file.
    nlp (Language): Its tokenizer makes docs of records without ``tokens``.
    alignment_mode (str): "strict" (a span off token boundaries is an error),
        "contract" or "expand" (snap it; counted in the report).
    label_map (Optional[Union[str, Dict[str, str]]]): Renames entity labels.
    skip_invalid (bool): Skip and count bad records instead of raising.
    max_examples (int): How many skipped records the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    check_alignment_mode(alignment_mode)
    labels_map = parse_label_map(label_map)
    report = ReadReport(path=str(path), format="ner", max_examples=max_examples, scheme=f"spans ({alignment_mode})")
    guard = Guard(report, skip_invalid=skip_invalid)
    groups: Dict[str, Dict[str, Any]] = {}
    for line, obj in iter_jsonl(path, report, guard):
        where = f"{path}:{line}"
        mark = report.mark()
        try:
            text = require(obj, "text", (str,), where=where, line=line)
            answer = obj.get("answer", "accept")
            if answer not in ANSWERS:
                raise InvalidRecord(
                    Errors.E212.format(where=where, field="answer", expected="'accept', 'reject' or 'ignore'",
                                       value=repr(answer)),
                    line=line,
                )
            tokens = obj.get("tokens")
            has_tokens = isinstance(tokens, list) and len(tokens) > 0
            doc = _tokens_doc(nlp, text, tokens, where=where, line=line) if has_tokens else nlp.make_doc(text)
            spans = _record_spans(obj, doc, has_tokens, where=where, line=line, alignment_mode=alignment_mode,
                                  report=report, label_map=labels_map)
        except InvalidRecord as err:
            guard.invalid(err, mark)
            continue
        report.answers[answer if "answer" in obj else "none (accept)"] += 1
        if answer != "accept":
            # Spans of a rejected record are wrong, not absent: leave it out.
            report.undo_to(mark)
            report.count("rejected" if answer == "reject" else "ignored")
            continue
        key = str(obj["_input_hash"]) if "_input_hash" in obj else f"line:{line}"
        group = groups.get(key)
        if group is None:
            groups[key] = {"doc": doc, "spans": [], "lines": [], "seen": set()}
            group = groups[key]
        elif group["doc"].text != text or [t.text for t in group["doc"]] != [t.text for t in doc]:
            guard.invalid(InvalidRecord(
                Errors.E242.format(path=path, line=line, key=key, first=group["lines"][0]), line=line
            ), mark)
            continue
        overlap = _find_overlap(group["spans"], spans)
        if overlap is not None:
            (a, b) = overlap
            guard.invalid(InvalidRecord(
                Errors.E206.format(path=path, line=line, a=_describe(doc, a), b=_describe(doc, b)), line=line
            ), mark)
            continue
        for sp in spans:
            if sp[:3] not in group["seen"]:
                group["seen"].add(sp[:3])
                group["spans"].append(sp)
        group["lines"].append(line)
    docs = []
    labels = set()
    for key, group in groups.items():
        doc = group["doc"]
        ents = [Span(doc, s, e, label=label) for s, e, label, _ in sorted(group["spans"])]
        doc.set_ents(ents, default="outside")
        for ent in doc.ents:
            report.label_counts[ent.label_] += 1
            labels.add(ent.label_)
        report.spans += len(doc.ents)
        doc.user_data[ID_KEY] = key
        doc.user_data[GROUP_KEY] = key
        doc.user_data[SOURCE_KEY] = f"{path.name}:{group['lines'][0]}"
        report.count("used")
        report.count("merged", len(group["lines"]) - 1)
        docs.append(doc)
    report.labels = sorted(labels)
    report.docs = len(docs)
    report.check()
    return docs, report


def _find_overlap(existing: List[Tuple[int, int, str, int]], new: List[Tuple[int, int, str, int]]):
    """The first pair of different spans that share a token, or None."""
    spans = sorted(set(existing) | set(new), key=lambda s: (s[0], s[1]))
    unique = []
    for sp in spans:
        if unique and unique[-1][:3] == sp[:3]:
            continue
        unique.append(sp)
    for a, b in zip(unique, unique[1:]):
        if b[0] < a[1]:
            return a, b
    return None


def _describe(doc: Doc, span: Tuple[int, int, str, int]) -> str:
    s, e, label, line = span
    return f"{doc[s:e].text!r} ({label}, tokens {s}..{e - 1}, line {line})"
