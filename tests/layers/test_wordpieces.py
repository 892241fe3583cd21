"""Wordpiece encoding and alignment never crash on any Unicode, and offsets
always point at the text they came from."""
import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_bertft.layers.wordpieces import encode_texts, token_alignment
from spacy_bertft.layers.hf_shim import _load_tokenizer

NASTY = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("\u200b\u200d\u0301\u0300\ufeff\u00ad\t\n\r \u3000\U0001F600\U0001F44D\U0001F3FD")),
    ),
    max_size=60,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder):
    return _load_tokenizer(tiny_encoder, tiny_encoder, local_files_only=True)


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(NASTY, min_size=1, max_size=4))
def test_offsets_point_into_text(tokenizer, nlp, texts):
    batch = encode_texts(tokenizer, texts, max_length=32, windows=True, stride=8)
    assert batch.input_ids.shape[0] == len(batch.offsets) == len(batch.doc_index)
    assert set(batch.doc_index.tolist()) == set(range(len(texts)))
    for row, offs in enumerate(batch.offsets):
        text = texts[batch.doc_index[row]]
        assert offs.shape == (batch.lengths[row], 2)
        real = offs[offs[:, 0] >= 0]
        assert ((real[:, 0] <= real[:, 1]) & (real[:, 1] <= len(text))).all()
        doc = nlp.make_doc(text)
        aligned = token_alignment(doc, offs)
        assert len(aligned) == len(doc)
        for token, wps in zip(doc, aligned):
            for wp in wps.tolist():
                s, e = offs[wp]
                # each aligned wordpiece overlaps its token
                assert s < token.idx + len(token.text) and e > token.idx


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=NASTY, b=NASTY)
def test_pairs_encode_both_segments(tokenizer, a, b):
    b_start = len(a) + 3
    batch = encode_texts(tokenizer, [a], [b], [b_start], max_length=24)
    assert batch.input_ids.shape[0] == 1
    assert batch.lengths[0] <= 24
    types = batch.token_type_ids[0][: batch.lengths[0]]
    offs = batch.offsets[0]
    second = offs[(types == 1) & (offs[:, 0] >= 0)]
    assert ((second[:, 0] >= b_start) | (second.size == 0)).all()


def test_empty_and_whitespace_docs(tokenizer, nlp):
    texts = ["", "   ", "\n\t", "\u200b"]
    batch = encode_texts(tokenizer, texts, max_length=16)
    assert batch.input_ids.shape[0] == 4
    for text, offs in zip(texts, batch.offsets):
        doc = nlp.make_doc(text)
        assert all(len(a) == 0 for a in token_alignment(doc, offs))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NASTY)
def test_component_never_crashes_on_unicode(trained_textcat, text):
    doc = trained_textcat(text)
    assert set(doc.cats) == {"POS", "NEG"}
    assert all(numpy.isfinite(v) for v in doc.cats.values())


@pytest.fixture(scope="module")
def trained_textcat(tiny_encoder):
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe("bert_textcat", config={"model": {"encoder": {"name": tiny_encoder}}})
    egs = [Example.from_dict(nlp.make_doc("good"), {"cats": {"POS": 1.0, "NEG": 0.0}}),
           Example.from_dict(nlp.make_doc("bad"), {"cats": {"POS": 0.0, "NEG": 1.0}})]
    nlp.initialize(lambda: egs)
    return nlp


def test_select_is_the_batch_of_those_docs_alone(tokenizer):
    # A component tokenizes a whole batch once and hands each forward pass
    # the rows of some of its docs: the same rows, padding and b_starts as
    # tokenizing those docs on their own (windows included).
    qs = ["where is it?", "who?", "what is the dog?"]
    cs = ["the cat sat on the mat . " * 12, "john .", "the dog sat on the mat near the door ."]
    b_starts = [len(q) + 3 for q in qs]
    options = dict(max_length=32, truncation="only_second", windows=True, stride=4)
    batch = encode_texts(tokenizer, qs, cs, b_starts, **options)
    assert batch.rows_per_doc(3).tolist()[0] > 1
    for docs in ([2, 0], [1], [0, 1, 2], []):
        part = batch.select(docs)
        alone = encode_texts(tokenizer, [qs[i] for i in docs], [cs[i] for i in docs], [b_starts[i] for i in docs],
                             **options)
        for name in ("input_ids", "attention_mask", "token_type_ids", "doc_index", "lengths", "b_starts"):
            assert numpy.array_equal(getattr(part, name), getattr(alone, name)), name
        assert all(numpy.array_equal(a, b) for a, b in zip(part.offsets, alone.offsets))
        assert part.rows_per_doc().tolist() == [batch.rows_per_doc(3)[i] for i in docs]
    # truncation (no windows) is renumbered with the docs
    batch = encode_texts(tokenizer, ["a b", "the cat sat on the mat " * 5, "c"], max_length=8)
    assert batch.truncated == [1]
    assert batch.select([1, 0]).truncated == [0]
    assert batch.select([2, 0]).truncated == []
    # and each doc keeps its index in the batch first tokenized
    part = batch.select([2, 1, 0])
    assert part.truncated == [1] and part.caller_index(1) == 1
    assert part.select([1]).caller_index(0) == 1 and part.select([0, 2]).caller_index(1) == 0
