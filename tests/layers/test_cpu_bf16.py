"""cpu_bf16: bfloat16 autocast of the encoder on CPU, a switch of its own
(mixed_precision, the GPU setting, leaves CPU alone); the hidden states leave
the encoder in float32."""
import numpy
import pytest
import spacy
import torch
from spacy.training import Example

from spacy_bertft.layers.hf_shim import HFShim


def _cpu_autocast() -> bool:
    # torch.is_autocast_enabled takes a device type since torch 2.4
    if hasattr(torch, "get_autocast_dtype"):
        return torch.is_autocast_enabled("cpu")
    return torch.is_autocast_cpu_enabled()


@pytest.mark.parametrize("settings,expected", [
    ({"cpu_bf16": True}, True),
    ({"mixed_precision": True}, False),  # a GPU setting: CPU as before
    ({}, False),
])
def test_cpu_autocast_follows_cpu_bf16(tiny_encoder, settings, expected):
    shim = HFShim(**settings)
    shim.load_pretrained(tiny_encoder)
    assert shim.device.type == "cpu"
    with shim._run_context():
        assert _cpu_autocast() is expected
    assert not _cpu_autocast()


def _textcat(encoder, **encoder_cfg):
    texts = ["I love this movie", "an awful sad boring plot", "a film"]
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_textcat", name="textcat", config={"model": {"encoder": {"name": encoder, **encoder_cfg}}})
    cats = [{"POS": 1.0, "NEG": 0.0}, {"POS": 0.0, "NEG": 1.0}, {"POS": 1.0, "NEG": 0.0}]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in zip(texts, cats)]
    nlp.initialize(lambda: examples)
    return nlp, texts, examples


def test_bf16_predictions_close_to_float32_and_training_runs(tiny_encoder):
    nlp, texts, examples = _textcat(tiny_encoder, cpu_bf16=True)
    textcat = nlp.get_pipe("textcat")
    shim = textcat.encoder_shim
    scores = {}
    for bf16 in (False, True):  # the same weights, with and without autocast
        shim.cpu_bf16 = bf16
        scores[bf16] = textcat.predict([nlp.make_doc(t) for t in texts])
        assert scores[bf16].dtype == numpy.float32
    assert not numpy.array_equal(scores[False], scores[True])  # autocast did run
    numpy.testing.assert_allclose(scores[False], scores[True], atol=0.05)  # ~3 significant digits
    seen = []
    hook = shim._model.register_forward_pre_hook(lambda module, args: seen.append(_cpu_autocast()))
    try:
        for bf16 in (False, True):  # training runs its forward under the same switch
            shim.cpu_bf16 = bf16
            losses = {}
            nlp.update(examples, sgd=nlp.create_optimizer(), losses=losses)
            assert numpy.isfinite(losses["textcat"])
    finally:
        hook.remove()
    assert seen == [False, True]
    assert all(p.dtype == torch.float32 for p in shim._model.parameters())  # weights stay float32


def test_cpu_bf16_is_a_load_time_switch(tiny_encoder, tmp_path):
    nlp, texts, _ = _textcat(tiny_encoder)
    nlp.to_disk(tmp_path / "p")
    plain = spacy.load(tmp_path / "p")
    fast = spacy.load(tmp_path / "p", config={"components": {"textcat": {"model": {"encoder": {"cpu_bf16": True}}}}})
    assert not plain.get_pipe("textcat").encoder_shim.cpu_bf16
    assert fast.get_pipe("textcat").encoder_shim.cpu_bf16
    a = plain.get_pipe("textcat").predict([plain.make_doc(t) for t in texts])
    b = fast.get_pipe("textcat").predict([fast.make_doc(t) for t in texts])
    numpy.testing.assert_allclose(a, b, atol=0.05)
