"""Readers of annotation and benchmark formats, each a plain function
``read_*(path, nlp, **options) -> (docs, ReadReport)``, and ``read_file``,
which detects the format from the content."""
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors
from ._util import (
    ALIGNMENT_MODES, AUGMENTED_KEY, GROUP_KEY, ID_KEY, SOURCE_ID_KEY, SOURCE_KEY, SPLIT_KEY, InvalidRecord,
    Problem, ReadReport, parse_label_map,
)
from .conll import read_conll
from .ner import read_prodigy_ner
from .pairs import find_pair_fields, read_glue_tsv, read_pairs_jsonl
from .qa import read_qa_jsonl, read_squad
from .textcat import read_textcat_jsonl

FORMATS: Dict[str, str] = {
    "textcat": "Prodigy binary text classification JSONL (text, label, answer)",
    "choice": "Prodigy choice JSONL (text, options, accept, answer)",
    "cats": "JSONL with a cats dict per record",
    "ner": "Prodigy NER JSONL (text, spans, tokens, answer)",
    "pairs": "pair JSONL (two text fields and a label)",
    "glue": "GLUE TSV with a header (SST-2, MRPC, RTE, QNLI, QQP, WNLI)",
    "squad": "SQuAD v1.1/v2.0 JSON",
    "qa": "QA JSONL (question, context, answers)",
    "conll": "CoNLL-2003 / IOB token-per-line file",
}
_IOB_TAG = re.compile(r"^(?:O|[BI]-\S+)$")
_PEEK_BYTES = 1 << 16


def detect_format(
    path: Union[str, Path], *, text_field: Optional[str] = None, pair_field: Optional[str] = None
) -> str:
    """Tell the format of a file from its content.

    path (Union[str, Path]): The file.
    text_field (Optional[str]): A configured first text field (pairs).
    pair_field (Optional[str]): A configured second text field (pairs).
    RETURNS (str): A key of ``FORMATS``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(Errors.E218.format(path=path))
    with path.open("rb") as f:
        head = f.read(_PEEK_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.decode("utf8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError(Errors.E208.format(path=path, detail="the file is empty", formats=", ".join(FORMATS)))
    first = lines[0].strip()
    if first.startswith("{"):
        try:
            obj = srsly.json_loads(first)
        except ValueError:
            obj = None
        if obj is None:
            # Either a (pretty-printed) JSON document, or JSONL whose first
            # record is malformed: then a later line is a record of its own,
            # and the JSONL reader names the bad line (or skips and counts it).
            # Only the next line is looked at: deep inside a pretty-printed
            # document a line can be an object too.
            record = _json_object(lines[1]) if len(lines) > 1 else None
            if record is None:
                return "squad"
            obj = record
        elif isinstance(obj.get("data"), list):
            return "squad"
        return _jsonl_format(obj, path=path, text_field=text_field, pair_field=pair_field)
    if "\t" in lines[0]:
        return "glue"
    cols = first.split()
    if cols[0] == "-DOCSTART-" or (len(cols) >= 2 and _IOB_TAG.match(cols[-1])):
        return "conll"
    raise ValueError(Errors.E208.format(path=path, detail=f"first line {lines[0][:80]!r}",
                                        formats=", ".join(FORMATS)))


def _json_object(line: str) -> Optional[Dict[str, Any]]:
    """The line as a JSON object, or None if it is not one."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = srsly.json_loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _jsonl_format(obj: Dict[str, Any], *, path: Path, text_field: Optional[str], pair_field: Optional[str]) -> str:
    keys = set(obj)
    if "question" in keys and "context" in keys:
        return "qa"
    if "options" in keys:
        return "choice"
    if "cats" in keys:
        return "cats"
    if text_field and pair_field and text_field in keys and pair_field in keys:
        return "pairs"
    if "label" in keys and find_pair_fields(list(keys)):
        return "pairs"
    if "label" in keys and "text" in keys:
        return "textcat"
    if "text" in keys and ("spans" in keys or "tokens" in keys):
        return "ner"
    raise ValueError(Errors.E208.format(path=path, detail=f"first record has the fields {sorted(keys)}",
                                        formats=", ".join(FORMATS)))


def read_file(
    path: Union[str, Path],
    nlp: Language,
    *,
    format: Optional[str] = None,
    skip_invalid: bool = False,
    alignment_mode: Optional[str] = None,
    exclusive: Optional[bool] = None,
    text_field: Optional[str] = None,
    pair_field: Optional[str] = None,
    label_field: Optional[str] = None,
    label_map: Optional[Union[str, Dict[str, str]]] = None,
    n_sents: int = 1,
    iob_scheme: str = "auto",
    max_examples: int = 5,
) -> Tuple[List[Doc], ReadReport]:
    """Read any supported file into docs.

    path (Union[str, Path]): The file.
    nlp (Language): Its tokenizer (or vocab) makes the docs.
    format (Optional[str]): A key of ``FORMATS``; None: detected.
    skip_invalid (bool): Skip and count bad records instead of raising.
    alignment_mode (Optional[str]): For spans off token boundaries: "strict",
        "contract" or "expand"; None: strict for NER, expand for QA answers.
    exclusive (Optional[bool]): Text classification: mutually exclusive
        labels; None: detected.
    text_field, pair_field, label_field (Optional[str]): Field or column names
        of pair JSONL and GLUE TSV.
    label_map (Optional[Union[str, Dict[str, str]]]): Renames labels.
    n_sents (int): CoNLL: sentences per doc, 0 for whole documents.
    iob_scheme (str): CoNLL: "auto", "iob1" or "iob2".
    max_examples (int): How many bad records the report lists.
    RETURNS (Tuple[List[Doc], ReadReport]): The docs and what was read.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(Errors.E218.format(path=path))
    if format is None:
        format = detect_format(path, text_field=text_field, pair_field=pair_field)
        detected = True
    else:
        detected = False
        if format not in FORMATS:
            raise ValueError(Errors.E209.format(what="format", value=format, options=", ".join(FORMATS)))
    common = {"skip_invalid": skip_invalid, "max_examples": max_examples}
    if format in ("textcat", "choice", "cats"):
        docs, report = read_textcat_jsonl(path, nlp, kind=format, exclusive=exclusive, label_map=label_map, **common)
    elif format == "ner":
        docs, report = read_prodigy_ner(path, nlp, alignment_mode=alignment_mode or "strict", label_map=label_map,
                                        **common)
    elif format == "pairs":
        docs, report = read_pairs_jsonl(path, nlp, text_field=text_field, pair_field=pair_field,
                                        label_field=label_field or "label", label_map=label_map, **common)
    elif format == "glue":
        docs, report = read_glue_tsv(path, nlp, text_field=text_field, pair_field=pair_field,
                                     label_field=label_field, label_map=label_map, **common)
    elif format == "squad":
        docs, report = read_squad(path, nlp, alignment_mode=alignment_mode or "expand", **common)
    elif format == "qa":
        docs, report = read_qa_jsonl(path, nlp, alignment_mode=alignment_mode or "expand", **common)
    else:
        docs, report = read_conll(path, nlp, n_sents=n_sents, iob_scheme=iob_scheme, label_map=label_map, **common)
    if detected:
        report.format += " [detected]"
    return docs, report


__all__ = [
    "FORMATS", "ALIGNMENT_MODES", "ReadReport", "Problem", "InvalidRecord", "detect_format", "read_file",
    "read_textcat_jsonl", "read_prodigy_ner", "read_pairs_jsonl", "read_glue_tsv", "read_squad",
    "read_qa_jsonl", "read_conll", "parse_label_map", "ID_KEY", "SOURCE_KEY", "GROUP_KEY", "SPLIT_KEY",
    "SOURCE_ID_KEY", "AUGMENTED_KEY",
]
