"""Apply a layer to the vectors of the aligned tokens and return one array
per doc, with a row of zeros for each token that has no wordpiece."""
from typing import Callable, List, Tuple

from thinc.api import Model
from thinc.types import Floats2d

from .token_pooling import TokenVectors


def per_token(layer: Model[Floats2d, Floats2d]) -> Model[TokenVectors, List[Floats2d]]:
    """Run ``layer`` over the token vectors and scatter its output into one
    (n_tokens, nO) array per doc. Tokens the encoder never saw (whitespace)
    get an all-zero row, which a probability distribution never is, and take
    no gradient.

    layer (Model[Floats2d, Floats2d]): E.g. ``chain(Dropout(), Softmax_v2())``.
    RETURNS (Model[TokenVectors, List[Floats2d]]): Per doc, per token outputs.
    """
    return Model("per_token", forward, init=init, layers=[layer])


def init(model: Model, X: TokenVectors = None, Y=None) -> None:
    model.layers[0].initialize(X=None if X is None else X.vectors)


def _width(model: Model) -> int:
    layer = model.layers[0]
    if layer.has_dim("nO"):
        return layer.get_dim("nO")
    return layer.layers[-1].get_dim("nO")


def forward(model: Model, X: TokenVectors, is_train: bool) -> Tuple[List[Floats2d], Callable]:
    ops = model.ops
    xp = ops.xp
    index = ops.asarray1i(X.token_index)
    Y, backprop_layer = model.layers[0](X.vectors, is_train)
    out = ops.alloc2f(X.n_tokens, _width(model))
    if len(index):
        out[index] = Y
    ends = X.lengths.cumsum()
    outputs = [out[int(e - n) : int(e)] for n, e in zip(X.lengths, ends)]

    def backprop(dYs: List[Floats2d]) -> TokenVectors:
        if dYs:
            d_out = xp.concatenate([ops.asarray2f(d) for d in dYs])
        else:
            d_out = ops.alloc2f(0, out.shape[1])
        d_vectors = backprop_layer(d_out[index])
        return TokenVectors(d_vectors, X.token_index, X.lengths)

    return outputs, backprop
