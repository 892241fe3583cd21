"""What reading training data costs spaCy's training loop per example: the
``spacy.Corpus.v1`` reader (DocBin -> Doc -> Example, ``make_doc`` of each
text) over the same docs (SST-2 by default) saved with and without
``store_user_data``, and this plugin's ``spacy-bertft.Corpus.v1``, which
leaves user_data out and looks srsly's decoders up once per file.

    python bench/docbin_read.py --n-train 8000 --rounds 3
    python bench/docbin_read.py --task mrpc --rounds 3     # pair docs: span groups

Pair and QA docs carry span groups (``doc.spans["segments"]``), which spaCy
decodes with the same lookup, twice per group, whatever user_data holds.

With ``store_user_data=True`` spaCy decodes each doc's user_data with
``srsly.msgpack_loads``, which looks up srsly's msgpack decoders through
catalogue, and so scans the installed packages' entry points, once per doc
(also when user_data is empty). On GPU, where a step of 32 takes a few
milliseconds, that cost per example matters; on CPU it is a few percent.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA_DIR  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="sst2", choices=["sst2", "mrpc", "rte"])
    p.add_argument("--n-train", type=int, default=8000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = p.parse_args(argv)
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Corpus

    from bench.data import load_task
    from bench.spacy_side import write_docbins
    from spacy_bertft.corpus import Corpus as BertftCorpus

    nlp = spacy.blank("en")
    data = load_task(args.task, args.data_dir, args.n_train, 8)
    with tempfile.TemporaryDirectory() as tmp:
        train, _, _ = write_docbins(nlp, data, Path(tmp))  # as the benchmarks write them
        docs = list(DocBin().from_disk(train).get_docs(nlp.vocab))
        plain = Path(tmp) / "plain.spacy"
        DocBin(store_user_data=False, docs=docs).to_disk(plain)
        print(f"{len(docs)} {args.task} training docs; user_data of the first: {docs[0].user_data!r}; "
              f"span groups: {sorted(docs[0].spans)}")
        medians = {}
        runs = (("spacy.Corpus.v1, store_user_data=True (bench/spacy_side.py)", train, Corpus),
                ("spacy.Corpus.v1, store_user_data=False", plain, Corpus),
                ("spacy-bertft.Corpus.v1 (the configs'), store_user_data=True", train, BertftCorpus))
        for name, path, reader in runs:
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                n = sum(1 for _ in reader(str(path))(nlp))
                times.append(time.perf_counter() - start)
            medians[name] = statistics.median(times)
            print(f"{name}: {n} examples, median {medians[name]:.2f} s over {args.rounds} rounds, "
                  f"{1000 * medians[name] / n:.3f} ms per example")
        a, b, c = medians.values()
        print(f"spacy.Corpus.v1 with user_data / without: {a / b:.1f}x; / spacy-bertft.Corpus.v1: {a / c:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
