"""Weight initialisation shared by the task heads."""
import numpy
from thinc.types import Floats2d

INIT_STD = 0.02


def bert_init_W(ops, shape) -> Floats2d:
    """Normal(0, 0.02) weights, as BERT initialises its task heads. A zero
    init (thinc's Softmax default) would pass no gradient into the encoder
    until the head's weights grow, which starves fine-tuning of short runs."""
    values = numpy.random.normal(0.0, INIT_STD, size=shape).astype("float32")
    return ops.asarray2f(values)
