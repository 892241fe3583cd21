"""Token pooling over windowed wordpieces: each token is read from the window
where it has the most context, and the gradient goes back to that window."""
import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from thinc.api import Model

from spacy_bertft.data_classes import EncoderOutput
from spacy_bertft.layers.hf_shim import _load_tokenizer
from spacy_bertft.layers.token_pooling import choose_windows, token_pooling
from spacy_bertft.layers.wordpieces import encode_texts, token_alignment

WORDS = "john smith lives in paris , mary visited london and berlin the cat sat on mat zyx".split()


@pytest.fixture(scope="module")
def tokenizer(tiny_encoder):
    return _load_tokenizer(tiny_encoder, tiny_encoder, local_files_only=True)


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def reference_choice(doc, batch, d):
    """Plain-Python statement of the rule: per token of doc ``d``, the row
    maximising the smaller distance from its wordpieces to the row's edges (a
    doc edge counts as unlimited context); the earlier row on ties."""
    best = {}
    rows = [r for r in range(batch.n_rows) if batch.doc_index[r] == d]
    for r in rows:
        offsets = batch.offsets[r]
        real = [i for i, (s, _) in enumerate(offsets.tolist()) if s >= 0]
        for tok, wps in enumerate(token_alignment(doc, offsets)):
            if not len(wps):
                continue
            left = float("inf") if r == rows[0] else wps[0] - real[0]
            right = float("inf") if r == rows[-1] else real[-1] - wps[-1]
            score = min(left, right)
            if tok not in best or score > best[tok][0]:
                best[tok] = (score, r, list(wps))
    return best


def fake_encoder(output: EncoderOutput, seen: dict) -> Model:
    """Stands in for bert_wordpieces: returns a fixed output and records the
    gradient it receives."""

    def forward(model, docs, is_train):
        def backprop(d_hidden):
            seen["d_hidden"] = d_hidden
            return []

        return output, backprop

    return Model("fake_encoder", forward)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.lists(st.sampled_from(WORDS + ["  ", "unbelievably", "d'oh"]), max_size=40),
                      min_size=1, max_size=3),
       max_length=st.integers(8, 20), data=st.data())
def test_choose_windows_matches_reference(tokenizer, nlp, texts, max_length, data):
    stride = data.draw(st.integers(0, max_length - 3))
    docs = [nlp.make_doc(" ".join(words)) for words in texts]
    batch = encode_texts(tokenizer, [doc.text for doc in docs], max_length=max_length, windows=True, stride=stride)
    choice = choose_windows(docs, batch)
    width = batch.input_ids.shape[1]
    offset = 0
    for d, doc in enumerate(docs):
        expected = reference_choice(doc, batch, d)
        for tok in range(len(doc)):
            glob = offset + tok
            if tok not in expected:
                assert choice.row[glob] == -1
                continue
            _, row, wps = expected[tok]
            assert choice.row[glob] == row
            assert choice.first[glob] == wps[0]
            flat = choice.pairs[choice.pairs[:, 0] == glob, 1]
            assert flat.tolist() == [row * width + wp for wp in wps]
        # whitespace tokens never have wordpieces; word tokens always do
        for token in doc:
            assert (choice.row[offset + token.i] >= 0) == (not token.is_space), token.text
        offset += len(doc)


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_token_pooling_reads_and_backprops_chosen_window(tokenizer, nlp, pooling):
    text = "john  smith lives in paris and mary visited london " * 6
    docs = [nlp.make_doc(text), nlp.make_doc(""), nlp.make_doc("unbelievably zyx")]
    batch = encode_texts(tokenizer, [d.text for d in docs], max_length=16, windows=True, stride=8)
    assert (batch.doc_index == 0).sum() >= 5
    rng = numpy.random.default_rng(0)
    hidden = rng.normal(size=(batch.n_rows, batch.input_ids.shape[1], 4)).astype("float32")
    seen = {}
    layer = token_pooling(fake_encoder(EncoderOutput(batch, hidden), seen), pooling)
    out, backprop = layer(docs, is_train=True)
    assert out.lengths.tolist() == [len(d) for d in docs]
    choices = choose_windows(docs, batch)
    aligned = [i for i in range(out.n_tokens) if choices.row[i] >= 0]
    assert out.token_index.tolist() == aligned
    starts = numpy.cumsum([0] + [len(d) for d in docs])
    d_vectors = rng.normal(size=out.vectors.shape).astype("float32")
    expected_grad = numpy.zeros_like(hidden)
    for k, glob in enumerate(aligned):
        d = int(numpy.searchsorted(starts, glob, side="right") - 1)
        doc, tok = docs[d], glob - starts[d]
        row = choices.row[glob]
        assert batch.doc_index[row] == d
        wps = token_alignment(doc, batch.offsets[row])[tok]
        use = wps[:1] if pooling == "first" else wps
        numpy.testing.assert_allclose(out.vectors[k], hidden[row, use].mean(axis=0), rtol=1e-6)
        expected_grad[row, use] += d_vectors[k] / len(use)
    backprop(type(out)(d_vectors, out.token_index, out.lengths))
    numpy.testing.assert_allclose(seen["d_hidden"], expected_grad, rtol=1e-5, atol=1e-6)


def test_token_pooling_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="Unknown token pooling 'max'"):
        token_pooling(Model("x", lambda m, X, t: (X, lambda d: d)), "max")
