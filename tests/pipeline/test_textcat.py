import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_bertft.pipeline.base import clip_by_global_norm

TRAIN = [
    ("I love this movie", {"POS": 1.0, "NEG": 0.0}),
    ("a great happy film", {"POS": 1.0, "NEG": 0.0}),
    ("I hate this movie", {"POS": 0.0, "NEG": 1.0}),
    ("an awful sad boring plot", {"POS": 0.0, "NEG": 1.0}),
]


def make_nlp(encoder: str, factory: str = "bert_textcat", **model_cfg):
    nlp = spacy.blank("en")
    config = {"model": {"encoder": {"name": encoder}, **model_cfg}}
    nlp.add_pipe(factory, name="textcat", config=config)
    return nlp


def train(nlp, data, steps=40, lr=1e-3):
    fix_random_seed(0)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in data]
    nlp.initialize(lambda: examples)
    optimizer = Adam(lr)
    losses_seen = []
    for _ in range(steps):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses, drop=0.0)
        losses_seen.append(losses["textcat"])
    return examples, losses_seen


@pytest.mark.parametrize("pooling", ["cls", "pooler", "mean", "max"])
def test_textcat_overfit_and_io(tiny_encoder, tmp_path, pooling):
    nlp = make_nlp(tiny_encoder, pooling=pooling, dropout=0.0)
    examples, losses = train(nlp, TRAIN)
    assert losses[-1] < losses[0] * 0.2
    texts = [t for t, _ in TRAIN]
    for text, cats in TRAIN:
        doc = nlp(text)
        gold = max(cats, key=cats.get)
        assert max(doc.cats, key=doc.cats.get) == gold
        assert abs(sum(doc.cats.values()) - 1.0) < 1e-5
    before = [nlp(t).cats for t in texts]
    piped = [d.cats for d in nlp.pipe(texts, batch_size=3)]
    for a, b in zip(before, piped):
        assert a == pytest.approx(b, abs=1e-6)
    nlp.to_disk(tmp_path)
    nlp2 = spacy.load(tmp_path)
    after = [nlp2(t).cats for t in texts]
    for a, b in zip(before, after):
        assert a == pytest.approx(b, abs=1e-6)
    scores = nlp2.evaluate(examples)
    assert scores["cats_accuracy"] == 1.0
    for key in ("cats_score", "cats_macro_f", "cats_macro_auc", "cats_f_per_type", "cats_auc_per_type"):
        assert key in scores
    # bytes round trip (used by multiprocessing nlp.pipe)
    nlp3 = spacy.blank("en").from_config(nlp.config)
    nlp3.from_bytes(nlp.to_bytes())
    assert nlp3(texts[0]).cats == pytest.approx(before[0], abs=1e-6)


def test_textcat_multilabel(tiny_encoder):
    data = [
        ("a great happy film", {"GOOD": 1.0, "FILM": 1.0}),
        ("the cat sat on the mat", {"GOOD": 0.0, "FILM": 0.0}),
        ("an awful movie", {"GOOD": 0.0, "FILM": 1.0}),
        ("happy dog", {"GOOD": 1.0, "FILM": 0.0}),
    ]
    nlp = make_nlp(tiny_encoder, factory="bert_textcat_multilabel", dropout=0.0)
    _, losses = train(nlp, data, steps=60)
    assert losses[-1] < losses[0] * 0.3
    for text, cats in data:
        doc = nlp(text)
        for label, value in cats.items():
            assert (doc.cats[label] > 0.5) == bool(value), (text, doc.cats)


def test_textcat_empty_inputs(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    tc = nlp.get_pipe("textcat")
    assert tc.predict([]).shape == (0, 2)
    doc = nlp("")
    assert set(doc.cats) == {"POS", "NEG"}
    assert list(nlp.pipe([])) == []


def test_textcat_bad_training_data(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples, _ = train(nlp, TRAIN, steps=1)
    unknown = Example.from_dict(nlp.make_doc("I love it"), {"cats": {"POS": 1.0, "MEH": 0.0}})
    with pytest.raises(ValueError, match=r"doc 1 .*'MEH'"):
        nlp.update([examples[0], unknown])
    for text in ("", " \n\t ", "\u00a0"):  # empty, or whitespace only
        empty = Example.from_dict(nlp.make_doc(text), {"cats": {"POS": 1.0, "NEG": 0.0}})
        with pytest.raises(ValueError, match="doc 1 .*empty text"):
            nlp.update([examples[0], empty])
    unannotated = Example.from_dict(nlp.make_doc("a film"), {})
    with pytest.raises(ValueError, match="doc 0 .*no annotation"):
        nlp.update([unannotated])
    two = Example.from_dict(nlp.make_doc("a film"), {"cats": {"POS": 1.0, "NEG": 1.0}})
    with pytest.raises(ValueError, match="exactly one label"):
        nlp.update([two])


def test_textcat_missing_model_path(tmp_path):
    nlp = make_nlp(str(tmp_path / "no-such-model"))
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    with pytest.raises(ValueError, match="does not exist"):
        nlp.initialize(lambda: examples)


def test_textcat_missing_weights_file(tiny_encoder, tmp_path):
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    nlp.to_disk(tmp_path)
    (tmp_path / "textcat" / "encoder" / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="missing the encoder weights file"):
        spacy.load(tmp_path)


def test_textcat_loads_sharded_weights(tiny_encoder, tmp_path):
    # Encoders over save_pretrained's max_shard_size are written as shards
    # plus an index; such a folder loads like a single file.
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    nlp.to_disk(tmp_path)
    encoder_dir = tmp_path / "textcat" / "encoder"
    (encoder_dir / "model.safetensors").unlink()
    nlp.get_pipe("textcat").encoder_shim._model.transformer.save_pretrained(
        encoder_dir, safe_serialization=True, max_shard_size="20KB")
    assert (encoder_dir / "model.safetensors.index.json").exists()
    nlp2 = spacy.load(tmp_path)
    text = "I love this movie"
    assert nlp2(text).cats == pytest.approx(nlp(text).cats, abs=1e-5)


def test_textcat_untrained_use_is_a_clear_error(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    with pytest.raises(ValueError, match="initialize"):
        nlp("a film")


def test_truncation_warns_once(tiny_encoder):
    nlp = make_nlp(tiny_encoder, max_length=8)
    train(nlp, TRAIN, steps=1)
    long_text = " ".join(["good"] * 50)
    with pytest.warns(UserWarning, match="truncated"):
        nlp(long_text)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nlp(long_text)


def test_truncation_warning_names_the_callers_doc(tiny_encoder):
    # prediction sorts the batch longest first; the warning names the doc's
    # place in the batch the caller passed, not in the sorted sub-batch
    nlp = make_nlp(tiny_encoder, max_length=8)
    train(nlp, TRAIN, steps=1)
    texts = ["a film", "good", " ".join(["good"] * 50), "bad"]
    with pytest.warns(UserWarning, match=r"1 input\(s\) of a batch .* \(first: doc 2 of the batch"):
        list(nlp.pipe(texts, batch_size=4))


def test_saved_pipeline_needs_no_pickle(tiny_encoder, tmp_path):
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    nlp.to_disk(tmp_path)
    files = sorted(p.name for p in (tmp_path / "textcat" / "encoder").iterdir())
    assert "model.safetensors" in files and "tokenizer.json" in files and "config.json" in files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)


def test_pad_to_multiple_of_changes_nothing_but_shapes(tiny_encoder):
    nlp = make_nlp(tiny_encoder, dropout=0.0)
    examples, _ = train(nlp, TRAIN, steps=3)
    texts = [t for t, _ in TRAIN] + ["a film", ""]
    before = [nlp(t).cats for t in texts]
    encoder = nlp.get_pipe("textcat").model.get_ref("encoder")
    encoder.attrs["pad_to_multiple_of"] = 8
    after = [nlp(t).cats for t in texts]
    for a, b in zip(before, after):
        assert a == pytest.approx(b, abs=1e-5)
    # gradients flow through the cut-off padding too
    losses = {}
    nlp.update(examples, losses=losses)
    assert losses["textcat"] > 0


def test_pad_to_multiple_of_default_depends_on_the_device(tiny_encoder):
    from spacy_bertft.layers.transformer import padded_multiple

    encoder = make_nlp(tiny_encoder).get_pipe("textcat").model.get_ref("encoder")
    assert encoder.attrs["pad_to_multiple_of"] is None  # unset in the config
    assert padded_multiple(None, torch.device("cpu")) == 1
    assert padded_multiple(None, torch.device("cpu"), cpu_bf16=True) == 8
    assert padded_multiple(1, torch.device("cpu"), cpu_bf16=True) == 1
    assert padded_multiple(None, torch.device("cuda")) == 8
    assert padded_multiple(1, torch.device("cuda")) == 1
    assert padded_multiple(16, torch.device("cpu")) == 16


def test_single_label_exclusive_is_a_clear_error(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = [Example.from_dict(nlp.make_doc("a film"), {"cats": {"POS": 1.0}})]
    with pytest.raises(ValueError, match="at least two labels"):
        nlp.initialize(lambda: examples)


def test_save_before_initialize_and_load_settings(tiny_encoder, tmp_path):
    nlp = make_nlp(tiny_encoder)
    nlp.to_disk(tmp_path / "untrained")  # spacy assemble does this
    spacy.load(tmp_path / "untrained")
    train(nlp, TRAIN, steps=1)
    nlp.to_disk(tmp_path / "trained")
    loaded = spacy.load(tmp_path / "trained", config={"components": {"textcat": {"predict_batch_size": 3}}})
    assert loaded.get_pipe("textcat").cfg["predict_batch_size"] == 3
    assert loaded.get_pipe("textcat").labels == ("POS", "NEG")


@pytest.mark.parametrize("on_host", [True, False])
@pytest.mark.parametrize("scale", [0.25, 4.0])
def test_clip_by_global_norm_matches_torch(on_host, scale):
    # Both forms (the host's branch on CPU, the device-side factor on GPU)
    # clip as torch.nn.utils.clip_grad_norm_ does, over and under the limit.
    torch.manual_seed(0)
    ours = [torch.randn(5, 3), torch.randn(7), torch.randn(2, 2, 2)]
    theirs = [torch.nn.Parameter(torch.zeros_like(g)) for g in ours]
    for p, g in zip(theirs, ours):
        p.grad = g.clone()
    norm = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in ours])))
    clip_by_global_norm(ours, norm * scale, on_host=on_host)
    torch.nn.utils.clip_grad_norm_(theirs, norm * scale)
    for g, p in zip(ours, theirs):
        torch.testing.assert_close(g, p.grad)
    after = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in ours])))
    assert after == pytest.approx(min(norm, norm * scale), rel=1e-5)


def test_gradient_clipping_is_global_over_encoder_and_head(tiny_encoder):
    # As clip_grad_norm_ over a whole Hugging Face model: one norm over the
    # encoder's and the head's gradients, all scaled by the same factor.
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    textcat = nlp.get_pipe("textcat")
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    textcat.update(examples)  # no optimizer: the gradients stay
    shim = textcat.encoder_shim
    head = [(node, name) for node in textcat.model.walk() for name in node.param_names if node.has_grad(name)]
    assert head

    def norms():
        enc = sum(float(g.double().square().sum()) for g in shim.gradients())
        hd = sum(float(numpy.square(node.get_grad(name)).sum()) for node, name in head)
        return enc, hd

    enc0, head0 = norms()
    n_params = sum(1 for p in shim._model.parameters() if p.requires_grad)
    assert len(shim.gradients()) == n_params and enc0 > 0
    total = (enc0 + head0) ** 0.5
    optimizer = Adam(1e-3, grad_clip=total / 4, use_averages=False)
    assert shim.clips_globally(optimizer)
    assert textcat._clip_global_norm(optimizer)
    enc1, head1 = norms()
    assert (enc1 + head1) ** 0.5 == pytest.approx(total / 4, rel=1e-4)
    assert enc1 / head1 == pytest.approx(enc0 / head0, rel=1e-4)  # same direction
    # under the limit: untouched
    textcat._clip_global_norm(Adam(1e-3, grad_clip=total, use_averages=False))
    assert norms() == pytest.approx((enc1, head1))


def test_finish_update_skips_the_per_parameter_clip_and_restores_it(tiny_encoder, monkeypatch):
    # After the global clip, thinc's clip of each head parameter would change
    # nothing: it is off during the update and grad_clip is restored after,
    # also when the update fails.
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    textcat = nlp.get_pipe("textcat")
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    optimizer = Adam(1e-3, grad_clip=1.0, use_averages=False)
    seen = []
    real = type(optimizer).__call__

    def spy(self, key, weights, gradient, **kwargs):
        seen.append(self.grad_clip)
        return real(self, key, weights, gradient, **kwargs)

    monkeypatch.setattr(type(optimizer), "__call__", spy)
    textcat.update(examples, sgd=optimizer)
    assert seen and set(seen) == {0.0}  # the head's parameters, unclipped by thinc
    assert optimizer.grad_clip == 1.0

    def failing(self, optimizer):
        raise RuntimeError("boom")

    textcat.update(examples)
    monkeypatch.setattr(type(textcat.encoder_shim), "finish_update", failing)
    with pytest.raises(RuntimeError, match="boom"):
        textcat.finish_update(optimizer)
    assert optimizer.grad_clip == 1.0


def test_nan_loss_is_a_clear_error_and_drops_the_gradients(tiny_encoder, monkeypatch):
    nlp = make_nlp(tiny_encoder)
    train(nlp, TRAIN, steps=1)
    textcat = nlp.get_pipe("textcat")
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in TRAIN]
    real = type(textcat)._loss

    def nan_loss(self, examples, scores):
        loss, d_scores = real(self, examples, scores)
        return loss * float("nan"), d_scores

    monkeypatch.setattr(type(textcat), "_loss", nan_loss)
    with pytest.raises(ValueError, match="E010"):
        textcat.update(examples)
    assert textcat.encoder_shim.gradients() == []
    head = [node.get_grad(name) for node in textcat.model.walk() for name in node.param_names
            if node.has_grad(name)]
    assert head and all(not g.any() for g in head)
