from typing import Callable, List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Model, Softmax_v2, chain
from thinc.types import Floats2d

from ..data_classes import EncoderOutput, WordpieceBatch
from ..errors import Errors
from ..layers.init import bert_init_W
from ..layers.token_output import per_token
from ..layers.token_pooling import token_pooling as pool_tokens
from ..layers.wordpieces import bert_wordpieces

# [CLS] and [SEP]: a window needs room for them beside the overlap.
_N_SPECIAL = 2


@registry.architectures("spacy-bertft.TokenClassifier.v1")
def build_token_classifier_v1(
    encoder: Model[WordpieceBatch, EncoderOutput],
    token_pooling: str = "first",
    dropout: float = 0.1,
    max_length: int = 128,
    stride: int = 64,
    nO: Optional[int] = None,
    init_W: Optional[Callable] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """BERT's token classifier: the encoding of each spaCy token (its first
    wordpiece, or the mean of its wordpieces), dropout and a linear layer with
    softmax over the tags.

    Docs longer than ``max_length`` wordpieces are read as overlapping windows
    (``stride`` wordpieces shared by neighbours), each token from the window
    where it has the most context: nothing is truncated.

    encoder (Model[WordpieceBatch, EncoderOutput]): The encoder.
    token_pooling (str): "first" or "mean".
    dropout (float): Dropout before the output layer.
    max_length (int): Wordpieces per window, special tokens included.
    stride (int): Wordpieces shared by consecutive windows.
    nO (Optional[int]): Number of tags, set by the component at initialize.
    init_W (Optional[Callable]): Initializer of the output weights (a thinc
        ``@initializers`` block); BERT's Normal(0, 0.02) if None. The shipped
        configs use ``spacy-bertft.linear_uniform_init.v1``: see
        docs/design.md, "Output layer initialisation".
    RETURNS (Model[List[Doc], List[Floats2d]]): Per doc, tag probabilities per
        token; a row of zeros for tokens without wordpieces (whitespace).
    """
    if stride < 0 or stride >= max_length - _N_SPECIAL:
        raise ValueError(Errors.E101.format(stride=stride, max_length=max_length, n_special=_N_SPECIAL))
    encode = bert_wordpieces(encoder, max_length=max_length, windows=True, stride=stride)
    output = Softmax_v2(nO=nO, init_W=init_W if init_W is not None else bert_init_W)
    model = chain(
        pool_tokens(encode, token_pooling),
        per_token(chain(Dropout(dropout), output)),
    )
    model.set_ref("encoder", encoder)
    # The component tokenizes a batch once, to sort it and, in training, to
    # look its texts up in its cache, and passes the wordpieces along.
    model.set_ref("wordpieces", encode)
    model.set_ref("output_layer", output)
    return model

