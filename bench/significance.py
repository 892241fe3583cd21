"""Is A better than B? A paired bootstrap over the evaluation set: resample
the examples with replacement, recompute both systems' metric on each
resample, and report the observed difference, its 95% confidence interval
and a two-sided p-value (the share of resampled differences, centred on the
observed one, at least as far from it as the observed one is from zero;
Efron & Tibshirani 1993, Berg-Kirkpatrick et al. 2012).

Two trained pipelines on a task's evaluation set, or on a DocBin of gold docs:

    python bench/significance.py training/a/model-best training/b/model-best --task sst2
    python bench/significance.py A B --task conll --data ../shared/data --n-eval 1000
    python bench/significance.py A B --data dev.spacy

Two systems of one `bench/run.py` run (its FILE.predictions.json):

    python bench/significance.py bertft hf --run bench/results/sst2.predictions.json
"""
import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA_DIR  # noqa: E402
from bench.data import TASKS, ClsExample, NerSentence, PairExample, QAExample, load_task  # noqa: E402
from bench.metrics import HEADLINE, METRIC_FUNCS, metric_stats  # noqa: E402

DEFAULT_METRIC_BY_KIND = {"cls": "accuracy", "pair": "accuracy", "ner": "ents_f", "qa": "f1"}


@dataclass
class BootstrapResult:
    metric: str
    n: int
    samples: int
    score_a: float
    score_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float


def paired_bootstrap(
    stats_a: numpy.ndarray,
    stats_b: numpy.ndarray,
    metric_fn: Callable[[numpy.ndarray, int], numpy.ndarray],
    *,
    samples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
    metric: str = "",
    chunk: int = 500,
) -> BootstrapResult:
    """Paired bootstrap of ``metric(A) - metric(B)``.

    stats_a (numpy.ndarray): Per-example statistics of A, shape (n, k); the
        metric is a function of their sum over a (re)sample.
    stats_b (numpy.ndarray): The same for B, over the same examples in the same order.
    metric_fn (Callable): (sums (..., k), n) -> metric (...).
    samples (int): Bootstrap resamples.
    seed (int): Seed of the resampling.
    confidence (float): Level of the percentile interval.
    RETURNS (BootstrapResult): The difference, its interval and the p-value.
    """
    stats_a = numpy.asarray(stats_a, dtype="float64")
    stats_b = numpy.asarray(stats_b, dtype="float64")
    if stats_a.shape != stats_b.shape or stats_a.ndim != 2:
        raise ValueError(f"Paired bootstrap needs per-example statistics of the same shape (n, k) for both "
                         f"systems, got {stats_a.shape} and {stats_b.shape}")
    n = stats_a.shape[0]
    if n == 0:
        raise ValueError("Paired bootstrap needs at least one evaluation example")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    score_a = float(metric_fn(stats_a.sum(axis=0), n))
    score_b = float(metric_fn(stats_b.sum(axis=0), n))
    delta = score_a - score_b
    rng = numpy.random.default_rng(seed)
    deltas = numpy.empty(samples, dtype="float64")
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        idx = rng.integers(0, n, size=(size, n))
        deltas[start : start + size] = metric_fn(stats_a[idx].sum(axis=1), n) - metric_fn(stats_b[idx].sum(axis=1), n)
    alpha = (1.0 - confidence) / 2
    low, high = numpy.quantile(deltas, [alpha, 1.0 - alpha])
    extreme = numpy.count_nonzero(numpy.abs(deltas - delta) >= abs(delta) - 1e-12)
    p_value = (extreme + 1) / (samples + 1)
    return BootstrapResult(metric, n, samples, score_a, score_b, delta, float(low), float(high),
                           float(min(1.0, p_value)), confidence)


def docbin_items(path: Path) -> Tuple[str, list]:
    """Evaluation examples from a DocBin of gold docs: cats (single texts or
    pair docs), ents, or QA docs with spans["answers"]."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_bertft.segments import SEPARATOR, split_segments

    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    if not docs:
        raise ValueError(f"{path}: the DocBin holds no docs")
    first = docs[0]
    items: list = []
    if "answers" in first.spans:
        for i, doc in enumerate(docs):
            question, context, b_start = split_segments(doc.text, index=i)
            answers = [(s.text, s.start_char - b_start) for s in doc.spans["answers"]]
            items.append(QAExample(str(i), question, context, answers))
        return "qa", items
    if first.cats:
        kind = "pair" if SEPARATOR in first.text else "cls"
        for i, doc in enumerate(docs):
            if not doc.cats:
                raise ValueError(f"{path}: doc {i} has no cats, unlike doc 0")
            label = max(doc.cats, key=doc.cats.get)
            if kind == "pair":
                a, b, _ = split_segments(doc.text, index=i)
                items.append(PairExample(a, b, label))
            else:
                items.append(ClsExample(doc.text, label))
        return kind, items
    for doc in docs:
        items.append(NerSentence([t.text for t in doc], [(e.start, e.end, e.label_) for e in doc.ents]))
    return "ner", items


def pipeline_predictions(path: str, kind: str, items: list, batch_size: int) -> list:
    import spacy

    from bench.spacy_side import predict

    nlp = spacy.load(path)
    return predict(nlp, kind, items, batch_size)["predictions"]


def _as_sets(kind: str, predictions: list) -> list:
    if kind == "ner":
        return [{tuple(s) for s in p} for p in predictions]
    return predictions


def compare(args: argparse.Namespace) -> Tuple[BootstrapResult, dict]:
    from bench.spacy_side import gold_for

    info: dict = {}
    if args.run:
        run = json.loads(Path(args.run).read_text(encoding="utf8"))
        settings = run["settings"]
        task = settings["task"]
        data = load_task(task, args.data or settings["data_dir"], settings["n_train"], settings["n_eval"])
        kind, items, positive = data.kind, data.eval, data.positive_label
        missing = [s for s in (args.a, args.b) if s not in run["predictions"]]
        if missing:
            raise SystemExit(f"{args.run} has no predictions of {missing}: it has {sorted(run['predictions'])}")
        pred_a = _as_sets(kind, run["predictions"][args.a])
        pred_b = _as_sets(kind, run["predictions"][args.b])
        info["source"] = args.run
    else:
        if args.data and str(args.data).endswith(".spacy"):
            kind, items = docbin_items(Path(args.data))
            task, positive = args.task or kind, args.positive_label
        else:
            if not args.task:
                raise SystemExit("Give --task (with --data DIR, default ../shared/data), or --data FILE.spacy")
            data = load_task(args.task, args.data or DEFAULT_DATA_DIR, 0, args.n_eval)
            task, kind, items, positive = args.task, data.kind, data.eval, data.positive_label
        pred_a = pipeline_predictions(args.a, kind, items, args.batch_size)
        pred_b = pipeline_predictions(args.b, kind, items, args.batch_size)
    gold = gold_for(kind, items)
    metric = args.metric or (HEADLINE[task] if task in HEADLINE else DEFAULT_METRIC_BY_KIND[kind])
    if metric not in METRIC_FUNCS:
        raise SystemExit(f"Unknown metric {metric!r}: use one of {sorted(METRIC_FUNCS)}")
    stats_a = metric_stats(task, metric, pred_a, gold, positive)
    stats_b = metric_stats(task, metric, pred_b, gold, positive)
    result = paired_bootstrap(stats_a, stats_b, METRIC_FUNCS[metric], samples=args.samples, seed=args.seed,
                              metric=metric)
    info.update({"a": args.a, "b": args.b, "task": task})
    return result, info


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="pipeline folder (or, with --run, a system name such as bertft)")
    p.add_argument("b", help="pipeline folder (or, with --run, a system name such as hf)")
    p.add_argument("--task", choices=TASKS, default=None)
    p.add_argument("--data", default=None, help="data folder (../shared/data) or a DocBin of gold docs (.spacy)")
    p.add_argument("--n-eval", type=int, default=0, help="first N evaluation examples (0: all)")
    p.add_argument("--run", default=None, help="FILE.predictions.json of a bench/run.py run")
    p.add_argument("--metric", default=None, help=f"one of {', '.join(sorted(METRIC_FUNCS))} (default: the task's)")
    p.add_argument("--positive-label", default=None, help="for f1_positive on a DocBin")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", default=None, help="also write the result as JSON")
    args = p.parse_args(argv)
    result, info = compare(args)
    print(f"{info['a']} vs {info['b']} on {info['task']} ({result.n} examples, {result.samples} resamples)")
    print(f"  {result.metric}: A {result.score_a:.2f}  B {result.score_b:.2f}  A-B {result.delta:+.2f}  "
          f"{int(result.confidence * 100)}% CI [{result.ci_low:+.2f}, {result.ci_high:+.2f}]  "
          f"p = {result.p_value:.4f}")
    verdict = "significant" if result.p_value < 0.05 else "not significant"
    print(f"  the difference is {verdict} at the 5% level")
    if args.out:
        from bench.common import write_json

        write_json(args.out, {**info, **asdict(result)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
