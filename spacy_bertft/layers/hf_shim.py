"""A thinc shim around a Hugging Face encoder and its fast tokenizer.

Weights are read from a pretrained model at ``initialize`` only; a saved
pipeline keeps config, tokenizer files and ``model.safetensors`` on disk, so it
loads with no network and no pickle.
"""
import contextlib
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import srsly
import torch
from thinc.api import ArgsKwargs, PyTorchGradScaler, PyTorchShim

from ..errors import Errors, Warnings
from ..util import resolve_model_name

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
_AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
# Attention kernels torch may choose on GPU, by their names in configs.
ATTENTION_BACKENDS = ("flash", "efficient", "math", "cudnn")
# cuDNN's attention builds an execution graph for every new input shape
# (reported at a few hundred milliseconds each), and batches padded to their
# own longest row come in many shapes: left out unless a config names it.
DEFAULT_ATTENTION_BACKENDS = ("flash", "efficient", "math")


def sdpa_backends(names: Optional[Sequence[str]]) -> Optional[List[Any]]:
    """torch's SDPBackend members for names, or None where this torch has no
    ``torch.nn.attention.sdpa_kernel`` (before 2.3: torch chooses)."""
    names = list(names) if names else list(DEFAULT_ATTENTION_BACKENDS)
    for name in names:
        if name not in ATTENTION_BACKENDS:
            raise ValueError(Errors.E023.format(name=name, options=", ".join(ATTENTION_BACKENDS)))
    try:
        from torch.nn.attention import SDPBackend
    except ImportError:  # pragma: no cover - torch < 2.3
        return None
    members = {
        "flash": "FLASH_ATTENTION",
        "efficient": "EFFICIENT_ATTENTION",
        "math": "MATH",
        "cudnn": "CUDNN_ATTENTION",
    }
    found = [getattr(SDPBackend, members[name], None) for name in names]
    available = [member for member in found if member is not None]
    if not available:
        raise ValueError(Errors.E024.format(names=names, version=torch.__version__))
    return available


class HFEncoderModule(torch.nn.Module):
    """Runs a Hugging Face encoder and returns its last hidden states in float32.

    With ``first_token_only``, only the first position ([CLS]) of the last
    layer is returned, shape (rows, 1, width). A classifier that pools [CLS]
    reads nothing else, so for BERT-style encoders the last layer computes
    the query, attention output and feed-forward of that one position (keys
    and values still read every wordpiece): the same numbers as the full
    layer, at about a sixth of its cost. Encoders whose layers do not have
    that structure, or where the shortcut does not reproduce the full
    forward (checked once on load), run in full and are sliced.
    """

    def __init__(self, transformer: torch.nn.Module, use_token_types: bool):
        super().__init__()
        self.transformer = transformer
        self.use_token_types = use_token_types
        self.first_token_shortcut = _has_bert_layers(transformer)
        if self.first_token_shortcut:
            self.first_token_shortcut = self._shortcut_matches_full_forward()
        # from_pretrained returns the model in eval mode; the shim switches
        # modes by this module's flag, so every submodule must agree with it.
        self.train()

    def forward(self, input_ids, attention_mask, token_type_ids, first_token_only: bool = False,
                pooled: bool = False):
        """Last hidden states (rows, wordpieces, width); with
        ``first_token_only`` those of [CLS] (rows, 1, width); with ``pooled``
        the model's pooler over [CLS] (BERT's dense + tanh), (rows, 1, width)."""
        first_token_only = first_token_only or pooled
        if first_token_only and self.first_token_shortcut:
            hidden = self._first_token_forward(input_ids, attention_mask, token_type_ids)
        else:
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if self.use_token_types:
                kwargs["token_type_ids"] = token_type_ids
            hidden = self.transformer(**kwargs, return_dict=True).last_hidden_state
            if first_token_only:
                hidden = hidden[:, :1]
        if pooled:
            hidden = self.transformer.pooler(hidden)[:, None, :]
        return hidden.float()

    def _first_token_forward(self, input_ids, attention_mask, token_type_ids):
        transformer = self.transformer
        embed_kwargs = {"input_ids": input_ids}
        if self.use_token_types:
            embed_kwargs["token_type_ids"] = token_type_ids
        hidden = transformer.embeddings(**embed_kwargs)
        if bool(attention_mask.all()):
            bias = None
        else:
            # Additive mask over the keys, broadcast over heads and queries.
            keep = attention_mask[:, None, None, :].to(hidden.dtype)
            bias = (1.0 - keep) * torch.finfo(hidden.dtype).min
        layers = transformer.encoder.layer
        for layer in layers[:-1]:
            out = layer(hidden, attention_mask=bias)
            hidden = out[0] if isinstance(out, tuple) else out
        last = layers[-1]
        attn = last.attention.self
        rows, width = hidden.shape[0], hidden.shape[1]
        heads, size = attn.num_attention_heads, attn.attention_head_size
        first = hidden[:, :1]
        query = attn.query(first).view(rows, 1, heads, size).transpose(1, 2)
        key = attn.key(hidden).view(rows, width, heads, size).transpose(1, 2)
        value = attn.value(hidden).view(rows, width, heads, size).transpose(1, 2)
        context = torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=bias,
            dropout_p=attn.dropout.p if self.training else 0.0,
        )
        context = context.transpose(1, 2).reshape(rows, 1, heads * size)
        attended = last.attention.output(context, first)
        return last.output(last.intermediate(attended), attended)

    def _shortcut_matches_full_forward(self) -> bool:
        """Whether the first-token shortcut gives the full forward's [CLS] on
        a small padded batch (eval mode, so without dropout)."""
        config = self.transformer.config
        vocab = int(getattr(config, "vocab_size", 2))
        ids = torch.arange(10, dtype=torch.long).remainder(vocab).view(2, 5)
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        types = torch.tensor([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0]])
        if int(getattr(config, "type_vocab_size", 2) or 1) < 2:
            types = torch.zeros_like(types)
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                full = self.forward(ids, mask, types)[:, :1]
                short = self._first_token_forward(ids, mask, types).float()
        except Exception:  # an encoder this shortcut does not fit
            return False
        finally:
            self.train(was_training)
        return full.shape == short.shape and bool(torch.allclose(full, short, atol=1e-4, rtol=1e-4))


def _has_bert_layers(transformer: torch.nn.Module) -> bool:
    """BERT's layer structure (BERT, RoBERTa and their kin), bidirectional,
    with absolute positions and without cross-attention."""
    config = getattr(transformer, "config", None)
    layers = getattr(getattr(transformer, "encoder", None), "layer", None)
    if config is None or not hasattr(transformer, "embeddings") or not layers:
        return False
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    if getattr(config, "chunk_size_feed_forward", 0):
        return False
    last = layers[-1]
    attn = getattr(getattr(last, "attention", None), "self", None)
    needed = ("query", "key", "value", "dropout", "num_attention_heads", "attention_head_size")
    return (
        attn is not None
        and all(hasattr(attn, name) for name in needed)
        and hasattr(last.attention, "output")
        and hasattr(last, "intermediate")
        and hasattr(last, "output")
    )


def _load_transformer(path: str, *, local_files_only: bool, pooler: bool = False) -> torch.nn.Module:
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    # Sentence-embedding checkpoints carry a pooler this encoder leaves out;
    # HF's note about its unused weights is noise here.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return _auto_model(AutoModel, path, local_files_only, pooler)
    finally:
        hf_logging.set_verbosity(verbosity)


def _auto_model(AutoModel, path: str, local_files_only: bool, pooler: bool) -> torch.nn.Module:
    try:
        model, info = AutoModel.from_pretrained(
            path, add_pooling_layer=pooler, local_files_only=local_files_only,
            output_loading_info=True,
        )
    except TypeError:
        # Encoders without a pooler (DistilBERT, ELECTRA, ...) reject the flag.
        return AutoModel.from_pretrained(path, local_files_only=local_files_only)
    # HF's note about newly initialised weights is silenced above: say it
    # when it matters, a pooler that was asked for and starts at random.
    missing = [key for key in info.get("missing_keys", []) if key.startswith("pooler.")]
    if pooler and missing:
        warnings.warn(Warnings.W003.format(name=path, missing=", ".join(sorted(missing))))
    return model


def _load_tokenizer(path: str, name: str, *, local_files_only: bool):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        path, use_fast=True, local_files_only=local_files_only
    )
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(Errors.E003.format(name=name))
    return tokenizer


def load_fast_tokenizer(name: Union[str, Path]):
    """The fast tokenizer of a packaged name, local path or Hugging Face id,
    on its own (without the model's weights)."""
    path = resolve_model_name(name)
    try:
        return _load_tokenizer(path, str(name), local_files_only=Path(path).exists())
    except OSError as err:
        raise ValueError(Errors.E002.format(name=name, err=err)) from err


def fused_adamw_supported(device: torch.device) -> bool:
    """Whether this torch has a fused AdamW kernel for the device: CUDA, and
    CPU since torch 2.4."""
    if device.type == "cuda":
        return True
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    return device.type == "cpu" and (major, minor) >= (2, 4)


class HFShim(PyTorchShim):
    """PyTorchShim that also owns the tokenizer, runs inference under
    ``torch.inference_mode`` and supports bfloat16 or float16 autocast.
    """

    def __init__(
        self,
        model: Optional[torch.nn.Module] = None,
        *,
        tokenizer: Any = None,
        mixed_precision: bool = False,
        amp_dtype: str = "bfloat16",
        grad_scaler_config: Optional[Dict[str, Any]] = None,
        torch_optimizer: bool = True,
        attention_backends: Optional[Sequence[str]] = None,
        cpu_bf16: bool = False,
    ):
        if amp_dtype not in _AMP_DTYPES:
            raise ValueError(Errors.E014.format(dtype=amp_dtype))
        scaler_cfg = dict(grad_scaler_config or {})
        scaler_cfg.setdefault("enabled", mixed_precision and amp_dtype == "float16")
        super().__init__(
            model,
            mixed_precision=mixed_precision,
            grad_scaler=PyTorchGradScaler(**scaler_cfg),
        )
        self.tokenizer = tokenizer
        self._amp_dtype = _AMP_DTYPES[amp_dtype]
        self._sdpa_backends = sdpa_backends(attention_backends)
        self._external_weights = False
        self._use_torch_optimizer = torch_optimizer
        self.cpu_bf16 = cpu_bf16
        self._torch_opt: Optional[torch.optim.Optimizer] = None
        self._torch_opt_owner: Optional[int] = None
        # Load the encoder with its pooler (a head with pooling = "pooler"
        # sets this when it is built, before the weights are read).
        self.keep_pooler = False

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def device(self) -> torch.device:
        if self._model is None:
            return torch.device("cpu")
        return next(self._model.parameters()).device

    @property
    def hidden_width(self) -> int:
        return int(self._model.transformer.config.hidden_size)

    def _run_context(self) -> contextlib.ExitStack:
        """Autocast (with mixed precision) and, on GPU, the attention kernels
        torch may choose (the backward uses the kernel its forward chose).
        On CPU, bfloat16 autocast with cpu_bf16 (its own switch: a config
        trained with mixed precision on GPU runs as before on CPU)."""
        with contextlib.ExitStack() as stack:
            if self.device.type == "cuda":
                if self._mixed_precision:
                    stack.enter_context(torch.autocast(device_type="cuda", dtype=self._amp_dtype))
                if self._sdpa_backends:
                    from torch.nn.attention import sdpa_kernel

                    stack.enter_context(sdpa_kernel(self._sdpa_backends))
            elif self.cpu_bf16 and self.device.type == "cpu":
                stack.enter_context(torch.autocast(device_type="cpu", dtype=torch.bfloat16))
            # Handed to the caller's with; exited here only if entering failed.
            return stack.pop_all()

    def predict(self, inputs: ArgsKwargs) -> Any:
        # Switching modes walks every submodule: only when it changes (the
        # next begin_update switches back).
        if self._model.training:
            self._model.eval()
        with torch.inference_mode(), self._run_context():
            return self._model(*inputs.args, **inputs.kwargs)

    def begin_update(self, inputs: ArgsKwargs):
        if not self._model.training:
            self._model.train()
        with self._run_context():
            output = self._model(*inputs.args, **inputs.kwargs)

        def backprop(grads: ArgsKwargs) -> None:
            grads.kwargs["grad_tensors"] = self._grad_scaler.scale(
                grads.kwargs["grad_tensors"], inplace=True
            )
            torch.autograd.backward(*grads.args, **grads.kwargs)
            params = [p.grad for p in self._model.parameters() if p.grad is not None]
            if self._grad_scaler.unscale(params):
                for grad in params:
                    grad.zero_()

        return output, backprop

    # Updating ---------------------------------------------------------------

    def _fused_adamw_applies(self, optimizer) -> bool:
        return (
            self._use_torch_optimizer
            and optimizer.b1 > 0.0
            and optimizer.b2 > 0.0
            and not optimizer.use_radam
            and (optimizer.L2 == 0 or optimizer.L2_is_weight_decay)
            and optimizer.averages is None
        )

    def clips_globally(self, optimizer) -> bool:
        """Whether the component may clip the encoder's gradients together
        with its head's before ``finish_update``: on the torch AdamW path,
        with unscaled gradients (no float16 loss scaling)."""
        return self._fused_adamw_applies(optimizer) and not self._grad_scaler._enabled

    def gradients(self) -> List[torch.Tensor]:
        """The encoder's accumulated gradients (the tensors themselves: a
        caller that clips them scales them in place)."""
        return [p.grad for p in self._model.parameters() if p.grad is not None]

    def discard_gradients(self) -> None:
        """Drop the accumulated gradients (as zero_grad(set_to_none=True))."""
        for param in self._model.parameters():
            param.grad = None

    def _get_torch_optimizer(self, optimizer) -> torch.optim.Optimizer:
        if self._torch_opt is None or self._torch_opt_owner != id(optimizer):
            decay, no_decay = [], []
            for name, param in self._model.named_parameters():
                if not param.requires_grad:
                    continue
                # The BERT recipe (and HF's Trainer) exempts biases and
                # LayerNorm weights from weight decay.
                is_norm = "LayerNorm" in name or "layer_norm" in name or ".norm" in name
                (no_decay if name.endswith("bias") or is_norm else decay).append(param)
            groups = [{"params": decay, "decay": True}, {"params": no_decay, "decay": False}]
            # The fused kernel makes one pass over each tensor for the whole
            # update: on CPU 4x faster than the multi-tensor (foreach) kernels
            # for MiniLM's 22M parameters (bench/optimizer_step.py).
            fast = {"fused": True} if fused_adamw_supported(self.device) else {"foreach": True}
            self._torch_opt = torch.optim.AdamW(groups, lr=optimizer.learn_rate, **fast)
            self._torch_opt_owner = id(optimizer)
        return self._torch_opt

    def finish_update(self, optimizer) -> None:
        """Apply the thinc optimizer's Adam settings and current learning rate
        through torch's AdamW (foreach/fused kernels), or fall back to thinc's
        per-parameter update for other optimizers."""
        if not self._fused_adamw_applies(optimizer):
            return super().finish_update(optimizer)
        torch_opt = self._get_torch_optimizer(optimizer)
        if self._grad_scaler.found_inf:
            torch_opt.zero_grad(set_to_none=True)
            self._grad_scaler.update()
            return
        for group in torch_opt.param_groups:
            group["lr"] = float(optimizer.learn_rate)
            group["betas"] = (optimizer.b1, optimizer.b2)
            group["eps"] = optimizer.eps
            group["weight_decay"] = float(optimizer.L2) if group["decay"] else 0.0
        if optimizer.grad_clip:
            torch.nn.utils.clip_grad_norm_(
                [p for g in torch_opt.param_groups for p in g["params"]], optimizer.grad_clip
            )
        torch_opt.step()
        torch_opt.zero_grad(set_to_none=True)
        self._grad_scaler.update()

    # Loading and saving ---------------------------------------------------

    def _set(self, transformer: torch.nn.Module, tokenizer: Any, name: str = "") -> None:
        if self.keep_pooler and getattr(transformer, "pooler", None) is None:
            raise ValueError(Errors.E022.format(name=name, cls=type(transformer).__name__))
        use_token_types = "token_type_ids" in tokenizer.model_input_names
        self._model = HFEncoderModule(transformer, use_token_types)
        self.tokenizer = tokenizer
        self._torch_opt = None
        from thinc.api import get_torch_default_device

        self._model.to(get_torch_default_device())
        self._grad_scaler.to_(self.device)

    def load_pretrained(self, name: Union[str, Path]) -> None:
        """Read a pretrained encoder and tokenizer (at initialize only)."""
        path = resolve_model_name(name)
        local = Path(path).exists()
        try:
            transformer = _load_transformer(path, local_files_only=local, pooler=self.keep_pooler)
            tokenizer = _load_tokenizer(path, str(name), local_files_only=local)
        except OSError as err:
            raise ValueError(Errors.E002.format(name=name, err=err)) from err
        self._set(transformer, tokenizer, name=str(name))

    def to_disk(self, path: Union[str, Path]) -> None:
        if self._model is None:
            # Not initialized yet (e.g. `spacy assemble`): nothing to write.
            return
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._model.transformer.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)

    def from_disk(self, path: Union[str, Path]) -> None:
        path = Path(path)
        if not path.exists():
            # Saved before initialize: the encoder is read at initialize.
            return
        # save_pretrained shards weights over its max_shard_size: then an
        # index file names the shards (and from_pretrained reads them).
        if not (path / WEIGHTS_FILE).exists() and not (path / WEIGHTS_INDEX_FILE).exists():
            raise ValueError(Errors.E004.format(path=path.parent, file=f"{path.name}/{WEIGHTS_FILE}"))
        transformer = _load_transformer(str(path), local_files_only=True, pooler=self.keep_pooler)
        tokenizer = _load_tokenizer(str(path), str(path), local_files_only=True)
        self._set(transformer, tokenizer, name=str(path))

    @contextlib.contextmanager
    def weights_saved_elsewhere(self):
        """While active, to_bytes leaves the weights out (the component's
        to_disk writes them as files beside the thinc model)."""
        self._external_weights = True
        try:
            yield
        finally:
            self._external_weights = False

    def to_bytes(self) -> bytes:
        if self._external_weights or self._model is None:
            return srsly.msgpack_dumps({"external": True})
        with tempfile.TemporaryDirectory() as tmp:
            self.to_disk(tmp)
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        return srsly.msgpack_dumps({"external": False, "files": files})

    def from_bytes(self, bytes_data: bytes) -> "HFShim":
        msg = srsly.msgpack_loads(bytes_data)
        if msg.get("external"):
            return self
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in msg["files"].items():
                (Path(tmp) / name).write_bytes(data)
            self.from_disk(tmp)
        return self

    def to_device(self, device_type: str, device_id: int):  # pragma: no cover
        if self._model is not None:
            super().to_device(device_type, device_id)

    def config_json(self) -> str:
        return json.dumps(self._model.transformer.config.to_dict())
