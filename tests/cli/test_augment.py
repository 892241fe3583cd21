"""Synonym augmentation: both sources, what copies keep (labels, entities,
segments, source ids), what is refused (dev data, QA docs), and the CLI."""
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from spacy_bertft import pair_doc, qa_doc
from spacy_bertft.augment import EmbeddingNeighbours, WordNetSynonyms, augment_docs, find_wordnet_dir
from spacy_bertft.cli import app, augment
from spacy_bertft.segments import split_segments

from ..util import WORDS
from .wordnet_files import write_wordnet

FIXTURES = Path(__file__).parent.parent / "fixtures" / "convert"
SYNSETS = {
    "n": [["movie", "film", "picture"], ["story", "tale"], ["city", "metropolis"], ["plot", "storyline"]],
    "a": [["great", "outstanding"], ["good", "fine", "nice"], ["boring", "dull", "tedious"],
          ["awful", "dreadful", "terrible"]],
    "v": [["love", "adore"], ["visited", "toured"], ["hate", "detest"]],
    "r": [["really", "truly"]],
}


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture(scope="module")
def wordnet_dir(tmp_path_factory):
    return write_wordnet(tmp_path_factory.mktemp("wordnet"), SYNSETS)


@pytest.fixture(scope="module")
def synonyms(wordnet_dir):
    pytest.importorskip("nltk")
    return WordNetSynonyms(wordnet_dir)


def textcat_docs(nlp):
    rows = [("I really love this great movie", "POS"), ("An awful and boring story", "NEG"),
            ("The plot was good", "POS"), ("It is what it is", "NEG")]
    docs = []
    for i, (text, label) in enumerate(rows):
        doc = nlp.make_doc(text)
        doc.cats = {"POS": float(label == "POS"), "NEG": float(label == "NEG")}
        doc.user_data["bertft_id"] = f"row{i}"
        docs.append(doc)
    return docs


def test_wordnet_synonyms(synonyms):
    assert synonyms("movie") == ["film", "picture"]
    assert synonyms("Boring") == ["dull", "tedious"]
    assert synonyms("cat") == []


def test_wordnet_missing_gives_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"E233.*wordnet-base"):
        find_wordnet_dir(tmp_path / "nowhere")
    monkeypatch.setitem(sys.modules, "nltk", None)
    monkeypatch.setitem(sys.modules, "nltk.data", None)
    with pytest.raises(ValueError, match=r"E234.*nltk"):
        WordNetSynonyms(tmp_path)


def test_augment_textcat(nlp, synonyms):
    docs = textcat_docs(nlp)
    out, report = augment_docs(docs, synonyms, seed=0, max_copies=2)
    originals = [d for d in out if "bertft_augmented" not in d.user_data]
    copies = [d for d in out if "bertft_augmented" in d.user_data]
    assert [d.text for d in originals] == [d.text for d in docs]
    # the last doc has no word with a synonym (stop words and "is")
    assert report.docs_without_copy == 1
    assert len(copies) == report.copies_written == 6
    by_id = {d.user_data["bertft_id"]: d for d in docs}
    for copy in copies:
        source = by_id[copy.user_data["bertft_source_id"]]
        assert copy.cats == source.cats
        assert copy.text != source.text
        assert len(copy) == len(source)
        changed = [(a.text, b.text) for a, b in zip(source, copy) if a.text != b.text]
        assert changed and all(b.lower() in synonyms(a) for a, b in changed)
        assert all(a[0].isupper() == b[0].isupper() for a, b in changed)
    assert len({d.text for d in copies}) == len(copies)
    assert report.label_counts == {"NEG": 2, "POS": 4}
    again, _ = augment_docs(textcat_docs(nlp), synonyms, seed=0, max_copies=2)
    assert [d.text for d in again] == [d.text for d in out]


def test_augment_max_copies_and_copies_only(nlp, synonyms):
    out, report = augment_docs(textcat_docs(nlp), synonyms, seed=3, max_copies=1, keep_originals=False)
    assert report.originals_written == 0
    assert len(out) == 3 and all(d.user_data["bertft_augmented"] == 1 for d in out)
    out, report = augment_docs(textcat_docs(nlp), synonyms, max_copies=0)
    assert len(out) == 4 and report.copies_written == 0


def test_augment_never_edits_entities(nlp, synonyms):
    words = ["John", "visited", "the", "great", "city", "of", "Boring", "and", "loved", "the", "movie"]
    doc = Doc(nlp.vocab, words=words)
    doc.set_ents([Span(doc, 0, 1, "PER"), Span(doc, 6, 7, "LOC")], default="outside")
    out, report = augment_docs([doc], synonyms, seed=0, max_copies=3, replace_fraction=1.0)
    copies = out[1:]
    assert copies and report.entity_tokens_kept == 2
    for copy in copies:
        assert [(e.start, e.end, e.text, e.label_) for e in copy.ents] == [(0, 1, "John", "PER"),
                                                                           (6, 7, "Boring", "LOC")]
        assert all(t.ent_iob_ in ("B", "I", "O") for t in copy)
        assert copy[6].text == "Boring"  # has WordNet synonyms, but is an entity
    assert any(c[4].text == "metropolis" for c in copies)


def test_augment_pairs_keep_the_separator(nlp, synonyms):
    doc = pair_doc(nlp, "I love this movie", "This film is great")
    doc.cats = {"yes": 1.0, "no": 0.0}
    out, _ = augment_docs([doc], synonyms, seed=1, max_copies=2, replace_fraction=1.0)
    for copy in out[1:]:
        a, b, _ = split_segments(copy.text)
        assert [s.text for s in copy.spans["segments"]] == [a, b]
        assert copy.cats == doc.cats


def test_augment_refuses_dev_and_qa(nlp, synonyms):
    docs = textcat_docs(nlp)
    docs[1].user_data["bertft_split"] = "dev"
    with pytest.raises(ValueError, match=r"E231.*1 doc\(s\).*doc 1"):
        augment_docs(docs, synonyms)
    out, report = augment_docs(docs, synonyms, skip_dev=True, max_copies=1)
    assert report.skipped_dev == 1
    assert all(d.user_data.get("bertft_split") != "dev" for d in out)
    assert "An awful and boring story" not in [d.text for d in out]
    qa = qa_doc(nlp, "What is it?", "It is a movie.")
    qa.spans["answers"] = [qa[-3:-1]]
    with pytest.raises(ValueError, match=r"E232.*doc 0"):
        augment_docs([qa], synonyms)


def test_embedding_neighbours(tiny_encoder):
    neighbours = EmbeddingNeighbours(tiny_encoder, top_k=3, min_similarity=-1.0)
    assert all(w.isalpha() and not w.startswith("##") and len(w) >= 3 for w in neighbours.words)
    assert "[CLS]" not in neighbours.words and "movie" in neighbours.words
    found = neighbours("Movie")
    assert len(found) == 3 and "movie" not in found and set(found) <= set(WORDS)
    assert neighbours("zzzz") == []  # not a whole-word wordpiece
    strict = EmbeddingNeighbours(tiny_encoder, top_k=3, min_similarity=1.01)
    assert strict("movie") == []


def test_augment_cli_wordnet(tmp_path, nlp, wordnet_dir):
    pytest.importorskip("nltk")
    data = tmp_path / "train.spacy"
    DocBin(store_user_data=True, docs=textcat_docs(nlp)).to_disk(data)
    out = tmp_path / "aug.spacy"
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["augment", str(data), str(out), "--source", "wordnet", "--wordnet-dir",
                                      str(wordnet_dir), "--max-copies", "2", "--seed", "4", "--report",
                                      str(report)])
    assert result.exit_code == 0, result.output
    assert "Wrote 4 originals and 6 copies" in result.output
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert len(docs) == 10
    assert srsly.read_json(report)["copies_written"] == 6


def test_augment_cli_embeddings_and_errors(tmp_path, nlp, tiny_encoder):
    data = tmp_path / "train.spacy"
    DocBin(store_user_data=True, docs=textcat_docs(nlp)).to_disk(data)
    out = tmp_path / "aug.spacy"
    report = augment(input_path=data, output_path=out, source="embeddings", model=tiny_encoder,
                     min_similarity=-1.0, max_copies=1)
    # "It is what it is" has only stop words
    assert report.copies_written == 3 and report.source == "embeddings"
    result = CliRunner().invoke(app, ["augment", str(data), str(out), "--source", "thesaurus"])
    assert result.exit_code == 1 and "E209" in result.output
    notdocbin = tmp_path / "x.spacy"
    notdocbin.write_text("hello", encoding="utf8")
    result = CliRunner().invoke(app, ["augment", str(notdocbin), str(out)])
    assert result.exit_code == 1 and "E236" in result.output
    dev = tmp_path / "dev.spacy"
    docs = textcat_docs(nlp)
    docs[0].user_data["bertft_split"] = "dev"
    DocBin(store_user_data=True, docs=docs).to_disk(dev)
    result = CliRunner().invoke(app, ["augment", str(dev), str(out), "--source", "embeddings", "--model",
                                      tiny_encoder])
    assert result.exit_code == 1 and "E231" in result.output and str(dev) in result.output


def _copies(out):
    return [d for d in out if "bertft_augmented" in d.user_data]


def test_augment_swap_keeps_the_words(nlp, synonyms):
    docs = textcat_docs(nlp)
    out, report = augment_docs(docs, synonyms, seed=0, max_copies=2, edits=["swap"])
    assert report.edit_counts == {"swap": report.copies_written} and report.words_replaced == 0
    by_id = {d.user_data["bertft_id"]: d for d in docs}
    for copy in _copies(out):
        source = by_id[copy.user_data["bertft_source_id"]]
        assert sorted(t.text for t in copy) == sorted(t.text for t in source)
        assert copy.text != source.text and copy.cats == source.cats
        # only content words move: stop words stay where they were
        assert [t.text for t in copy if t.is_stop] == [t.text for t in source if t.is_stop]


def test_augment_insert_and_delete(nlp, synonyms):
    docs = textcat_docs(nlp)
    by_id = {d.user_data["bertft_id"]: d for d in docs}
    out, report = augment_docs(docs, synonyms, seed=0, max_copies=2, edits=["insert"])
    assert report.copies_written > 0
    for copy in _copies(out):
        source = [t.text for t in by_id[copy.user_data["bertft_source_id"]]]
        words = [t.text for t in copy]
        assert len(words) > len(source)
        added = list(words)
        for w in source:  # the source is a subsequence of the copy
            added = added[added.index(w) + 1:] if w in added else None
            assert added is not None
        assert copy[0].text == source[0]
    out, report = augment_docs(docs, synonyms, seed=0, max_copies=2, edits=["delete"], replace_fraction=1.0)
    assert report.copies_written > 0
    for copy in _copies(out):
        source = by_id[copy.user_data["bertft_source_id"]]
        kept = [t.text for t in copy]
        assert len(kept) < len(source)
        assert [t.text for t in source if t.is_stop] == [t.text for t in copy if t.is_stop]
        rest = [t.text for t in source]
        for w in kept:  # the copy is a subsequence of the source
            assert w in rest
            rest = rest[rest.index(w) + 1:]


def test_augment_edits_never_touch_negations_entities_or_segments(nlp, synonyms):
    words = ["John", "did", "not", "love", "the", "great", "movie", "in", "New", "York", "really"]
    doc = Doc(nlp.vocab, words=words)
    doc.set_ents([Span(doc, 0, 1, "PER"), Span(doc, 8, 10, "LOC")], default="outside")
    doc.cats = {"NEG": 1.0}
    out, report = augment_docs([doc], synonyms, seed=2, max_copies=8, replace_fraction=1.0,
                               edits=["synonym", "swap", "insert", "delete"])
    copies = _copies(out)
    assert len(copies) >= 4 and set(report.edit_counts) >= {"swap", "insert", "delete"}
    for copy in copies:
        assert [(e.text, e.label_) for e in copy.ents] == [("John", "PER"), ("New York", "LOC")]
        assert copy.ents[1][0].ent_iob_ == "B" and copy.ents[1][1].ent_iob_ == "I"
        assert [t.text for t in copy if t.lower_ in ("did", "not")] == ["did", "not"]
        assert copy.cats == {"NEG": 1.0}
    pair = pair_doc(nlp, "I really love this great movie", "The film was good and boring")
    pair.cats = {"yes": 1.0, "no": 0.0}
    out, report = augment_docs([pair], synonyms, seed=5, max_copies=6, replace_fraction=1.0,
                               edits=["swap", "insert", "delete"])
    assert report.copies_written >= 3
    for copy in _copies(out):
        a, b, _ = split_segments(copy.text)
        assert [s.text for s in copy.spans["segments"]] == [a, b]
        # each text keeps to its own words and their synonyms
        for new, old in zip(copy.spans["segments"], pair.spans["segments"]):
            allowed = {t.lower_ for t in old}
            allowed |= {s for t in old for s in synonyms(t.text)}
            assert {t.lower_ for t in new} <= allowed


def test_augment_unknown_edit(nlp, synonyms, tmp_path):
    with pytest.raises(ValueError, match=r"E209.*edit 'shuffle'"):
        augment_docs(textcat_docs(nlp), synonyms, edits=["synonym", "shuffle"])
    data = tmp_path / "train.spacy"
    DocBin(store_user_data=True, docs=textcat_docs(nlp)).to_disk(data)
    result = CliRunner().invoke(app, ["augment", str(data), str(tmp_path / "o.spacy"), "--edits", "swap,bogus"])
    assert result.exit_code == 1 and "E209" in result.output and "bogus" in result.output


def test_augment_cli_edits(tmp_path, nlp, wordnet_dir):
    pytest.importorskip("nltk")
    data = tmp_path / "train.spacy"
    DocBin(store_user_data=True, docs=textcat_docs(nlp)).to_disk(data)
    out = tmp_path / "aug.spacy"
    result = CliRunner().invoke(app, ["augment", str(data), str(out), "--wordnet-dir", str(wordnet_dir),
                                      "--edits", "synonym,swap,insert,delete", "--max-copies", "3"])
    assert result.exit_code == 0, result.output
    assert "copies per edit:" in result.output
    docs = list(DocBin(store_user_data=True).from_disk(out).get_docs(nlp.vocab))
    assert len(docs) > 4 and all("bertft_source_id" in d.user_data for d in docs)
