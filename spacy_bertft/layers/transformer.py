"""The encoder layer: WordpieceBatch -> EncoderOutput, through the HF shim."""
from typing import Any, Dict, Optional, Sequence

import numpy
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
    pad_to_multiple_of: Optional[int] = None,
    attention_backends: Optional[Sequence[str]] = None,
    cpu_bf16: bool = False,
) -> Model[WordpieceBatch, EncoderOutput]:
    shim = HFShim(
        mixed_precision=mixed_precision,
        amp_dtype=amp_dtype,
        grad_scaler_config=grad_scaler_config,
        torch_optimizer=torch_optimizer,
        attention_backends=attention_backends,
        cpu_bf16=cpu_bf16,
    )
    return Model(
        "hf_transformer",
        forward,
        init=init,
        dims={"nO": None},
        attrs={
            "name": name,
            # None: 8 on GPU and with cpu_bf16, 1 on CPU (see padded_multiple).
            "pad_to_multiple_of": None if pad_to_multiple_of is None else max(1, int(pad_to_multiple_of)),
            # Set by a head that reads [CLS] only (cls pooling): the output
            # is then (rows, 1, width) and the last layer skips the rest.
            "first_token_only": False,
            # Set by a head with pooling = "pooler": the output is the
            # model's pooler over [CLS], (rows, 1, width).
            "pooled": False,
        },
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
    width = X.input_ids.shape[1]
    # Rounding the padded length up (e.g. to 8) gives the GPU (and oneDNN's
    # bf16 kernels on CPU) fewer distinct shapes to plan kernels for; the
    # extra positions are masked and cut off.
    extra = -width % padded_multiple(model.attrs["pad_to_multiple_of"], device, cpu_bf16=shim.cpu_bf16)
    kwargs = {
        key: torch.as_tensor(_pad_right(value, extra, pad_id), device=device)
        for key, value, pad_id in (
            ("input_ids", X.input_ids, shim.tokenizer.pad_token_id or 0),
            ("attention_mask", X.attention_mask, 0),
            ("token_type_ids", X.token_type_ids, 0),
        )
    }
    kwargs["first_token_only"] = bool(model.attrs.get("first_token_only", False))
    kwargs["pooled"] = bool(model.attrs.get("pooled", False))
    full_output, torch_backprop = shim(ArgsKwargs(args=(), kwargs=kwargs), is_train)
    output = full_output[:, :width] if extra else full_output
    hidden = torch2xp(output, ops=ops)

    def backprop(d_hidden) -> WordpieceBatch:
        d_output = xp2torch(ops.asarray(d_hidden, dtype="float32"), device=device)
        torch_backprop(ArgsKwargs(args=(output,), kwargs={"grad_tensors": (d_output,)}))
        return X

    return EncoderOutput(X, hidden), backprop


def padded_multiple(setting: Optional[int], device: torch.device, *, cpu_bf16: bool = False) -> int:
    """The multiple a batch's padded length is rounded up to. Unset: 8 on GPU,
    where each new length means new kernel plans (cuBLAS, attention) and
    tensor cores like multiples of 8; 8 on CPU with cpu_bf16, where oneDNN
    keeps kernels per shape and the heap grows with the distinct shapes
    (SST-2's peak RSS 14% lower for 4% of the training speed); 1 on CPU in
    float32, where every extra position costs its full share of compute."""
    if setting is None:
        return 8 if device.type == "cuda" or (cpu_bf16 and device.type == "cpu") else 1
    return setting


def _pad_right(array, extra: int, value: int):
    if not extra:
        return array
    return numpy.pad(array, ((0, 0), (0, extra)), constant_values=value)
