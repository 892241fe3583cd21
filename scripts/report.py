"""Write an evaluation report per trained pipeline.

For each run (a name, the `spacy train` output directory, the dev .spacy file
and the JSON that `spacy evaluate --per-component` wrote) the report holds:

- the scores `spacy evaluate` gave, as a table;
- for classifiers (components writing ``doc.cats``): the confusion matrix of
  the dev set (exclusive classes) or per-label TP/FP/FN/TN counts (multi-label)
  and per-label precision, recall and F1, as tables and ``confusion.png``;
- for NER: per-type precision, recall and F1;
- the training curve: the loss per step and the dev scores at each evaluation,
  parsed from the JSONL log of ``spacy.ConsoleLogger.v3``, as
  ``training_curve.png``.

Usage (what `spacy project run report` calls):

    python scripts/report.py --run textcat training/textcat training/corpus/textcat_dev.spacy \
        metrics/textcat.json [--run ...] --output metrics/reports

Each report goes to OUTPUT/NAME/ (report.md, report.json, PNGs), and
OUTPUT/index.md lists the runs with their main score.
"""
import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy

LOG_NAME = "train_log.jsonl"


@dataclass
class LogStep:
    """One evaluation step of a training log."""

    step: int
    epoch: int
    losses: Dict[str, float]
    scores: Dict[str, float]
    score: float
    loss_per_step: Dict[str, float] = field(default_factory=dict)


@dataclass
class ClassReport:
    """Confusion counts and per-label P/R/F1 of a classifier on the dev set."""

    labels: List[str]
    multi_label: bool
    # exclusive: [gold, predicted] counts; multi-label: [label, (tp, fp, fn, tn)]
    matrix: numpy.ndarray
    prf: Dict[str, Dict[str, float]]
    n_docs: int


def read_training_log(path: Path) -> List[LogStep]:
    """Parse the JSONL log that ``spacy.ConsoleLogger.v3`` writes with
    ``output_file``: one line per evaluation with the losses summed since the
    previous evaluation. The loss per step divides that sum by the number of
    steps it covers.

    path (Path): The log file.
    RETURNS (List[LogStep]): The evaluation steps in order.
    """
    if not path.exists():
        raise FileNotFoundError(
            f"No training log at {path}. Train with --training.logger.@loggers "
            f"spacy.ConsoleLogger.v3 --training.logger.output_file {path} (the "
            f"logger does not overwrite an existing file: remove it before training)."
        )
    steps: List[LogStep] = []
    with path.open(encoding="utf8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                step = LogStep(
                    step=int(row["step"]), epoch=int(row["epoch"]),
                    losses={k: float(v) for k, v in row["losses"].items()},
                    scores={k: float(v) for k, v in row["scores"].items()},
                    score=float(row["score"]),
                )
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise ValueError(f"{path}:{line_no}: not a training log line ({err!r}): {line[:200]!r}") from None
            steps.append(step)
    if not steps:
        raise ValueError(f"{path}: the training log is empty; did training reach its first evaluation?")
    previous = None
    for step in steps:
        window = 1 if previous is None else max(step.step - previous, 1)
        step.loss_per_step = {k: v / window for k, v in step.losses.items()}
        previous = step.step
    return steps


def _argmax_label(cats: Dict[str, float], labels: Sequence[str]) -> Optional[str]:
    if not cats:
        return None
    return max(labels, key=lambda label: cats.get(label, float("-inf")))


def prf(tp: float, fp: float, fn: float) -> Dict[str, float]:
    """Precision, recall and F1 from counts (0.0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def classification_report(
    gold: Sequence[Dict[str, float]],
    predicted: Sequence[Dict[str, float]],
    labels: Sequence[str],
    *,
    multi_label: bool,
    threshold: float = 0.5,
) -> ClassReport:
    """Confusion counts and per-label P/R/F1.

    gold (Sequence[Dict[str, float]]): Reference ``doc.cats`` per doc.
    predicted (Sequence[Dict[str, float]]): Predicted ``doc.cats`` per doc.
    labels (Sequence[str]): The component's labels.
    multi_label (bool): Labels independent (threshold each) or exclusive (argmax).
    threshold (float): The decision threshold for multi-label.
    RETURNS (ClassReport): The counts and scores.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} reference docs but {len(predicted)} predictions")
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    n_docs = 0
    if multi_label:
        matrix = numpy.zeros((len(labels), 4), dtype="int64")
        for g, p in zip(gold, predicted):
            if not g:
                continue
            n_docs += 1
            for label, i in index.items():
                truth = g.get(label, 0.0) >= 0.5
                guess = p.get(label, 0.0) >= threshold
                matrix[i, [[3, 1], [2, 0]][truth][guess]] += 1
        scores = {label: prf(*matrix[i, :3]) for label, i in index.items()}
    else:
        matrix = numpy.zeros((len(labels), len(labels)), dtype="int64")
        for doc_i, (g, p) in enumerate(zip(gold, predicted)):
            gold_label = _argmax_label(g, labels)
            if gold_label is None:
                continue
            pred_label = _argmax_label(p, labels)
            if pred_label is None:
                raise ValueError(f"doc {doc_i}: the pipeline predicted no categories")
            n_docs += 1
            matrix[index[gold_label], index[pred_label]] += 1
        scores = {}
        for label, i in index.items():
            tp = matrix[i, i]
            scores[label] = prf(tp, matrix[:, i].sum() - tp, matrix[i, :].sum() - tp)
    for label, i in index.items():
        scores[label]["support"] = int(matrix[i, 0] + matrix[i, 2]) if multi_label else int(matrix[i].sum())
    return ClassReport(labels=labels, multi_label=multi_label, matrix=matrix, prf=scores, n_docs=n_docs)


def flatten_scores(scores: Dict[str, Any]) -> Dict[str, Any]:
    """``spacy evaluate --per-component`` JSON -> ``{"component.key": value}``
    for the scalar scores; nested per-type tables are kept under their key."""
    flat: Dict[str, Any] = {}
    for component, values in scores.items():
        if component == "tokenizer":  # token accuracy against itself: always 1.0
            continue
        if isinstance(values, dict):
            for key, value in values.items():
                flat[f"{component}.{key}"] = value
        else:
            flat[component] = values
    return flat


def plot_training_curve(steps: Sequence[LogStep], title: str, path: Path) -> None:
    """Loss per step (top) and dev scores (bottom) against the training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [s.step for s in steps]
    fig, (ax_loss, ax_score) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for name in steps[0].loss_per_step:
        ax_loss.plot(x, [s.loss_per_step.get(name, numpy.nan) for s in steps], marker="o", label=f"loss {name}")
    ax_loss.set_ylabel("training loss per step")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    for name in steps[0].scores:
        ax_score.plot(x, [s.scores.get(name, numpy.nan) for s in steps], marker="o", label=name)
    ax_score.set_ylabel("dev score (x100)")
    ax_score.set_xlabel("step")
    ax_score.legend()
    ax_score.grid(alpha=0.3)
    fig.suptitle(f"{title}: training curve")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(report: ClassReport, title: str, path: Path) -> None:
    """The confusion matrix (exclusive) or per-label counts (multi-label) as a heatmap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = report.matrix
    columns = ["TP", "FP", "FN", "TN"] if report.multi_label else report.labels
    size = max(4.0, 1.0 + 0.9 * max(len(columns), len(report.labels)))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right")
    ax.set_yticks(range(len(report.labels)), labels=report.labels)
    ax.set_xlabel("count" if report.multi_label else "predicted")
    ax.set_ylabel("label" if report.multi_label else "reference")
    high = matrix.max() if matrix.size else 0
    for (i, j), value in numpy.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > high / 2 else "black")
    fig.colorbar(image, ax=ax)
    ax.set_title(f"{title}: {'per-label counts' if report.multi_label else 'confusion matrix'} (dev, {report.n_docs} docs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> List[str]:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _prf_rows(per_type: Dict[str, Dict[str, Any]]) -> List[List[Any]]:
    return [
        [label, float(v.get("p", 0.0)), float(v.get("r", 0.0)), float(v.get("f", 0.0))]
        + ([v["support"]] if "support" in v else [])
        for label, v in per_type.items()
    ]


def _classifier_pipes(nlp) -> List[Tuple[str, Any]]:
    """Components that write doc.cats (bert_textcat, bert_pair_classifier, ...)."""
    pipes = []
    for name, pipe in nlp.pipeline:
        assigns = nlp.get_pipe_meta(name).assigns
        if "doc.cats" in assigns and hasattr(pipe, "labels"):
            pipes.append((name, pipe))
    return pipes


def report_run(
    name: str,
    *,
    training_dir: Path,
    dev_path: Path,
    scores_path: Path,
    output_dir: Path,
) -> Dict[str, Any]:
    """Write OUTPUT_DIR/report.md, report.json, training_curve.png and, for
    classifiers, confusion.png; return the report's data.

    name (str): The run's name (used in titles).
    training_dir (Path): The `spacy train` output (model-best, train_log.jsonl).
    dev_path (Path): The dev set as .spacy.
    scores_path (Path): The JSON written by `spacy evaluate --per-component`.
    output_dir (Path): Where the report goes.
    RETURNS (Dict[str, Any]): The report's data (also in report.json).
    """
    import spacy
    from spacy.tokens import DocBin

    output_dir.mkdir(parents=True, exist_ok=True)
    model_path = training_dir / "model-best"
    if not model_path.exists():
        raise FileNotFoundError(f"{name}: no trained pipeline at {model_path}")
    scores = json.loads(scores_path.read_text(encoding="utf8"))
    if not isinstance(scores, dict) or not scores:
        raise ValueError(f"{scores_path}: expected the JSON object of `spacy evaluate --per-component`")
    steps = read_training_log(training_dir / LOG_NAME)
    plot_training_curve(steps, name, output_dir / "training_curve.png")

    nlp = spacy.load(model_path)
    data: Dict[str, Any] = {
        "name": name,
        "model": str(model_path),
        "dev": str(dev_path),
        "pipeline": [(pipe, nlp.get_pipe_meta(pipe).factory) for pipe in nlp.pipe_names],
        "scores": scores,
        "training_curve": [
            {"step": s.step, "epoch": s.epoch, "loss_per_step": s.loss_per_step, "scores": s.scores,
             "score": s.score}
            for s in steps
        ],
        "figures": ["training_curve.png"],
    }
    lines = [f"# Evaluation report: {name}", ""]
    lines += [f"Pipeline `{model_path}` ({', '.join(f'{p}: `{f}`' for p, f in data['pipeline'])}), "
              f"dev set `{dev_path}`.", ""]
    lines += ["## Scores (`spacy evaluate`)", ""]
    scalar = [(k, v) for k, v in flatten_scores(scores).items() if isinstance(v, (int, float)) and v is not None]
    lines += _md_table(["score", "value"], [(k, float(v)) for k, v in scalar]) + [""]

    classifiers = _classifier_pipes(nlp)
    if classifiers:
        reference = list(DocBin().from_disk(dev_path).get_docs(nlp.vocab))
        predicted = list(nlp.pipe(doc.text for doc in reference))
        for pipe_name, pipe in classifiers:
            multi_label = bool(getattr(pipe, "multi_label", False))
            threshold = float(pipe.cfg.get("threshold", 0.5)) if multi_label else 0.5
            cr = classification_report(
                [doc.cats for doc in reference], [doc.cats for doc in predicted], pipe.labels,
                multi_label=multi_label, threshold=threshold,
            )
            figure = "confusion.png" if len(classifiers) == 1 else f"confusion_{pipe_name}.png"
            plot_confusion(cr, f"{name} ({pipe_name})", output_dir / figure)
            data["figures"].append(figure)
            data.setdefault("classifiers", {})[pipe_name] = {
                "labels": cr.labels, "multi_label": multi_label, "matrix": cr.matrix.tolist(),
                "per_label": cr.prf, "n_docs": cr.n_docs,
            }
            if multi_label:
                lines += [f"## Per-label counts: `{pipe_name}` (threshold {threshold})", ""]
                lines += _md_table(["label", "TP", "FP", "FN", "TN"],
                                   [[label, *map(int, cr.matrix[i])] for i, label in enumerate(cr.labels)])
            else:
                lines += [f"## Confusion matrix: `{pipe_name}` (rows: reference, columns: predicted)", ""]
                lines += _md_table(["reference \\ predicted", *cr.labels],
                                   [[label, *map(int, cr.matrix[i])] for i, label in enumerate(cr.labels)])
            lines += ["", f"![confusion]({figure})", ""]
            lines += [f"## Per-label precision, recall, F1: `{pipe_name}`", ""]
            lines += _md_table(["label", "P", "R", "F1", "support"], _prf_rows(cr.prf)) + [""]
    for component, values in scores.items():
        if isinstance(values, dict) and isinstance(values.get("ents_per_type"), dict):
            lines += [f"## Per-type precision, recall, F1: `{component}`", ""]
            lines += _md_table(["type", "P", "R", "F1"], _prf_rows(values["ents_per_type"])) + [""]

    lines += ["## Training curve", "", "![training curve](training_curve.png)", ""]
    loss_names = list(steps[0].loss_per_step)
    score_names = list(steps[0].scores)
    lines += _md_table(
        ["step", "epoch", *[f"loss/step {n}" for n in loss_names], *score_names, "score"],
        [[s.step, s.epoch, *[s.loss_per_step.get(n, float("nan")) for n in loss_names],
          *[s.scores.get(n, float("nan")) for n in score_names], s.score] for s in steps],
    )
    (output_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf8")
    (output_dir / "report.json").write_text(json.dumps(data, indent=2), encoding="utf8")
    return data


def write_index(output: Path) -> Path:
    """OUTPUT/index.md: every report under OUTPUT (this run's and earlier
    ones), with the best dev score of its training curve."""
    lines = ["# Evaluation reports", "", "| run | pipeline | best dev score | at step | report |",
             "|---|---|---|---|---|"]
    for path in sorted(output.glob("*/report.json")):
        data = json.loads(path.read_text(encoding="utf8"))
        best = max(data["training_curve"], key=lambda s: s["score"])
        factories = ", ".join(f"`{factory}`" for _, factory in data["pipeline"])
        name = path.parent.name
        lines.append(f"| {name} | {factories} | {best['score']:.4f} | {best['step']} | [{name}/report.md]({name}/report.md) |")
    index = output / "index.md"
    index.write_text("\n".join(lines) + "\n", encoding="utf8")
    return index


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", nargs=4, action="append", required=True,
                        metavar=("NAME", "TRAINING_DIR", "DEV_SPACY", "SCORES_JSON"),
                        help="a trained pipeline to report on (repeatable)")
    parser.add_argument("--output", type=Path, required=True, help="directory of the reports")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU to predict on (-1: CPU)")
    args = parser.parse_args(argv)
    if args.gpu_id >= 0:
        import spacy

        spacy.require_gpu(args.gpu_id)
    for name, training_dir, dev_path, scores_path in args.run:
        data = report_run(
            name, training_dir=Path(training_dir), dev_path=Path(dev_path),
            scores_path=Path(scores_path), output_dir=args.output / name,
        )
        last = data["training_curve"][-1]
        best = max(data["training_curve"], key=lambda s: s["score"])
        print(f"{name}: best dev score {best['score']:.3f} at step {best['step']} "
              f"(last {last['score']:.3f} at step {last['step']}); report in {args.output / name / 'report.md'}")
        for pipe_name, cls in data.get("classifiers", {}).items():
            per_label = ", ".join(f"{label} F1 {v['f']:.2f}" for label, v in cls["per_label"].items())
            print(f"    {pipe_name}: {per_label}")
    write_index(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
