"""What every reader shares: the report of what was read, bad-record handling
(raise, or skip and count), line-wise UTF-8 decoding that names the line of a
bad byte, and span snapping with an explicit alignment mode."""
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import srsly
from spacy.tokens import Doc, Span

from ..errors import Errors

ALIGNMENT_MODES = ("strict", "contract", "expand")
# Keys of doc.user_data that the readers set and augment/dev split read.
ID_KEY = "bertft_id"
SOURCE_KEY = "bertft_source"
GROUP_KEY = "bertft_group"
SPLIT_KEY = "bertft_split"
SOURCE_ID_KEY = "bertft_source_id"
AUGMENTED_KEY = "bertft_augmented"


class InvalidRecord(ValueError):
    """A record of the input that cannot be converted. The message names the
    file and the line (or the record) and says what is wrong."""

    def __init__(self, message: str, *, line: Union[int, str] = 0, lines: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.lines = lines


@dataclass
class Problem:
    """One skipped record or one snapped span, as listed in a report."""

    line: Union[int, str]
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class ReadReport:
    """What a reader read and what became of it.

    ``outcomes`` splits the ``read`` units (lines, rows or questions, named by
    ``unit``) into what became of each one, and adds up to ``read``. ``filled``
    counts labels a multi-label doc was never asked about, set to 0.0;
    ``inferred`` counts exclusive docs whose positive was the one label left
    after rejects.
    """

    path: str
    format: str
    unit: str = "lines"
    read: int = 0
    outcomes: Counter = field(default_factory=Counter)
    docs: int = 0
    scheme: Optional[str] = None
    labels: List[str] = field(default_factory=list)
    label_counts: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)
    filled: int = 0
    inferred: int = 0
    spans: int = 0
    misaligned_spans: int = 0
    misaligned_examples: List[Problem] = field(default_factory=list)
    invalid_examples: List[Problem] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    max_examples: int = 5

    def to_dict(self) -> Dict[str, Any]:
        """The report as JSON-serializable data."""
        out: Dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value = dict(value)
            elif isinstance(value, list) and value and isinstance(value[0], Problem):
                value = [{"line": p.line, "message": p.message} for p in value]
            out[f.name] = value
        return out

    def mark(self) -> Tuple[int, int]:
        """A mark to undo the snapped-span counts of a record later dropped."""
        return self.misaligned_spans, len(self.misaligned_examples)

    def undo_to(self, mark: Tuple[int, int]) -> None:
        self.misaligned_spans = mark[0]
        del self.misaligned_examples[mark[1]:]

    def count(self, outcome: str, n: int = 1) -> None:
        if n:
            self.outcomes[outcome] += n

    def check(self) -> None:
        """Raise if the outcomes do not add up to what was read (a reader bug:
        nothing may be dropped uncounted)."""
        total = sum(self.outcomes.values())
        if total != self.read:
            raise RuntimeError(
                Errors.E221.format(
                    path=self.path, read=self.read, unit=self.unit, total=total,
                    outcomes=dict(self.outcomes),
                )
            )


class Guard:
    """Raises bad records, or with ``skip_invalid`` counts them and keeps the
    first examples."""

    def __init__(self, report: ReadReport, *, skip_invalid: bool) -> None:
        self.report = report
        self.skip_invalid = skip_invalid

    def invalid(self, err: InvalidRecord, mark: Optional[Tuple[int, int]] = None) -> None:
        """Raise err, or count it (undoing the record's snapped spans to ``mark``)."""
        if mark is not None:
            self.report.undo_to(mark)
        if not self.skip_invalid:
            raise err
        self.report.count("invalid", err.lines)
        if len(self.report.invalid_examples) < self.report.max_examples:
            self.report.invalid_examples.append(Problem(err.line, str(err)))


def iter_lines(path: Path, guard: Optional[Guard] = None) -> Iterator[Tuple[int, Optional[str]]]:
    """Yield (line number, text) for each line of a UTF-8 file, without the
    line break. A leading byte order mark is dropped. A line that is not valid
    UTF-8 raises, or with a guard that skips, comes back as ``None`` (counted
    invalid by the guard).

    path (Path): The file.
    guard (Optional[Guard]): Where undecodable lines go.
    YIELDS (Tuple[int, Optional[str]]): 1-based line number and text.
    """
    with Path(path).open("rb") as f:
        for i, raw in enumerate(f, start=1):
            if i == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf8")
            except UnicodeDecodeError as e:
                err = InvalidRecord(Errors.E203.format(path=path, line=i, err=e), line=i)
                if guard is None:
                    raise err from None
                guard.invalid(err)
                yield i, None
                continue
            yield i, text.rstrip("\r\n")


def read_text(path: Path) -> str:
    """Read a whole UTF-8 file (BOM dropped); a bad byte raises naming its line."""
    raw = Path(path).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InvalidRecord(Errors.E203.format(path=path, line=line, err=e), line=line) from None


def iter_jsonl(path: Path, report: ReadReport, guard: Guard) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Yield (line number, object) for each record of a JSONL file, counting
    every line in ``report.read``: blank lines as ``blank``, bad JSON through
    the guard. The caller counts the outcome of each yielded record."""
    for i, text in iter_lines(path, guard):
        report.read += 1
        if text is None:
            continue
        if not text.strip():
            report.count("blank")
            continue
        try:
            obj = srsly.json_loads(text)
        except ValueError as e:
            guard.invalid(InvalidRecord(Errors.E200.format(path=path, line=i, err=e), line=i))
            continue
        if not isinstance(obj, dict):
            guard.invalid(
                InvalidRecord(Errors.E201.format(path=path, line=i, type=type(obj).__name__), line=i)
            )
            continue
        yield i, obj


def require(obj: Dict[str, Any], key: str, types: Tuple[type, ...], *, where: str, line: Union[int, str]) -> Any:
    """Return ``obj[key]``, raising InvalidRecord if it is missing or of the wrong type."""
    if key not in obj or obj[key] is None:
        present = ", ".join(sorted(map(str, obj))) or "none"
        raise InvalidRecord(Errors.E202.format(where=where, field=key, present=present), line=line)
    value = obj[key]
    if types and (not isinstance(value, types) or isinstance(value, bool) and bool not in types):
        names = " or ".join(t.__name__ for t in types)
        raise InvalidRecord(
            Errors.E212.format(where=where, field=key, expected=names, value=_short(value)), line=line
        )
    return value


def _short(value: Any, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def snap_span(
    doc: Doc,
    start: int,
    end: int,
    label: str,
    *,
    alignment_mode: str,
    where: str,
    line: Union[int, str],
    report: ReadReport,
) -> Span:
    """The span of ``doc`` over the characters [start, end), on token
    boundaries. A span that does not align raises in ``strict`` mode; in
    ``contract``/``expand`` mode it is snapped and counted as misaligned.

    RETURNS (Span): The span.
    """
    if not 0 <= start < end <= len(doc.text):
        raise InvalidRecord(
            Errors.E204.format(where=where, start=start, end=end, n=len(doc.text)), line=line
        )
    span = doc.char_span(start, end, label=label)
    if span is not None:
        return span
    near = [t.text for t in doc if t.idx < end and t.idx + len(t) > start]
    if alignment_mode == "strict":
        raise InvalidRecord(
            Errors.E210.format(where=where, start=start, end=end, text=doc.text[start:end], tokens=near),
            line=line,
        )
    span = doc.char_span(start, end, label=label, alignment_mode=alignment_mode)
    if span is None:
        raise InvalidRecord(
            Errors.E211.format(where=where, start=start, end=end, text=doc.text[start:end],
                               mode=alignment_mode, tokens=near),
            line=line,
        )
    report.misaligned_spans += 1
    if len(report.misaligned_examples) < report.max_examples:
        report.misaligned_examples.append(
            Problem(line, f"{where}: {doc.text[start:end]!r} -> {span.text!r} ({alignment_mode})")
        )
    return span


def check_alignment_mode(mode: str) -> str:
    if mode not in ALIGNMENT_MODES:
        raise ValueError(Errors.E209.format(what="alignment mode", value=mode, options=", ".join(ALIGNMENT_MODES)))
    return mode


def parse_label_map(spec: Optional[Union[str, Dict[str, str]]]) -> Dict[str, str]:
    """Parse ``"0=not_paraphrase,1=paraphrase"`` into a dict (a dict passes through).

    spec (Optional[Union[str, Dict[str, str]]]): The mapping.
    RETURNS (Dict[str, str]): Source label -> output label.
    """
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k): str(v) for k, v in spec.items()}
    mapping = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(Errors.E225.format(spec=spec, item=item))
        mapping[key.strip()] = value.strip()
    return mapping
