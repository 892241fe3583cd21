"""Typed batches passed between the layers of the architectures."""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy
from spacy.tokens import Doc
from thinc.types import Floats3d, Ints1d, Ints2d

from .errors import Errors


@dataclass
class WordpieceBatch:
    """A padded batch of wordpiece rows. A row is one input (one doc, or one
    window of a long doc), so ``doc_index`` maps rows back to docs.

    input_ids (Ints2d): Wordpiece ids, padded with the tokenizer's pad id.
    attention_mask (Ints2d): 1 for real wordpieces, 0 for padding.
    token_type_ids (Ints2d): 0 for the first segment, 1 for the second.
    offsets (List[Ints2d]): Per row, (start, end) character offsets of each
        real wordpiece into its doc's text; (-1, -1) for special tokens.
    doc_index (Ints1d): The doc each row comes from.
    lengths (Ints1d): Number of real wordpieces per row.
    truncated (List[int]): Docs that lost wordpieces to truncation.
    b_starts (Optional[Ints1d]): For two-segment docs, where each doc's second
        segment starts in its text.
    origin (Optional[Ints1d]): For a batch cut from a larger one (``select``),
        each doc's index in the batch first tokenized (the caller's), so that
        messages name the doc the caller knows.
    """

    input_ids: Ints2d
    attention_mask: Ints2d
    token_type_ids: Ints2d
    offsets: List[Ints2d]
    doc_index: Ints1d
    lengths: Ints1d
    truncated: List[int] = field(default_factory=list)
    b_starts: Optional[Ints1d] = None
    origin: Optional[Ints1d] = None

    @property
    def n_rows(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def n_wordpieces(self) -> int:
        return int(self.lengths.sum())

    def rows_per_doc(self, n_docs: Optional[int] = None) -> Ints1d:
        return numpy.bincount(self.doc_index, minlength=n_docs or 0)

    def wordpieces_per_doc(self, n_docs: Optional[int] = None) -> Ints1d:
        return numpy.bincount(self.doc_index, weights=self.lengths, minlength=n_docs or 0).astype("int64")

    def select(self, docs: Sequence[int]) -> "WordpieceBatch":
        """The rows of some docs, in the order given, as a batch of their own:
        docs renumbered from 0, padding trimmed to the longest row kept. What
        a component that tokenized a whole batch once passes to each forward
        pass over part of it. Each doc's rows must be consecutive, in doc
        order (as ``encode_texts`` makes them)."""
        if len(self.doc_index) > 1 and (numpy.diff(self.doc_index) < 0).any():
            raise ValueError(Errors.E168.format(doc_index=self.doc_index.tolist()[:50]))
        docs = numpy.asarray(docs, dtype="int64").reshape(-1)
        first = numpy.searchsorted(self.doc_index, docs, side="left")
        stop = numpy.searchsorted(self.doc_index, docs, side="right")
        counts = stop - first
        if len(docs):
            rows = numpy.concatenate([numpy.arange(a, b) for a, b in zip(first.tolist(), stop.tolist())])
        else:
            rows = numpy.zeros((0,), dtype="int64")
        lengths = self.lengths[rows]
        width = int(lengths.max()) if len(rows) else 0
        position = {doc: k for k, doc in enumerate(docs.tolist())}
        return WordpieceBatch(
            input_ids=self.input_ids[rows, :width],
            attention_mask=self.attention_mask[rows, :width],
            token_type_ids=self.token_type_ids[rows, :width],
            offsets=[self.offsets[row] for row in rows.tolist()],
            doc_index=numpy.repeat(numpy.arange(len(docs), dtype="int64"), counts),
            lengths=lengths,
            truncated=sorted(position[doc] for doc in self.truncated if doc in position),
            b_starts=None if self.b_starts is None else numpy.asarray(self.b_starts)[docs],
            origin=docs if self.origin is None else numpy.asarray(self.origin)[docs],
        )

    def caller_index(self, doc: int) -> int:
        """The index of this batch's doc in the batch first tokenized."""
        return doc if self.origin is None else int(self.origin[doc])


@dataclass
class EncodedDocs:
    """Docs with the wordpieces their component tokenized already (to sort,
    split or look up in its training cache): what a token-pooling model
    takes in place of the docs alone, so that the docs are tokenized once.

    docs (List[Doc]): The docs, in the batch's order.
    wordpieces (WordpieceBatch): Their wordpieces, as the model's
        ``bert_wordpieces`` layer makes them from the docs' texts.
    """

    docs: List[Doc]
    wordpieces: WordpieceBatch


@dataclass
class EncoderOutput:
    """The encoder's last hidden states with the batch they were computed from.

    wordpieces (WordpieceBatch): The encoded inputs.
    hidden (Floats3d): Hidden states, shape (rows, padded length, width).
    """

    wordpieces: WordpieceBatch
    hidden: Floats3d

    @property
    def width(self) -> int:
        return int(self.hidden.shape[-1])


def pad_rows(rows: List[List[int]], pad: int, dtype="int64") -> numpy.ndarray:
    """Pad lists of ints to a (len(rows), max_len) array."""
    width = max((len(r) for r in rows), default=0)
    out = numpy.full((len(rows), width), pad, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out
