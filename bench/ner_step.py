"""NER's update and prediction time per batch with the packaged model, on
CoNLL-2003 training sentences, for the spacy_bertft on the path: run it from
two checkouts (PYTHONPATH=<checkout>) in turn to compare versions (to time
an older checkout, copy this script and bench/ner_examples.py into it).

    PYTHONPATH=. python bench/ner_step.py --data-dir ../shared/data --label new

Medians over the batches (the first two updates and the first prediction
batch left out: start-up).
"""
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thinc.api import fix_random_seed  # noqa: E402

from bench.ner_examples import conll_ner_examples, parser  # noqa: E402


def main() -> None:
    p = parser(__doc__, n=640, n_help="training sentences (batches of 32 to update, 64 to predict)")
    args = p.parse_args()
    import spacy_bertft

    nlp, examples = conll_ner_examples(args.data_dir, args.n, args.model)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    optimizer = nlp.create_optimizer()
    updates, predictions = [], []
    for i in range(0, len(examples), 32):
        start = time.perf_counter()
        nlp.update(examples[i : i + 32], sgd=optimizer, drop=0.1)
        updates.append(time.perf_counter() - start)
    docs = [eg.predicted for eg in examples]
    ner = nlp.get_pipe("ner")
    for i in range(0, len(docs), 64):
        start = time.perf_counter()
        ner.predict(docs[i : i + 64])
        predictions.append(time.perf_counter() - start)
    where = Path(spacy_bertft.__file__).parent  # which checkout's code ran
    print(f"{args.label} [{where}]: update {1e3 * statistics.median(updates[2:]):.1f} ms per 32, "
          f"predict {1e3 * statistics.median(predictions[1:]):.1f} ms per 64 ({len(examples)} sentences)")


if __name__ == "__main__":
    main()
