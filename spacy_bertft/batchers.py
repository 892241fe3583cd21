"""A training batcher that groups examples of similar length, so that
dynamic padding stays small, while keeping the batch size in examples."""
import random
from itertools import islice
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, TypeVar, Union

from spacy.attrs import ORTH, SPACY
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .errors import Errors

ItemT = TypeVar("ItemT")
# A doc's text is its tokens' texts, each followed by a space where SPACY is set.
_TEXT_ATTRS = [ORTH, SPACY]
# What WordpieceLength keeps per doc beside its key's bytes: the bytes
# object's header, the int and the dict entry (about 0.1 KB).
_KEPT_LENGTH_OVERHEAD = 100


def _doc(item) -> Doc:
    return item.reference if isinstance(item, Example) else item


def _text(item) -> str:
    return _doc(item).text


def _text_length(item) -> int:
    """len(doc.text), read off the last token (doc.text joins a Token object
    per token: a long QA context's text costs the batcher more than all else
    it does)."""
    doc = _doc(item)
    if not len(doc):
        return 0
    last = doc[-1]
    return last.idx + len(last.text_with_ws)


def length_grouped_batches(
    items: Iterable[ItemT],
    *,
    size: int,
    buffer: int,
    get_length: Callable[[ItemT], int] = _text_length,
    shuffle: bool = True,
) -> Iterator[List[ItemT]]:
    """Read ``size * buffer`` items at a time, sort them by length, cut them
    into batches of ``size`` and yield those batches in random order, except
    that the first batch is the longest of the first buffer.

    items (Iterable): The examples (already shuffled by spaCy each epoch).
    size (int): Examples per batch.
    buffer (int): How many batches' worth of examples to sort together.
    get_length (Callable): Length of an item; characters of the text by default.
        One with a ``batch_lengths`` method (items -> lengths, in order) is
        asked once per chunk instead.
    shuffle (bool): Shuffle the batches of each buffer.
    YIELDS (List): Batches.
    """
    if size < 1 or buffer < 1:
        raise ValueError(Errors.E019.format(size=size, buffer=buffer))
    iterator = iter(items)
    first = True
    while True:
        chunk = list(islice(iterator, size * buffer))
        if not chunk:
            return
        many = getattr(get_length, "batch_lengths", None)
        if callable(many):
            # All of the chunk's lengths in one call (WordpieceLength: the
            # unseen texts tokenized together); a stable sort, as list.sort.
            lengths = many(chunk)
            chunk = [chunk[i] for i in sorted(range(len(chunk)), key=lengths.__getitem__)]
        else:
            chunk.sort(key=get_length)
        batches = [chunk[i : i + size] for i in range(0, len(chunk), size)]
        longest = batches[-1]
        if shuffle:
            random.shuffle(batches)
        if first:
            # The longest batch first, as group_by_length does: the allocator
            # grows to the largest shapes once and later, smaller batches
            # reuse those blocks (smallest-first fragments the heap: peak RSS
            # up 5-30% on the pair tasks).
            at = next(i for i, batch in enumerate(batches) if batch is longest)
            batches.insert(0, batches.pop(at))
            first = False
        yield from batches


@registry.batchers("spacy-bertft.length_grouped_batcher.v1")
def configure_length_grouped_batcher(
    size: int = 32, buffer: int = 50, shuffle: bool = True, get_length: Optional[Callable] = None
) -> Callable[[Iterable[ItemT]], Iterator[List[ItemT]]]:
    """Registered batcher: fixed batch size in examples, filled from a
    length-sorted buffer (Hugging Face's group_by_length, for spaCy).

    size (int): Examples per batch.
    buffer (int): Batches' worth of examples sorted together (50 by default).
    shuffle (bool): Shuffle batches within each buffer.
    get_length (Optional[Callable]): Length of an example; text length if None.
    """
    length = get_length if get_length is not None else _text_length

    def batcher(items: Iterable[ItemT]) -> Iterator[List[ItemT]]:
        return length_grouped_batches(items, size=size, buffer=buffer, get_length=length, shuffle=shuffle)

    return batcher


class WordpieceLength:
    """Length of an example in the encoder's wordpieces (special tokens
    included), each distinct doc (its tokens and spaces) tokenized once.
    Sorting by characters leaves much padding in short texts (SST-2: 35%
    more wordpieces than the texts have, against 5% sorted by wordpieces),
    so the batches are grouped by what the encoder reads, as Hugging Face's
    ``group_by_length`` does.

    A doc's length is kept under its tokens' ORTH and SPACY values, which
    fix its text: one array read, where ``doc.text`` (which the batcher
    would otherwise build for every example every epoch) makes a Token
    object per token (bench/batcher_lengths.py); the text is built only for
    a doc not seen before (kept: 16 bytes per token and about 0.1 KB, for
    each distinct doc of the corpus, up to max_bytes: past it, the lengths
    of new docs are computed and not kept, so that a corpus that makes new
    docs every epoch, as augmenters do, stops growing it there).
    ``batch_lengths`` tokenizes a chunk's unseen texts in one batch call,
    which the Rust tokenizer spreads over the cores (the batcher calls it
    once per chunk)."""

    def __init__(self, tokenizer, max_bytes: int = 2**28) -> None:
        # The Rust tokenizer itself: no Python-side batch objects, and no
        # "longer than the model's maximum" warning (lengths only sort).
        self._backend = tokenizer.backend_tokenizer
        self._backend.no_truncation()
        self._backend.no_padding()
        self._lengths: Dict[bytes, int] = {}
        self.max_bytes = max_bytes
        self.n_bytes = 0

    def __call__(self, item) -> int:
        return self.batch_lengths([item])[0]

    def batch_lengths(self, items: Sequence) -> List[int]:
        """The lengths of the items (examples or docs), in their order."""
        keys = [_doc(item).to_array(_TEXT_ATTRS).tobytes() for item in items]
        unseen: Dict[bytes, str] = {}
        for key, item in zip(keys, items):
            if key not in self._lengths and key not in unseen:
                unseen[key] = _text(item)
        if not unseen:
            return [self._lengths[key] for key in keys]
        encodings = self._backend.encode_batch(list(unseen.values()), add_special_tokens=True)
        fresh = {key: len(encoding.ids) for key, encoding in zip(unseen, encodings)}
        for key, length in fresh.items():
            cost = len(key) + _KEPT_LENGTH_OVERHEAD
            if self.n_bytes + cost > self.max_bytes:
                break
            self.n_bytes += cost
            self._lengths[key] = length
        return [self._lengths[key] if key in self._lengths else fresh[key] for key in keys]


@registry.misc("spacy-bertft.wordpiece_length.v1")
def configure_wordpiece_length(tokenizer: Union[str, Path], max_bytes: int = 2**28) -> Callable[[ItemT], int]:
    """A ``get_length`` for the length-grouped batcher: wordpieces of the
    example's text with the encoder's tokenizer. Name the encoder's model:
    ``tokenizer = ${paths.encoder}``, the variable the encoder's ``name``
    reads too (spaCy fills [training] without [components], so the batcher
    cannot point into the component's config).

    tokenizer (Union[str, Path]): Packaged name, local path or Hugging Face id.
    max_bytes (int): Host memory for the kept lengths (256 MiB by default,
        about a million SST-2 sentences); past it, new docs' lengths are
        computed each time they come.
    RETURNS (Callable): Example or Doc -> number of wordpieces.
    """
    from .layers.hf_shim import load_fast_tokenizer

    return WordpieceLength(load_fast_tokenizer(tokenizer), max_bytes=max_bytes)
