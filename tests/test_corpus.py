"""spacy-bertft.Corpus.v1: spaCy's Corpus without the docs' user_data."""
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus as SpacyCorpus
from spacy.util import registry

from spacy_bertft.corpus import Corpus


def _docs(nlp, n, prefix="doc"):
    docs = []
    for i in range(n):
        doc = nlp.make_doc(f"{prefix} number {i} is here")
        doc.cats = {"POS": float(i % 2), "NEG": float(1 - i % 2)}
        doc.ents = [doc.char_span(0, len(prefix), label="THING")]
        doc.spans["segments"] = [doc[0:2]]
        doc.user_data[("bertft", "source")] = f"data.jsonl:{i + 1}"
        docs.append(doc)
    return docs


@pytest.fixture
def corpus_dir(tmp_path):
    nlp = spacy.blank("en")
    DocBin(store_user_data=True, docs=_docs(nlp, 5, "first")).to_disk(tmp_path / "a.spacy")
    docs = _docs(nlp, 4, "second") + [Doc(nlp.vocab, words=[])]  # an empty doc is skipped, as in spaCy
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "b.spacy")
    return tmp_path


def test_same_examples_as_spacy_without_user_data(corpus_dir):
    nlp = spacy.blank("en")
    ours = list(Corpus(corpus_dir)(nlp))
    theirs = list(SpacyCorpus(corpus_dir)(nlp))
    assert len(ours) == len(theirs) == 9
    for a, b in zip(ours, theirs):
        assert a.reference.text == b.reference.text and a.predicted.text == b.predicted.text
        assert a.reference.cats == b.reference.cats
        assert [(e.text, e.label_) for e in a.reference.ents] == [(e.text, e.label_) for e in b.reference.ents]
        assert [s.text for s in a.reference.spans["segments"]] == [s.text for s in b.reference.spans["segments"]]
        assert b.reference.user_data  # spaCy's reader decodes it
        assert not a.reference.user_data  # this one leaves it out


def test_user_data_on_request(corpus_dir):
    nlp = spacy.blank("en")
    examples = list(Corpus(corpus_dir, user_data=True)(nlp))
    assert examples[0].reference.user_data[("bertft", "source")] == "data.jsonl:1"


@pytest.mark.parametrize("user_data", [False, True])
def test_limit_counts_docs_over_all_files(corpus_dir, user_data):
    nlp = spacy.blank("en")
    assert len(list(Corpus(corpus_dir, limit=7, user_data=user_data)(nlp))) == 7
    assert len(list(Corpus(corpus_dir, limit=3, user_data=user_data)(nlp))) == 3


def test_registered_reader_and_missing_path(corpus_dir):
    create = registry.readers.get("spacy-bertft.Corpus.v1")
    nlp = spacy.blank("en")
    assert len(list(create(str(corpus_dir), shuffle=True)(nlp))) == 9
    with pytest.raises(ValueError, match="E025"):
        create(None)


def test_span_groups_decoded_with_the_decoders_looked_up_once(corpus_dir, monkeypatch):
    # srsly's registry is asked once per file (not twice per span group of
    # every doc), and answers as before between docs and afterwards.
    from srsly.msgpack import msgpack_decoders

    calls = []
    real = type(msgpack_decoders).get_all

    def counting(self):
        if self is msgpack_decoders:  # not spaCy's own registries
            calls.append(1)
        return real(self)

    monkeypatch.setattr(type(msgpack_decoders), "get_all", counting)
    nlp = spacy.blank("en")
    examples = []
    for eg in Corpus(corpus_dir)(nlp):
        assert "get_all" not in vars(msgpack_decoders)  # the consumer sees the registry as it is
        examples.append(eg)
    ours = len(calls)
    calls.clear()
    theirs = list(SpacyCorpus(corpus_dir)(nlp))
    # spaCy's reader asks at least twice per doc with a span group (9 docs);
    # this one a few times per file (2 files), whatever their length
    assert len(calls) >= 18 and ours <= 6
    for a, b in zip(examples, theirs):
        assert [(s.start, s.end) for s in a.reference.spans["segments"]] == \
            [(s.start, s.end) for s in b.reference.spans["segments"]] == [(0, 2)]
