"""A training corpus reader: spaCy's ``Corpus`` that leaves the docs'
``user_data`` out unless asked.

``python -m spacy_bertft convert`` keeps each doc's source file and line,
id and group in ``doc.user_data`` (``augment`` and the dev split read them).
Training never does, but spaCy's DocBin decodes every doc's user_data with
``srsly.msgpack_loads``, which looks srsly's msgpack decoders up through the
installed packages' entry points once per doc: 0.258 against 0.031 ms per
example over 8,000 SST-2 docs (``bench/docbin_read.py``), a fifth of a
training step on a GPU.

Span groups (the segments of pair and QA docs, QA's answers) are decoded the
same way, twice per group: the reader looks the decoders up once per file
and hands srsly that result while it decodes a doc. MRPC's training docs, per
example with ``make_doc``: 0.119 ms against spaCy's reader's 0.587 ms (their
user_data left out too) and 0.851 ms (``bench/docbin_read.py --task mrpc``).
"""
import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, Optional, Union

from spacy import util
from srsly.msgpack import msgpack_decoders
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus as SpacyCorpus
from spacy.training import Example
from spacy.vocab import Vocab

from .errors import Errors

if TYPE_CHECKING:
    from spacy.language import Language


class Corpus(SpacyCorpus):
    """spaCy's ``Corpus`` over ``.spacy`` files (limit, max_length,
    gold_preproc, augmenter and shuffle as there), reading each doc's
    ``user_data`` only with ``user_data=True``."""

    def __init__(self, path: Union[str, Path], *, user_data: bool = False, **kwargs):
        super().__init__(path, **kwargs)
        self.user_data = user_data

    def read_docbin(self, vocab: Vocab, locs: Iterable[Union[str, Path]]) -> Iterator[Doc]:
        """The non-empty docs of the .spacy files; ``limit`` counts them over
        all files (spaCy's own reader applies it per file)."""
        n_docs = 0
        for loc in locs:
            loc = util.ensure_path(loc)
            if not loc.name.endswith(".spacy"):
                continue
            doc_bin = DocBin().from_disk(loc)
            if not self.user_data:
                # get_docs decodes the entries that are not None (what
                # from_bytes sets for a file saved without user data).
                doc_bin.user_data = [None] * len(doc_bin)
            for doc in _decoded_once(doc_bin.get_docs(vocab), msgpack_decoders.get_all()):
                if not len(doc):
                    continue
                yield doc
                n_docs += 1
                if 0 < self.limit <= n_docs:
                    return


def _decoded_once(docs: Iterator[Doc], decoders: Dict[str, Any]) -> Iterator[Doc]:
    """The docs of a DocBin, each decoded while srsly's msgpack decoder
    registry answers with decoders (looked up beforehand) instead of scanning
    the installed packages' entry points at every call; restored between docs,
    so that the code consuming them sees the registry as it is."""
    while True:
        with _registry_answering(msgpack_decoders, decoders):
            doc = next(docs, None)
        if doc is None:
            return
        yield doc


_SHADOWING = threading.Lock()


@contextlib.contextmanager
def _registry_answering(registry, found: Dict[str, Any]):
    # One reader at a time shadows the registry (readers in other threads
    # wait for the doc being decoded), and restores what it found.
    with _SHADOWING:
        shadowed = registry.__dict__.get("get_all")
        registry.get_all = lambda: found
        try:
            yield
        finally:
            if shadowed is None:
                del registry.get_all
            else:
                registry.get_all = shadowed


@util.registry.readers("spacy-bertft.Corpus.v1")
def create_corpus_reader(
    path: Optional[Union[str, Path]],
    gold_preproc: bool = False,
    max_length: int = 0,
    limit: int = 0,
    augmenter: Optional[Callable] = None,
    shuffle: bool = False,
    user_data: bool = False,
) -> Callable[["Language"], Iterable[Example]]:
    """spaCy's ``spacy.Corpus.v1`` with ``shuffle`` and ``user_data``
    (default False: the docs' user_data is not decoded, see this module)."""
    if path is None:
        raise ValueError(Errors.E025)
    return Corpus(path, gold_preproc=gold_preproc, max_length=max_length, limit=limit,
                  augmenter=augmenter, shuffle=shuffle, user_data=user_data)
