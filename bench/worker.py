"""One system's whole benchmark (training, evaluation, inference) in its own
process, so that its peak RSS is its own. Called by run.py:

    python bench/worker.py SYSTEM SETTINGS_JSON_FILE OUT_JSON_FILE
"""
import sys
import traceback
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Settings, peak_rss_mb, seed_everything, write_json  # noqa: E402
from bench.data import load_task  # noqa: E402
from bench.metrics import HEADLINE, task_scores  # noqa: E402

SYSTEMS = ("bertft", "hf", "hf-grouped", "spacy-transformers", "torch")
EXIT_UNAVAILABLE = 3


def _jsonable(predictions):
    return [sorted(p) if isinstance(p, set) else p for p in predictions]


def count_qa_features(settings: Settings, data) -> int:
    from transformers import AutoTokenizer

    from bench.common import clamp_max_length, model_path
    from bench.features import encode_qa_train

    tokenizer = AutoTokenizer.from_pretrained(model_path(settings.model), use_fast=True)
    settings = clamp_max_length(settings, tokenizer)
    return len(encode_qa_train(tokenizer, data.train, settings.max_length, settings.stride))


def run_system(system: str, settings: Settings) -> dict:
    seed_everything(settings.seed)
    data = load_task(settings.task, settings.data_dir, settings.n_train, settings.n_eval)
    profile_steps = int(settings.extra.get("profile_steps", 0))
    if system == "bertft":
        from bench import sys_bertft

        result = sys_bertft.run(settings, data, profile_steps=profile_steps)
        if profile_steps:
            return result
    elif system in ("hf", "hf-grouped"):
        from bench import sys_hf

        result = sys_hf.run(settings, data, group_by_length=system == "hf-grouped")
    elif system == "spacy-transformers":
        from bench import sys_spacy_transformers

        result = sys_spacy_transformers.run(settings, data)
    elif system == "torch":
        from bench import sys_torch

        result = sys_torch.run(settings, data)
    else:
        raise ValueError(f"Unknown system {system!r}: use one of {', '.join(SYSTEMS)}")
    from bench.spacy_side import gold_for

    gold = gold_for(data.kind, data.eval)
    scores = task_scores(settings.task, result["predictions"], gold, data.positive_label)
    metric = HEADLINE[settings.task]
    n_train, n_eval = len(data.train), len(data.eval)
    out = {
        "metric": metric,
        "score": scores[metric],
        "train_ex_per_s": n_train * settings.epochs / result["train_seconds"],
        "infer_ex_per_s": n_eval / result["infer_seconds"],
        "peak_rss_mb": peak_rss_mb(),
        "scores": scores,
        "n_train": n_train,
        "n_eval": n_eval,
    }
    for key, value in result.items():
        if key not in ("predictions", "extra_predictions"):
            out[key] = value
    if data.kind == "qa":
        # Windows (features) per second, counted the same way for every system:
        # run_qa's windows of the training questions.
        n_features = result.get("train_features") or count_qa_features(settings, data)
        out["train_features"] = n_features
        out["train_features_per_s"] = n_features * settings.epochs / result["train_seconds"]
    for key, preds in result.get("extra_predictions", {}).items():
        suffix = key[len("predictions_"):]
        out[f"scores_{suffix}"] = task_scores(settings.task, preds, gold, data.positive_label)
    out["predictions"] = _jsonable(result["predictions"])
    return out


def main(argv) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    system, settings_file, out_file = argv[1:]
    settings = Settings.from_json(Path(settings_file).read_text(encoding="utf8"))
    from bench.sys_bertft import ComponentMissing

    try:
        result = run_system(system, settings)
    except (ComponentMissing, NotImplementedError) as err:
        write_json(out_file, {"status": "unavailable", "error": str(err)})
        print(f"{system}: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except Exception as err:  # reported to the parent, which carries on with the other systems
        write_json(out_file, {"status": "failed", "error": f"{type(err).__name__}: {err}",
                              "traceback": traceback.format_exc()})
        raise
    result["status"] = "ok"
    write_json(out_file, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
