"""Components whose model starts with its wordpieces layer tokenize a batch
once and hand the model the wordpieces; an architecture that wraps the layer
reads the docs, and the component still counts wordpieces and windows."""
import numpy
import pytest
import spacy
from spacy.util import registry
from thinc.api import chain, fix_random_seed, noop

from spacy_bertft.data_classes import EncodedDocs
from spacy_bertft.models.qa import build_span_qa_v1
from spacy_bertft.models.tagger import build_token_classifier_v1

from . import test_ner, test_pair, test_qa, test_textcat


LONG_TEXT = ("the cat sat on the mat and the dog was sleeping outside in london with mary and john, "
             "who had come back from paris the day before.")


@registry.architectures("test.WrappedTokenClassifier.v1")
def build_wrapped_token_classifier(encoder, max_length: int = 128, stride: int = 64, nO=None):
    """TokenClassifier.v1 behind a layer of its own: the model's first layer
    is not the token pooling."""
    inner = build_token_classifier_v1(encoder, max_length=max_length, stride=stride, nO=nO)
    model = chain(noop(), inner)
    for name in ("encoder", "wordpieces", "output_layer"):
        model.set_ref(name, inner.get_ref(name))
    return model


@registry.architectures("test.WrappedSpanQA.v1")
def build_wrapped_span_qa(encoder, max_length: int = 384, stride: int = 128):
    """SpanQA.v1 behind a layer of its own: the model's first layer is not
    the wordpieces layer."""
    inner = build_span_qa_v1(encoder, max_length=max_length, stride=stride)
    model = chain(noop(), inner)
    for name in ("encoder", "wordpieces", "output_layer"):
        model.set_ref(name, inner.get_ref(name))
    return model


def test_which_components_take_the_batch(tiny_encoder):
    textcat = test_textcat.make_nlp(tiny_encoder)
    textcat.initialize(lambda: [test_textcat.Example.from_dict(textcat.make_doc(t), {"cats": c})
                                for t, c in test_textcat.TRAIN])
    pair = test_pair.make_nlp(tiny_encoder)
    pair.initialize(lambda: test_pair.make_examples(pair))
    qa = test_qa.make_nlp(tiny_encoder)
    qa.initialize(lambda: test_qa.make_examples(qa, test_qa.QA))
    ner = test_ner.make_nlp(tiny_encoder)
    ner.initialize(lambda: test_ner.make_examples(ner))
    for nlp, name in ((textcat, "textcat"), (pair, "pair"), (qa, "qa")):
        assert nlp.get_pipe(name)._reads_wordpieces(), name
    # NER's token pooling reads the docs too: it takes them with their wordpieces
    tagger = ner.get_pipe("ner")
    assert not tagger._reads_wordpieces() and tagger._pools_tokens() and tagger._feeds_wordpieces()
    ner_docs = [ner.make_doc(t) for t in ("john smith lives in london", "mary", "")]
    batch = tagger._encode([d.text for d in ner_docs])
    encoded = tagger._model_input(ner_docs, batch)
    assert isinstance(encoded, EncodedDocs) and encoded.docs == ner_docs
    from_docs, from_encoded = tagger.model.predict(ner_docs), tagger.model.predict(encoded)
    assert len(from_docs) == len(from_encoded) == len(ner_docs)
    assert all(numpy.array_equal(a, b) for a, b in zip(from_docs, from_encoded))
    # the classifiers and QA get the wordpieces alone
    for nlp, name in ((textcat, "textcat"), (qa, "qa")):
        component = nlp.get_pipe(name)
        assert component._model_input(ner_docs, batch) is batch
        assert component._model_input(ner_docs, None) is ner_docs
    # the batch path predicts what the model computes from the docs
    component = textcat.get_pipe("textcat")
    docs = [textcat.make_doc(t) for t, _ in test_textcat.TRAIN]
    direct = component.model.ops.to_numpy(component.model.predict(docs))
    assert numpy.allclose(component.predict(docs), direct, atol=1e-6)


def test_qa_wrapped_architecture_still_counts_windows(tiny_encoder):
    long_context = "the cat sat on the mat and the dog was sleeping outside in london with mary and john."
    rows = [("where was the dog sleeping?", long_context, "outside in london"), test_qa.QA[0],
            ("who sat on the mat?", long_context, "the cat"), ("where does mary live?", test_qa.QA[3][1], None)]
    results = []
    for architecture in ("spacy-bertft.SpanQA.v1", "test.WrappedSpanQA.v1"):
        nlp = spacy.blank("en")
        nlp.add_pipe("bert_qa", name="qa", config={
            "model": {"@architectures": architecture, "max_length": 24, "stride": 6,
                      "encoder": {"@architectures": "spacy-bertft.HFEncoder.v1", "name": tiny_encoder}},
            "max_windows_per_pass": 3,
        })
        examples = test_qa.make_examples(nlp, rows)
        fix_random_seed(0)
        nlp.initialize(lambda: examples)
        qa = nlp.get_pipe("qa")
        wrapped = architecture == "test.WrappedSpanQA.v1"
        assert qa._reads_wordpieces() is not wrapped
        # updates are split by windows either way; the wrapped model reads docs
        passes = qa._update_passes(examples)
        assert len(passes) > 1
        assert all(isinstance(inputs, list) is wrapped for inputs, _, _ in passes)
        # prediction sorts and batches by windows either way
        texts = [eg.predicted.text for eg in examples]
        windows = qa._measure(texts, qa._encode(texts))[1]
        assert windows[0] > 1 and windows[1] == 1
        losses = {}
        qa.update(examples, drop=0.0, losses=losses)
        results.append((losses["qa"], *test_qa._grads(qa)))
        found = [c.answers[0].start_char for c in qa.predict([eg.predicted for eg in examples])]
        results[-1] += (found, windows)
    (loss_a, torch_a, head_a, found_a, windows_a), (loss_b, torch_b, head_b, found_b, windows_b) = results
    assert windows_a == windows_b
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    assert numpy.allclose(head_a, head_b, atol=1e-6)
    assert all(numpy.allclose(a, b, atol=1e-6) for a, b in zip(torch_a, torch_b))
    assert found_a == found_b


def test_ner_tokenizes_a_batch_once(tiny_encoder, monkeypatch):
    # Prediction sorts by the wordpieces it hands the model (it tokenized
    # the texts twice before, to sort and in the model); an update tokenizes
    # once (the cache, on CPU only when asked, is not in play).
    nlp = test_ner.make_nlp(tiny_encoder)
    examples = test_ner.make_examples(nlp)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    tokenizer_class = type(ner.encoder_shim.tokenizer)
    calls = []
    call = tokenizer_class.__call__

    def counted(self, text, *args, **kwargs):
        calls.append(len(text))
        return call(self, text, *args, **kwargs)

    monkeypatch.setattr(tokenizer_class, "__call__", counted)
    docs = [eg.predicted for eg in examples]
    ner.predict(docs)
    assert calls == [len(docs)]
    ner.update(examples, sgd=None)
    assert calls == [len(docs)] * 2


def test_ner_passes_over_long_docs_predict_what_each_doc_alone_does(tiny_encoder):
    # Several prediction passes, and docs longer than a window: each pass's
    # selected rows line up with its docs.
    nlp = test_ner.make_nlp(tiny_encoder, predict_batch_size=2)
    fix_random_seed(0)
    nlp.initialize(lambda: test_ner.make_examples(nlp))
    ner = nlp.get_pipe("ner")
    texts = [LONG_TEXT, "mary", "john smith lives in paris", LONG_TEXT[:60], "", "apple works in new york"]
    docs = [nlp.make_doc(t) for t in texts]
    batch = ner._encode(texts)
    assert batch.rows_per_doc(len(docs))[0] > 1
    together = ner.predict(docs)
    alone = [ner.model.predict([doc])[0] for doc in docs]
    assert len(together) == len(alone) == len(docs)
    assert all(numpy.allclose(a, b, atol=1e-5) for a, b in zip(together, alone))


def test_wrapped_ner_architecture_reads_the_docs(tiny_encoder):
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_ner", name="ner", config={"model": {
        "@architectures": "test.WrappedTokenClassifier.v1", "max_length": 16, "stride": 8,
        "encoder": {"@architectures": "spacy-bertft.HFEncoder.v1", "name": tiny_encoder}}})
    examples = test_ner.make_examples(nlp)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    assert not ner._pools_tokens() and not ner._feeds_wordpieces()
    docs = [eg.predicted for eg in examples]
    assert ner._model_input(docs, ner._encode([d.text for d in docs])) is docs
    passes = ner._update_passes(examples)
    assert all(isinstance(inputs, list) for inputs, _, _ in passes)
    losses = {}
    nlp.update(examples, losses=losses)
    assert losses["ner"] > 0 and len(ner.predict(docs)) == len(docs)


def test_select_needs_rows_in_doc_order(tiny_encoder):
    nlp = test_qa.make_nlp(tiny_encoder)
    nlp.initialize(lambda: test_qa.make_examples(nlp, test_qa.QA))
    batch = nlp.get_pipe("qa")._encode([eg.predicted.text for eg in test_qa.make_examples(nlp, test_qa.QA)])
    batch.doc_index = batch.doc_index[::-1].copy()
    with pytest.raises(ValueError, match="E168"):
        batch.select([0])


def test_qa_without_recorded_context_starts(tiny_encoder):
    # A wordpieces layer of another kind may leave b_starts out: the loss and
    # the answers then find the contexts in the texts, with the same results.
    nlp = test_qa.make_nlp(tiny_encoder, max_length=24, stride=6)
    examples = test_qa.make_examples(nlp, test_qa.QA)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    qa = nlp.get_pipe("qa")
    docs = [eg.predicted for eg in examples]
    results = []
    for keep in (True, False):
        output = qa.model.predict(docs)
        if not keep:
            output.wordpieces.b_starts = None
        loss, d_logits = qa._loss(examples, output)
        if not keep:
            output.wordpieces.b_starts = None
        choices = qa._unbatch(output, docs)
        results.append((float(loss), d_logits, [(c.answers[0].start_char, c.answers[0].end_char) for c in choices]))
    (loss_a, d_a, found_a), (loss_b, d_b, found_b) = results
    assert loss_a == pytest.approx(loss_b) and numpy.allclose(d_a, d_b) and found_a == found_b
