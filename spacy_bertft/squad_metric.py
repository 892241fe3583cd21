"""The SQuAD evaluation: exact match and token F1 after answer normalisation.

The functions follow the official SQuAD v1.1 script (``evaluate-v1.1.py``):
answers are lower-cased, stripped of punctuation and of the articles a/an/the,
and their whitespace is collapsed; a prediction takes the best score over the
gold answers of its question. Questions without a gold answer (SQuAD 2.0
style) count as right when the prediction is empty too, as in the v2.0 script.
Scores here are fractions (0-1), as spaCy reports them; the official scripts
print them multiplied by 100.
"""
import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Callable, List, Sequence

from .errors import Errors

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the and collapse
    whitespace, in the order of the official script.

    text (str): An answer.
    RETURNS (str): The normalised answer.
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, ground_truth: str) -> float:
    """1.0 if both answers are equal after normalisation, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1_score(prediction: str, ground_truth: str) -> float:
    """Token-level F1 of the normalised answers (bag of words).

    prediction (str): The predicted answer.
    ground_truth (str): A gold answer.
    RETURNS (float): F1 in [0, 1]; 0.0 when no token is shared.
    """
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(ground_truth).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def max_over_ground_truths(
    metric: Callable[[str, str], float], prediction: str, ground_truths: Sequence[str]
) -> float:
    """The best score of a prediction over the gold answers of its question.
    With no gold answer (an unanswerable question), the prediction scores 1.0
    if it is empty and 0.0 otherwise.

    metric (Callable[[str, str], float]): ``exact_match_score`` or ``f1_score``.
    prediction (str): The predicted answer ("" for no answer).
    ground_truths (Sequence[str]): The gold answers.
    RETURNS (float): The best score.
    """
    if len(ground_truths) == 0:
        return float(prediction.strip() == "")
    return max(metric(prediction, gold) for gold in ground_truths)


@dataclass
class SquadScores:
    """Mean exact match and F1 over a set of questions (fractions, 0-1).

    exact_match (float): Mean exact match.
    f1 (float): Mean F1.
    n (int): Number of questions.
    """

    exact_match: float
    f1: float
    n: int


def squad_scores(predictions: Sequence[str], ground_truths: Sequence[Sequence[str]]) -> SquadScores:
    """Score predicted answers against the gold answers of each question.

    predictions (Sequence[str]): One answer per question ("" for no answer).
    ground_truths (Sequence[Sequence[str]]): The gold answers per question.
    RETURNS (SquadScores): Mean exact match and F1; 0.0 for no questions.
    """
    if isinstance(predictions, str):
        raise ValueError(Errors.E163.format(value=predictions[:50]))
    if len(predictions) != len(ground_truths):
        raise ValueError(Errors.E162.format(n_pred=len(predictions), n_gold=len(ground_truths)))
    em: List[float] = []
    f1: List[float] = []
    for prediction, golds in zip(predictions, ground_truths):
        if isinstance(golds, str):
            raise ValueError(Errors.E163.format(value=golds[:50]))
        em.append(max_over_ground_truths(exact_match_score, prediction, golds))
        f1.append(max_over_ground_truths(f1_score, prediction, golds))
    n = len(em)
    return SquadScores(
        exact_match=sum(em) / n if n else 0.0,
        f1=sum(f1) / n if n else 0.0,
        n=n,
    )
