"""Text classification JSONL: Prodigy's binary answers (``label`` +
``answer``), Prodigy's ``choice`` interface (``options`` + ``accept``) and
``cats`` dicts, to docs whose ``doc.cats`` hold every label of the file.

Annotations of the same input (same ``_input_hash``) are merged into one doc.
Binary answers: accept makes the label a positive, reject a negative, ignore
leaves the record out (counted). Whether the labels are mutually exclusive is
detected from the data unless ``exclusive`` says so:

- exclusive: every doc must end with exactly one positive. A doc that only has
  rejects gets its positive when exactly one label is left (counted as
  ``inferred``), otherwise it is invalid.
- multi-label: labels a doc was never asked about are filled in as 0.0
  (counted as ``filled``).
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from ._util import (
    GROUP_KEY, ID_KEY, SOURCE_KEY, Guard, InvalidRecord, ReadReport, iter_jsonl,
    parse_label_map, require,
)

ANSWERS = ("accept", "reject", "ignore")


@dataclass
class _Group:
    """All the records of one input."""

    key: str
    text: str
    lines: List[int] = field(default_factory=list)
    values: Dict[str, float] = field(default_factory=dict)
    value_lines: Dict[str, int] = field(default_factory=dict)
    choice_style: Optional[str] = None


def _answer(obj: Dict[str, Any], *, path: Path, line: int) -> str:
    answer = obj.get("answer", "accept")
    if answer not in ANSWERS:
        raise InvalidRecord(
            Errors.E212.format(where=f"{path}:{line}", field="answer", expected="'accept', 'reject' or 'ignore'",
                               value=repr(answer)),
            line=line,
        )
    return answer


def _label(value: Any, label_map: Dict[str, str]) -> str:
    label = str(int(value)) if isinstance(value, bool) else str(value)
    return label_map.get(label, label)


def _record_values(kind: str, obj: Dict[str, Any], answer: str, *, where: str, line: int,
                   label_map: Dict[str, str]) -> Tuple[Dict[str, float], Optional[str]]:
    """The label values one record contributes, and its choice style."""
    if kind == "textcat":
        raw = require(obj, "label", (str, int), where=where, line=line)
        label = _label(raw, label_map)
        if not label.strip():
            raise InvalidRecord(Errors.E207.format(where=where, detail="the label is empty"), line=line)
        return {label: 1.0 if answer == "accept" else 0.0}, None
    if kind == "choice":
        options = require(obj, "options", (list,), where=where, line=line)
        ids = []
        for j, option in enumerate(options):
            if not isinstance(option, dict) or "id" not in option:
                raise InvalidRecord(
                    Errors.E212.format(where=where, field=f"options[{j}]", expected="object with an 'id'",
                                       value=repr(option)[:80]),
                    line=line,
                )
            ids.append(option["id"])
        accept = obj.get("accept", [])
        if not isinstance(accept, list):
            raise InvalidRecord(
                Errors.E212.format(where=where, field="accept", expected="list", value=repr(accept)[:80]), line=line
            )
        for choice in accept:
            if choice not in ids:
                raise InvalidRecord(Errors.E241.format(where=where, choice=repr(choice), ids=ids), line=line)
        config = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        style = config.get("choice_style")
        accepted = set(map(str, accept))
        return {_label(i, label_map): float(str(i) in accepted) for i in ids}, style
    # cats
    cats = require(obj, "cats", (dict,), where=where, line=line)
    values = {}
    for label, value in cats.items():
        ok = isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0
        if not ok or float(value) not in (0.0, 1.0):
            raise InvalidRecord(
                Errors.E207.format(
                    where=where,
                    detail=f"cats[{label!r}] is {value!r}; category values must be 0/1 (or true/false)",
                ),
                line=line,
            )
        values[_label(label, label_map)] = float(value)
    return values, None


def read_textcat_jsonl(
    path: Union[str, Path],
    nlp: Language,
    *,
    kind: str = "textcat",
    exclusive: Optional[bool] = None,
    label_map: Optional[Union[str, Dict[str, str]]] = None,
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read text classification JSONL into docs with complete ``doc.cats``.

    path (Union[str, Path]): The JSONL file.
    nlp (Language): Its tokenizer makes the docs.
    kind (str): "textcat" (Prodigy binary: label + answer), "choice"
        (options + accept) or "cats" (a cats dict per record).
    exclusive (Optional[bool]): Mutually exclusive labels; None detects it.
    label_map (Optional[Union[str, Dict[str, str]]]): Renames labels.
    skip_invalid (bool): Skip and count bad records instead of raising.
    max_examples (int): How many skipped records the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    labels_map = parse_label_map(label_map)
    report = ReadReport(path=str(path), format=kind, max_examples=max_examples)
    guard = Guard(report, skip_invalid=skip_invalid)
    groups: Dict[str, _Group] = {}
    for line, obj in iter_jsonl(path, report, guard):
        where = f"{path}:{line}"
        try:
            text = require(obj, "text", (str,), where=where, line=line)
            answer = _answer(obj, path=path, line=line)
            values, style = _record_values(kind, obj, answer, where=where, line=line, label_map=labels_map)
        except InvalidRecord as err:
            guard.invalid(err)
            continue
        report.answers[answer if "answer" in obj else "none (accept)"] += 1
        if answer == "ignore":
            report.count("ignored")
            continue
        if answer == "reject" and kind != "textcat":
            # A rejected choice or cats record says the whole annotation is
            # wrong, not which label is right: it is left out, and counted.
            report.count("rejected")
            continue
        key = str(obj["_input_hash"]) if "_input_hash" in obj else f"line:{line}"
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key=key, text=text)
        elif group.text != text:
            guard.invalid(InvalidRecord(
                Errors.E242.format(path=path, line=line, key=key, first=group.lines[0]), line=line
            ))
            continue
        conflict = [
            label for label, value in values.items()
            if label in group.values and group.values[label] != value
        ]
        if conflict:
            label = conflict[0]
            guard.invalid(InvalidRecord(
                Errors.E215.format(path=path, line=line, label=label, value=values[label],
                                   other=group.values[label], first=group.value_lines[label]),
                line=line,
            ))
            continue
        for label, value in values.items():
            group.values.setdefault(label, value)
            group.value_lines.setdefault(label, line)
        if style:
            group.choice_style = style
        group.lines.append(line)
    labels = sorted({label for g in groups.values() for label in g.values})
    if exclusive is None:
        exclusive = _detect_exclusive(kind, list(groups.values()), labels)
        report.scheme = ("exclusive" if exclusive else "multilabel") + " (detected)"
    else:
        report.scheme = "exclusive" if exclusive else "multilabel"
    if exclusive and len(labels) < 2 and groups:
        raise ValueError(Errors.E230.format(path=path, labels=labels))
    report.labels = labels
    docs = []
    for group in groups.values():
        try:
            cats = _complete(group, labels, exclusive, path=path, report=report)
        except InvalidRecord as err:
            guard.invalid(err)
            continue
        report.count("used")
        report.count("merged", len(group.lines) - 1)
        doc = nlp.make_doc(group.text)
        doc.cats = cats
        doc.user_data[ID_KEY] = group.key
        doc.user_data[GROUP_KEY] = group.key
        doc.user_data[SOURCE_KEY] = f"{path.name}:{group.lines[0]}"
        for label, value in cats.items():
            if value == 1.0:
                report.label_counts[label] += 1
        docs.append(doc)
    report.docs = len(docs)
    report.check()
    return docs, report


def _detect_exclusive(kind: str, groups: List[_Group], labels: List[str]) -> bool:
    if len(labels) < 2:
        return False
    styles = {g.choice_style for g in groups if g.choice_style}
    if kind == "choice" and styles:
        return styles == {"single"}
    return all(sum(v == 1.0 for v in g.values.values()) == 1 for g in groups)


def _complete(group: _Group, labels: List[str], exclusive: bool, *, path: Path, report: ReadReport) -> Dict[str, float]:
    lines = ",".join(map(str, group.lines))
    positives = [label for label, value in group.values.items() if value == 1.0]
    missing = [label for label in labels if label not in group.values]
    if not exclusive:
        report.filled += len(missing)
        return {label: group.values.get(label, 0.0) for label in labels}
    if len(positives) > 1:
        raise InvalidRecord(
            Errors.E213.format(path=path, lines=lines, n=len(positives), labels=positives), line=group.lines[0],
            lines=len(group.lines),
        )
    if not positives:
        if len(missing) != 1:
            raise InvalidRecord(
                Errors.E214.format(path=path, lines=lines, rejected=sorted(group.values), missing=missing),
                line=group.lines[0], lines=len(group.lines),
            )
        positives = missing
        report.inferred += 1
    return {label: float(label == positives[0]) for label in labels}

