from .hf_shim import HFShim
from .transformer import hf_transformer
from .wordpieces import bert_wordpieces, encode_texts
from .pooling import pooling_layer

__all__ = ["HFShim", "hf_transformer", "bert_wordpieces", "encode_texts", "pooling_layer"]
