"""Pool the wordpieces of each row into one vector: [CLS], mean or max.
("pooler" reads the first position too: the encoder has put the output of
its pooler there.)"""
from thinc.api import Model
from thinc.types import Floats2d

from ..data_classes import EncoderOutput
from ..errors import Errors

POOLINGS = ("cls", "pooler", "mean", "max")


def pooling_layer(pooling: str = "cls") -> Model[EncoderOutput, Floats2d]:
    if pooling not in POOLINGS:
        raise ValueError(Errors.E013.format(pooling=pooling, options=", ".join(POOLINGS)))
    return Model(f"pool_{pooling}", forward, attrs={"pooling": pooling})


def forward(model: Model, X: EncoderOutput, is_train: bool):
    ops = model.ops
    hidden = X.hidden
    pooling = model.attrs["pooling"]
    shape = hidden.shape
    if shape[0] == 0 or shape[1] == 0:
        return ops.alloc2f(shape[0], shape[2]), lambda dY: ops.alloc3f(*shape)
    if pooling in ("cls", "pooler"):
        Y = hidden[:, 0, :].copy()

        def backprop_cls(dY: Floats2d):
            d_hidden = ops.alloc3f(*shape)
            d_hidden[:, 0, :] = dY
            return d_hidden

        return Y, backprop_cls
    mask = ops.asarray(X.wordpieces.attention_mask, dtype="float32")[:, :, None]
    if pooling == "mean":
        counts = ops.xp.maximum(mask.sum(axis=1), 1.0)
        Y = (hidden * mask).sum(axis=1) / counts

        def backprop_mean(dY: Floats2d):
            return (dY / counts)[:, None, :] * mask

        return Y, backprop_mean
    masked = ops.xp.where(mask > 0, hidden, -ops.xp.inf)
    which = masked.argmax(axis=1)
    # Plain fancy indexing (not take/put_along_axis) works on numpy and cupy alike.
    rows = ops.xp.arange(shape[0])[:, None]
    cols = ops.xp.arange(shape[2])[None, :]
    Y = hidden[rows, which, cols]

    def backprop_max(dY: Floats2d):
        d_hidden = ops.alloc3f(*shape)
        d_hidden[rows, which, cols] = dY
        return d_hidden

    return Y, backprop_max
