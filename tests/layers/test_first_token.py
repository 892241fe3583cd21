"""The [CLS]-only last layer: the same numbers and gradients as the full
forward's first position, and a full forward where the shortcut does not fit;
pooling = "pooler": the model's own pooler over [CLS]."""
import warnings

import pytest
import torch
from transformers import BertConfig, BertModel

from spacy_bertft.layers.hf_shim import HFEncoderModule, HFShim
from spacy_bertft.layers.transformer import get_shim
from spacy_bertft.models.classifier import build_text_classifier_v1
from spacy_bertft.models.encoder import build_hf_encoder_v1


def _bert(attn: str = "sdpa", pooler: bool = False, **overrides) -> BertModel:
    torch.manual_seed(0)
    settings = dict(vocab_size=60, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    settings.update(overrides)
    config = BertConfig(**settings)
    config._attn_implementation = attn
    return BertModel(config, add_pooling_layer=pooler)


def _batch():
    torch.manual_seed(1)
    ids = torch.randint(5, 60, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    types = torch.zeros_like(ids)
    types[0, 4:] = 1
    return ids, mask, types


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_first_token_matches_full_forward_and_gradients(attn):
    module = HFEncoderModule(_bert(attn), use_token_types=True)
    assert module.first_token_shortcut
    ids, mask, types = _batch()
    module.train()  # dropout 0: training mode, deterministic
    full = module(ids, mask, types)
    full[:, 0].pow(2).sum().backward()
    full_grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    module.zero_grad()
    short = module(ids, mask, types, first_token_only=True)
    assert short.shape == (3, 1, 32)
    torch.testing.assert_close(short[:, 0], full[:, 0], atol=1e-5, rtol=1e-5)
    short[:, 0].pow(2).sum().backward()
    short_grads = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
    assert set(short_grads) == set(full_grads)
    for name, grad in full_grads.items():
        torch.testing.assert_close(short_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_unfit_encoder_runs_in_full_and_is_sliced():
    module = HFEncoderModule(_bert(position_embedding_type="relative_key"), use_token_types=True)
    assert not module.first_token_shortcut
    ids, mask, types = _batch()
    module.eval()
    with torch.no_grad():
        full = module(ids, mask, types)
        first = module(ids, mask, types, first_token_only=True)
    assert first.shape == (3, 1, 32)
    torch.testing.assert_close(first, full[:, :1])


def test_shortcut_that_disagrees_is_switched_off(monkeypatch):
    def wrong(self, input_ids, attention_mask, token_type_ids):
        return torch.zeros(input_ids.shape[0], 1, self.transformer.config.hidden_size)

    monkeypatch.setattr(HFEncoderModule, "_first_token_forward", wrong)
    module = HFEncoderModule(_bert(), use_token_types=True)
    assert not module.first_token_shortcut


@pytest.mark.parametrize("pooling,expected", [("cls", True), ("mean", False), ("max", False)])
def test_cls_pooling_asks_the_encoder_for_the_first_token_only(tiny_encoder, pooling, expected):
    encoder = build_hf_encoder_v1(name=tiny_encoder)
    build_text_classifier_v1(encoder, pooling=pooling)
    assert encoder.attrs["first_token_only"] is expected


@pytest.mark.parametrize("relative", [False, True])
def test_pooled_is_the_models_pooler_output(relative):
    overrides = {"position_embedding_type": "relative_key"} if relative else {}
    bert = _bert(pooler=True, **overrides)
    module = HFEncoderModule(bert, use_token_types=True)
    assert module.first_token_shortcut is not relative
    ids, mask, types = _batch()
    module.train()
    expected = bert(input_ids=ids, attention_mask=mask, token_type_ids=types).pooler_output
    expected.sum().backward()
    expected_grad = bert.pooler.dense.weight.grad.clone()
    module.zero_grad()
    pooled = module(ids, mask, types, pooled=True)
    assert pooled.shape == (3, 1, 32)
    torch.testing.assert_close(pooled[:, 0], expected, atol=1e-5, rtol=1e-5)
    pooled.sum().backward()
    torch.testing.assert_close(bert.pooler.dense.weight.grad, expected_grad, atol=1e-5, rtol=1e-4)


def test_pooler_pooling_keeps_the_pooler_and_needs_one(tiny_encoder, tmp_path):
    encoder = build_hf_encoder_v1(name=tiny_encoder)
    build_text_classifier_v1(encoder, pooling="pooler")
    assert encoder.attrs["pooled"] and encoder.attrs["first_token_only"]
    shim = get_shim(encoder)
    assert shim.keep_pooler
    # the tiny encoder is saved with its pooler, as BERT checkpoints are: read, no warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder.initialize()
    assert not [w for w in caught if "W003" in str(w.message)]
    saved = BertModel.from_pretrained(tiny_encoder)
    torch.testing.assert_close(shim._model.transformer.pooler.dense.weight, saved.pooler.dense.weight)
    # a checkpoint saved without one: the pooler starts at random, with a warning
    bare_path = tmp_path / "no-pooler"
    BertModel(saved.config, add_pooling_layer=False).save_pretrained(bare_path, safe_serialization=True)
    shim.tokenizer.save_pretrained(bare_path)
    no_pooler = build_hf_encoder_v1(name=str(bare_path))
    build_text_classifier_v1(no_pooler, pooling="pooler")
    with pytest.warns(UserWarning, match="W003"):
        no_pooler.initialize()
    assert get_shim(no_pooler)._model.transformer.pooler is not None
    # an encoder without a pooler is a clear error, naming it
    bare = HFShim()
    bare.keep_pooler = True
    with pytest.raises(ValueError, match="E022.*BertModel"):
        bare._set(_bert(pooler=False), shim.tokenizer, name="my-encoder")


@pytest.mark.parametrize("relative", [False, True])
def test_module_starts_in_training_mode_throughout(relative):
    """from_pretrained hands over a model in eval mode: the module the shim
    switches by its own flag must not keep dropout off in its submodules."""
    overrides = {"position_embedding_type": "relative_key"} if relative else {}
    bert = _bert(hidden_dropout_prob=0.1, **overrides)
    bert.eval()
    module = HFEncoderModule(bert, use_token_types=True)
    assert module.training
    assert all(sub.training for sub in module.modules())


def test_begin_update_trains_with_dropout_after_predict(tiny_encoder):
    from thinc.api import ArgsKwargs

    shim = HFShim()
    shim.load_pretrained(tiny_encoder)
    ids, mask, types = _batch()
    ids = ids.remainder(shim._model.transformer.config.vocab_size)
    inputs = ArgsKwargs(args=(ids, mask, types), kwargs={})
    shim.predict(inputs)
    assert not any(sub.training for sub in shim._model.modules())
    shim.begin_update(inputs)
    assert all(sub.training for sub in shim._model.modules())
