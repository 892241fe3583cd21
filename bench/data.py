"""Loaders for the benchmark tasks, following the fixed splits of
``shared/data/README.md``. Each returns plain dataclasses, so every system
(this plugin, the Hugging Face Trainer, spacy-transformers, the plain PyTorch
loop) reads exactly the same examples."""
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

TASKS = ("sst2", "mrpc", "rte", "conll", "squad")
KIND = {"sst2": "cls", "mrpc": "pair", "rte": "pair", "conll": "ner", "squad": "qa"}
SQUAD_TRAIN_ARTICLES = 38


class DataError(ValueError):
    """A benchmark data file is missing or malformed."""


@dataclass
class ClsExample:
    text: str
    label: str


@dataclass
class PairExample:
    text_a: str
    text_b: str
    label: str


@dataclass
class NerSentence:
    """A sentence with gold entities as (start word, end word exclusive, label)."""

    words: List[str]
    spans: List[Tuple[int, int, str]]

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def char_spans(self) -> List[Tuple[int, int, str]]:
        starts = word_starts(self.words)
        return [(starts[s], starts[e - 1] + len(self.words[e - 1]), label) for s, e, label in self.spans]


@dataclass
class QAExample:
    id: str
    question: str
    context: str
    answers: List[Tuple[str, int]]  # (text, character start in context)
    title: str = ""


@dataclass
class TaskData:
    task: str
    kind: str
    train: list
    eval: list
    labels: List[str]
    positive_label: Optional[str] = None
    sources: Dict[str, str] = field(default_factory=dict)


def word_starts(words: Sequence[str]) -> List[int]:
    """Character start of each word in ``" ".join(words)``."""
    starts, pos = [], 0
    for word in words:
        starts.append(pos)
        pos += len(word) + 1
    return starts


def _need(path: Path) -> Path:
    if not path.exists():
        raise DataError(
            f"Benchmark data file {path} does not exist. Pass --data-dir pointing at the "
            f"folder that holds sst2/, mrpc/, rte/, conll2003/ and squad11/ "
            f"(../shared/data from the repository root)."
        )
    return path


def _read_tsv(path: Path, *, n_fields: int, encoding: str = "utf8") -> List[List[str]]:
    rows = []
    with _need(path).open(encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file, expected a header row")
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != n_fields:
                raise DataError(
                    f"{path}:{line_no}: expected {n_fields} tab-separated fields, found {len(row)}: {row!r}"
                )
            rows.append(row)
    return rows


def _first(items: list, n: Optional[int]) -> list:
    return items if n is None or n <= 0 else items[:n]


def load_sst2(data_dir: Path, n_train: Optional[int], n_eval: Optional[int]) -> TaskData:
    folder = data_dir / "sst2"

    def read(name: str) -> List[ClsExample]:
        out = []
        for line_no, (sentence, label) in enumerate(_read_tsv(folder / name, n_fields=2), start=2):
            if label not in ("0", "1"):
                raise DataError(f"{folder / name}:{line_no}: label must be 0 or 1, found {label!r}")
            out.append(ClsExample(sentence.strip(), label))
        return out

    return TaskData(
        "sst2", "cls", _first(read("train.tsv"), n_train), _first(read("dev.tsv"), n_eval),
        labels=["0", "1"], positive_label="1",
        sources={"train": str(folder / "train.tsv"), "eval": str(folder / "dev.tsv")},
    )


def load_mrpc(data_dir: Path, n_train: Optional[int], n_eval: Optional[int]) -> TaskData:
    folder = data_dir / "mrpc"

    def read(name: str) -> List[PairExample]:
        out = []
        rows = _read_tsv(folder / name, n_fields=5, encoding="utf-8-sig")
        for line_no, (quality, _id1, _id2, a, b) in enumerate(rows, start=2):
            if quality not in ("0", "1"):
                raise DataError(f"{folder / name}:{line_no}: Quality must be 0 or 1, found {quality!r}")
            out.append(PairExample(a.strip(), b.strip(), quality))
        return out

    return TaskData(
        "mrpc", "pair", _first(read("train.tsv"), n_train), _first(read("dev.tsv"), n_eval),
        labels=["0", "1"], positive_label="1",
        sources={"train": str(folder / "train.tsv"), "eval": str(folder / "dev.tsv")},
    )


def load_rte(data_dir: Path, n_train: Optional[int], n_eval: Optional[int]) -> TaskData:
    folder = data_dir / "rte"
    labels = ["entailment", "not_entailment"]

    def read(name: str) -> List[PairExample]:
        out = []
        for line_no, (_index, a, b, label) in enumerate(_read_tsv(folder / name, n_fields=4), start=2):
            if label not in labels:
                raise DataError(f"{folder / name}:{line_no}: label must be one of {labels}, found {label!r}")
            out.append(PairExample(a.strip(), b.strip(), label))
        return out

    return TaskData(
        "rte", "pair", _first(read("train.tsv"), n_train), _first(read("dev.tsv"), n_eval),
        labels=labels, positive_label="entailment",
        sources={"train": str(folder / "train.tsv"), "eval": str(folder / "dev.tsv")},
    )


def iob1_spans(tags: Sequence[str], *, where: str = "") -> List[Tuple[int, int, str]]:
    """Entity spans of an IOB1 (or IOB2) tag sequence: an ``I-X`` that follows
    ``O`` or another type starts an entity, as conlleval reads it.

    tags (Sequence[str]): One tag per word.
    where (str): File and line, for the error message.
    RETURNS (List[Tuple[int, int, str]]): (start, end exclusive, type).
    """
    spans: List[Tuple[int, int, str]] = []
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag == "O":
            prefix, label = "O", None
        else:
            prefix, _, label = tag.partition("-")
            if prefix not in ("B", "I") or not label:
                raise DataError(f"{where}: bad NER tag {tag!r} at word {i} (expected O, I-TYPE or B-TYPE)")
        if start is not None and (prefix != "I" or label != kind):
            spans.append((start, i, kind))
            start, kind = None, None
        if prefix in ("B", "I") and start is None:
            start, kind = i, label
    return spans


def read_conll(path: Path, limit: Optional[int] = None) -> List[NerSentence]:
    sentences: List[NerSentence] = []
    words: List[str] = []
    tags: List[str] = []
    first_line = 0

    def flush() -> None:
        if words:
            sentences.append(NerSentence(list(words), iob1_spans(tags, where=f"{path}:{first_line}")))
        words.clear()
        tags.clear()

    with _need(path).open(encoding="utf8") as f:
        for line_no, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                flush()
                if limit and len(sentences) >= limit:
                    break
                continue
            cols = line.split(" ")
            if cols[0] == "-DOCSTART-":
                flush()
                continue
            if len(cols) != 4:
                raise DataError(f"{path}:{line_no}: expected 4 space-separated columns, found {len(cols)}: {line!r}")
            if not words:
                first_line = line_no
            words.append(cols[0])
            tags.append(cols[3])
        else:
            flush()
    return _first(sentences, limit)


def load_conll(data_dir: Path, n_train: Optional[int], n_eval: Optional[int]) -> TaskData:
    folder = data_dir / "conll2003"
    train = read_conll(folder / "eng.train", n_train)
    dev = read_conll(folder / "eng.testa", n_eval)
    return TaskData(
        "conll", "ner", train, dev, labels=["LOC", "MISC", "ORG", "PER"],
        sources={"train": str(folder / "eng.train"), "eval": str(folder / "eng.testa")},
    )


def read_squad_articles(path: Path) -> List[dict]:
    with _need(path).open(encoding="utf8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "data" not in data:
        raise DataError(f"{path}: not a SQuAD file (no top-level 'data' list)")
    return data["data"]


def squad_questions(articles: List[dict], *, where: str) -> List[QAExample]:
    out = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [(a["text"], int(a["answer_start"])) for a in qa["answers"]]
                for text, start in answers:
                    if context[start : start + len(text)] != text:
                        raise DataError(
                            f"{where}: question {qa['id']}: answer {text!r} is not at character "
                            f"{start} of its context"
                        )
                out.append(QAExample(qa["id"], qa["question"], context, answers, article.get("title", "")))
    return out


def load_squad(data_dir: Path, n_train: Optional[int], n_eval: Optional[int]) -> TaskData:
    path = data_dir / "squad11" / "dev-v1.1.json"
    articles = read_squad_articles(path)
    if len(articles) <= SQUAD_TRAIN_ARTICLES:
        raise DataError(
            f"{path}: the fixed split needs more than {SQUAD_TRAIN_ARTICLES} articles "
            f"(fine-tune on the first {SQUAD_TRAIN_ARTICLES}, evaluate on the rest), found {len(articles)}"
        )
    train = squad_questions(articles[:SQUAD_TRAIN_ARTICLES], where=str(path))
    dev = squad_questions(articles[SQUAD_TRAIN_ARTICLES:], where=str(path))
    return TaskData(
        "squad", "qa", _first(train, n_train), _first(dev, n_eval), labels=[],
        sources={"train": f"{path} articles [0, {SQUAD_TRAIN_ARTICLES})",
                 "eval": f"{path} articles [{SQUAD_TRAIN_ARTICLES}, {len(articles)})"},
    )


LOADERS = {"sst2": load_sst2, "mrpc": load_mrpc, "rte": load_rte, "conll": load_conll, "squad": load_squad}


def load_task(task: str, data_dir, n_train: Optional[int] = None, n_eval: Optional[int] = None) -> TaskData:
    """Load a benchmark task's fine-tuning and evaluation examples.

    task (str): One of sst2, mrpc, rte, conll, squad.
    data_dir: The folder holding the task folders (``../shared/data``).
    n_train (Optional[int]): Keep the first N training examples (all if None or 0).
    n_eval (Optional[int]): Keep the first N evaluation examples (all if None or 0).
    RETURNS (TaskData): The examples.
    """
    if task not in LOADERS:
        raise DataError(f"Unknown task {task!r}: use one of {', '.join(TASKS)}")
    return LOADERS[task](Path(data_dir), n_train, n_eval)
