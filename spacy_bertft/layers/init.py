"""Weight initialisation of the task heads' output layers, also registered
as thinc initializers so that a config can choose one (``init_W``)."""
from typing import Callable

import numpy
from spacy.util import registry
from thinc.types import Floats2d

INIT_STD = 0.02


def bert_init_W(ops, shape) -> Floats2d:
    """Normal(0, 0.02) weights, as BERT initialises its task heads. A zero
    init (thinc's Softmax default) would pass no gradient into the encoder
    until the head's weights grow, which starves fine-tuning of short runs."""
    return normal_init(ops, shape, std=INIT_STD)


def normal_init(ops, shape, *, std: float = INIT_STD) -> Floats2d:
    """Weights from Normal(0, std), whatever the layer's width."""
    values = numpy.random.normal(0.0, std, size=shape).astype("float32")
    return ops.asarray2f(values)


def linear_uniform_init(ops, shape) -> Floats2d:
    """Weights from U(-1/sqrt(nI), 1/sqrt(nI)): the default of
    ``torch.nn.Linear``, what a head written in plain PyTorch starts from.
    For a 384-wide encoder the spread is 1.5 times BERT's 0.02."""
    bound = 1.0 / float(shape[-1]) ** 0.5
    values = numpy.random.uniform(-bound, bound, size=shape).astype("float32")
    return ops.asarray2f(values)


@registry.initializers("spacy-bertft.normal_init.v1")
def configure_normal_init(std: float = INIT_STD) -> Callable:
    """Normal(0, std) weights; std 0.02 is BERT's initializer_range."""
    if not std > 0:
        from ..errors import Errors

        raise ValueError(Errors.E021.format(std=std))

    def init(ops, shape) -> Floats2d:
        return normal_init(ops, shape, std=std)

    return init


@registry.initializers("spacy-bertft.linear_uniform_init.v1")
def configure_linear_uniform_init() -> Callable:
    """torch.nn.Linear's default weights, U(-1/sqrt(nI), 1/sqrt(nI))."""
    return linear_uniform_init
