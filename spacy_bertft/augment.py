"""Label-preserving data augmentation: synonym substitution and EDA's other
edits (swap, insert, delete).

Two synonym sources:

- ``WordNetSynonyms`` reads the Princeton WordNet files through nltk (Debian's
  ``wordnet-base`` in /usr/share/wordnet, nltk's ``wordnet`` corpus, or a
  directory given); nothing is downloaded.
- ``EmbeddingNeighbours`` needs no data: the nearest neighbours of a word in
  an encoder's input (wordpiece) embedding matrix, among whole-word
  wordpieces only.

``augment_docs`` makes up to ``max_copies`` copies of each doc, each with
one edit applied to a few of its content words. The copies keep the doc's
categories, sentence boundaries, span groups and entities (moved with their
tokens when a word is inserted or deleted): entity tokens, stop words and
negations are never edited, and a pair's two texts never exchange words.
Every copy records
its source doc's id in ``doc.user_data["bertft_source_id"]``. Docs marked as
dev data and QA docs are refused.
"""
import io
import os
import random
import warnings
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc, Span, SpanGroup

from .errors import Errors, Warnings
from .readers._util import AUGMENTED_KEY, ID_KEY, SOURCE_ID_KEY, SPLIT_KEY
from .segments import SEGMENTS_KEY
from .util import DEFAULT_MODEL, resolve_model_name

SOURCES = ("wordnet", "embeddings")
EDITS = ("synonym", "swap", "insert", "delete")
# Never edited, whatever the stop word list says: they flip a sentiment or an
# entailment.
NEGATIONS = frozenset(
    "not no never n't nor neither nobody nothing none nowhere without hardly barely scarcely cannot".split())
WORDNET_DIRS = ("/usr/share/wordnet", "/usr/local/WordNet-3.0/dict", "/usr/share/wordnet/dict")
QA_KEY = "answers"
# The 45 lexicographer files of WordNet 3.0 (the lexnames(5WN) table). nltk
# needs this file; Debian's wordnet-base does not ship it.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_LEXNAME_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def find_wordnet_dir(path: Optional[Union[str, Path]] = None) -> Path:
    """The directory of the Princeton WordNet files (``data.noun``, ...).

    path (Optional[Union[str, Path]]): A directory to use; None: the
        ``WNSEARCHDIR`` environment variable, nltk's ``corpora/wordnet`` in its
        data path, then the usual system directories.
    RETURNS (Path): The directory.
    """
    candidates: List[Path] = []
    if path is not None:
        candidates.append(Path(path))
    else:
        if os.environ.get("WNSEARCHDIR"):
            candidates.append(Path(os.environ["WNSEARCHDIR"]))
        try:
            import nltk.data

            candidates.extend(Path(str(p)) / "corpora" / "wordnet" for p in nltk.data.path)
        except ImportError:
            pass
        candidates.extend(Path(p) for p in WORDNET_DIRS)
    for candidate in candidates:
        if (candidate / "data.noun").is_file() and (candidate / "index.noun").is_file():
            return candidate.resolve()
    raise ValueError(Errors.E233.format(paths=", ".join(map(str, candidates))))


def load_wordnet(path: Optional[Union[str, Path]] = None):
    """Read WordNet with nltk from the Princeton files in ``path`` (see
    ``find_wordnet_dir``). nltk only opens files under its data path, so the
    directory is added to ``nltk.data.path``; a missing ``lexnames`` file is
    supplied from WordNet 3.0's fixed table.

    RETURNS (nltk.corpus.reader.wordnet.WordNetCorpusReader): The reader.
    """
    try:
        import nltk.data
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError:
        raise ValueError(Errors.E234) from None
    root = find_wordnet_dir(path)

    class PrincetonWordNet(WordNetCorpusReader):
        def open(self, file):
            if file == "lexnames" and not (root / "lexnames").exists():
                return io.StringIO("".join(
                    f"{i:02d}\t{name}\t{_LEXNAME_POS[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES)
                ))
            return super().open(file)

        def map_wn(self, version="wordnet"):
            # Mapping between WordNet versions serves nltk's multilingual
            # data (and needs index.sense); English lemmas need none of it.
            return None

    if str(root) not in map(str, nltk.data.path):
        nltk.data.path.append(str(root))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions")
        try:
            return PrincetonWordNet(str(root), None)
        except (OSError, ValueError) as e:
            raise ValueError(Errors.E239.format(path=root, err=e)) from None


class WordNetSynonyms:
    """Synonyms of a word: the other single-word lemmas of the first
    ``max_senses`` WordNet synsets in which the word itself is a lemma (so an
    inflected form is left alone rather than replaced by a base form)."""

    name = "wordnet"

    def __init__(self, path: Optional[Union[str, Path]] = None, *, max_senses: int = 3) -> None:
        self.wordnet = load_wordnet(path)
        self.max_senses = max_senses
        self._cache: Dict[str, List[str]] = {}

    def __call__(self, word: str) -> List[str]:
        key = word.lower()
        if key not in self._cache:
            out: List[str] = []
            synsets = [s for s in self.wordnet.synsets(key) if key in (n.lower() for n in s.lemma_names())]
            for synset in synsets[: self.max_senses]:
                for name in synset.lemma_names():
                    if name.isalpha() and name.lower() != key and name.lower() not in out:
                        out.append(name.lower())
            self._cache[key] = out
        return self._cache[key]


class EmbeddingNeighbours:
    """Synonym candidates from an encoder's own wordpiece embeddings: the
    ``top_k`` whole-word wordpieces nearest (cosine) to the word's wordpiece,
    above ``min_similarity``. Words that are not one whole-word wordpiece get
    none. Neighbours that extend or shorten the word (``film``/``films``) are
    left out: they are inflections, not synonyms."""

    name = "embeddings"

    def __init__(self, model: str = DEFAULT_MODEL, *, top_k: int = 5, min_similarity: float = 0.5,
                 min_length: int = 3) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = resolve_model_name(model)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        encoder = AutoModel.from_pretrained(path)
        matrix = encoder.get_input_embeddings().weight.detach().float().cpu().numpy()
        del encoder
        special = set(self.tokenizer.all_special_tokens)
        vocab = self.tokenizer.get_vocab()
        self.words = [w for w, i in sorted(vocab.items(), key=lambda x: x[1])
                      if w.isalpha() and w not in special and len(w) >= min_length and i < len(matrix)]
        if not self.words:
            raise ValueError(Errors.E237.format(model=model, n=len(vocab)))
        self.index = {w: j for j, w in enumerate(self.words)}
        vectors = matrix[[vocab[w] for w in self.words]]
        norms = numpy.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = vectors / numpy.maximum(norms, 1e-12)
        self.top_k = top_k
        self.min_similarity = min_similarity
        self.lowercase = bool(getattr(self.tokenizer, "do_lower_case", False)) or \
            self.tokenizer.tokenize("ABC") == self.tokenizer.tokenize("abc")
        self._cache: Dict[str, List[str]] = {}

    def __call__(self, word: str) -> List[str]:
        key = word.lower() if self.lowercase else word
        if key not in self._cache:
            j = self.index.get(key)
            out: List[str] = []
            if j is not None:
                sims = self.vectors @ self.vectors[j]
                for k in numpy.argsort(-sims):
                    if len(out) >= self.top_k or sims[k] < self.min_similarity:
                        break
                    cand = self.words[k]
                    if k == j or cand.startswith(key) or key.startswith(cand):
                        continue
                    out.append(cand)
            self._cache[key] = out
        return self._cache[key]


@dataclass
class AugmentReport:
    """What ``augment_docs`` did."""

    source: str
    docs_read: int = 0
    originals_written: int = 0
    copies_written: int = 0
    docs_without_copy: int = 0
    skipped_dev: int = 0
    words_replaced: int = 0
    entity_tokens_kept: int = 0
    label_counts: Dict[str, int] = field(default_factory=dict)
    edit_counts: Dict[str, int] = field(default_factory=dict)
    examples: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict:
        return asdict(self)


def check_edits(edits: Union[str, Sequence[str]]) -> List[str]:
    """The edits as a list (a string is split at commas); an unknown or no
    edit is a clear error.

    edits (Union[str, Sequence[str]]): E.g. ["synonym", "swap"] or "synonym,swap".
    RETURNS (List[str]): The edits.
    """
    if isinstance(edits, str):
        edits = [e.strip() for e in edits.split(",") if e.strip()]
    edits = list(edits)
    unknown = [e for e in edits if e not in EDITS]
    if unknown or not edits:
        raise ValueError(Errors.E209.format(what="edit", value=",".join(unknown) or "(none)",
                                            options=", ".join(EDITS)))
    return edits


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


# A slot of an edited copy: (index of the original token or None for an
# inserted word, text, trailing space).
Slot = Tuple[Optional[int], str, bool]


def _slots(doc: Doc) -> List[Slot]:
    return [(t.i, t.text, bool(t.whitespace_)) for t in doc]


def _build_doc(doc: Doc, slots: List[Slot]) -> Doc:
    """The doc that ``slots`` spell, with everything else of doc: categories,
    user data, sentence starts, tags, entities and span groups (moved to the
    new token positions; an inserted word is outside entities and inside any
    span that holds the tokens on both sides of it)."""
    old = [o for o, _, _ in slots]
    new = Doc(
        doc.vocab,
        words=[w for _, w, _ in slots],
        spaces=[sp for _, _, sp in slots],
        sent_starts=[o is not None and bool(doc[o].is_sent_start) for o in old]
        if doc.has_annotation("SENT_START") else None,
        tags=[doc[o].tag_ if o is not None else "" for o in old] if doc.has_annotation("TAG") else None,
        ents=[_iob(doc[o]) if o is not None else "O" for o in old] if doc.has_annotation("ENT_IOB") else None,
    )
    new.cats = dict(doc.cats)
    position = {o: n for n, o in enumerate(old) if o is not None}
    for key, group in doc.spans.items():
        spans = []
        for span in group:
            kept = [position[i] for i in range(span.start, span.end) if i in position]
            # Span boundary tokens are never deleted, so kept is never empty.
            spans.append(Span(new, kept[0], kept[-1] + 1, label=span.label_, kb_id=span.kb_id_))
        new.spans[key] = SpanGroup(new, name=key, attrs=dict(group.attrs), spans=spans)
    new.user_data.update(doc.user_data)
    return new


def _iob(token) -> str:
    return f"{token.ent_iob_}-{token.ent_type_}" if token.ent_iob_ in ("B", "I") else token.ent_iob_


def _segment_ids(doc: Doc) -> List[int]:
    """Per token, the index of its segment (pair docs) or 0; -1 outside any
    segment (the separator)."""
    group = doc.spans[SEGMENTS_KEY] if SEGMENTS_KEY in doc.spans else None
    if not group:
        return [0] * len(doc)
    ids = [-1] * len(doc)
    for k, span in enumerate(group):
        for i in range(span.start, span.end):
            ids[i] = k
    return ids


def _span_edges(doc: Doc) -> Tuple[set, set]:
    """Token indices where a span (of any group, or an entity) starts, and
    where one ends (its last token)."""
    starts, lasts = set(), set()
    for group in doc.spans.values():
        for span in group:
            starts.add(span.start)
            lasts.add(span.end - 1)
    for ent in doc.ents:
        starts.add(ent.start)
        lasts.add(ent.end - 1)
    return starts, lasts


class _Editor:
    """The edits of one doc. Each method returns (slots, changes), or None
    when the doc offers no place for that edit. ``content`` holds the
    editable words: alphabetic, not stop words or negations, 3+ characters,
    outside entities; ``with_synonyms`` those with synonyms."""

    def __init__(self, doc: Doc, content: List[int], with_synonyms: List[int],
                 replacements: Callable[[str], List[str]], rng: random.Random, fraction: float) -> None:
        self.doc, self.content, self.with_synonyms = doc, content, with_synonyms
        self.replacements, self.rng = replacements, rng
        # How many words an edit touches: a share of the editable words.
        self.n_ops = max(1, round(fraction * len(content)))
        self.n_synonyms = max(1, round(fraction * len(with_synonyms)))

    @cached_property
    def segments(self) -> List[int]:
        return _segment_ids(self.doc)

    @cached_property
    def edges(self) -> Tuple[set, set]:
        return _span_edges(self.doc)

    def synonym(self):
        if not self.with_synonyms:
            return None
        doc, rng = self.doc, self.rng
        positions = sorted(rng.sample(self.with_synonyms, min(self.n_synonyms, len(self.with_synonyms))))
        slots, changes = _slots(doc), []
        for j in positions:
            new = _match_case(rng.choice(self.replacements(doc[j].text)), doc[j].text)
            changes.append(f"{doc[j].text} -> {new}")
            slots[j] = (j, new, slots[j][2])
        return slots, changes

    def swap(self):
        # Two content words of the same segment change places: a pair's two
        # texts never exchange words.
        segments = self.segments
        by_segment: Dict[int, List[int]] = {}
        for i in self.content:
            if segments[i] >= 0:
                by_segment.setdefault(segments[i], []).append(i)
        groups = [g for g in by_segment.values() if len(g) >= 2]
        if not groups:
            return None
        slots, changes = _slots(self.doc), []
        for _ in range(self.n_ops):
            i, j = sorted(self.rng.sample(self.rng.choice(groups), 2))
            (_, a, sa), (_, b, sb) = slots[i], slots[j]
            slots[i], slots[j] = (i, b, sa), (j, a, sb)
            changes.append(f"swap {a} <-> {b}")
        return slots, changes

    def insert(self):
        # A synonym of a word of the doc goes between two tokens of the same
        # segment as that word (a pair's texts stay apart), after a space,
        # never into an entity or onto the edge of a span.
        doc, segments = self.doc, self.segments
        starts, lasts = self.edges
        sources: Dict[int, List[int]] = {}
        for i in self.with_synonyms:
            sources.setdefault(segments[i], []).append(i)
        places = [p for p in range(1, len(doc))
                  if segments[p - 1] == segments[p] and segments[p] in sources and doc[p - 1].whitespace_
                  and doc[p].ent_iob_ != "I" and p not in starts and p - 1 not in lasts]
        if not places:
            return None
        inserted: Dict[int, List[str]] = {}
        changes = []
        for _ in range(self.n_ops):
            place = self.rng.choice(places)
            word = doc[self.rng.choice(sources[segments[place]])].text
            new = self.rng.choice(self.replacements(word))
            inserted.setdefault(place, []).append(new)
            changes.append(f"insert {new} (from {word})")
        slots: List[Slot] = []
        for slot in _slots(doc):
            slots.extend((None, w, True) for w in inserted.get(slot[0], []))
            slots.append(slot)
        return slots, changes

    def delete(self):
        # Content words only (negations and stop words stay), never the first
        # token, a sentence start or the edge of a span, and only words
        # followed by a space, so the text around them stays as it was.
        doc = self.doc
        starts, lasts = self.edges
        sents = doc.has_annotation("SENT_START")
        candidates = [i for i in self.content
                      if i > 0 and doc[i].whitespace_ and i not in starts and i not in lasts
                      and not (sents and doc[i].is_sent_start)]
        if not candidates:
            return None
        gone = set(self.rng.sample(candidates, min(self.n_ops, len(candidates))))
        slots = [slot for slot in _slots(doc) if slot[0] not in gone]
        return slots, [f"delete {doc[i].text}" for i in sorted(gone)]


def augment_docs(
    docs: Iterable[Doc],
    synonyms: Callable[[str], Sequence[str]],
    *,
    seed: int = 0,
    max_copies: int = 1,
    replace_fraction: float = 0.15,
    edits: Sequence[str] = ("synonym",),
    keep_originals: bool = True,
    skip_dev: bool = False,
    source_name: str = "",
    max_examples: int = 5,
) -> Tuple[List[Doc], AugmentReport]:
    """Add edited copies of classification or NER docs.

    Each copy applies one edit, drawn from ``edits``, to a share of the doc's
    editable words: "synonym" replaces words with synonyms, "swap" exchanges
    two words of the same segment, "insert" puts a synonym of one of the
    doc's words at another place, "delete" drops words (EDA's four
    operations, Wei and Zou 2019). Only content words are edited: stop words,
    negations and entity tokens never are, and a pair's texts never exchange
    words.

    docs (Iterable[Doc]): Training docs (with cats and/or entities).
    synonyms (Callable[[str], Sequence[str]]): Word -> synonym candidates.
    seed (int): Seed of the random choices.
    max_copies (int): At most this many distinct copies per doc.
    replace_fraction (float): Share of a doc's editable words edited in each
        copy (at least one).
    edits (Sequence[str]): The edits to draw from (see ``EDITS``).
    keep_originals (bool): Write the original docs too, each before its copies.
    skip_dev (bool): Leave out docs marked as dev data instead of refusing.
    source_name (str): The synonym source, for the report.
    max_examples (int): How many edits the report lists.
    RETURNS (Tuple[List[Doc], AugmentReport]): The docs and the report.
    """
    if max_copies < 0:
        raise ValueError(Errors.E235.format(what="max_copies >= 0", value=max_copies))
    if not 0.0 < replace_fraction <= 1.0:
        raise ValueError(Errors.E235.format(what="0 < replace_fraction <= 1", value=replace_fraction))
    edits = check_edits(edits)
    docs = list(docs)
    dev = [i for i, doc in enumerate(docs) if doc.user_data.get(SPLIT_KEY) == "dev"]
    if dev and not skip_dev:
        raise ValueError(Errors.E231.format(path="input", n=len(dev), first=dev[0]))
    for i, doc in enumerate(docs):
        if QA_KEY in doc.spans:
            raise ValueError(Errors.E232.format(path="input", index=i, key=QA_KEY))
    vocab = docs[0].vocab if docs else None
    cache: Dict[str, List[str]] = {}

    def _replacements(word: str) -> List[str]:
        # Stop words are never put in: a neighbour like "the" changes nothing
        # useful and can break the sentence.
        if word not in cache:
            cache[word] = [w for w in synonyms(word) if not vocab[w].is_stop and not vocab[w.lower()].is_stop]
        return cache[word]

    rng = random.Random(seed)
    report = AugmentReport(source=source_name, docs_read=len(docs), skipped_dev=len(dev))
    labels: Dict[str, int] = {}
    edit_counts: Dict[str, int] = {}
    out: List[Doc] = []
    dev_set = set(dev)
    for i, doc in enumerate(docs):
        if i in dev_set:
            continue
        source_id = str(doc.user_data.get(ID_KEY, f"doc:{i}"))
        doc.user_data[SOURCE_ID_KEY] = source_id
        if keep_originals:
            out.append(doc)
            report.originals_written += 1
        content = []
        for token in doc:
            if token.ent_iob_ in ("B", "I"):
                report.entity_tokens_kept += 1
                continue
            if token.is_alpha and not token.is_stop and len(token) >= 3 and token.lower_ not in NEGATIONS:
                content.append(token.i)
        with_synonyms = [j for j in content if _replacements(doc[j].text)]
        editor = _Editor(doc, content, with_synonyms, _replacements, rng, replace_fraction)
        seen = {doc.text}
        copies = 0
        for _ in range(max_copies * 3):
            if copies >= max_copies:
                break
            # The drawn edit first, then the others, until one fits the doc.
            order = rng.sample(edits, len(edits)) if len(edits) > 1 else edits
            edited = None
            for name in order:
                edited = getattr(editor, name)()
                if edited is not None:
                    break
            if edited is None:
                break
            slots, changes = edited
            copy = _build_doc(doc, slots)
            if copy.text in seen:
                continue
            seen.add(copy.text)
            copies += 1
            copy.user_data[SOURCE_ID_KEY] = source_id
            copy.user_data[ID_KEY] = f"{source_id}#aug{copies}"
            copy.user_data[AUGMENTED_KEY] = copies
            out.append(copy)
            report.copies_written += 1
            edit_counts[name] = edit_counts.get(name, 0) + 1
            if name == "synonym":
                report.words_replaced += len(changes)
            for label, value in copy.cats.items():
                if value >= 0.5:
                    labels[label] = labels.get(label, 0) + 1
            if len(report.examples) < max_examples:
                report.examples.append(f"doc {i} ({name}): " + ", ".join(changes))
        if copies == 0:
            report.docs_without_copy += 1
    report.label_counts = dict(sorted(labels.items()))
    report.edit_counts = dict(sorted(edit_counts.items()))
    if report.docs_without_copy and max_copies:
        warnings.warn(Warnings.W201.format(n=report.docs_without_copy, total=len(docs) - len(dev),
                                           edits=", ".join(edits), source=source_name or "given"))
    return out, report
