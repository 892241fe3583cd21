"""A linear layer with a sigmoid output whose backward pass takes the
gradient with respect to the logits (sigmoid and binary cross-entropy fused,
as thinc's Softmax does for softmax and cross-entropy)."""
from typing import Optional

from thinc.api import Model, zero_init

from .init import bert_init_W
from thinc.types import Floats2d


def sigmoid_logits(nO: Optional[int] = None, nI: Optional[int] = None) -> Model[Floats2d, Floats2d]:
    return Model(
        "sigmoid_logits",
        forward,
        init=init,
        dims={"nO": nO, "nI": nI},
        params={"W": None, "b": None},
    )


def init(model: Model, X: Optional[Floats2d] = None, Y: Optional[Floats2d] = None) -> None:
    if X is not None and model.maybe_get_dim("nI") is None:
        model.set_dim("nI", X.shape[1])
    if Y is not None and model.maybe_get_dim("nO") is None:
        model.set_dim("nO", Y.shape[1])
    nO, nI = model.get_dim("nO"), model.get_dim("nI")
    model.set_param("W", bert_init_W(model.ops, (nO, nI)))
    model.set_param("b", zero_init(model.ops, (nO,)))


def forward(model: Model, X: Floats2d, is_train: bool):
    W = model.get_param("W")
    b = model.get_param("b")
    Y = model.ops.sigmoid(model.ops.gemm(X, W, trans2=True) + b)

    def backprop(d_logits: Floats2d) -> Floats2d:
        model.inc_grad("b", d_logits.sum(axis=0))
        model.inc_grad("W", model.ops.gemm(d_logits, X, trans1=True))
        return model.ops.gemm(d_logits, W)

    return Y, backprop
