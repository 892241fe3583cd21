"""Metrics computed the same way for every system, from per-example
statistics, so that the paired bootstrap (``significance.py``) can resample
them: a metric is a function of the per-example statistics summed over a
(re)sample."""
import collections
import re
import string
from typing import Callable, Dict, List, Sequence, Set, Tuple

import numpy

Span = Tuple[int, int, str]

# Per task: the headline metric name and the statistics each example yields.
HEADLINE = {"sst2": "accuracy", "mrpc": "accuracy", "rte": "accuracy", "conll": "ents_f", "squad": "f1"}


def accuracy_stats(pred: Sequence[str], gold: Sequence[str]) -> numpy.ndarray:
    """Per example: [correct]."""
    return numpy.asarray([[float(p == g)] for p, g in zip(pred, gold)], dtype="float64").reshape(-1, 1)


def label_f1_stats(pred: Sequence[str], gold: Sequence[str], positive: str) -> numpy.ndarray:
    """Per example: [tp, fp, fn] for the positive label."""
    rows = [[float(p == positive and g == positive), float(p == positive and g != positive),
             float(p != positive and g == positive)] for p, g in zip(pred, gold)]
    return numpy.asarray(rows, dtype="float64").reshape(-1, 3)


def span_stats(pred: Sequence[Set[Span]], gold: Sequence[Set[Span]]) -> numpy.ndarray:
    """Per example: [tp, fp, fn] of exact (start, end, label) matches."""
    rows = []
    for p, g in zip(pred, gold):
        p, g = set(p), set(g)
        tp = len(p & g)
        rows.append([tp, len(p) - tp, len(g) - tp])
    return numpy.asarray(rows, dtype="float64").reshape(-1, 3)


def f1_from_counts(counts: numpy.ndarray) -> float:
    """F1 from summed [tp, fp, fn] (the last axis); 0 when undefined."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    return numpy.where(denom > 0, 2 * tp / numpy.maximum(denom, 1e-12), 0.0)


def prf(counts: numpy.ndarray) -> Dict[str, float]:
    tp, fp, fn = (float(x) for x in counts)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


# SQuAD v1.1's official evaluation, written from its description in
# shared/data/squad11/README.md.
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def squad_exact(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_stats(pred: Sequence[str], golds: Sequence[Sequence[str]]) -> numpy.ndarray:
    """Per question: [exact match, F1], each the max over the gold answers."""
    rows = []
    for p, answers in zip(pred, golds):
        p = p or ""
        rows.append([max(squad_exact(p, a) for a in answers), max(squad_f1(p, a) for a in answers)])
    return numpy.asarray(rows, dtype="float64").reshape(-1, 2)


# Metric functions over summed statistics (the last axis); they accept a
# batch of sums (bootstrap) as well as one.
def _mean_column(col: int) -> Callable[[numpy.ndarray, int], numpy.ndarray]:
    return lambda sums, n: 100.0 * sums[..., col] / n


def _f1_metric(sums: numpy.ndarray, n: int) -> numpy.ndarray:
    return 100.0 * f1_from_counts(sums)


METRIC_FUNCS: Dict[str, Callable[[numpy.ndarray, int], numpy.ndarray]] = {
    "accuracy": _mean_column(0),
    "f1_positive": _f1_metric,
    "ents_f": _f1_metric,
    "exact_match": _mean_column(0),
    "f1": _mean_column(1),
}


def metric_stats(task: str, metric: str, pred: list, gold: list, positive_label=None) -> numpy.ndarray:
    """Per-example statistics for ``metric`` on a task (see METRIC_FUNCS)."""
    if metric == "accuracy":
        return accuracy_stats(pred, gold)
    if metric == "f1_positive":
        return label_f1_stats(pred, gold, positive_label)
    if metric == "ents_f":
        return span_stats(pred, gold)
    if metric in ("exact_match", "f1"):
        return squad_stats(pred, gold)
    raise ValueError(f"Unknown metric {metric!r} for task {task}: use one of {sorted(METRIC_FUNCS)}")


def metric_value(metric: str, stats: numpy.ndarray) -> float:
    return float(METRIC_FUNCS[metric](stats.sum(axis=0), len(stats)))


def task_scores(task: str, pred: list, gold: list, positive_label=None) -> Dict[str, float]:
    """All reported scores of a task (percentages): the headline first."""
    if task in ("sst2", "mrpc", "rte"):
        scores = {"accuracy": metric_value("accuracy", accuracy_stats(pred, gold))}
        if task == "mrpc":
            scores["f1_positive"] = metric_value("f1_positive", label_f1_stats(pred, gold, positive_label))
        return scores
    if task == "conll":
        counts = span_stats(pred, gold).sum(axis=0)
        result = prf(counts)
        scores = {"ents_f": 100 * result["f"], "ents_p": 100 * result["p"], "ents_r": 100 * result["r"]}
        per_type: Dict[str, List[float]] = {}
        labels = sorted({s[2] for g in gold for s in g} | {s[2] for p in pred for s in p})
        for label in labels:
            c = span_stats([{s for s in p if s[2] == label} for p in pred],
                           [{s for s in g if s[2] == label} for g in gold]).sum(axis=0)
            per_type[label] = round(100 * prf(c)["f"], 2)
        scores["ents_f_per_type"] = per_type
        return scores
    if task == "squad":
        stats = squad_stats(pred, gold)
        return {"f1": metric_value("f1", stats), "exact_match": metric_value("exact_match", stats)}
    raise ValueError(f"Unknown task {task!r}")
