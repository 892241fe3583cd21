"""Docs -> wordpieces, with character offsets back into each doc's text."""
import warnings
from itertools import chain
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc
from thinc.api import Model

from ..data_classes import EncoderOutput, WordpieceBatch, pad_rows
from ..errors import Errors, Warnings
from ..segments import SEPARATOR, split_segments


def model_max_length(tokenizer) -> int:
    limit = getattr(tokenizer, "model_max_length", 512) or 512
    return int(limit) if limit < 100_000 else 512


def encode_texts(
    tokenizer,
    texts_a: Sequence[str],
    texts_b: Optional[Sequence[str]] = None,
    b_starts: Optional[Sequence[int]] = None,
    *,
    max_length: int,
    truncation: str = "longest_first",
    windows: bool = False,
    stride: int = 0,
) -> WordpieceBatch:
    """Tokenize texts (or pairs of texts) with a fast tokenizer into a padded batch.

    tokenizer: A Hugging Face fast tokenizer.
    texts_a (Sequence[str]): The first segments.
    texts_b (Optional[Sequence[str]]): The second segments, for pairs.
    b_starts (Optional[Sequence[int]]): Where each second segment starts in its
        doc's text; offsets of second-segment wordpieces are shifted by it.
    max_length (int): Wordpieces per row, special tokens included.
    truncation (str): "longest_first" or "only_second" (Hugging Face's names).
    windows (bool): Keep the overflow as further rows (windows over the text, or
        over the second segment for pairs) instead of dropping it.
    stride (int): Wordpieces shared by consecutive windows.
    RETURNS (WordpieceBatch): The batch; ``truncated`` lists the docs that lost
        wordpieces when windows is False.
    """
    max_length = min(max_length, model_max_length(tokenizer))
    n = len(texts_a)
    if n == 0:
        empty = numpy.zeros((0, 0), dtype="int64")
        none = numpy.zeros((0,), dtype="int64")
        return WordpieceBatch(empty, empty, empty, [], none, none,
                              b_starts=None if b_starts is None else none)
    args = (list(texts_a),) if texts_b is None else (list(texts_a), list(texts_b))
    # Only the ids come back as lists: type ids, offsets and segments are read
    # from the tokenizer's encodings (asking for them as lists converts each
    # twice), and the attention mask follows from the lengths.
    enc = tokenizer(
        *args,
        truncation=truncation if texts_b is not None else True,
        max_length=max_length,
        stride=stride if windows else 0,
        return_overflowing_tokens=windows,
        return_attention_mask=False,
        return_token_type_ids=False,
        padding=False,
    )
    if windows:
        doc_index = numpy.asarray(enc["overflow_to_sample_mapping"], dtype="int64")
    else:
        doc_index = numpy.arange(n, dtype="int64")
    rows_ids = enc["input_ids"]
    offsets: List[numpy.ndarray] = []
    token_types: List[List[int]] = []
    truncated: List[int] = []
    for row, encoding in enumerate(enc.encodings):
        doc = int(doc_index[row])
        n_wordpieces = len(rows_ids[row])
        # segment of each wordpiece: 0, 1, or NaN for special tokens (None)
        seq_ids = numpy.array(encoding.sequence_ids, dtype="float64")
        offs = numpy.fromiter(chain.from_iterable(encoding.offsets), dtype="int64", count=2 * n_wordpieces)
        offs = offs.reshape(n_wordpieces, 2)
        offs[numpy.isnan(seq_ids)] = -1
        if texts_b is not None and b_starts is not None:
            offs[seq_ids == 1] += b_starts[doc]
        offsets.append(offs)
        token_types.append(encoding.type_ids)
        if not windows and n_wordpieces >= max_length:
            if _lost_text(offs, seq_ids, texts_a[doc], None if texts_b is None else texts_b[doc],
                          None if b_starts is None else b_starts[doc]):
                truncated.append(doc)
    input_ids = pad_rows(rows_ids, _pad_id(tokenizer))
    lengths = numpy.asarray([len(r) for r in rows_ids], dtype="int64")
    attention_mask = (numpy.arange(input_ids.shape[1])[None, :] < lengths[:, None]).astype("int64")
    token_type_ids = pad_rows(token_types, 0)
    return WordpieceBatch(input_ids, attention_mask, token_type_ids, offsets, doc_index,
                          lengths, truncated,
                          b_starts=None if b_starts is None else numpy.asarray(b_starts, dtype="int64"))


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _lost_text(offs, seq_ids, text_a, text_b, b_start) -> bool:
    """Whether the wordpieces of a full-length row stop short of a segment's end."""
    ends_a = offs[seq_ids == 0, 1]
    if len(text_a.rstrip()) > (ends_a.max() if len(ends_a) else 0):
        return True
    if text_b is not None:
        ends_b = offs[seq_ids == 1, 1] - (b_start or 0)
        if len(text_b.rstrip()) > (ends_b.max() if len(ends_b) else 0):
            return True
    return False


def text_segments(texts: Sequence[str], separator: str) -> Tuple[List[str], List[str], List[int]]:
    """Split the texts of two-segment docs into their segments (see
    ``segments.py``): first segments, second segments, where each second
    segment starts."""
    texts_a, texts_b, b_starts = [], [], []
    for i, text in enumerate(texts):
        a, b, b_start = split_segments(text, separator=separator, index=i)
        texts_a.append(a)
        texts_b.append(b)
        b_starts.append(b_start)
    return texts_a, texts_b, b_starts


def bert_wordpieces(
    encoder: Model[WordpieceBatch, EncoderOutput],
    *,
    max_length: int,
    two_segments: bool = False,
    separator: str = SEPARATOR,
    truncation: str = "longest_first",
    windows: bool = False,
    stride: int = 0,
) -> Model[List[Doc], EncoderOutput]:
    """Tokenize docs with the encoder's tokenizer, then run the encoder.

    Single-segment docs are read whole. Two-segment docs (pairs, QA) are split
    at the separator and encoded as ``[CLS] A [SEP] B [SEP]`` with token type ids.
    Without windows, over-long inputs are truncated with a warning, once.
    The layer also takes the docs' wordpieces as ``tokenize_texts`` makes
    them (what a component that tokenized the batch to sort or split it
    passes), and then runs the encoder on them as they are.
    """
    return Model(
        "bert_wordpieces",
        wordpieces_forward,
        init=wordpieces_init,
        layers=[encoder],
        refs={"encoder": encoder},
        attrs={
            "max_length": max_length,
            "two_segments": two_segments,
            "separator": separator,
            "truncation": truncation,
            "windows": windows,
            "stride": stride,
            "warned": False,
        },
    )


def wordpieces_init(model: Model, X=None, Y=None) -> None:
    model.layers[0].initialize()


def get_tokenizer(model: Model):
    from .transformer import get_shim

    shim = get_shim(model.get_ref("encoder"))
    if not shim.is_loaded:
        raise ValueError(Errors.E005.format(name=model.get_ref("encoder").attrs["name"]))
    return shim.tokenizer


def tokenize_texts(model: Model, texts: Sequence[str]) -> WordpieceBatch:
    """Tokenize the texts of docs as the bert_wordpieces layer ``model``
    reads them (segments, truncation, windows)."""
    attrs = model.attrs
    tokenizer = get_tokenizer(model)
    options = dict(
        max_length=attrs["max_length"],
        truncation=attrs["truncation"],
        windows=attrs["windows"],
        stride=attrs["stride"],
    )
    if attrs["two_segments"]:
        texts_a, texts_b, b_starts = text_segments(texts, attrs["separator"])
        return encode_texts(tokenizer, texts_a, texts_b, b_starts, **options)
    return encode_texts(tokenizer, list(texts), **options)


# One doc's rows, kept compact: its wordpieces' (id, type id, offset start,
# offset end) as one int32 array, the rows' lengths, where its second segment
# starts (-1: none), whether it was truncated.
_KeptDoc = Tuple[numpy.ndarray, Tuple[int, ...], int, bool]

# Bytes a kept doc costs besides its wordpieces and text (the array's header,
# the tuples, the dict's entry), for the cache's limit.
_KEPT_OVERHEAD = 400


class WordpieceCache:
    """Each distinct text's wordpieces as ``tokenize_texts`` makes them for
    a ``bert_wordpieces`` layer, kept so that training tokenizes a text once
    rather than once per epoch, as Hugging Face's users tokenize their
    dataset once before the Trainer starts. The texts of a batch not seen
    yet are tokenized (the batch again in its own order if that fails, so
    that a message names the caller's doc) and kept; the batch is then put
    together from what was kept.

    Kept per text: 16 bytes per wordpiece, the text itself (the key) and
    about 0.4 KB, up to max_bytes in all: past it, new texts are tokenized
    and not kept (a corpus that makes new texts each epoch, as augmenters
    do, stops growing the cache there). The tokenizer (its identity,
    vocabulary size and maximum length) and the layer's settings are
    checked at each call: a change empties the cache.
    """

    def __init__(self, max_bytes: int = 2**30) -> None:
        self.max_bytes = max_bytes
        self.n_bytes = 0
        self.full = False  # a text did not fit: new texts are no longer kept
        self._tokenizer = None
        self._settings: Optional[Tuple] = None
        self._docs: Dict[str, _KeptDoc] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def tokenize(self, model: Model, texts: Sequence[str]) -> WordpieceBatch:
        """``tokenize_texts(model, texts)``, from the kept rows where every
        text was seen before."""
        tokenizer = get_tokenizer(model)
        attrs = model.attrs
        settings = tuple(attrs[k] for k in ("max_length", "two_segments", "separator", "truncation",
                                            "windows", "stride"))
        settings += (_vocabulary(tokenizer), model_max_length(tokenizer))
        if tokenizer is not self._tokenizer or settings != self._settings:
            self._docs.clear()
            self.n_bytes = 0
            self.full = False
            self._tokenizer, self._settings = tokenizer, settings
        docs = self._docs
        if not texts:
            return tokenize_texts(model, texts)
        unseen = list(dict.fromkeys(text for text in texts if text not in docs))
        if unseen and self.full:
            return tokenize_texts(model, texts)
        if unseen:
            try:
                fresh = tokenize_texts(model, unseen)
            except Exception:
                # Again in the caller's order, so that the message names the
                # caller's doc.
                return tokenize_texts(model, texts)
            self._keep(unseen, fresh)
            if len(unseen) == len(texts):
                return fresh  # the texts, in their order: the batch itself
            if self.full and any(text not in docs for text in unseen):
                return tokenize_texts(model, texts)
        return _assemble([docs[text] for text in texts], _pad_id(tokenizer), attrs["two_segments"])

    def _keep(self, texts: Sequence[str], batch: WordpieceBatch) -> None:
        # Each doc's rows are consecutive, in doc order (encode_texts).
        bounds = numpy.searchsorted(batch.doc_index, numpy.arange(len(texts) + 1)).tolist()
        truncated = set(batch.truncated)
        lengths = batch.lengths.tolist()
        for i, text in enumerate(texts):
            if text in self._docs:
                continue
            rows = range(bounds[i], bounds[i + 1])
            packed = numpy.concatenate([
                numpy.column_stack((batch.input_ids[r, : lengths[r]], batch.token_type_ids[r, : lengths[r]],
                                    batch.offsets[r]))
                for r in rows
            ]).astype("int32")
            cost = packed.nbytes + len(text) + _KEPT_OVERHEAD
            if self.n_bytes + cost > self.max_bytes:
                self.full = True
                return
            self.n_bytes += cost
            self._docs[text] = (
                packed,
                tuple(lengths[r] for r in rows),
                -1 if batch.b_starts is None else int(batch.b_starts[i]),
                i in truncated,
            )


def _vocabulary(tokenizer) -> Tuple[int, int]:
    """The tokenizer's vocabulary size and added tokens, cheaply (``len`` of
    a fast tokenizer builds the whole vocabulary: 3 ms for 30k wordpieces)."""
    backend = tokenizer.backend_tokenizer
    return backend.get_vocab_size(with_added_tokens=False), len(backend.get_added_tokens_decoder())


def _assemble(kept: List[_KeptDoc], pad_id: int, two_segments: bool) -> WordpieceBatch:
    """The padded batch of kept docs, as encode_texts pads it."""
    lengths = numpy.fromiter((n for doc in kept for n in doc[1]), dtype="int64")
    width = int(lengths.max())
    n_rows = len(lengths)
    input_ids = numpy.full((n_rows, width), pad_id, dtype="int64")
    token_type_ids = numpy.zeros((n_rows, width), dtype="int64")
    offsets: List[numpy.ndarray] = []
    row = 0
    for packed, row_lengths, _, _ in kept:
        start = 0
        for n in row_lengths:
            part = packed[start : start + n]
            input_ids[row, :n] = part[:, 0]
            token_type_ids[row, :n] = part[:, 1]
            offsets.append(part[:, 2:].astype("int64"))
            start += n
            row += 1
    attention_mask = (numpy.arange(width)[None, :] < lengths[:, None]).astype("int64")
    return WordpieceBatch(
        input_ids, attention_mask, token_type_ids, offsets,
        numpy.repeat(numpy.arange(len(kept), dtype="int64"), [len(doc[1]) for doc in kept]),
        lengths,
        [i for i, doc in enumerate(kept) if doc[3]],
        b_starts=numpy.asarray([doc[2] for doc in kept], dtype="int64") if two_segments else None,
    )


def wordpieces_forward(model: Model, docs: Union[List[Doc], WordpieceBatch], is_train: bool):
    # A component that tokenized its batch already (to sort or split it)
    # passes the wordpieces instead of the docs: see BertPipe._encode.
    attrs = model.attrs
    batch = docs if isinstance(docs, WordpieceBatch) else tokenize_texts(model, [doc.text for doc in docs])
    if batch.truncated and not attrs["warned"]:
        warnings.warn(
            Warnings.W001.format(
                component=model.name, n=len(batch.truncated),
                max_length=attrs["max_length"], first=min(batch.caller_index(d) for d in batch.truncated),
                model_max=model_max_length(get_tokenizer(model)),
            )
        )
        attrs["warned"] = True
    output, backprop_encoder = model.layers[0](batch, is_train)

    def backprop(d_hidden):
        backprop_encoder(d_hidden)
        return []

    return output, backprop


def token_alignment(doc: Doc, offsets: numpy.ndarray) -> List[numpy.ndarray]:
    """Map each spaCy token of a doc to the rows of ``offsets`` (wordpiece
    character spans, (-1, -1) for special tokens) that overlap it.

    doc (Doc): The doc.
    offsets (numpy.ndarray): (n_wordpieces, 2) character offsets into doc.text.
    RETURNS (List[numpy.ndarray]): Per token, the indices of its wordpieces, in
        order; empty for whitespace tokens and text the wordpieces do not reach.
    """
    starts = numpy.asarray([t.idx for t in doc], dtype="int64")
    ends = starts + numpy.asarray([len(t.text) for t in doc], dtype="int64")
    aligned: List[List[int]] = [[] for _ in range(len(doc))]
    for wp, (s, e) in enumerate(offsets.tolist()):
        if s < 0 or e <= s:
            continue
        first = int(numpy.searchsorted(ends, s, side="right"))
        last = int(numpy.searchsorted(starts, e, side="left"))
        for tok in range(first, last):
            aligned[tok].append(wp)
    return [numpy.asarray(a, dtype="int64") for a in aligned]
