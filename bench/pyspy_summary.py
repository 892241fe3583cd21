"""Where the host's time goes in a training loop, from py-spy's collapsed
stacks (``py-spy record --format raw``, as ``bench/gpu_check.sh`` with
PYSPY=1 writes them, gzipped or not): the share of the samples inside the
loop's function that each frame is on the stack for (inclusive), main thread.

    python bench/pyspy_summary.py pyspy-qa-bertft.txt.gz --root train_while_improving
    python bench/pyspy_summary.py pyspy-qa-trainer.txt.gz --root _inner_training_loop
"""
import argparse
import gzip
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple


def read_stacks(path: Path) -> Iterable[Tuple[List[str], int]]:
    """(frames from the outermost, samples) per line of a collapsed-stack file."""
    opener = gzip.open if path.suffix == ".gz" else open
    pending = ""  # a frame's name can hold a newline (code compiled from a string)
    with opener(path, "rt", encoding="utf8") as f:
        for number, line in enumerate(f, 1):
            line = pending + line.rstrip("\n")
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                pending = line + "\\n"
                continue
            pending = ""
            yield stack.split(";"), int(count)
    if pending.strip():
        raise ValueError(f"{path}: ends inside a stack with no sample count: {pending[-120:]!r}")


def inclusive_shares(stacks: Iterable[Tuple[List[str], int]], root: str) -> Tuple[int, Dict[str, int]]:
    """Samples whose stack passes through a frame named root, and per frame
    (function and file, line numbers dropped) the samples it is on."""
    total = 0
    counts: Counter = Counter()
    for frames, n in stacks:
        if not any(root in frame for frame in frames):
            continue
        total += n
        for key in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
            counts[key] += n
    return total, dict(counts)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stacks", type=Path)
    p.add_argument("--root", default="train_while_improving", help="the loop's function name")
    p.add_argument("--top", type=int, default=60)
    p.add_argument("--match", default="", help="only frames matching this regular expression")
    args = p.parse_args(argv)
    total, counts = inclusive_shares(read_stacks(args.stacks), args.root)
    if not total:
        print(f"no sample passes through {args.root!r} in {args.stacks}", file=sys.stderr)
        return 1
    print(f"{total} samples inside {args.root} ({args.stacks.name})")
    shown = 0
    for frame, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if args.match and not re.search(args.match, frame):
            continue
        print(f"{100 * n / total:5.1f}%  {frame[:160]}")
        shown += 1
        if shown >= args.top:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
