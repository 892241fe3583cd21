"""QA post-processing (best_spans, select_answer) and the SQuAD metric."""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_bertft.qa_postprocess import (
    Answer,
    SpanCandidate,
    best_spans,
    select_answer,
    spans_to_answers,
)
from spacy_bertft.squad_metric import (
    exact_match_score,
    f1_score,
    max_over_ground_truths,
    normalize_answer,
    squad_scores,
)


def brute_force(starts, ends, mask, n_best, max_len):
    spans = []
    for i in range(len(starts)):
        for j in range(i, min(len(starts), i + max_len)):
            if mask[i] and mask[j]:
                spans.append((-(starts[i] + ends[j]), i, j))
    return [(i, j) for _, i, j in sorted(spans)[:n_best]]


def test_best_spans_scores_and_order():
    starts = numpy.asarray([5.0, 0.0, 3.0, 1.0, 0.0])
    ends = numpy.asarray([5.0, 0.0, 0.5, 2.0, 4.0])
    mask = numpy.asarray([False, True, True, True, True])  # [CLS] excluded
    spans = best_spans(starts, ends, mask=mask, n_best=3, max_answer_length=3)
    assert [(s.start, s.end) for s in spans] == [(2, 4), (2, 3), (3, 4)]
    assert spans[0] == SpanCandidate(2, 4, 7.0, 3.0, 4.0)
    assert spans[1].score == pytest.approx(5.0)
    # max_answer_length counts wordpieces, both ends included
    spans = best_spans(starts, ends, mask=mask, n_best=1, max_answer_length=2)
    assert [(s.start, s.end) for s in spans] == [(2, 3)]


def test_best_spans_never_ends_before_start():
    starts = numpy.asarray([0.0, 0.0, 9.0])
    ends = numpy.asarray([9.0, 0.0, 0.0])
    spans = best_spans(starts, ends, n_best=10, max_answer_length=5)
    assert all(s.end >= s.start for s in spans)
    assert len(spans) == 6
    assert (spans[0].start, spans[0].end) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 14).flatmap(lambda n: st.tuples(
        st.lists(st.floats(-5, 5), min_size=n, max_size=n),
        st.lists(st.floats(-5, 5), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )),
    st.integers(1, 8),
    st.integers(1, 6),
)
def test_best_spans_matches_brute_force(arrays, n_best, max_len):
    starts, ends, mask = (numpy.asarray(a) for a in arrays)
    spans = best_spans(starts, ends, mask=mask, n_best=n_best, max_answer_length=max_len)
    expected = brute_force(starts, ends, mask, n_best, max_len)
    assert len(spans) == len(expected)
    got_scores = [s.score for s in spans]
    want_scores = [starts[i] + ends[j] for i, j in expected]
    assert got_scores == pytest.approx(want_scores)
    assert got_scores == sorted(got_scores, reverse=True)
    for s in spans:
        assert mask[s.start] and mask[s.end] and 0 <= s.end - s.start < max_len


def test_best_spans_empty_and_errors():
    assert best_spans(numpy.zeros(3), numpy.zeros(3), mask=numpy.zeros(3, dtype=bool)) == []
    assert best_spans(numpy.zeros(0), numpy.zeros(0)) == []
    with pytest.raises(ValueError, match="same length"):
        best_spans(numpy.zeros(3), numpy.zeros(4))
    with pytest.raises(ValueError, match="mask"):
        best_spans(numpy.zeros(3), numpy.zeros(3), mask=numpy.ones(2, dtype=bool))
    with pytest.raises(ValueError, match="n_best"):
        best_spans(numpy.zeros(3), numpy.zeros(3), n_best=0)
    with pytest.raises(ValueError, match="max_answer_length"):
        best_spans(numpy.zeros(3), numpy.zeros(3), max_answer_length=0)


def test_spans_to_answers():
    offsets = numpy.asarray([[-1, -1], [10, 14], [15, 20], [20, 21], [-1, -1]])
    spans = [SpanCandidate(1, 2, 3.0, 1.0, 2.0), SpanCandidate(3, 3, 1.0, 0.5, 0.5)]
    answers = spans_to_answers(spans, offsets, window=4)
    assert answers == [Answer(10, 20, 3.0, 4), Answer(20, 21, 1.0, 4)]
    with pytest.raises(ValueError, match="special token"):
        spans_to_answers([SpanCandidate(0, 1, 0.0, 0.0, 0.0)], offsets)
    with pytest.raises(ValueError, match="outside"):
        spans_to_answers([SpanCandidate(3, 7, 0.0, 0.0, 0.0)], offsets)


def test_select_answer_ranks_and_merges_windows():
    candidates = [
        Answer(10, 20, 2.0, 0), Answer(30, 35, 4.0, 0),
        Answer(10, 20, 5.0, 1),  # the same characters, seen again in window 1
        Answer(40, 41, 1.0, 1),
    ]
    choice = select_answer(candidates, [-1.0, -3.0], n_best=2)
    assert [(a.start_char, a.end_char) for a in choice.answers] == [(10, 20), (30, 35)]
    assert choice.answers[0].score == 5.0 and choice.answers[0].window == 1
    assert choice.null_score == -3.0  # the lowest over windows, as run_qa
    assert choice.best_score == 5.0 and not choice.no_answer
    assert len(select_answer(candidates, [0.0], n_best=None).answers) == 3


def test_select_answer_null_threshold():
    candidates = [Answer(0, 4, 2.0)]
    # without a threshold, always answer (SQuAD v1.1)
    assert select_answer(candidates, [10.0]).answers == candidates
    choice = select_answer(candidates, [10.0], null_threshold=0.0)
    assert choice.no_answer and choice.answers == [] and choice.best_score == 2.0
    assert not select_answer(candidates, [10.0], null_threshold=8.5).no_answer
    assert not select_answer(candidates, [1.0], null_threshold=0.0).no_answer
    empty = select_answer([], [1.0])
    assert empty.no_answer and empty.answers == [] and empty.best_score is None
    with pytest.raises(ValueError, match="n_best"):
        select_answer(candidates, [0.0], n_best=0)
    with pytest.raises(ValueError, match="before it starts"):
        select_answer([Answer(5, 3, 1.0)], [0.0])


# The SQuAD metric -------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("The Eiffel Tower", "eiffel tower"),
    ("  an   apple,  a pear! ", "apple pear"),
    ("Theatre and athena", "theatre and athena"),  # articles only as whole words
    ("U.S.A.", "usa"),
    ("the", ""),
    ("Denver Broncos\n", "denver broncos"),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_and_f1():
    assert exact_match_score("The Denver Broncos.", "denver broncos") == 1.0
    assert exact_match_score("Denver", "Denver Broncos") == 0.0
    # precision 1/1, recall 1/2
    assert f1_score("Denver", "Denver Broncos") == pytest.approx(2 / 3)
    # precision 2/3, recall 2/2
    assert f1_score("the Denver Broncos team", "Denver Broncos") == pytest.approx(0.8)
    assert f1_score("Carolina", "Denver Broncos") == 0.0
    # bag of tokens: duplicates count once per gold occurrence
    assert f1_score("paris paris", "paris") == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_max_over_ground_truths_and_squad_scores():
    golds = ["Denver Broncos", "The Broncos", "Broncos"]
    assert max_over_ground_truths(exact_match_score, "broncos", golds) == 1.0
    assert max_over_ground_truths(f1_score, "Denver", golds) == pytest.approx(2 / 3)
    # unanswerable: right only when the prediction is empty too
    assert max_over_ground_truths(f1_score, "", []) == 1.0
    assert max_over_ground_truths(exact_match_score, "Denver", []) == 0.0
    scores = squad_scores(["broncos", "Denver", ""], [golds, golds, []])
    assert scores.n == 3
    assert scores.exact_match == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx((1.0 + 2 / 3 + 1.0) / 3)
    assert squad_scores([], []).n == 0
    with pytest.raises(ValueError, match="one prediction per question"):
        squad_scores(["a"], [])
    with pytest.raises(ValueError, match="sequences of strings"):
        squad_scores(["a"], ["a"])
