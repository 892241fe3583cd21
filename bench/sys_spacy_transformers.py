"""The spaCy peer: spacy-transformers' ``transformer`` component with a
listener into spaCy's ``textcat`` (mean pooling) or ``ner`` (the
transition-based parser), same model folder, data, batch size, schedule and
seed, trained through spaCy's loop."""
from typing import Any, Dict

from .common import Settings, model_path, total_steps, warmup_steps
from .data import TaskData

SUPPORTED = {"cls": "textcat", "ner": "ner"}

_HEAD = {
    "textcat": """
[components.textcat]
factory = "textcat"
threshold = 0.0

[components.textcat.model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = false
use_reduce_mean = true
nO = null

[components.textcat.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.textcat.model.tok2vec.pooling]
@layers = "reduce_mean.v1"
""",
    "ner": """
[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = false
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.ner.model.tok2vec.pooling]
@layers = "reduce_mean.v1"
""",
}

_CONFIG = """
[paths]
train = null
dev = null

[system]
gpu_allocator = "pytorch"
seed = {seed}

[nlp]
lang = "en"
pipeline = ["transformer", "{head}"]
batch_size = {infer_batch_size}

[components]

[components.transformer]
factory = "transformer"
max_batch_items = 4096
set_extra_annotations = {{"@annotation_setters":"spacy-transformers.null_annotation_setter.v1"}}

[components.transformer.model]
@architectures = "spacy-transformers.TransformerModel.v3"
name = "{model}"
mixed_precision = {bf16}

[components.transformer.model.get_spans]
@span_getters = "spacy-transformers.strided_spans.v1"
window = 128
stride = 96

[components.transformer.model.grad_scaler_config]

[components.transformer.model.tokenizer_config]
use_fast = true

[components.transformer.model.transformer_config]
{head_config}
[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}
max_length = 0

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
max_length = 0

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${{system.seed}}
gpu_allocator = ${{system.gpu_allocator}}
dropout = 0.1
accumulate_gradient = 1
patience = 0
max_epochs = {epochs}
max_steps = 0
eval_frequency = 1000000000

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = {batch_size}
get_length = null

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = {weight_decay}
grad_clip = 1.0
use_averages = false
eps = 1e-8

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
warmup_steps = {warmup}
total_steps = {total}
initial_rate = {lr}
"""


def build_config(settings: Settings, data: TaskData, train_path, dev_path):
    from spacy.util import load_config_from_str

    head = SUPPORTED[data.kind]
    text = _CONFIG.format(
        seed=settings.seed, head=head, infer_batch_size=settings.infer_batch_size,
        model=model_path(settings.model), bf16=str(bool(settings.bf16)).lower(),
        head_config=_HEAD[head], epochs=settings.epochs, batch_size=settings.batch_size,
        weight_decay=settings.weight_decay, lr=settings.lr,
        warmup=warmup_steps(len(data.train), settings.batch_size, settings.epochs, settings.warmup_ratio),
        total=total_steps(len(data.train), settings.batch_size, settings.epochs),
    )
    overrides = {"paths.train": str(train_path), "paths.dev": str(dev_path)}
    return load_config_from_str(text, overrides=overrides, interpolate=False)


def run(settings: Settings, data: TaskData) -> Dict[str, Any]:
    import tempfile
    from pathlib import Path

    import spacy

    from .spacy_side import predict, train_timed, write_docbins

    if data.kind not in SUPPORTED:
        raise NotImplementedError(
            f"spacy-transformers has no component for task '{settings.task}' "
            f"(it has textcat and ner: sst2 and conll)")
    use_gpu = 0 if settings.device == "cuda" else -1
    if use_gpu >= 0:
        spacy.require_gpu(0)
    with tempfile.TemporaryDirectory() as tmp:
        train_path, dev_path, _ = write_docbins(spacy.blank("en"), data, Path(tmp))
        config = build_config(settings, data, train_path, dev_path)
        nlp, train_seconds, init_seconds, n_steps = train_timed(config, use_gpu=use_gpu)
    if settings.save_dir:
        Path(settings.save_dir).mkdir(parents=True, exist_ok=True)
        nlp.to_disk(Path(settings.save_dir) / "spacy-transformers")
    pred = predict(nlp, data.kind, data.eval, settings.infer_batch_size, cuda=use_gpu >= 0)
    return {
        "train_seconds": train_seconds,
        "init_seconds": init_seconds,
        "steps": n_steps,
        "infer_seconds": pred["seconds"],
        "predictions": pred["predictions"],
        "extra_predictions": {k: v for k, v in pred.items() if k.startswith("predictions_")},
    }
