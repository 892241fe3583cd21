"""What the two spaCy systems (this plugin and spacy-transformers) share:
benchmark examples as DocBin training data, training through spaCy's own
loop with a step clock, and predictions read back from docs."""
import io
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.util import registry

from .data import ClsExample, NerSentence, PairExample, QAExample, TaskData

ANSWERS_KEY = "answers"
_STEP_TIMES: List[float] = []
# The process's peak RSS (MB) when each step starts: where in training the
# peak grows (one getrusage call a step).
_STEP_PEAKS: List[float] = []


@registry.callbacks("spacy-bertft-bench.step_clock.v1")
def make_step_clock(malloc_trim_every: int = 0):
    """``[training.before_update]`` callback: records when each step starts,
    and the peak RSS so far. ``malloc_trim_every`` > 0 (diagnosis): glibc's
    ``malloc_trim(0)`` every that many steps, handing free heap pages back."""
    from .common import peak_rss_mb

    trim = None
    if malloc_trim_every > 0:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim

    def before_update(nlp: Language, args: Dict[str, Any]) -> None:
        if trim is not None and _STEP_TIMES and len(_STEP_TIMES) % malloc_trim_every == 0:
            trim(0)
        _STEP_TIMES.append(time.perf_counter())
        _STEP_PEAKS.append(peak_rss_mb())

    return before_update


def peak_rss_growth(min_step_mb: float = 50.0) -> List[Tuple[int, int]]:
    """(step, peak RSS MB) at the first step and wherever the peak grew by at
    least min_step_mb since the last entry, over the last training run."""
    growth: List[Tuple[int, int]] = []
    for step, peak in enumerate(_STEP_PEAKS):
        if not growth or peak - growth[-1][1] >= min_step_mb:
            growth.append((step, int(peak)))
    return growth


def cats_for(label: str, labels: Sequence[str]) -> Dict[str, float]:
    return {name: float(name == label) for name in labels}


def words_doc(nlp: Language, words: Sequence[str]) -> Doc:
    """A doc over gold (CoNLL) words, whose text is the words joined by spaces."""
    return Doc(nlp.vocab, words=list(words), spaces=[True] * (len(words) - 1) + [False])


def training_doc(nlp: Language, item, labels: Sequence[str], stats: Dict[str, int]) -> Doc:
    """The reference doc of one benchmark example, as a user would convert it."""
    from spacy_bertft import pair_doc, qa_doc

    if isinstance(item, ClsExample):
        doc = nlp.make_doc(item.text)
        doc.cats = cats_for(item.label, labels)
    elif isinstance(item, PairExample):
        doc = pair_doc(nlp, item.text_a, item.text_b)
        doc.cats = cats_for(item.label, labels)
    elif isinstance(item, NerSentence):
        doc = words_doc(nlp, item.words)
        doc.ents = [Span(doc, s, e, label=label) for s, e, label in item.spans]
    elif isinstance(item, QAExample):
        doc = qa_doc(nlp, item.question, item.context)
        b_start = len(doc.text) - len(item.context)
        # Trained on the first gold answer, as run_qa does.
        text, start = item.answers[0]
        span = doc.char_span(b_start + start, b_start + start + len(text), label="answer")
        if span is None:
            span = doc.char_span(b_start + start, b_start + start + len(text), label="answer",
                                 alignment_mode="expand")
            stats["answers_expanded"] = stats.get("answers_expanded", 0) + 1
        doc.spans[ANSWERS_KEY] = [span]
    else:
        raise TypeError(f"Unknown benchmark item {type(item).__name__}")
    return doc


def write_docbins(nlp: Language, data: TaskData, folder: Path, *, n_dev: int = 8) -> Tuple[Path, Path, Dict]:
    """train.spacy (all training examples) and dev.spacy (the first ``n_dev``
    eval examples: the loop evaluates once, at step 0, on it; the real
    evaluation follows training)."""
    stats: Dict[str, int] = {}
    train, dev = DocBin(store_user_data=True), DocBin(store_user_data=True)
    for item in data.train:
        train.add(training_doc(nlp, item, data.labels, stats))
    for item in data.eval[:n_dev]:
        dev.add(training_doc(nlp, item, data.labels, stats))
    folder.mkdir(parents=True, exist_ok=True)
    train.to_disk(folder / "train.spacy")
    dev.to_disk(folder / "dev.spacy")
    return folder / "train.spacy", folder / "dev.spacy", stats


def train_timed(config, *, use_gpu: int = -1, quiet: bool = True, profiler=None, malloc_trim_every: int = 0):
    """Initialize and train a pipeline with spaCy's training loop (what
    ``spacy train`` runs). RETURNS: (nlp, train seconds from the first step's
    start to the end of the loop, init seconds, number of steps). A
    ``profiler`` (cProfile.Profile) is enabled around the loop only."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train

    config = config.copy()
    config["training"]["before_update"] = {"@callbacks": "spacy-bertft-bench.step_clock.v1",
                                           "malloc_trim_every": malloc_trim_every}
    t0 = time.perf_counter()
    nlp = init_nlp(config, use_gpu=use_gpu)
    init_seconds = time.perf_counter() - t0
    _STEP_TIMES.clear()
    _STEP_PEAKS.clear()
    out = io.StringIO() if quiet else None
    kwargs = {"stdout": out, "stderr": out} if quiet else {}
    if profiler is not None:
        profiler.enable()
    train(nlp, None, use_gpu=use_gpu, **kwargs)
    if profiler is not None:
        profiler.disable()
    if use_gpu >= 0:
        import torch

        torch.cuda.synchronize()
    end = time.perf_counter()
    if not _STEP_TIMES:
        raise RuntimeError("spaCy's training loop ran no step: check the training data and max_epochs")
    return nlp, end - _STEP_TIMES[0], init_seconds, len(_STEP_TIMES)


def inputs_for(nlp: Language, kind: str, items: Sequence) -> list:
    """What a user passes to ``nlp.pipe`` for each example: texts, or pair /
    QA docs made with the plugin's helpers, or texts of CoNLL sentences."""
    from spacy_bertft import pair_doc, qa_doc

    if kind == "cls":
        return [x.text for x in items]
    if kind == "pair":
        return [pair_doc(nlp, x.text_a, x.text_b) for x in items]
    if kind == "ner":
        return [x.text for x in items]
    if kind == "qa":
        return [qa_doc(nlp, x.question, x.context) for x in items]
    raise ValueError(f"Unknown task kind {kind!r}")


def predictions_from_docs(kind: str, docs: Sequence[Doc], answers_key: str = ANSWERS_KEY) -> list:
    """Labels (argmax of doc.cats), entity char spans, or the best answer text."""
    if kind in ("cls", "pair"):
        return [max(doc.cats, key=doc.cats.get) if doc.cats else None for doc in docs]
    if kind == "ner":
        return [{(e.start_char, e.end_char, e.label_) for e in doc.ents} for doc in docs]
    if kind == "qa":
        out = []
        for doc in docs:
            group = doc.spans.get(answers_key)
            out.append(group[0].text if group is not None and len(group) else "")
        return out
    raise ValueError(f"Unknown task kind {kind!r}")


def gold_for(kind: str, items: Sequence) -> list:
    if kind in ("cls", "pair"):
        return [x.label for x in items]
    if kind == "ner":
        return [set(x.char_spans()) for x in items]
    if kind == "qa":
        return [[text for text, _ in x.answers] for x in items]
    raise ValueError(f"Unknown task kind {kind!r}")


def predict(nlp: Language, kind: str, items: Sequence, batch_size: int,
            answers_key: str = ANSWERS_KEY, cuda: bool = False) -> Dict[str, Any]:
    """Run ``nlp.pipe`` over the eval examples (timed, input construction
    included) and read the predictions. For NER also over docs of the gold
    words (the CoNLL protocol), which gives the reported score."""
    from .common import Timer

    with Timer(cuda) as timer:
        inputs = inputs_for(nlp, kind, items)
        docs = list(nlp.pipe(inputs, batch_size=batch_size))
    result = {"seconds": timer.seconds, "predictions": predictions_from_docs(kind, docs, answers_key)}
    if kind == "ner":
        result["predictions_spacy_tokens"] = result["predictions"]
        gold_docs = list(nlp.pipe((words_doc(nlp, x.words) for x in items), batch_size=batch_size))
        result["predictions"] = predictions_from_docs(kind, gold_docs)
    return result
