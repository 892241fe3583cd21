"""The shipped configs run with `spacy train` as they are (a few steps, tiny encoder)."""
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bertft import pair_doc

CONFIGS = Path(__file__).parent.parent / "configs"


def write_textcat_data(nlp, path: Path) -> Path:
    rows = [("a great happy film", "POS"), ("an awful sad movie", "NEG"),
            ("i love this story", "POS"), ("i hate the plot", "NEG")]
    db = DocBin()
    for text, label in rows:
        doc = nlp.make_doc(text)
        doc.cats = {"POS": float(label == "POS"), "NEG": float(label == "NEG")}
        db.add(doc)
    db.to_disk(path)
    return path


def write_pair_data(nlp, path: Path) -> Path:
    rows = [("the cat sat", "a cat sat", "yes"), ("the cat sat", "a dog ran", "no"),
            ("john lives in paris", "john lives in france", "yes"), ("mary is happy", "mary is sad", "no")]
    db = DocBin()
    for a, b, label in rows:
        doc = pair_doc(nlp, a, b)
        doc.cats = {"yes": float(label == "yes"), "no": float(label == "no")}
        db.add(doc)
    db.to_disk(path)
    return path


@pytest.mark.parametrize("name,component,writer", [
    ("textcat", "textcat", write_textcat_data),
    ("pair", "pair", write_pair_data),
])
def test_config_trains_with_spacy_train(tiny_encoder, tmp_path, name, component, writer):
    from spacy.cli.train import train

    nlp = spacy.blank("en")
    data = writer(nlp, tmp_path / "train.spacy")
    overrides = {
        "paths.train": str(data),
        "paths.dev": str(data),
        "paths.encoder": tiny_encoder,
        "training.max_epochs": 0,
        "training.max_steps": 6,
        "training.eval_frequency": 3,
        "training.optimizer.learn_rate.warmup_steps": 1,
        "training.optimizer.learn_rate.total_steps": 6,
    }
    train(CONFIGS / f"{name}.cfg", tmp_path / "out", overrides=overrides)
    best = tmp_path / "out" / "model-best"
    assert (best / component / "encoder" / "model.safetensors").exists()
    loaded = spacy.load(best)
    doc = loaded(nlp.make_doc(list(DocBin().from_disk(data).get_docs(nlp.vocab))[0].text))
    assert set(doc.cats) == ({"POS", "NEG"} if name == "textcat" else {"yes", "no"})
    assert loaded.meta["performance"]["cats_accuracy"] is not None
