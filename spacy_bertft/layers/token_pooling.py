"""Docs -> one vector per spaCy token, read from the encoder's wordpieces.

Long docs are encoded as overlapping windows (``bert_wordpieces(...,
windows=True)``); a token that falls in several windows is read from the one
where it has the most context on both sides, in training as in prediction, so
the gradient goes to the rows the predictions came from.
"""
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

import numpy
from spacy.attrs import IDX, LENGTH
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d, Ints1d

from ..data_classes import EncodedDocs, EncoderOutput, WordpieceBatch
from ..errors import Errors

TOKEN_POOLINGS = ("first", "mean")
# Context of a token at a doc's start or end: nothing is missing there.
_FULL_CONTEXT = 1 << 40


@dataclass
class TokenVectors:
    """Vectors of the tokens of a batch of docs that have wordpieces.

    vectors (Floats2d): One row per aligned token, in doc and token order.
    token_index (Ints1d): For each row of ``vectors``, the token's index in
        the concatenation of all the docs' tokens.
    lengths (Ints1d): Number of spaCy tokens per doc (aligned or not).
    """

    vectors: Floats2d
    token_index: Ints1d
    lengths: Ints1d

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())


@dataclass
class TokenWindows:
    """Where each token of a batch is read from (see ``choose_windows``).

    row (Ints1d): Per token of the concatenated docs, the chosen window row
        of the wordpiece batch, -1 for tokens without wordpieces.
    first (Ints1d): Per token, its first wordpiece in that row (-1 if none).
    pairs (numpy.ndarray): (n, 2) array of (token, flat wordpiece index into
        rows * padded length) for every wordpiece of every token in its
        chosen row, sorted by token.
    """

    row: Ints1d
    first: Ints1d
    pairs: numpy.ndarray


def _token_bounds(doc: Doc) -> Tuple[numpy.ndarray, numpy.ndarray]:
    if not len(doc):
        empty = numpy.zeros((0,), dtype="int64")
        return empty, empty
    bounds = doc.to_array([IDX, LENGTH]).astype("int64")
    return bounds[:, 0], bounds[:, 0] + bounds[:, 1]


def choose_windows(docs: Sequence[Doc], batch: WordpieceBatch) -> TokenWindows:
    """Pick, for each token, the window row that gives it the most context.

    A token's context in a row is the smaller of the wordpieces left of its
    first wordpiece and right of its last one, within the row; a row's edge
    that is also the doc's edge counts as full context. Ties go to the
    earlier row. A token cut by a window edge has context 0 there, so a row
    that holds all of it wins whenever the windows overlap.

    The whole batch is aligned at once: docs are laid end to end on one
    character axis, so that one ``searchsorted`` maps every wordpiece of every
    row to its tokens.

    docs (Sequence[Doc]): The docs of the batch.
    batch (WordpieceBatch): Their wordpieces; rows of a doc are consecutive.
    RETURNS (TokenWindows): The choice, and the wordpieces to read.
    """
    n_tokens = sum(len(doc) for doc in docs)
    best_row = numpy.full((n_tokens,), -1, dtype="int64")
    best_first = numpy.full((n_tokens,), -1, dtype="int64")
    no_pairs = numpy.zeros((0, 2), dtype="int64")
    if n_tokens == 0 or batch.n_rows == 0:
        return TokenWindows(best_row, best_first, no_pairs)
    # Docs end to end: each starts one character after the previous one's
    # last token (wordpieces never cover trailing whitespace).
    bounds = [_token_bounds(doc) for doc in docs]
    doc_ends = numpy.asarray([b[1][-1] if len(b[1]) else 0 for b in bounds], dtype="int64")
    char_base = numpy.cumsum(doc_ends + 1) - (doc_ends + 1)
    starts = numpy.concatenate([b[0] + char_base[d] for d, b in enumerate(bounds)])
    ends = numpy.concatenate([b[1] + char_base[d] for d, b in enumerate(bounds)])
    doc_index = numpy.asarray(batch.doc_index, dtype="int64")
    row_sizes = numpy.asarray([len(o) for o in batch.offsets], dtype="int64")
    offsets = numpy.concatenate(batch.offsets).reshape((-1, 2))
    row_of = numpy.repeat(numpy.arange(batch.n_rows), row_sizes)
    wp_of = numpy.arange(len(offsets)) - numpy.repeat(numpy.cumsum(row_sizes) - row_sizes, row_sizes)
    real = (offsets[:, 0] >= 0) & (offsets[:, 1] > offsets[:, 0])
    row_of, wp_of, offsets = row_of[real], wp_of[real], offsets[real] + char_base[doc_index[row_of[real]], None]
    if not len(offsets):
        return TokenWindows(best_row, best_first, no_pairs)
    # The real wordpieces of a row run from row_lo to row_hi.
    row_lo = numpy.full((batch.n_rows,), -1, dtype="int64")
    row_hi = numpy.full((batch.n_rows,), -1, dtype="int64")
    row_lo[row_of[::-1]] = wp_of[::-1]
    row_hi[row_of] = wp_of
    first_of_doc = numpy.r_[True, doc_index[1:] != doc_index[:-1]]
    last_of_doc = numpy.r_[doc_index[1:] != doc_index[:-1], True]
    # Every (row, token, wordpiece) overlap.
    tok_first = numpy.searchsorted(ends, offsets[:, 0], side="right")
    tok_last = numpy.searchsorted(starts, offsets[:, 1], side="left")
    counts = numpy.maximum(tok_last - tok_first, 0)
    within = numpy.arange(int(counts.sum())) - numpy.repeat(numpy.cumsum(counts) - counts, counts)
    tok = numpy.repeat(tok_first, counts) + within
    row = numpy.repeat(row_of, counts)
    wp = numpy.repeat(wp_of, counts)
    order = numpy.lexsort((wp, tok, row))
    tok, row, wp = tok[order], row[order], wp[order]
    # Groups: one per (row, token), with the token's first and last wordpiece.
    new_group = numpy.r_[True, (tok[1:] != tok[:-1]) | (row[1:] != row[:-1])]
    group_start = numpy.flatnonzero(new_group)
    group_end = numpy.r_[group_start[1:], len(tok)] - 1
    g_tok, g_row = tok[group_start], row[group_start]
    g_first, g_last = wp[group_start], wp[group_end]
    left = numpy.where(first_of_doc[g_row], _FULL_CONTEXT, g_first - row_lo[g_row])
    right = numpy.where(last_of_doc[g_row], _FULL_CONTEXT, row_hi[g_row] - g_last)
    score = numpy.minimum(left, right)
    # Per token, the group with the best score, the earliest row on ties.
    by_token = numpy.lexsort((g_row, -score, g_tok))
    winners = by_token[numpy.r_[True, g_tok[by_token][1:] != g_tok[by_token][:-1]]]
    best_row[g_tok[winners]] = g_row[winners]
    best_first[g_tok[winners]] = g_first[winners]
    chosen = numpy.zeros((len(group_start),), dtype=bool)
    chosen[winners] = True
    keep = numpy.repeat(chosen, group_end - group_start + 1)
    width = batch.input_ids.shape[1]
    pairs = numpy.stack([tok[keep], row[keep] * width + wp[keep]], axis=1)
    pairs = pairs[numpy.lexsort((pairs[:, 1], pairs[:, 0]))]
    return TokenWindows(best_row, best_first, pairs)


def token_pooling(
    encode: Model[List[Doc], EncoderOutput], pooling: str = "first"
) -> Model[List[Doc], TokenVectors]:
    """Wrap a docs -> wordpieces -> encoder layer so that it returns one
    vector per spaCy token: its first wordpiece or the mean of its wordpieces,
    in the window where the token has the most context.

    encode (Model[List[Doc], EncoderOutput]): E.g. ``bert_wordpieces(...,
        windows=True)``.
    pooling (str): "first" (BERT's choice for tagging) or "mean".
    RETURNS (Model[List[Doc], TokenVectors]): Vectors of the tokens that have
        wordpieces; whitespace tokens have none and are left out. It also
        takes ``EncodedDocs`` (the docs with the wordpieces of their texts,
        which ``encode`` then reads in place of the docs).
    """
    if pooling not in TOKEN_POOLINGS:
        raise ValueError(Errors.E100.format(pooling=pooling, options=", ".join(TOKEN_POOLINGS)))
    return Model(
        f"token_pooling_{pooling}",
        forward,
        init=init,
        layers=[encode],
        attrs={"pooling": pooling},
    )


def init(model: Model, X=None, Y=None) -> None:
    model.layers[0].initialize()


def forward(model: Model, inputs: Union[List[Doc], EncodedDocs], is_train: bool):
    ops = model.ops
    # A component that tokenized its docs already passes their wordpieces
    # along (EncodedDocs): the encoder reads those, the pooling the docs.
    if isinstance(inputs, EncodedDocs):
        docs, encoder_input = inputs.docs, inputs.wordpieces
    else:
        docs, encoder_input = inputs, inputs
    output, backprop_encode = model.layers[0](encoder_input, is_train)
    hidden = output.hidden
    shape = hidden.shape
    windows = choose_windows(docs, output.wordpieces)
    lengths = numpy.asarray([len(doc) for doc in docs], dtype="int64")
    token_index = numpy.flatnonzero(windows.row >= 0)
    flat_hidden = hidden.reshape((-1, shape[-1]))
    if model.attrs["pooling"] == "first":
        flat = windows.row[token_index] * shape[1] + windows.first[token_index]
        flat_idx = ops.asarray1i(flat)
        vectors = flat_hidden[flat_idx]
        wp_lengths = None
    else:
        flat_idx = ops.asarray1i(windows.pairs[:, 1])
        counts = numpy.bincount(windows.pairs[:, 0], minlength=len(windows.row))[token_index]
        wp_lengths = ops.asarray1i(counts)
        vectors = ops.reduce_mean(flat_hidden[flat_idx], wp_lengths)
    vectors = ops.asarray2f(vectors)

    def backprop(dY: TokenVectors) -> List[Doc]:
        d_vectors = dY.vectors
        if wp_lengths is not None:
            d_vectors = ops.backprop_reduce_mean(d_vectors, wp_lengths)
        d_flat = ops.alloc2f(shape[0] * shape[1], shape[2])
        if len(flat_idx):
            ops.scatter_add(d_flat, flat_idx, ops.asarray2f(d_vectors))
        backprop_encode(d_flat.reshape(shape))
        return []

    tokens = TokenVectors(vectors, token_index.astype("int64"), lengths)
    return tokens, backprop
