from typing import List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Model, Softmax_v2, chain
from thinc.types import Floats2d

from ..data_classes import EncoderOutput, WordpieceBatch
from ..layers.init import bert_init_W
from ..layers.pooling import pooling_layer
from ..layers.sigmoid import sigmoid_logits
from ..layers.transformer import get_shim
from ..layers.wordpieces import bert_wordpieces
from ..segments import SEPARATOR


def sequence_classifier(
    encoder: Model[WordpieceBatch, EncoderOutput],
    *,
    pooling: str,
    dropout: float,
    max_length: int,
    exclusive_classes: bool,
    nO: Optional[int],
    two_segments: bool,
    separator: str = SEPARATOR,
) -> Model[List[Doc], Floats2d]:
    encode = bert_wordpieces(
        encoder, max_length=max_length, two_segments=two_segments, separator=separator
    )
    output = Softmax_v2(nO=nO, init_W=bert_init_W) if exclusive_classes else sigmoid_logits(nO=nO)
    model = chain(encode, pooling_layer(pooling), Dropout(dropout), output)
    # [CLS] pooling reads one position of the last layer: the encoder computes
    # only that one there (see HFEncoderModule). "pooler" is [CLS] through the
    # model's own pooler (dense + tanh), the head of Hugging Face's
    # BertForSequenceClassification: the encoder keeps and runs it.
    encoder.attrs["first_token_only"] = pooling in ("cls", "pooler")
    encoder.attrs["pooled"] = pooling == "pooler"
    get_shim(encoder).keep_pooler = pooling == "pooler"
    model.set_ref("encoder", encoder)
    model.set_ref("wordpieces", encode)
    model.set_ref("output_layer", output)
    model.attrs["multi_label"] = not exclusive_classes
    return model


@registry.architectures("spacy-bertft.TextClassifier.v1")
def build_text_classifier_v1(
    encoder: Model[WordpieceBatch, EncoderOutput],
    pooling: str = "cls",
    dropout: float = 0.1,
    max_length: int = 128,
    exclusive_classes: bool = True,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """BERT's sequence classifier: the pooled encoding ([CLS] token, mean or
    max over wordpieces), dropout and a linear layer with softmax (exclusive
    classes) or sigmoid (multilabel).

    encoder (Model[WordpieceBatch, EncoderOutput]): The encoder.
    pooling (str): "cls", "pooler" (BERT's pooled output: [CLS] through the
        encoder's pretrained dense + tanh), "mean" or "max".
    dropout (float): Dropout before the output layer.
    max_length (int): Wordpieces per input; longer inputs are truncated with a
        warning.
    exclusive_classes (bool): Softmax over classes, else independent sigmoids.
    nO (Optional[int]): Number of labels, inferred at initialize if unset.
    RETURNS (Model[List[Doc], Floats2d]): Class probabilities per doc.
    """
    return sequence_classifier(
        encoder,
        pooling=pooling,
        dropout=dropout,
        max_length=max_length,
        exclusive_classes=exclusive_classes,
        nO=nO,
        two_segments=False,
    )


@registry.architectures("spacy-bertft.PairClassifier.v1")
def build_pair_classifier_v1(
    encoder: Model[WordpieceBatch, EncoderOutput],
    pooling: str = "cls",
    dropout: float = 0.1,
    max_length: int = 128,
    separator: str = SEPARATOR,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """BERT's sentence-pair classifier: ``[CLS] A [SEP] B [SEP]`` with token
    type ids, truncating the longer segment first, then pooling, dropout and
    softmax. Docs hold both segments joined by the separator (see
    ``spacy_bertft.pair_doc``).

    encoder (Model[WordpieceBatch, EncoderOutput]): The encoder.
    pooling (str): "cls", "pooler" (BERT's pooled output: [CLS] through the
        encoder's pretrained dense + tanh), "mean" or "max".
    dropout (float): Dropout before the output layer.
    max_length (int): Wordpieces per pair, special tokens included.
    separator (str): The text between the two segments in doc.text.
    nO (Optional[int]): Number of labels, inferred at initialize if unset.
    RETURNS (Model[List[Doc], Floats2d]): Class probabilities per pair.
    """
    return sequence_classifier(
        encoder,
        pooling=pooling,
        dropout=dropout,
        max_length=max_length,
        exclusive_classes=True,
        nO=nO,
        two_segments=True,
        separator=separator,
    )
