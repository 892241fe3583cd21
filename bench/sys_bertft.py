"""This plugin's system: the component trained through spaCy's training loop
from the shipped ``configs/<task>.cfg``, with the benchmark's settings as
overrides, exactly as ``spacy train`` runs it."""
import tempfile
from pathlib import Path
from typing import Any, Dict

from .common import (ROOT, TASK_CONFIG, TASK_FACTORY, Settings, model_path, total_steps,
                     warmup_steps)
from .data import TaskData


class ComponentMissing(RuntimeError):
    """The component (or its config) of a task is not in the package yet."""


def config_path(settings: Settings) -> Path:
    return Path(settings.config) if settings.config else ROOT / "configs" / TASK_CONFIG[settings.task]


def check_available(settings: Settings) -> None:
    import spacy
    from spacy.language import Language

    spacy.blank("en")  # loads the entry points of installed plugins
    factory = TASK_FACTORY[settings.task]
    path = config_path(settings)
    missing = []
    if not Language.has_factory(factory):
        missing.append(f"the factory '{factory}' is not registered (is spacy-bertft installed "
                       f"with `pip install -e .`, and does it ship {factory} yet?)")
    if not path.exists():
        missing.append(f"the config {path} does not exist")
    if missing:
        raise ComponentMissing(f"bertft cannot run task '{settings.task}': " + "; ".join(missing))


def build_config(settings: Settings, data: TaskData, train_path: Path, dev_path: Path,
                 *, max_steps: int = 0):
    """configs/<task>.cfg with the benchmark's settings as overrides."""
    from spacy.util import load_config

    path = config_path(settings)
    base = load_config(path, interpolate=False)
    name = base["nlp"]["pipeline"][0]
    model_cfg = base["components"][name]["model"]
    steps = total_steps(len(data.train), settings.batch_size, settings.epochs)
    overrides: Dict[str, Any] = {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "system.seed": settings.seed,
        "training.seed": settings.seed,
        "training.max_epochs": settings.epochs if not max_steps else 0,
        "training.max_steps": max_steps,
        "training.eval_frequency": 10**9,
        "training.patience": 0,
        "training.batcher.size": settings.batch_size,
        "training.optimizer.learn_rate.initial_rate": settings.lr,
        "training.optimizer.learn_rate.warmup_steps": warmup_steps(
            len(data.train), settings.batch_size, settings.epochs, settings.warmup_ratio),
        "training.optimizer.learn_rate.total_steps": steps,
        "training.optimizer.L2": settings.weight_decay,
        "training.optimizer.L2_is_weight_decay": True,
        "training.logger.progress_bar": False,
    }
    # The shipped configs name the encoder once, in [paths] (model and batcher);
    # a config without that variable names it in the component.
    if "encoder" in base.get("paths", {}):
        overrides["paths.encoder"] = model_path(settings.model)
    else:
        overrides[f"components.{name}.model.encoder.name"] = model_path(settings.model)
    if "max_length" in model_cfg:
        overrides[f"components.{name}.model.max_length"] = settings.max_length
    if settings.task == "squad":
        for key in ("stride", "doc_stride"):
            if key in model_cfg:
                overrides[f"components.{name}.model.{key}"] = settings.stride
    if settings.pooling:
        overrides[f"components.{name}.model.pooling"] = settings.pooling
    if settings.bf16 and settings.device == "cuda":
        overrides[f"components.{name}.model.encoder.mixed_precision"] = True
        overrides[f"components.{name}.model.encoder.amp_dtype"] = "bfloat16"
    elif settings.bf16:
        overrides[f"components.{name}.model.encoder.cpu_bf16"] = True
    for key, value in settings.extra.get("component_settings", {}).items():
        overrides[f"components.{name}.{key}"] = value
    return load_config(path, overrides=overrides, interpolate=False), name, overrides


def run(settings: Settings, data: TaskData, *, profile_steps: int = 0) -> Dict[str, Any]:
    import spacy

    from .common import peak_rss_mb
    from .spacy_side import ANSWERS_KEY, peak_rss_growth, predict, train_timed, write_docbins

    check_available(settings)
    use_gpu = 0 if settings.device == "cuda" else -1
    if use_gpu >= 0:
        spacy.require_gpu(0)
    with tempfile.TemporaryDirectory() as tmp:
        nlp0 = spacy.blank("en")
        train_path, dev_path, doc_stats = write_docbins(nlp0, data, Path(tmp))
        config, name, overrides = build_config(settings, data, train_path, dev_path, max_steps=profile_steps)
        if profile_steps:
            return _profile(config, use_gpu, profile_steps)
        nlp, train_seconds, init_seconds, n_steps = train_timed(
            config, use_gpu=use_gpu, malloc_trim_every=int(settings.extra.get("malloc_trim_every", 0)))
    # Where the peak comes from: training (and at which step it grew) or prediction.
    memory = {"train_peak_rss_mb": peak_rss_mb(), "peak_rss_growth": peak_rss_growth()}
    if settings.save_dir:
        Path(settings.save_dir).mkdir(parents=True, exist_ok=True)
        nlp.to_disk(Path(settings.save_dir) / "bertft")
    pipe = nlp.get_pipe(name)
    answers_key = pipe.cfg.get("answers_key") or ANSWERS_KEY
    # Model batches of infer_batch_size, as the peers use; nlp.pipe hands the
    # component nlp.batch_size docs at a time, which it sorts by length into
    # those sub-batches (what users get from the config's defaults).
    pipe.cfg["predict_batch_size"] = settings.infer_batch_size
    pred = predict(nlp, data.kind, data.eval, max(settings.infer_batch_size, nlp.batch_size),
                   answers_key=answers_key, cuda=use_gpu >= 0)
    return {
        "train_seconds": train_seconds,
        "init_seconds": init_seconds,
        "steps": n_steps,
        "infer_seconds": pred["seconds"],
        "predictions": pred["predictions"],
        "extra_predictions": {k: v for k, v in pred.items() if k.startswith("predictions_")},
        "config": str(config_path(settings)),
        "overrides": {k: v for k, v in overrides.items() if not k.startswith("paths.")},
        "doc_stats": doc_stats,
        **memory,
    }


def _profile(config, use_gpu: int, steps: int) -> Dict[str, Any]:
    """cProfile over spaCy's training loop for a few steps."""
    import cProfile
    import io
    import pstats

    from .spacy_side import train_timed

    profiler = cProfile.Profile()
    _, seconds, _, n_steps = train_timed(config, use_gpu=use_gpu, profiler=profiler)
    report = {}
    for key in ("tottime", "cumulative"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(key).print_stats(30)
        report[key] = stream.getvalue()
    return {"profile": report, "profile_steps": n_steps, "profile_seconds": seconds}
