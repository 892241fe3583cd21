"""The classifiers' training passes: a batch whose padded wordpieces exceed
max_wordpieces_per_pass goes through the encoder in passes whose gradients
add up to the one pass's."""
import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_bertft.pipeline.base import split_by_padded_size
from spacy_bertft.pipeline.textcat import CPU_WORDPIECES_PER_PASS

from . import test_pair

# Docs of very different lengths, so that the passes differ in padding.
TEXTS = [
    ("a great happy film", {"POS": 1.0, "NEG": 0.0}),
    ("I hate this movie, the plot was awful and the acting was even worse than the plot", {"POS": 0.0, "NEG": 1.0}),
    ("I love it", {"POS": 1.0, "NEG": 0.0}),
    ("an awful sad boring plot with nothing to say about anything at all", {"POS": 0.0, "NEG": 1.0}),
    ("fine", {"POS": 1.0, "NEG": 0.0}),
]


def test_split_by_padded_size():
    # no limit, or everything fits: one pass in the caller's order
    assert split_by_padded_size([5, 9, 3], 0) == [[0, 1, 2]]
    assert split_by_padded_size([5, 9, 3], 27) == [[0, 1, 2]]
    assert split_by_padded_size([7], 2) == [[0]]
    # longest first; each pass's docs x its longest doc within the budget
    lengths = [5, 9, 3, 8, 2, 9]
    passes = split_by_padded_size(lengths, 20)
    assert passes == [[1, 5], [3, 0], [2, 4]]
    assert all(len(p) * max(lengths[i] for i in p) <= 20 for p in passes)
    assert sorted(i for p in passes for i in p) == list(range(len(lengths)))
    # a doc longer than the budget goes alone
    assert split_by_padded_size([30, 4, 4], 10) == [[0], [1, 2]]


def _grads(component):
    module = component.encoder_shim._model
    grads = [p.grad.detach().clone().numpy() for p in module.parameters() if p.grad is not None]
    heads = [numpy.array(g) for g in component._head_gradients()]
    return grads, heads


def _textcat(encoder, budget):
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_textcat", name="textcat", config={
        "model": {"encoder": {"name": encoder}, "dropout": 0.0}, "max_wordpieces_per_pass": budget,
    })
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TEXTS]
    return nlp, "textcat", examples


def _pair(encoder, budget):
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_pair_classifier", name="pair", config={
        "model": {"encoder": {"name": encoder}, "dropout": 0.0},
        "positive_label": "entailment", "max_wordpieces_per_pass": budget,
    })
    return nlp, "pair", test_pair.make_examples(nlp)


@pytest.mark.parametrize("make", [_textcat, _pair])
@pytest.mark.parametrize("reads_wordpieces", [True, False])
def test_passes_accumulate_the_same_update(tiny_encoder, monkeypatch, make, reads_wordpieces):
    results = []
    for budget in (0, 24):
        nlp, name, examples = make(tiny_encoder, budget)
        fix_random_seed(0)
        nlp.initialize(lambda: examples)
        component = nlp.get_pipe(name)
        if not reads_wordpieces:
            # an architecture that wraps the wordpieces layer: passes of docs
            monkeypatch.setattr(type(component), "_reads_wordpieces", lambda self: False)
        texts = [eg.predicted.text for eg in examples]
        lengths = component._encode(texts).wordpieces_per_doc(len(examples))
        assert len(examples) * lengths.max() > 24
        passes = component._update_passes(examples)
        if budget == 0:
            assert len(passes) == 1
        else:
            assert len(passes) > 1
            assert sum(w for _, _, w in passes) == pytest.approx(1.0)
            for inputs, _, weight in passes:
                if reads_wordpieces:
                    padded = inputs.input_ids.shape[0] * inputs.input_ids.shape[1]
                    n_docs = inputs.input_ids.shape[0]
                else:
                    assert isinstance(inputs, list)
                    n_docs = len(inputs)
                    padded = n_docs * max(lengths[texts.index(doc.text)] for doc in inputs)
                assert padded <= 24 or n_docs == 1
                assert weight == pytest.approx(n_docs / len(examples))
        losses = {}
        component.update(examples, drop=0.0, losses=losses)
        results.append((losses[name], *_grads(component)))
        monkeypatch.undo()
    (loss_a, torch_a, head_a), (loss_b, torch_b, head_b) = results
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    assert len(torch_a) == len(torch_b) > 0 and len(head_a) == len(head_b) > 0
    assert all(numpy.allclose(a, b, atol=1e-6) for a, b in zip(torch_a, torch_b))
    assert all(numpy.allclose(a, b, atol=1e-6) for a, b in zip(head_a, head_b))


def test_unknown_label_in_a_later_pass(tiny_encoder):
    # E006 names the doc's index in the caller's batch and comes before any
    # pass, so no gradients are left behind
    nlp, name, examples = _textcat(tiny_encoder, 24)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    textcat = nlp.get_pipe(name)
    # the shortest doc (index 4) goes in the last pass
    bad = examples[:4] + [Example.from_dict(nlp.make_doc(TEXTS[4][0]), {"cats": {"POS": 1.0, "MEH": 0.0}})]
    assert len(textcat._update_passes(examples)) > 1
    with pytest.raises(ValueError, match=r"E006.*doc 4 .*'MEH'"):
        textcat.update(bad, drop=0.0)
    module = textcat.encoder_shim._model
    assert all(p.grad is None or not p.grad.any() for p in module.parameters())
    assert all(not numpy.asarray(g).any() for g in textcat._head_gradients())


def test_a_failing_pass_leaves_no_gradients(tiny_encoder, monkeypatch):
    # whatever fails in a later pass, the earlier passes' gradients go
    nlp, name, examples = _textcat(tiny_encoder, 24)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    textcat = nlp.get_pipe(name)
    passes = textcat._update_passes(examples)
    assert len(passes) > 1

    def fail(scores):
        raise RuntimeError("boom")

    passes[-1] = (passes[-1][0], fail, passes[-1][2])
    monkeypatch.setattr(type(textcat), "_update_passes", lambda self, egs: passes)
    with pytest.raises(RuntimeError, match="boom"):
        textcat.update(examples, drop=0.0)
    module = textcat.encoder_shim._model
    assert all(p.grad is None or not p.grad.any() for p in module.parameters())
    assert all(not numpy.asarray(g).any() for g in textcat._head_gradients())


def test_wordpieces_per_pass_default_depends_on_the_device(tiny_encoder, monkeypatch):
    # null: a budget on CPU (peak memory); no limit on GPU; a number is kept
    nlp, name, _ = _textcat(tiny_encoder, None)
    textcat = nlp.get_pipe(name)
    assert textcat.cfg["max_wordpieces_per_pass"] is None
    assert textcat._wordpieces_per_pass() == CPU_WORDPIECES_PER_PASS == 1536
    assert _textcat(tiny_encoder, 100)[0].get_pipe("textcat")._wordpieces_per_pass() == 100
    assert _pair(tiny_encoder, 0)[0].get_pipe("pair")._wordpieces_per_pass() == 0

    class OnGPU:
        device = torch.device("cuda")

    monkeypatch.setattr(type(textcat), "encoder_shim", property(lambda self: OnGPU()))
    assert textcat._wordpieces_per_pass() == 0
    with pytest.raises(ValueError, match="E167"):
        _textcat(tiny_encoder, -1)
    for bad in (1.5, True, "2048"):
        # spaCy's config validation or E167, naming the setting either way
        with pytest.raises(ValueError, match="max_wordpieces_per_pass"):
            _textcat(tiny_encoder, bad)


def test_wordpieces_per_pass_is_the_loading_configs(tiny_encoder, tmp_path):
    # a setting of the config that loads the pipeline, not learned state
    nlp, name, examples = _textcat(tiny_encoder, 64)
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path)
    assert spacy.load(tmp_path).get_pipe(name)._wordpieces_per_pass() == 64
    other = spacy.load(tmp_path, config={"components": {name: {"max_wordpieces_per_pass": 0}}})
    assert other.get_pipe(name)._wordpieces_per_pass() == 0
