"""Typed batches passed between the layers of the architectures."""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy
from thinc.types import Floats3d, Ints1d, Ints2d


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
    """

    input_ids: Ints2d
    attention_mask: Ints2d
    token_type_ids: Ints2d
    offsets: List[Ints2d]
    doc_index: Ints1d
    lengths: Ints1d
    truncated: List[int] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def n_wordpieces(self) -> int:
        return int(self.lengths.sum())


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


def empty_offsets() -> numpy.ndarray:
    return numpy.zeros((0, 2), dtype="int64")


def as_offsets(pairs: Optional[List]) -> numpy.ndarray:
    if not pairs:
        return empty_offsets()
    return numpy.asarray(pairs, dtype="int64").reshape(-1, 2)
