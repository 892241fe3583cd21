from typing import List

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, chain

from ..data_classes import EncoderOutput, WordpieceBatch
from ..errors import Errors
from ..layers.span_logits import SpanLogits, span_logits
from ..layers.wordpieces import bert_wordpieces


@registry.architectures("spacy-bertft.SpanQA.v1")
def build_span_qa_v1(
    encoder: Model[WordpieceBatch, EncoderOutput],
    max_length: int = 384,
    stride: int = 128,
) -> Model[List[Doc], SpanLogits]:
    """BERT's extractive question answering (``BertForQuestionAnswering``):
    two-segment docs (question, context; see ``spacy_bertft.qa_doc``) are
    encoded as ``[CLS] question [SEP] context [SEP]``; a context too long for
    ``max_length`` is cut into overlapping windows, each a row of its own. A
    linear layer gives every wordpiece a start and an end logit.

    encoder (Model[WordpieceBatch, EncoderOutput]): The encoder.
    max_length (int): Wordpieces per window, special tokens included (at most
        the encoder's maximum).
    stride (int): Context wordpieces shared by consecutive windows
        (``doc_stride`` of Hugging Face's run_qa).
    RETURNS (Model[List[Doc], SpanLogits]): Start/end logits per window.
    """
    if max_length < 8 or stride < 0 or stride >= max_length:
        raise ValueError(Errors.E150.format(max_length=max_length, stride=stride))
    encode = bert_wordpieces(
        encoder,
        max_length=max_length,
        two_segments=True,
        truncation="only_second",
        windows=True,
        stride=stride,
    )
    head = span_logits()
    model = chain(encode, head)
    model.set_ref("encoder", encoder)
    model.set_ref("wordpieces", encode)
    model.set_ref("output_layer", head)
    return model
