"""``convert``: annotations and benchmark files to a ``.spacy`` DocBin, with
an optional dev split."""
import random
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from wasabi import msg

from ..errors import Errors, Warnings
from ..readers import ALIGNMENT_MODES, FORMATS, GROUP_KEY, SPLIT_KEY, ReadReport, read_file
from ..readers.conll import IOB_SCHEMES
from ._app import Arg, Opt, app


@dataclass
class ConvertReport:
    """What ``convert`` read and wrote."""

    read: ReadReport
    output: str
    train_docs: int
    dev_output: Optional[str] = None
    dev_docs: int = 0
    dev_groups: int = 0
    dev_fraction: float = 0.0
    seed: int = 0
    notes: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict:
        """The report as JSON-serializable data."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["read"] = self.read.to_dict()
        return out


def split_dev(docs: List[Doc], *, fraction: float, seed: int) -> Tuple[List[Doc], List[Doc], int]:
    """Split docs into train and dev by a fraction and a seed. Docs of one
    group (``doc.user_data["bertft_group"]``: an input of merged Prodigy
    answers, a SQuAD article, a CoNLL document) stay on one side, so no text
    is shared. Groups are shuffled, then added to dev until it holds
    ``round(fraction * len(docs))`` docs (at least one).

    docs (List[Doc]): The docs.
    fraction (float): Fraction of the docs for dev, 0 <= fraction < 1.
    seed (int): Seed of the shuffle.
    RETURNS (Tuple[List[Doc], List[Doc], int]): Train docs, dev docs (both in
        their original order) and the number of dev groups.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(Errors.E219.format(value=fraction))
    if fraction == 0.0 or not docs:
        return list(docs), [], 0
    groups: Dict[str, List[int]] = {}
    for i, doc in enumerate(docs):
        groups.setdefault(str(doc.user_data.get(GROUP_KEY, i)), []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    target = max(1, round(fraction * len(docs)))
    dev_ids = set()
    n_groups = 0
    for key in keys:
        if len(dev_ids) >= target:
            break
        dev_ids.update(groups[key])
        n_groups += 1
    train = [doc for i, doc in enumerate(docs) if i not in dev_ids]
    dev = [doc for i, doc in enumerate(docs) if i in dev_ids]
    for doc in train:
        doc.user_data[SPLIT_KEY] = "train"
    for doc in dev:
        doc.user_data[SPLIT_KEY] = "dev"
    return train, dev, n_groups


def write_docbin(docs: List[Doc], path: Union[str, Path]) -> None:
    """Write docs, with their user data, to a ``.spacy`` file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(store_user_data=True, docs=docs).to_disk(path)


def convert(
    *,
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    format: Optional[str] = None,
    lang: str = "en",
    nlp: Optional[Language] = None,
    dev_fraction: float = 0.0,
    seed: int = 0,
    dev_output: Optional[Union[str, Path]] = None,
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
) -> ConvertReport:
    """Convert a file to a ``.spacy`` DocBin (user data kept).

    input_path (Union[str, Path]): The file to read.
    output_path (Union[str, Path]): The ``.spacy`` file to write (train docs
        when there is a dev split).
    format (Optional[str]): One of ``spacy_bertft.readers.FORMATS``; None:
        detected from the content.
    lang (str): Language of the blank pipeline whose tokenizer makes the docs.
    nlp (Optional[Language]): A pipeline to tokenize with instead.
    dev_fraction (float): Fraction of the docs for a dev file (0: none).
    seed (int): Seed of the dev split.
    dev_output (Optional[Union[str, Path]]): Where the dev docs go.
    skip_invalid (bool): Skip and count bad records instead of raising.
    alignment_mode (Optional[str]): "strict", "contract" or "expand" for
        spans off token boundaries; None: strict for NER, expand for QA.
    exclusive (Optional[bool]): Text classification: exclusive labels (True),
        multi-label (False), or detected (None).
    text_field, pair_field, label_field (Optional[str]): Field or column
        names for pair JSONL and GLUE TSV.
    label_map (Optional[Union[str, Dict[str, str]]]): Renames labels, e.g.
        "0=not_paraphrase,1=paraphrase".
    n_sents (int): CoNLL: sentences per doc, 0 for whole documents.
    iob_scheme (str): CoNLL: "auto", "iob1" or "iob2".
    max_examples (int): How many skipped records and snapped spans the
        report lists.
    RETURNS (ConvertReport): What was read and written.
    """
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(Errors.E219.format(value=dev_fraction))
    if dev_fraction > 0 and dev_output is None:
        raise ValueError(Errors.E220.format(value=dev_fraction))
    if nlp is None:
        nlp = spacy.blank(lang)
    docs, read = read_file(
        input_path, nlp, format=format, skip_invalid=skip_invalid, alignment_mode=alignment_mode,
        exclusive=exclusive, text_field=text_field, pair_field=pair_field, label_field=label_field,
        label_map=label_map, n_sents=n_sents, iob_scheme=iob_scheme, max_examples=max_examples,
    )
    report = ConvertReport(read=read, output=str(output_path), train_docs=len(docs), dev_fraction=dev_fraction,
                           seed=seed)
    if not docs:
        detail = ", ".join(f"{k}: {v}" for k, v in read.outcomes.items())
        warnings.warn(Warnings.W200.format(path=input_path, detail=detail))
    train, dev, n_groups = split_dev(docs, fraction=dev_fraction, seed=seed)
    write_docbin(train, output_path)
    report.train_docs = len(train)
    if dev_output is not None and dev_fraction > 0:
        write_docbin(dev, dev_output)
        report.dev_output = str(dev_output)
        report.dev_docs = len(dev)
        report.dev_groups = n_groups
        if not train:
            report.notes.append("every doc went to dev: the input has a single group (one article or document)")
    return report


def report_lines(report: ReadReport) -> List[str]:
    """The lines the CLI prints for a read report."""
    lines = [f"format: {report.format}" + (f", scheme: {report.scheme}" if report.scheme else "")]
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
    lines.append(f"{report.unit} read: {report.read} = {outcomes or 'nothing'}")
    if report.answers:
        lines.append("answers: " + ", ".join(f"{k} {v}" for k, v in sorted(report.answers.items())))
    if report.label_counts:
        lines.append("per label: " + ", ".join(f"{k} {v}" for k, v in sorted(report.label_counts.items())))
    if report.filled:
        lines.append(f"labels never asked about, set to 0.0: {report.filled}")
    if report.inferred:
        lines.append(f"exclusive docs whose positive is the one label left after rejects: {report.inferred}")
    if report.spans or report.misaligned_spans:
        lines.append(f"spans: {report.spans}, not on token boundaries and snapped: {report.misaligned_spans}")
    for problem in report.misaligned_examples:
        lines.append(f"  snapped: {problem}")
    for problem in report.invalid_examples:
        lines.append(f"  skipped: {problem}")
    lines.extend(f"note: {note}" for note in report.notes)
    return lines


@app.command("convert")
def convert_cli(
    # fmt: off
    input_path: Path = Arg(..., help="Input file: Prodigy/cats/pair/QA JSONL, SQuAD JSON, GLUE TSV or CoNLL", exists=True, dir_okay=False),
    output_path: Path = Arg(..., help="Output .spacy file (train docs when splitting)", dir_okay=False),
    format: Optional[str] = Opt(None, "--format", "-f", help=f"Input format, detected if not given: {', '.join(FORMATS)}"),
    lang: str = Opt("en", "--lang", "-l", help="Language of the tokenizer"),
    dev_fraction: float = Opt(0.0, "--dev-fraction", help="Fraction of docs for a dev file (by group: article, document, input)"),
    seed: int = Opt(0, "--seed", help="Seed of the dev split"),
    dev_output: Optional[Path] = Opt(None, "--dev-output", help="Output .spacy file for the dev docs", dir_okay=False),
    skip_invalid: bool = Opt(False, "--skip-invalid", help="Skip bad records (counted, first ones listed) instead of failing"),
    alignment_mode: Optional[str] = Opt(None, "--alignment-mode", help=f"Spans off token boundaries: {', '.join(ALIGNMENT_MODES)} (default: strict for NER, expand for QA)"),
    exclusive: Optional[bool] = Opt(None, "--exclusive/--multilabel", help="Text classification labels: mutually exclusive or not (default: detected)"),
    text_field: Optional[str] = Opt(None, "--text-field", help="Field/column of the (first) text"),
    pair_field: Optional[str] = Opt(None, "--pair-field", help="Field/column of the second text of a pair"),
    label_field: Optional[str] = Opt(None, "--label-field", help="Field/column of the label"),
    label_map: Optional[str] = Opt(None, "--label-map", help="Rename labels, e.g. '0=not_paraphrase,1=paraphrase'"),
    n_sents: int = Opt(1, "--n-sents", "-n", help="CoNLL: sentences per doc (0: one doc per -DOCSTART- document)"),
    iob_scheme: str = Opt("auto", "--iob-scheme", help=f"CoNLL tags: {', '.join(IOB_SCHEMES)}"),
    max_examples: int = Opt(5, "--max-examples", help="How many skipped records and snapped spans to list"),
    report_path: Optional[Path] = Opt(None, "--report", help="Also write the report as JSON here", dir_okay=False),
    # fmt: on
):
    """Convert annotations (Prodigy JSONL, cats, pairs, QA) or benchmark files
    (GLUE TSV, SQuAD JSON, CoNLL-2003) to a .spacy file. Pairs and QA use the
    two-segment docs of bert_pair_classifier and bert_qa."""
    try:
        report = convert(
            input_path=input_path, output_path=output_path, format=format, lang=lang, dev_fraction=dev_fraction,
            seed=seed, dev_output=dev_output, skip_invalid=skip_invalid, alignment_mode=alignment_mode,
            exclusive=exclusive, text_field=text_field, pair_field=pair_field, label_field=label_field,
            label_map=label_map, n_sents=n_sents, iob_scheme=iob_scheme, max_examples=max_examples,
        )
    except ValueError as e:
        msg.fail(str(e), exits=1)
    msg.info(f"Read {input_path}")
    for line in report_lines(report.read):
        msg.text(line)
    for note in report.notes:
        msg.warn(note)
    msg.good(f"Wrote {report.train_docs} docs to {report.output}")
    if report.dev_output:
        msg.good(f"Wrote {report.dev_docs} dev docs ({report.dev_groups} groups) to {report.dev_output}")
    if report_path is not None:
        srsly.write_json(report_path, report.to_dict())
