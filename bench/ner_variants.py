"""bertft NER on the CoNLL protocol with one training setting changed: the
diagnostics behind the CoNLL section of BENCHMARKS.md.

    python bench/ner_variants.py VARIANT [--data-dir ../shared/data] [--seed 0]

VARIANT is one of
  base        configs/ner.cfg with the benchmark's settings (bench/run.py conll):
              output weights from torch.nn.Linear's U(-1/sqrt(width), 1/sqrt(width)),
              zero bias
  ws          the pipeline's tokenizer splits on spaces only, so the training
              docs have exactly CoNLL's words (the peers' input)
  noclip      no gradient clipping at all
  lr<RATE>    another peak learning rate, e.g. lr1e-4
  biluo       BILUO tags instead of BIO
  mean        mean of each token's wordpieces instead of the first
  bertinit    output weights from BERT's Normal(0, 0.02) (the shipped config
              before the change to torch.nn.Linear's init)
  uniformbias also the bias from torch.nn.Linear's U(-1/sqrt(width), 1/sqrt(width))
  loop        the plain PyTorch loop of bench/run.py (peer "torch")
  loop-bertinit  that loop with BERT's Normal(0, 0.02) head initialisation

Trains on the first 4000 sentences of eng.train for 2 epochs (batch 32, 10%
warmup, weight decay 0.01, max length 256), scores entity F1 on all of
eng.testa over docs of the gold words, and prints one line.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import spacy
from spacy.tokens import Doc
from spacy.util import registry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_DATA_DIR, Settings  # noqa: E402
from bench.data import load_task  # noqa: E402
from bench.metrics import task_scores  # noqa: E402
from bench.spacy_side import gold_for, predict, train_timed, write_docbins  # noqa: E402
from bench.sys_bertft import build_config  # noqa: E402


class SpaceTokenizer:
    """Splits on single spaces: CoNLL's words, joined by spaces, come back."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words = text.split(" ")
        return Doc(self.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])

    def to_disk(self, *args, **kwargs):
        pass

    def from_disk(self, *args, **kwargs):
        return self

    def to_bytes(self, **kwargs):
        return b""

    def from_bytes(self, data, **kwargs):
        return self


@registry.tokenizers("spacy-bertft-bench.space_tokenizer.v1")
def make_space_tokenizer():
    return lambda nlp: SpaceTokenizer(nlp.vocab)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = Settings(task="conll", n_train=4000, epochs=2, max_length=256, seed=args.seed,
                        data_dir=args.data_dir)
    data = load_task("conll", settings.data_dir, n_train=settings.n_train, n_eval=0)
    variant = args.variant
    if variant.startswith("loop"):
        return _run_loop(settings, data, variant)
    with tempfile.TemporaryDirectory() as tmp:
        train_path, dev_path, _ = write_docbins(spacy.blank("en"), data, Path(tmp))
        config, name, _ = build_config(settings, data, train_path, dev_path)
        if variant == "ws":
            config["nlp"]["tokenizer"] = {"@tokenizers": "spacy-bertft-bench.space_tokenizer.v1"}
        elif variant == "noclip":
            config["training"]["optimizer"]["grad_clip"] = 0.0
        elif variant == "biluo":
            config["components"][name]["scheme"] = "BILUO"
        elif variant == "mean":
            config["components"][name]["model"]["token_pooling"] = "mean"
        elif variant == "bertinit":
            config["components"][name]["model"]["init_W"] = {
                "@initializers": "spacy-bertft.normal_init.v1", "std": 0.02}
        elif variant == "uniformbias":
            import spacy_bertft.models.tagger as tagger
            from thinc.api import Softmax_v2

            tagger.Softmax_v2 = lambda **kwargs: Softmax_v2(**kwargs, init_b=_uniform_bias)
        elif variant.startswith("lr"):
            config["training"]["optimizer"]["learn_rate"]["initial_rate"] = float(variant[2:])
        elif variant != "base":
            parser.error(f"unknown variant {variant!r}")
        start = time.perf_counter()
        nlp, seconds, _, steps = train_timed(config)
        pred = predict(nlp, "ner", data.eval, 256)
    f1 = task_scores("conll", pred["predictions"], gold_for("ner", data.eval))["ents_f"]
    print(f"{variant} seed {args.seed}: ents_f {f1:.2f}, train {seconds:.1f} s, {steps} steps, "
          f"wall {time.perf_counter() - start:.0f} s", flush=True)
    return f1


def _uniform_bias(ops, shape):
    """torch.nn.Linear's bias, U(-1/sqrt(nI), 1/sqrt(nI)); nI is the encoder's
    width (the only output layer here reads the encoder's vectors)."""
    import numpy

    bound = 1.0 / _WIDTH ** 0.5
    return ops.asarray(numpy.random.uniform(-bound, bound, size=shape).astype("float32"))


_WIDTH = 384  # all-MiniLM-L6-v2's hidden size


def _run_loop(settings: Settings, data, variant: str) -> float:
    from bench import sys_torch

    if variant == "loop-bertinit":
        settings.extra["head_init"] = "bert"
    elif variant != "loop":
        raise SystemExit(f"unknown variant {variant!r}")
    start = time.perf_counter()
    result = sys_torch.run(settings, data)
    f1 = task_scores("conll", result["predictions"], gold_for("ner", data.eval))["ents_f"]
    print(f"{variant} seed {settings.seed}: ents_f {f1:.2f}, train {result['train_seconds']:.1f} s, "
          f"{result['steps']} steps, wall {time.perf_counter() - start:.0f} s", flush=True)
    return f1


if __name__ == "__main__":
    main()
