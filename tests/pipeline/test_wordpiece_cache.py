"""cache_wordpieces: training tokenizes each distinct text once; a batch of
seen texts is put together from the kept rows and is the batch the
tokenizer would have made."""
import pytest
import spacy
import torch
from thinc.api import fix_random_seed

from spacy_bertft.layers import wordpieces
from spacy_bertft.layers.wordpieces import WordpieceCache, tokenize_texts

from . import test_ner, test_pair, test_qa, test_textcat

LONG_CONTEXT = ("the cat sat on the mat and the dog was sleeping outside in london with mary and john, "
                "who had come back from paris the day before.")


def assert_same_batch(a, b):
    for field in ("input_ids", "attention_mask", "token_type_ids", "doc_index", "lengths"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.shape == y.shape and (x == y).all(), field
    assert a.truncated == b.truncated
    assert len(a.offsets) == len(b.offsets)
    for x, y in zip(a.offsets, b.offsets):
        assert x.dtype == y.dtype and x.shape == y.shape and (x == y).all()
    assert (a.b_starts is None) == (b.b_starts is None)
    if a.b_starts is not None:
        assert a.b_starts.dtype == b.b_starts.dtype and (a.b_starts == b.b_starts).all()
    assert a.origin is None and b.origin is None


def _textcat(encoder):
    nlp = test_textcat.make_nlp(encoder)
    examples = [test_textcat.Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in test_textcat.TRAIN]
    return nlp, "textcat", examples


def _pair(encoder):
    nlp = test_pair.make_nlp(encoder)
    return nlp, "pair", test_pair.make_examples(nlp)


def _qa(encoder):
    # windows: the long context makes several rows
    nlp = test_qa.make_nlp(encoder, max_length=24, stride=6)
    rows = test_qa.QA + [("where was the dog sleeping?", LONG_CONTEXT, "outside in london")]
    return nlp, "qa", test_qa.make_examples(nlp, rows)


def _ner(encoder):
    # windows: the long doc makes several rows
    nlp = test_ner.make_nlp(encoder)
    rows = test_ner.PIECES + [(LONG_CONTEXT, [(59, 65, "LOC"), (71, 75, "PER"), (80, 84, "PER"), (109, 114, "LOC")])]
    return nlp, "ner", test_ner.make_examples(nlp, rows)


def initialized(make, encoder):
    """The component of an initialized pipeline, its wordpieces layer and
    its training texts."""
    nlp, name, examples = make(encoder)
    nlp.initialize(lambda: examples)
    component = nlp.get_pipe(name)
    return component, component._wordpieces_layer(), [eg.predicted.text for eg in examples]


def counting_tokenizer(monkeypatch):
    """Count the cache's calls of tokenize_texts."""
    calls = []

    def counted(model, texts):
        calls.append(len(texts))
        return tokenize_texts(model, texts)

    monkeypatch.setattr(wordpieces, "tokenize_texts", counted)
    return calls


@pytest.mark.parametrize("make", [_textcat, _pair, _qa, _ner])
def test_kept_batches_are_the_tokenizers(tiny_encoder, monkeypatch, make):
    component, layer, texts = initialized(make, tiny_encoder)
    name = component.name
    calls = counting_tokenizer(monkeypatch)
    cache = WordpieceCache()
    # first sight: tokenized as without the cache, and kept
    assert_same_batch(cache.tokenize(layer, texts[:3]), tokenize_texts(layer, texts[:3]))
    assert len(cache) == 3
    assert_same_batch(cache.tokenize(layer, texts), tokenize_texts(layer, texts))
    # only the texts not seen yet go through the tokenizer
    assert len(cache) == len(set(texts)) and calls == [3, len(texts) - 3]
    # seen texts, in another order and repeated: put together from the
    # cache, without the tokenizer
    order = [len(texts) - 1, 0, 2, 0, 1]
    batch = cache.tokenize(layer, [texts[i] for i in order])
    assert calls == [3, len(texts) - 3]
    assert_same_batch(batch, tokenize_texts(layer, [texts[i] for i in order]))
    if name in ("qa", "ner"):
        assert batch.n_rows > len(order)
    # partly seen: only the unseen texts go through the tokenizer
    fresh = ["a text never seen before", "another one"] if name != "qa" else []
    if fresh:
        if name == "pair":
            fresh = [f"{x}{component.cfg['separator']}and its second half" for x in fresh]
        mixed = [texts[0], fresh[0], texts[1], fresh[1], fresh[0]]
        batch = cache.tokenize(layer, mixed)
        assert calls[-1] == 2
        assert_same_batch(batch, tokenize_texts(layer, mixed))
        calls.pop()
        cache._docs.pop(fresh[0]), cache._docs.pop(fresh[1])
    # another setting of the layer empties the cache
    stride = layer.attrs["stride"]
    layer.attrs["stride"] = 4
    try:
        assert_same_batch(cache.tokenize(layer, texts[:2]), tokenize_texts(layer, texts[:2]))
        assert len(cache) == 2 and calls[-1] == 2
    finally:
        layer.attrs["stride"] = stride
    assert len(calls) == 3
    cache.tokenize(layer, texts[:2])  # the setting back: emptied again
    assert len(cache) == 2 and len(calls) == 4
    cache.tokenize(layer, texts[1::-1])
    assert len(calls) == 4
    # so does another tokenizer (a reloaded encoder), or one whose
    # vocabulary grew
    shim = component.encoder_shim
    shim.tokenizer = type(shim.tokenizer).from_pretrained(tiny_encoder)
    cache.tokenize(layer, texts[:1])
    assert len(cache) == 1 and len(calls) == 5
    shim.tokenizer.add_tokens(["zzyzxword"])
    cache.tokenize(layer, texts[:1])
    assert len(cache) == 1 and len(calls) == 6


def test_kept_truncation_is_reported(tiny_encoder):
    _, layer, _ = initialized(_textcat, tiny_encoder)
    layer.attrs["max_length"] = 6
    texts = ["a great happy film that i would watch again", "fine"]
    cache = WordpieceCache()
    first = cache.tokenize(layer, texts)
    assert first.truncated == [0]
    again = cache.tokenize(layer, texts[::-1])
    assert_same_batch(again, tokenize_texts(layer, texts[::-1]))
    assert again.truncated == [1]


def test_kept_bytes_are_bounded(tiny_encoder, monkeypatch):
    _, layer, texts = initialized(_textcat, tiny_encoder)
    probe = WordpieceCache()
    probe.tokenize(layer, texts[:1])
    # room for about two docs: the rest is tokenized each time, not kept
    cache = WordpieceCache(max_bytes=int(probe.n_bytes * 2.5))
    calls = counting_tokenizer(monkeypatch)
    assert_same_batch(cache.tokenize(layer, texts), tokenize_texts(layer, texts))
    assert len(cache) == 2 and cache.n_bytes <= cache.max_bytes and cache.full
    # full: a batch with unseen texts is tokenized once, whole
    calls.clear()
    assert_same_batch(cache.tokenize(layer, texts[::-1]), tokenize_texts(layer, texts[::-1]))
    assert calls == [len(texts)]
    assert_same_batch(cache.tokenize(layer, texts[:2]), tokenize_texts(layer, texts[:2]))
    assert_same_batch(cache.tokenize(layer, texts[::-1]), tokenize_texts(layer, texts[::-1]))
    assert len(cache) == 2


def test_unseen_text_errors_name_the_callers_doc(tiny_encoder):
    # the unseen texts fail: the batch is tokenized again whole, so the
    # message names the doc's index in the caller's batch, not in the unseen
    # texts
    _, layer, texts = initialized(_pair, tiny_encoder)
    cache = WordpieceCache()
    cache.tokenize(layer, texts[:2])
    with pytest.raises(ValueError, match=r"E015\] Doc 2:"):
        cache.tokenize(layer, texts[:2] + ["no separator here"])
    assert len(cache) == 2


@pytest.mark.parametrize("make", [_textcat, _pair, _qa, _ner])
def test_cached_updates_are_the_same_updates(tiny_encoder, make):
    results = []
    for cache in (False, True):
        nlp, name, examples = make(tiny_encoder)
        component = nlp.get_pipe(name)
        component.cfg["cache_wordpieces"] = cache
        fix_random_seed(0)
        nlp.initialize(lambda: examples)
        losses = []
        for _ in range(3):
            step = {}
            nlp.update(examples, drop=0.0, losses=step)
            losses.append(step[name])
        assert (component._wordpiece_cache is not None) == cache
        if cache:
            assert len(component._wordpiece_cache) == len({eg.predicted.text for eg in examples})
        results.append(losses)
    assert results[1] == pytest.approx(results[0], rel=1e-6)


@pytest.mark.parametrize("make", [_textcat, _pair, _qa, _ner])
def test_initialize_tokenizes_the_training_texts(tiny_encoder, monkeypatch, make):
    """With the cache on, initialize tokenizes the training texts in chunks,
    and the updates of the first epoch read them from the cache."""
    nlp, name, examples = make(tiny_encoder)
    component = nlp.get_pipe(name)
    component.cfg["cache_wordpieces"] = True
    calls = counting_tokenizer(monkeypatch)
    nlp.initialize(lambda: examples)
    distinct = {eg.predicted.text for eg in examples}
    # (the model's initialization reads a sample before)
    assert len(component._wordpiece_cache) == len(distinct) and calls[-1] == len(examples)
    n_calls = len(calls)
    nlp.update(examples, drop=0.0)
    assert len(calls) == n_calls
    # chunk texts per tokenizer call
    component._wordpiece_cache = None
    calls.clear()
    component._fill_wordpiece_cache(lambda: examples, chunk=2)
    assert calls == [2] * (len(examples) // 2) + ([len(examples) % 2] if len(examples) % 2 else [])
    # full: no further chunk is read
    component._wordpiece_cache.full = True
    component._wordpiece_cache._docs.clear()
    calls.clear()
    component._fill_wordpiece_cache(lambda: examples, chunk=2)
    assert len(calls) == 1
    # off: nothing tokenized, nothing kept
    component.cfg["cache_wordpieces"] = False
    component._wordpiece_cache = None
    calls.clear()
    component._fill_wordpiece_cache(lambda: examples)
    assert calls == [] and component._wordpiece_cache is None


def test_a_text_that_does_not_tokenize_is_left_to_the_update(tiny_encoder):
    nlp, name, examples = _pair(tiny_encoder)
    component = nlp.get_pipe(name)
    component.cfg["cache_wordpieces"] = True
    nlp.initialize(lambda: examples)
    bad = test_pair.Example.from_dict(nlp.make_doc("no separator here"), {"cats": examples[0].reference.cats})
    component._wordpiece_cache = None
    corpus = examples[:2] + [bad] + examples[2:]
    component._fill_wordpiece_cache(lambda: corpus, chunk=2)
    # the chunks that tokenize are kept; the one with the bad text is not
    kept = {eg.predicted.text for eg in examples[:2] + examples[3:]}
    assert set(component._wordpiece_cache._docs) == kept
    with pytest.raises(ValueError, match=r"E015\] Doc 1:"):
        nlp.update([examples[0], bad])
    # in the first chunk too: the chunks after it are kept
    component._wordpiece_cache = None
    component._fill_wordpiece_cache(lambda: [bad] + examples, chunk=2)
    assert set(component._wordpiece_cache._docs) == {eg.predicted.text for eg in examples[1:]}


def test_a_question_the_tokenizer_cannot_window_is_left_to_the_update(tiny_encoder):
    # The tokenizer panics (no ValueError) on a question that leaves a window
    # no context: the fill runs the component's checks first.
    nlp = test_qa.make_nlp(tiny_encoder, max_length=32, stride=16, cache_wordpieces=True)
    examples = test_qa.make_examples(nlp, test_qa.QA)
    nlp.initialize(lambda: examples)
    qa = nlp.get_pipe("qa")
    long_question = " ".join(["where"] * 14) + "?"
    long_context = " ".join(["the cat sat on the mat ."] * 10)
    bad = test_qa.make_examples(nlp, [(long_question, long_context, "the mat")])[0]
    qa._wordpiece_cache = None
    qa._fill_wordpiece_cache(lambda: examples[:2] + [bad], chunk=2)
    assert set(qa._wordpiece_cache._docs) == {eg.predicted.text for eg in examples[:2]}
    with pytest.raises(ValueError, match=r"doc 1 has a question of 15 wordpieces"):
        nlp.update([examples[0], bad])


def test_fill_reads_the_corpus_only_for_updates_that_read_the_cache(tiny_encoder, monkeypatch):
    nlp, name, examples = _textcat(tiny_encoder)
    component = nlp.get_pipe(name)
    component.cfg["cache_wordpieces"] = True
    nlp.initialize(lambda: examples)
    read = []

    def corpus():
        read.append(True)
        return examples

    # chunks end at chunk_chars characters too
    calls = counting_tokenizer(monkeypatch)
    component._wordpiece_cache = None
    component._fill_wordpiece_cache(corpus, chunk_chars=1)
    assert calls == [1] * len(examples) and read
    # an architecture that wraps the wordpieces layer: its updates tokenize
    # only to cut passes by padded size, and without a budget not at all
    monkeypatch.setattr(type(component), "_feeds_wordpieces", lambda self: False)
    component.cfg["max_wordpieces_per_pass"] = 1536
    read.clear()
    component._wordpiece_cache = None
    component._fill_wordpiece_cache(corpus)
    assert read and len(component._wordpiece_cache) == len(examples)
    component.cfg["max_wordpieces_per_pass"] = 0
    read.clear()
    component._wordpiece_cache = None
    component._fill_wordpiece_cache(corpus)
    assert not read and component._wordpiece_cache is None

    # QA's updates count windows on the component's tokenization whatever
    # the architecture: its fill reads the corpus
    nlp, name, examples = _qa(tiny_encoder)
    qa = nlp.get_pipe(name)
    qa.cfg["cache_wordpieces"] = True
    nlp.initialize(lambda: examples)
    monkeypatch.setattr(type(qa), "_feeds_wordpieces", lambda self: False)
    qa._wordpiece_cache = None
    qa._fill_wordpiece_cache(lambda: examples)
    assert len(qa._wordpiece_cache) == len(examples)


def test_cache_default_depends_on_the_device(tiny_encoder, monkeypatch):
    nlp, name, examples = _textcat(tiny_encoder)
    component = nlp.get_pipe(name)
    assert component.cfg["cache_wordpieces"] is None
    assert not component._caches_wordpieces()
    nlp.initialize(lambda: examples)
    texts = [eg.predicted.text for eg in examples]
    component._encode(texts, training=True)
    assert component._wordpiece_cache is None
    component.cfg["cache_wordpieces"] = True
    assert component._caches_wordpieces()
    component._encode(texts, training=True)
    assert len(component._wordpiece_cache) == len(texts)
    # turned off, or loaded again: what it kept goes
    component.cfg["cache_wordpieces"] = False
    component._encode(texts, training=True)
    assert component._wordpiece_cache is None
    component.cfg["cache_wordpieces"] = True
    component._encode(texts, training=True)
    component.from_bytes(component.to_bytes())
    assert component._wordpiece_cache is None

    class OnGPU:
        device = torch.device("cuda")

    component.cfg["cache_wordpieces"] = None
    monkeypatch.setattr(type(component), "encoder_shim", property(lambda self: OnGPU()))
    assert component._caches_wordpieces()
    component.cfg["cache_wordpieces"] = False
    assert not component._caches_wordpieces()


@pytest.mark.parametrize("factory", ["bert_textcat", "bert_textcat_multilabel", "bert_pair_classifier", "bert_qa",
                                     "bert_ner"])
def test_cache_setting_is_checked(tiny_encoder, factory):
    assert spacy.blank("en").add_pipe(factory, config={"model": {"encoder": {"name": tiny_encoder}}}
                                      ).cfg["cache_wordpieces"] is None
    for bad in ("yes", 1):
        # spaCy's config validation or E169, naming the setting either way
        with pytest.raises(ValueError, match="cache_wordpieces"):
            spacy.blank("en").add_pipe(factory, config={"model": {"encoder": {"name": tiny_encoder}},
                                                        "cache_wordpieces": bad})


def test_cache_setting_is_the_loading_configs(tiny_encoder, tmp_path):
    nlp, name, examples = _textcat(tiny_encoder)
    nlp.get_pipe(name).cfg["cache_wordpieces"] = True
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path)
    # a setting of the config that loads the pipeline, not learned state
    assert spacy.load(tmp_path).get_pipe(name).cfg["cache_wordpieces"] is None
    other = spacy.load(tmp_path, config={"components": {name: {"cache_wordpieces": False}}})
    assert other.get_pipe(name).cfg["cache_wordpieces"] is False
