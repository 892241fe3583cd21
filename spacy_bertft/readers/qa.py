"""Extractive QA: SQuAD v1.1/v2.0 JSON and a JSONL form (``question``,
``context``, ``answers`` as ``[{"text", "answer_start"}]`` or Hugging Face's
``{"text": [...], "answer_start": [...]}``), to docs in the representation of
``spacy_bertft.segments.qa_doc``.

The reference answers are ``doc.spans["answers"]``: spans of the context,
snapped to tokens by ``alignment_mode`` (counted when they move), every
answer kept, duplicates included. The span group's ``attrs`` keep what
snapping could change: ``id`` (the question id), ``texts`` and ``starts`` (the
answers as given, ``starts`` as character offsets into the context) and
``is_impossible``. An unanswerable question (SQuAD 2.0) has an empty group.
"""
import hashlib
import json
from pathlib import Path
from typing import Any, List, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc, SpanGroup

from ..errors import Errors
from ..segments import SEPARATOR, qa_doc
from ._util import (
    GROUP_KEY, ID_KEY, SOURCE_KEY, Guard, InvalidRecord, ReadReport, check_alignment_mode,
    iter_jsonl, read_text, require, snap_span,
)

ANSWERS_KEY = "answers"
ANSWER_LABEL = "ANSWER"


def _answers(raw: Any, *, where: str, line: Union[int, str]) -> List[Tuple[str, int]]:
    """(text, answer_start) of each answer, from either answer layout."""
    if isinstance(raw, dict):
        texts, starts = raw.get("text"), raw.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise InvalidRecord(
                Errors.E212.format(where=where, field="answers", expected="lists 'text' and 'answer_start' of "
                                   "equal length", value=repr(raw)[:80]),
                line=line,
            )
        raw = [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]
    if not isinstance(raw, list):
        raise InvalidRecord(
            Errors.E212.format(where=where, field="answers", expected="list", value=repr(raw)[:80]), line=line
        )
    out = []
    for j, answer in enumerate(raw):
        awhere = f"{where} answers[{j}]"
        if not isinstance(answer, dict):
            raise InvalidRecord(
                Errors.E212.format(where=awhere, field="answer", expected="object", value=repr(answer)[:80]),
                line=line,
            )
        out.append((require(answer, "text", (str,), where=awhere, line=line),
                    require(answer, "answer_start", (int,), where=awhere, line=line)))
    return out


def make_qa_doc(
    nlp: Language,
    question: str,
    context: str,
    answers: List[Tuple[str, int]],
    *,
    qid: str,
    is_impossible: bool,
    alignment_mode: str,
    where: str,
    line: Union[int, str],
    report: ReadReport,
) -> Doc:
    """Build the QA doc of one question with its reference answers.

    RETURNS (Doc): The doc, answers in ``doc.spans["answers"]``.
    """
    try:
        doc = qa_doc(nlp, question.strip(), context)
    except ValueError as e:
        raise InvalidRecord(Errors.E222.format(where=where, err=e), line=line) from None
    offset = len(question.strip()) + len(SEPARATOR)
    spans = []
    for j, (text, start) in enumerate(answers):
        awhere = f"{where} answers[{j}]"
        end = start + len(text)
        if not text or not 0 <= start < end <= len(context):
            raise InvalidRecord(Errors.E204.format(where=awhere, start=start, end=end, n=len(context)), line=line)
        if context[start:end] != text:
            raise InvalidRecord(
                Errors.E205.format(where=awhere, start=start, end=end, actual=context[start:end], expected=text),
                line=line,
            )
        spans.append(snap_span(doc, start + offset, end + offset, ANSWER_LABEL, alignment_mode=alignment_mode,
                               where=awhere, line=line, report=report))
    attrs = {"id": qid, "texts": [t for t, _ in answers], "starts": [s for _, s in answers],
             "is_impossible": is_impossible}
    doc.spans[ANSWERS_KEY] = SpanGroup(doc, name=ANSWERS_KEY, spans=spans, attrs=attrs)
    report.spans += len(spans)
    report.label_counts["answers"] += len(spans)
    report.label_counts["unanswerable questions" if not spans else "answerable questions"] += 1
    return doc


def read_squad(
    path: Union[str, Path],
    nlp: Language,
    *,
    alignment_mode: str = "expand",
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read a SQuAD v1.1 or v2.0 JSON file: one doc per question.

    path (Union[str, Path]): The JSON file.
    nlp (Language): Its tokenizer makes the docs.
    alignment_mode (str): How answers off token boundaries are snapped
        ("strict" makes them errors).
    skip_invalid (bool): Skip and count bad questions instead of raising.
    max_examples (int): How many skipped questions the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    check_alignment_mode(alignment_mode)
    report = ReadReport(path=str(path), format="squad", unit="questions", max_examples=max_examples,
                        scheme=f"answers ({alignment_mode})")
    guard = Guard(report, skip_invalid=skip_invalid)
    text = read_text(path)
    try:
        data = srsly.json_loads(text)
    except ValueError as e:
        line = getattr(e, "lineno", None) or _json_error_line(text)
        raise InvalidRecord(Errors.E200.format(path=path, line=line, err=e), line=line) from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(Errors.E229.format(path=path, where="the top level",
                                            detail="a SQuAD file is an object with a 'data' list"))
    report.format = f"squad (version {data.get('version', 'unknown')})"
    docs = []
    for i, article in enumerate(data["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise ValueError(Errors.E229.format(path=path, where=f"data[{i}]", detail="no 'paragraphs' list"))
        title = str(article.get("title", i))
        for j, paragraph in enumerate(paragraphs):
            pwhere = f"data[{i}].paragraphs[{j}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
                    or not isinstance(paragraph.get("qas"), list):
                raise ValueError(Errors.E229.format(path=path, where=pwhere,
                                                    detail="a paragraph needs a 'context' string and a 'qas' list"))
            context = paragraph["context"]
            for k, qa in enumerate(paragraph["qas"]):
                report.read += 1
                qid = str(qa.get("id", f"{i}.{j}.{k}")) if isinstance(qa, dict) else f"{i}.{j}.{k}"
                where = f"{path} {pwhere}.qas[{k}] (id {qid})"
                mark = report.mark()
                try:
                    if not isinstance(qa, dict):
                        raise InvalidRecord(
                            Errors.E212.format(where=where, field="qas", expected="object", value=repr(qa)[:80]),
                            line=qid,
                        )
                    question = require(qa, "question", (str,), where=where, line=qid)
                    impossible = bool(qa.get("is_impossible", False))
                    answers = [] if impossible else _answers(qa.get("answers", []), where=where, line=qid)
                    if impossible and qa.get("plausible_answers"):
                        report.answers["plausible_answers (not used)"] += len(qa["plausible_answers"])
                    doc = make_qa_doc(nlp, question, context, answers, qid=qid, is_impossible=impossible,
                                      alignment_mode=alignment_mode, where=where, line=qid, report=report)
                except InvalidRecord as err:
                    guard.invalid(err, mark)
                    continue
                doc.user_data[ID_KEY] = qid
                doc.user_data[GROUP_KEY] = f"article:{title}"
                doc.user_data[SOURCE_KEY] = f"{path.name}:{pwhere}.qas[{k}]"
                report.count("used")
                docs.append(doc)
    report.docs = len(docs)
    report.labels = [ANSWER_LABEL]
    report.check()
    return docs, report


def _json_error_line(text: str) -> int:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return e.lineno
    return 1


def read_qa_jsonl(
    path: Union[str, Path],
    nlp: Language,
    *,
    alignment_mode: str = "expand",
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read QA JSONL: ``{"question", "context", "answers", "id"?,
    "is_impossible"?}`` per line; an empty ``answers`` list is unanswerable.

    path (Union[str, Path]): The JSONL file.
    nlp (Language): Its tokenizer makes the docs.
    alignment_mode (str): How answers off token boundaries are snapped.
    skip_invalid (bool): Skip and count bad records instead of raising.
    max_examples (int): How many skipped records the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    check_alignment_mode(alignment_mode)
    report = ReadReport(path=str(path), format="qa", max_examples=max_examples,
                        scheme=f"answers ({alignment_mode})")
    guard = Guard(report, skip_invalid=skip_invalid)
    docs = []
    for line, obj in iter_jsonl(path, report, guard):
        where = f"{path}:{line}"
        qid = str(obj.get("id", f"line:{line}"))
        mark = report.mark()
        try:
            question = require(obj, "question", (str,), where=where, line=line)
            context = require(obj, "context", (str,), where=where, line=line)
            answers = _answers(require(obj, "answers", (list, dict), where=where, line=line), where=where, line=line)
            impossible = bool(obj.get("is_impossible", not answers))
            if impossible and answers:
                raise InvalidRecord(
                    Errors.E212.format(where=where, field="answers", expected="none for is_impossible: true",
                                       value=repr(answers)[:80]),
                    line=line,
                )
            doc = make_qa_doc(nlp, question, context, answers, qid=qid, is_impossible=impossible,
                              alignment_mode=alignment_mode, where=where, line=line, report=report)
        except InvalidRecord as err:
            guard.invalid(err, mark)
            continue
        doc.user_data[ID_KEY] = qid
        doc.user_data[GROUP_KEY] = "context:" + hashlib.sha1(context.encode("utf8")).hexdigest()[:16]
        doc.user_data[SOURCE_KEY] = f"{path.name}:{line}"
        report.count("used")
        docs.append(doc)
    report.docs = len(docs)
    report.labels = [ANSWER_LABEL]
    report.check()
    return docs, report
