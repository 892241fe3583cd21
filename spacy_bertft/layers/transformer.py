"""The encoder layer: WordpieceBatch -> EncoderOutput, through the HF shim."""
from typing import Any, Dict, Optional

import torch
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch

from ..data_classes import EncoderOutput, WordpieceBatch
from ..errors import Errors
from .hf_shim import HFShim


def hf_transformer(
    name: str,
    *,
    mixed_precision: bool = False,
    amp_dtype: str = "bfloat16",
    grad_scaler_config: Optional[Dict[str, Any]] = None,
    torch_optimizer: bool = True,
) -> Model[WordpieceBatch, EncoderOutput]:
    shim = HFShim(
        mixed_precision=mixed_precision,
        amp_dtype=amp_dtype,
        grad_scaler_config=grad_scaler_config,
        torch_optimizer=torch_optimizer,
    )
    return Model(
        "hf_transformer",
        forward,
        init=init,
        dims={"nO": None},
        attrs={"name": name},
        shims=[shim],
    )


def get_shim(model: Model) -> HFShim:
    return model.shims[0]


def init(model: Model, X: Any = None, Y: Any = None) -> None:
    shim = get_shim(model)
    if not shim.is_loaded:
        shim.load_pretrained(model.attrs["name"])
    model.set_dim("nO", shim.hidden_width, force=True)


def forward(model: Model, X: WordpieceBatch, is_train: bool):
    shim = get_shim(model)
    if not shim.is_loaded:
        raise ValueError(Errors.E005.format(name=model.attrs["name"]))
    ops = model.ops
    if X.n_rows == 0 or X.input_ids.shape[1] == 0:
        hidden = ops.alloc3f(X.n_rows, X.input_ids.shape[1], shim.hidden_width)
        return EncoderOutput(X, hidden), lambda dY: X
    device = shim.device
    kwargs = {
        "input_ids": torch.as_tensor(X.input_ids, device=device),
        "attention_mask": torch.as_tensor(X.attention_mask, device=device),
        "token_type_ids": torch.as_tensor(X.token_type_ids, device=device),
    }
    output, torch_backprop = shim(ArgsKwargs(args=(), kwargs=kwargs), is_train)
    hidden = torch2xp(output, ops=ops)

    def backprop(d_hidden) -> WordpieceBatch:
        d_output = xp2torch(ops.asarray(d_hidden, dtype="float32"), device=device)
        torch_backprop(ArgsKwargs(args=(output,), kwargs={"grad_tensors": (d_output,)}))
        return X

    return EncoderOutput(X, hidden), backprop
