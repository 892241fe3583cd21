"""Start and end logits per wordpiece: the extractive QA head."""
from dataclasses import dataclass
from typing import Optional

from thinc.api import Linear, Model, zero_init
from thinc.types import Floats3d

from ..data_classes import EncoderOutput, WordpieceBatch
from .init import bert_init_W


@dataclass
class SpanLogits:
    """Start and end logits of every wordpiece of every row (window).

    wordpieces (WordpieceBatch): The rows the logits belong to (offsets,
        doc_index, lengths).
    logits (Floats3d): Shape (rows, padded length, 2): start logits in
        ``[..., 0]``, end logits in ``[..., 1]``. Padding is not masked.
    """

    wordpieces: WordpieceBatch
    logits: Floats3d

    @property
    def n_rows(self) -> int:
        return int(self.logits.shape[0])


def span_logits(nI: Optional[int] = None) -> Model[EncoderOutput, SpanLogits]:
    """A linear layer from each wordpiece's hidden state to a start and an end
    logit. There is no dropout in the head (as in Hugging Face's QA models);
    the encoder's own dropout applies while training.

    nI (Optional[int]): The encoder's width, inferred at initialize if None.
    RETURNS (Model[EncoderOutput, SpanLogits]): The layer.
    """
    linear = Linear(nO=2, nI=nI, init_W=bert_init_W, init_b=zero_init)
    return Model("span_logits", forward, init=init, layers=[linear], refs={"linear": linear})


def init(model: Model, X: Optional[EncoderOutput] = None, Y=None) -> None:
    linear = model.get_ref("linear")
    if X is not None and X.hidden.ndim == 3:
        linear.set_dim("nI", X.width, force=True)
    linear.initialize()


def forward(model: Model, X: EncoderOutput, is_train: bool):
    ops = model.ops
    linear = model.get_ref("linear")
    rows, length, width = X.hidden.shape
    if rows == 0 or length == 0:

        def backprop_empty(d_logits: Floats3d) -> Floats3d:
            return ops.alloc3f(rows, length, width)

        return SpanLogits(X.wordpieces, ops.alloc3f(rows, length, 2)), backprop_empty
    flat = ops.reshape2f(X.hidden, rows * length, width)
    Y, backprop_linear = linear(flat, is_train)
    logits = ops.reshape3f(Y, rows, length, 2)

    def backprop(d_logits: Floats3d) -> Floats3d:
        d_flat = backprop_linear(ops.reshape2f(d_logits, rows * length, 2))
        return ops.reshape3f(d_flat, rows, length, width)

    return SpanLogits(X.wordpieces, logits), backprop
