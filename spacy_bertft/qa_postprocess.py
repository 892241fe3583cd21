"""Extractive QA post-processing: from start/end logits to answers.

Pure functions over numpy arrays, in the manner of Hugging Face's ``run_qa``
post-processing: a span scores ``start_logit + end_logit``, only context
wordpieces may start or end it, its end is not before its start and it is at
most ``max_answer_length`` wordpieces long. Where ``run_qa`` combines the top
``n_best`` start and end positions, ``best_spans`` scores every allowed span of
a window, so its n-best list is exact. The answers of all windows of a question
are then ranked together by ``select_answer``, which also compares the best
answer with the null ([CLS]) score for SQuAD 2.0-style "no answer".
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy

from .errors import Errors


@dataclass(frozen=True)
class SpanCandidate:
    """A span of wordpieces in one window.

    start (int): Index of the first wordpiece.
    end (int): Index of the last wordpiece (inclusive).
    score (float): start_logit + end_logit.
    start_logit (float): The start logit of ``start``.
    end_logit (float): The end logit of ``end``.
    """

    start: int
    end: int
    score: float
    start_logit: float
    end_logit: float


@dataclass(frozen=True)
class Answer:
    """A candidate answer as characters of the doc's text.

    start_char (int): Offset of the first character.
    end_char (int): Offset after the last character.
    score (float): The span's score.
    window (int): The row (window) the span was found in; -1 if unknown.
    """

    start_char: int
    end_char: int
    score: float
    window: int = -1


@dataclass
class AnswerChoice:
    """The answers of one question, best first, and the no-answer decision.

    answers (List[Answer]): Best first; empty when there is no answer.
    null_score (Optional[float]): The lowest null ([CLS]) score over the
        question's windows, None when no window was scored.
    best_score (Optional[float]): Score of the best span, None without one.
    no_answer (bool): Whether the question is judged unanswerable.
    """

    answers: List[Answer] = field(default_factory=list)
    null_score: Optional[float] = None
    best_score: Optional[float] = None
    no_answer: bool = False


def best_spans(
    start_logits: numpy.ndarray,
    end_logits: numpy.ndarray,
    *,
    mask: Optional[numpy.ndarray] = None,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> List[SpanCandidate]:
    """The n best spans of one window.

    start_logits (numpy.ndarray): Start logits, shape (n_wordpieces,).
    end_logits (numpy.ndarray): End logits, shape (n_wordpieces,).
    mask (Optional[numpy.ndarray]): Boolean, True where a wordpiece may start
        or end an answer (the context wordpieces); all of them if None.
    n_best (int): How many spans to return at most.
    max_answer_length (int): Longest span, in wordpieces.
    RETURNS (List[SpanCandidate]): Best first (ties: earlier start, then
        earlier end); empty when no wordpiece is allowed.
    """
    starts = numpy.asarray(start_logits, dtype="float64")
    ends = numpy.asarray(end_logits, dtype="float64")
    if starts.ndim != 1 or ends.shape != starts.shape:
        raise ValueError(Errors.E155.format(start=starts.shape, end=ends.shape))
    n = starts.shape[0]
    if mask is None:
        allowed = numpy.ones((n,), dtype=bool)
    else:
        allowed = numpy.asarray(mask, dtype=bool)
        if allowed.shape != starts.shape:
            raise ValueError(Errors.E156.format(mask=allowed.shape, n=n))
    _check_positive("n_best", n_best)
    _check_positive("max_answer_length", max_answer_length)
    if n == 0 or not allowed.any():
        return []
    width = min(int(max_answer_length), n)
    # scores[i, k]: the span from wordpiece i to wordpiece i + k
    end_index = numpy.arange(n)[:, None] + numpy.arange(width)[None, :]
    inside = end_index < n
    end_index = numpy.minimum(end_index, n - 1)
    valid = allowed[:, None] & inside & allowed[end_index]
    n_valid = int(valid.sum())
    if n_valid == 0:
        return []
    scores = numpy.where(valid, starts[:, None] + ends[end_index], -numpy.inf).ravel()
    k = min(int(n_best), n_valid)
    # k <= n_valid, so the k-th highest score is finite; keep every span that
    # ties with it, so that ties are broken by position, not by the partition
    kth = scores[numpy.argpartition(-scores, k - 1)[k - 1]]
    top = numpy.flatnonzero(scores >= kth)
    span_start, offset = numpy.divmod(top, width)
    order = numpy.lexsort((offset, span_start, -scores[top]))[:k]
    result = []
    for j in order:
        s = int(span_start[j])
        e = s + int(offset[j])
        result.append(SpanCandidate(s, e, float(scores[top[j]]), float(starts[s]), float(ends[e])))
    return result


def spans_to_answers(
    spans: Sequence[SpanCandidate], offsets: numpy.ndarray, *, window: int = -1
) -> List[Answer]:
    """Map wordpiece spans of a window to character offsets.

    spans (Sequence[SpanCandidate]): Spans from ``best_spans``.
    offsets (numpy.ndarray): The window's (n_wordpieces, 2) character offsets;
        (-1, -1) for special tokens.
    window (int): The window's row, recorded in the answers.
    RETURNS (List[Answer]): One answer per span, in the same order.
    """
    offsets = numpy.asarray(offsets)
    answers = []
    for span in spans:
        if not (0 <= span.start <= span.end < offsets.shape[0]):
            raise ValueError(Errors.E157.format(start=span.start, end=span.end, n=offsets.shape[0]))
        start_char = int(offsets[span.start, 0])
        end_char = int(offsets[span.end, 1])
        if start_char < 0 or end_char < 0:
            raise ValueError(Errors.E158.format(start=span.start, end=span.end))
        answers.append(Answer(start_char, end_char, span.score, window))
    return answers


def select_answer(
    candidates: Sequence[Answer],
    null_scores: Sequence[float],
    *,
    n_best: Optional[int] = 20,
    null_threshold: Optional[float] = None,
) -> AnswerChoice:
    """Rank the candidate answers of all windows of a question and decide
    whether it has an answer.

    As in ``run_qa``, the null score is the lowest [CLS] score over the
    windows (the window most sure that it holds an answer); with a threshold,
    the question has no answer when ``null_score - best_score > null_threshold``.
    Candidates with the same characters (found in two overlapping windows)
    are merged, keeping the higher score.

    candidates (Sequence[Answer]): Answers from every window.
    null_scores (Sequence[float]): The [CLS] start + end logit per window.
    n_best (Optional[int]): Answers to keep; all if None.
    null_threshold (Optional[float]): None always answers (SQuAD v1.1).
    RETURNS (AnswerChoice): Answers best first and the decision.
    """
    if n_best is not None:
        _check_positive("n_best", n_best)
    best: Dict[Tuple[int, int], Answer] = {}
    for answer in candidates:
        if answer.end_char < answer.start_char:
            raise ValueError(Errors.E159.format(start=answer.start_char, end=answer.end_char))
        key = (answer.start_char, answer.end_char)
        if key not in best or answer.score > best[key].score:
            best[key] = answer
    ranked = sorted(best.values(), key=lambda a: (-a.score, a.start_char, a.end_char))
    if n_best is not None:
        ranked = ranked[: int(n_best)]
    null_score = float(min(null_scores)) if len(null_scores) else None
    best_score = ranked[0].score if ranked else None
    no_answer = not ranked
    if ranked and null_threshold is not None and null_score is not None:
        no_answer = null_score - ranked[0].score > null_threshold
    return AnswerChoice(
        answers=[] if no_answer else ranked,
        null_score=null_score,
        best_score=best_score,
        no_answer=no_answer,
    )


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(Errors.E160.format(name=name, value=value))
