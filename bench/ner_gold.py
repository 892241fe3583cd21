"""NER's gold tags per training batch (``BertEntityRecognizer._gold``, what
every update reads before its loss) on CoNLL-2003 training sentences, for
the spacy_bertft on the path: run it from two checkouts (PYTHONPATH=<checkout>)
in turn to compare versions, and compare the gold they wrote (--save); to
time an older checkout, copy this script and bench/ner_examples.py into it.

    PYTHONPATH=. python bench/ner_gold.py --data-dir ../shared/data --label new --save /tmp/gold-new.npy

Medians over rounds of all the batches (32 sentences each).
"""
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy  # noqa: E402

from bench.ner_examples import conll_ner_examples, parser  # noqa: E402


def main() -> None:
    p = parser(__doc__, n=6400, n_help="training sentences (batches of 32)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--save", default=None, help="write the gold indices of all batches here (.npy)")
    args = p.parse_args()
    import spacy_bertft

    nlp, examples = conll_ner_examples(args.data_dir, args.n, args.model)
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
