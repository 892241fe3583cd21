"""Labelled text pairs, as JSONL (field names configurable) and as GLUE TSV
(SST-2's single sentences, MRPC, RTE, QNLI, QQP, WNLI, or any header named by
options), to docs in the pair representation of
``spacy_bertft.segments.pair_doc`` with ``doc.cats`` over every label of the
file (mutually exclusive: one 1.0, the rest 0.0).

GLUE files are split on tabs only (``csv.QUOTE_NONE``: their sentences hold
bare quotes), read as UTF-8 with or without a byte order mark, and their text
fields are stripped (SST-2 has a space before each tab).
"""
import csv
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from ..segments import pair_doc
from ._util import (
    GROUP_KEY, ID_KEY, SOURCE_KEY, Guard, InvalidRecord, ReadReport, iter_jsonl, iter_lines,
    parse_label_map, require,
)

# Field pairs that name the two texts of a pair JSONL record, in the order in
# which they are tried.
PAIR_FIELDS: Tuple[Tuple[str, str], ...] = (
    ("text", "text_pair"),
    ("premise", "hypothesis"),
    ("sentence1", "sentence2"),
    ("question1", "question2"),
    ("text_a", "text_b"),
    ("#1 String", "#2 String"),
)

# GLUE TSV layouts: header -> (text column, pair column or None, label
# column, id columns).
GLUE_LAYOUTS: Dict[str, Tuple[Tuple[str, ...], str, Optional[str], str, Tuple[str, ...]]] = {
    "sst2": (("sentence", "label"), "sentence", None, "label", ()),
    "mrpc": (("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"), "#1 String", "#2 String", "Quality",
             ("#1 ID", "#2 ID")),
    "rte": (("index", "sentence1", "sentence2", "label"), "sentence1", "sentence2", "label", ("index",)),
    "qnli": (("index", "question", "sentence", "label"), "question", "sentence", "label", ("index",)),
    "qqp": (("id", "qid1", "qid2", "question1", "question2", "is_duplicate"), "question1", "question2",
            "is_duplicate", ("id",)),
}


def find_pair_fields(keys: Sequence[str]) -> Optional[Tuple[str, str]]:
    """The first known pair of text fields among ``keys``, or None."""
    for a, b in PAIR_FIELDS:
        if a in keys and b in keys:
            return a, b
    return None


def _label(value: Any, label_map: Dict[str, str]) -> str:
    label = str(int(value)) if isinstance(value, bool) else str(value)
    return label_map.get(label, label)


class _Collector:
    """Builds the docs and fills in the complete cats once all labels are known."""

    def __init__(self, path: Path, report: ReadReport) -> None:
        self.path = path
        self.report = report
        self.items: List[Tuple[Doc, str]] = []

    def add(self, doc: Doc, label: str, *, id_: str, line: int) -> None:
        doc.user_data[ID_KEY] = id_
        doc.user_data[GROUP_KEY] = id_
        doc.user_data[SOURCE_KEY] = f"{self.path.name}:{line}"
        self.items.append((doc, label))
        self.report.count("used")

    def finish(self) -> List[Doc]:
        labels = sorted({label for _, label in self.items})
        if len(labels) == 1:
            self.report.notes.append(
                f"only one label ({labels[0]!r}) in the file: an exclusive classifier needs at least two"
            )
        for doc, label in self.items:
            doc.cats = {lab: float(lab == label) for lab in labels}
            self.report.label_counts[label] += 1
        self.report.labels = labels
        self.report.docs = len(self.items)
        self.report.check()
        return [doc for doc, _ in self.items]


def _make_pair(nlp: Language, a: str, b: str, *, where: str, line: int) -> Doc:
    try:
        return pair_doc(nlp, a.strip(), b.strip())
    except ValueError as e:
        raise InvalidRecord(Errors.E222.format(where=where, err=e), line=line) from None


def read_pairs_jsonl(
    path: Union[str, Path],
    nlp: Language,
    *,
    text_field: Optional[str] = None,
    pair_field: Optional[str] = None,
    label_field: str = "label",
    label_map: Optional[Union[str, Dict[str, str]]] = None,
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read labelled pairs from JSONL, e.g. ``{"premise": ..., "hypothesis":
    ..., "label": "entailment"}``.

    path (Union[str, Path]): The JSONL file.
    nlp (Language): Its tokenizer makes the docs.
    text_field (Optional[str]): Field of the first text; None: detected from
        the first record among the known pairs (text/text_pair,
        premise/hypothesis, sentence1/sentence2, question1/question2, ...).
    pair_field (Optional[str]): Field of the second text.
    label_field (str): Field of the label.
    label_map (Optional[Union[str, Dict[str, str]]]): Renames labels, e.g.
        "0=not_paraphrase,1=paraphrase".
    skip_invalid (bool): Skip and count bad records instead of raising.
    max_examples (int): How many skipped records the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    labels_map = parse_label_map(label_map)
    report = ReadReport(path=str(path), format="pairs", max_examples=max_examples, scheme="exclusive")
    guard = Guard(report, skip_invalid=skip_invalid)
    collector = _Collector(path, report)
    fields = (text_field, pair_field) if text_field and pair_field else None
    for line, obj in iter_jsonl(path, report, guard):
        where = f"{path}:{line}"
        if fields is None:
            fields = find_pair_fields(list(obj))
            if fields is None:
                raise ValueError(Errors.E243.format(where=where, keys=sorted(obj), known=list(PAIR_FIELDS)))
        try:
            a = require(obj, fields[0], (str,), where=where, line=line)
            b = require(obj, fields[1], (str,), where=where, line=line)
            label = _label(require(obj, label_field, (str, int, bool), where=where, line=line), labels_map)
            doc = _make_pair(nlp, a, b, where=where, line=line)
        except InvalidRecord as err:
            guard.invalid(err)
            continue
        id_ = str(obj.get("id", obj.get("_input_hash", f"line:{line}")))
        collector.add(doc, label, id_=id_, line=line)
    report.scheme = f"exclusive (fields {fields[0]!r} / {fields[1]!r} / {label_field!r})" if fields else "exclusive"
    return collector.finish(), report


def glue_layout(header: Sequence[str]) -> Optional[str]:
    """The name of the GLUE layout with this header, or None."""
    for name, (columns, *_) in GLUE_LAYOUTS.items():
        if tuple(header) == columns:
            return name
    return None


def read_glue_tsv(
    path: Union[str, Path],
    nlp: Language,
    *,
    text_field: Optional[str] = None,
    pair_field: Optional[str] = None,
    label_field: Optional[str] = None,
    label_map: Optional[Union[str, Dict[str, str]]] = None,
    skip_invalid: bool = False,
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read a GLUE TSV file with a header row. SST-2 (``sentence``,
    ``label``) gives plain docs with cats; pair layouts (MRPC, RTE/WNLI, QNLI,
    QQP, or the columns named by the options) give pair docs.

    path (Union[str, Path]): The TSV file.
    nlp (Language): Its tokenizer makes the docs.
    text_field (Optional[str]): Column of the (first) text; None: from the
        known layouts.
    pair_field (Optional[str]): Column of the second text, for pairs.
    label_field (Optional[str]): Column of the label.
    label_map (Optional[Union[str, Dict[str, str]]]): Renames labels, e.g.
        "0=negative,1=positive".
    skip_invalid (bool): Skip and count bad rows instead of raising.
    max_examples (int): How many skipped rows the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    labels_map = parse_label_map(label_map)
    report = ReadReport(path=str(path), format="glue", unit="rows", max_examples=max_examples)
    guard = Guard(report, skip_invalid=skip_invalid)
    collector = _Collector(path, report)
    lines = iter_lines(path)
    header_line, header_text = next(lines, (1, None))
    lines.close()  # closes the file; the rows are read by a second pass below
    if header_text is None:
        raise ValueError(Errors.E226.format(path=path, what="no header row"))
    header = next(csv.reader([header_text], delimiter="\t", quoting=csv.QUOTE_NONE))
    layout = glue_layout(header)
    if layout is not None:
        _, text_col, pair_col, label_col, id_cols = GLUE_LAYOUTS[layout]
    else:
        text_col, pair_col, label_col, id_cols = None, None, None, ()
    text_col = text_field or text_col
    pair_col = pair_field or pair_col
    label_col = label_field or label_col or ("label" if "label" in header else None)
    missing = [c for c in (text_col, pair_col, label_col) if c is not None and c not in header]
    if text_col is None or label_col is None or missing:
        raise ValueError(Errors.E217.format(path=path, header=header, missing=missing,
                                            layouts={k: v[0] for k, v in GLUE_LAYOUTS.items()}))
    report.format = f"glue ({layout})" if layout else "glue"
    report.scheme = f"exclusive (text {text_col!r}" + (f", pair {pair_col!r}" if pair_col else "") + \
        f", label {label_col!r})"
    columns = {name: i for i, name in enumerate(header)}
    for line, text in iter_lines(path, guard):
        if line == header_line:
            continue
        report.read += 1
        if text is None:
            continue
        if not text.strip():
            report.count("blank")
            continue
        where = f"{path}:{line}"
        row = next(csv.reader([text], delimiter="\t", quoting=csv.QUOTE_NONE))
        try:
            if len(row) != len(header):
                raise InvalidRecord(Errors.E216.format(where=where, n=len(row), expected=len(header), header=header),
                                    line=line)
            label = _label(row[columns[label_col]].strip(), labels_map)
            if not label:
                raise InvalidRecord(Errors.E207.format(where=where, detail=f"the {label_col!r} column is empty"),
                                    line=line)
            if pair_col is None:
                sentence = row[columns[text_col]].strip()
                if not sentence:
                    raise InvalidRecord(Errors.E202.format(where=where, field=text_col, present="an empty cell"),
                                        line=line)
                doc = nlp.make_doc(sentence)
            else:
                doc = _make_pair(nlp, row[columns[text_col]], row[columns[pair_col]], where=where, line=line)
        except InvalidRecord as err:
            guard.invalid(err)
            continue
        id_ = "/".join(row[columns[c]] for c in id_cols) if id_cols else f"line:{line}"
        collector.add(doc, label, id_=id_, line=line)
    return collector.finish(), report
