"""Each input format converts its fixture file (tests/fixtures/convert/, written
for these tests) into docs that carry exactly the annotations of the source,
also after a round trip through a DocBin; the counts of the report add up."""
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bertft.readers import detect_format, read_file
from spacy_bertft.segments import SEPARATOR, split_segments

FIXTURES = Path(__file__).parent.parent / "fixtures" / "convert"


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def roundtrip(nlp, docs):
    data = DocBin(store_user_data=True, docs=docs).to_bytes()
    return list(DocBin().from_bytes(data).get_docs(nlp.vocab))


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


@pytest.mark.parametrize("name,expected", [
    ("textcat_binary.jsonl", "textcat"), ("choice.jsonl", "choice"), ("choice_multi.jsonl", "choice"),
    ("cats.jsonl", "cats"), ("ner.jsonl", "ner"), ("pairs.jsonl", "pairs"), ("qa.jsonl", "qa"),
    ("squad_v2.json", "squad"), ("sst2.tsv", "glue"), ("mrpc.tsv", "glue"), ("rte.tsv", "glue"),
    ("conll_iob1.txt", "conll"), ("conll_iob2.txt", "conll"),
])
def test_detect_format(name, expected):
    assert detect_format(FIXTURES / name) == expected


def test_textcat_binary_merges_and_completes(nlp):
    docs, report = read_file(FIXTURES / "textcat_binary.jsonl", nlp)
    docs = roundtrip(nlp, docs)
    # auto-detection: input 44 has only a reject, so not every doc has one
    # positive: multi-label, unasked labels filled with 0.0
    assert report.scheme == "multilabel (detected)"
    assert [d.text for d in docs] == ["I loved this movie", "Awful plot and bad acting", "A boring film"]
    assert docs[0].cats == {"NEGATIVE": 0.0, "POSITIVE": 1.0}
    assert docs[1].cats == {"NEGATIVE": 1.0, "POSITIVE": 0.0}
    assert docs[2].cats == {"NEGATIVE": 0.0, "POSITIVE": 0.0}
    assert report.filled == 2
    assert report.read == 5
    assert dict(report.outcomes) == {"used": 3, "merged": 1, "ignored": 1}
    assert dict(report.answers) == {"accept": 2, "reject": 2, "ignore": 1}
    assert docs[0].user_data["bertft_id"] == "11"
    assert docs[0].user_data["bertft_source"] == "textcat_binary.jsonl:1"


def test_textcat_binary_exclusive_infers_the_label_left(nlp):
    docs, report = read_file(FIXTURES / "textcat_binary.jsonl", nlp, exclusive=True)
    assert report.scheme == "exclusive"
    assert docs[2].text == "A boring film"
    assert docs[2].cats == {"NEGATIVE": 1.0, "POSITIVE": 0.0}
    assert report.inferred == 1


def test_choice_single(nlp):
    docs, report = read_file(FIXTURES / "choice.jsonl", nlp)
    docs = roundtrip(nlp, docs)
    assert report.scheme == "exclusive (detected)"
    assert [d.cats for d in docs] == [
        {"ANIMAL": 1.0, "CITY": 0.0, "FOOD": 0.0},
        {"ANIMAL": 0.0, "CITY": 1.0, "FOOD": 0.0},
    ]
    assert dict(report.outcomes) == {"used": 2, "rejected": 1, "ignored": 1}
    assert dict(report.label_counts) == {"ANIMAL": 1, "CITY": 1}


def test_choice_multiple(nlp):
    docs, report = read_file(FIXTURES / "choice_multi.jsonl", nlp)
    assert report.scheme == "multilabel (detected)"
    assert [d.cats for d in docs] == [{"ANIMAL": 1.0, "CITY": 1.0}, {"ANIMAL": 0.0, "CITY": 0.0}]


def test_cats(nlp):
    docs, report = read_file(FIXTURES / "cats.jsonl", nlp)
    assert report.scheme == "multilabel (detected)"
    assert [d.cats for d in roundtrip(nlp, docs)] == [
        {"FILM": 1.0, "FUNNY": 1.0, "SPORTS": 0.0},
        {"FILM": 0.0, "FUNNY": 0.0, "SPORTS": 1.0},
        {"FILM": 1.0, "FUNNY": 0.0, "SPORTS": 0.0},
    ]
    assert report.filled == 3


def test_prodigy_ner(nlp):
    docs, report = read_file(FIXTURES / "ner.jsonl", nlp)
    docs = roundtrip(nlp, docs)
    assert [ents(d) for d in docs] == [
        [("John Smith", "PERSON"), ("New York", "GPE")],
        [("Mary", "PERSON"), ("Google", "ORG"), ("Berlin", "GPE")],
        [("Apple", "ORG"), ("John", "PERSON")],
        [],
        [("e-mail.com", "URL")],
    ]
    # the record's own tokens are kept ("can't" stays one token), and tokens
    # outside entities are O, not missing
    assert [t.text for t in docs[4]] == ["I", "can't", "open", "e-mail.com", "today"]
    assert all(t.ent_iob_ in ("B", "I", "O") for d in docs for t in d)
    assert report.read == 8
    assert dict(report.outcomes) == {"used": 5, "merged": 1, "rejected": 1, "ignored": 1}
    assert dict(report.label_counts) == {"PERSON": 3, "GPE": 2, "ORG": 2, "URL": 1}
    assert report.misaligned_spans == 0


def test_pairs_jsonl(nlp):
    docs, report = read_file(FIXTURES / "pairs.jsonl", nlp)
    docs = roundtrip(nlp, docs)
    a, b, _ = split_segments(docs[0].text)
    assert (a, b) == ("A man is sleeping outside", "A man is outside")
    assert [s.text for s in docs[0].spans["segments"]] == [a, b]
    assert [d.cats for d in docs] == [
        {"entailment": 1.0, "not_entailment": 0.0},
        {"entailment": 0.0, "not_entailment": 1.0},
        {"entailment": 1.0, "not_entailment": 0.0},
    ]
    assert dict(report.label_counts) == {"entailment": 2, "not_entailment": 1}


def test_sst2_tsv(nlp):
    docs, report = read_file(FIXTURES / "sst2.tsv", nlp, label_map="0=negative,1=positive")
    # trailing spaces before the tab are stripped; a bare quote stays text
    assert [d.text for d in docs] == ["a great movie", "an awful , boring film", '" quoted start and fun']
    assert [d.cats["positive"] for d in docs] == [1.0, 0.0, 1.0]
    assert report.format == "glue (sst2) [detected]"
    assert report.unit == "rows" and report.read == 3


def test_mrpc_tsv_with_bom_and_quotes(nlp):
    docs, report = read_file(FIXTURES / "mrpc.tsv", nlp)
    assert report.format == "glue (mrpc) [detected]"
    assert split_segments(docs[0].text)[:2] == ('The company "Apple" said so.', 'Apple "said" it.')
    assert [d.cats for d in docs] == [{"0": 0.0, "1": 1.0}, {"0": 1.0, "1": 0.0}]
    assert docs[0].user_data["bertft_id"] == "101/102"


def test_rte_tsv(nlp):
    docs, report = read_file(FIXTURES / "rte.tsv", nlp)
    assert split_segments(docs[0].text)[:2] == ('"That film was fun.', "The film was fun.")
    assert docs[1].cats == {"entailment": 0.0, "not_entailment": 1.0}


def answers(doc):
    group = doc.spans["answers"]
    b_start = split_segments(doc.text)[2]
    return [(s.text, s.start_char - b_start) for s in group], group.attrs


def test_qa_jsonl(nlp):
    docs, report = read_file(FIXTURES / "qa.jsonl", nlp)
    docs = roundtrip(nlp, docs)
    assert split_segments(docs[0].text)[0] == "Where was John born?"
    assert answers(docs[0]) == ([("Paris", 23)], {"id": "q1", "texts": ["Paris"], "starts": [23],
                                                   "is_impossible": False})
    spans, attrs = answers(docs[1])
    assert spans == [("London", 50), ("in London", 47)]
    spans, attrs = answers(docs[2])
    assert spans == [] and attrs["is_impossible"] is True
    # "199" inside the token "1990" is expanded (the default for QA), and counted
    spans, attrs = answers(docs[3])
    assert spans == [("1990", 32)] and attrs["texts"] == ["199"]
    assert report.misaligned_spans == 1
    assert dict(report.label_counts) == {"answers": 4, "answerable questions": 3, "unanswerable questions": 1}


def test_squad_v2(nlp):
    docs, report = read_file(FIXTURES / "squad_v2.json", nlp)
    docs = roundtrip(nlp, docs)
    assert report.format == "squad (version v2.0) [detected]"
    assert report.unit == "questions" and report.read == 3
    spans, attrs = answers(docs[0])
    assert spans == [("Paris", 23), ("Paris", 23)]  # duplicates kept
    assert attrs["id"] == "s1"
    spans, attrs = answers(docs[1])
    assert spans == [] and attrs["is_impossible"] is True
    assert report.answers["plausible_answers (not used)"] == 1
    assert [d.user_data["bertft_group"] for d in docs] == ["article:People", "article:People", "article:Nature"]


def test_conll_iob1_per_sentence(nlp):
    docs, report = read_file(FIXTURES / "conll_iob1.txt", nlp)
    docs = roundtrip(nlp, docs)
    assert report.scheme == "iob1 (detected)"
    assert [ents(d) for d in docs] == [
        [("John Smith", "PER"), ("New York", "LOC")],
        [("Apple", "ORG"), ("Google", "ORG"), ("Berlin", "LOC")],
        [("Mary", "PER")],
    ]
    assert [t.tag_ for t in docs[0]] == ["NNP", "NNP", "VBD", "NNP", "NNP", "."]
    assert [(s.text, s.label_) for s in docs[0].spans["chunks"]] == [
        ("John Smith", "NP"), ("visited", "VP"), ("New York", "NP")]
    assert report.read == 20
    assert dict(report.outcomes) == {"docstart": 2, "blank": 4, "tokens": 14}
    assert [d.user_data["bertft_group"] for d in docs] == ["document:1", "document:1", "document:2"]


def test_conll_grouped_by_document(nlp):
    docs, report = read_file(FIXTURES / "conll_iob1.txt", nlp, n_sents=0)
    assert len(docs) == 2
    assert [s.text for s in docs[0].sents] == ["John Smith visited New York .", "Apple Google and Berlin ."]
    assert len(docs[0].ents) == 5


def test_conll_iob2(nlp):
    docs, report = read_file(FIXTURES / "conll_iob2.txt", nlp, iob_scheme="iob2")
    assert report.scheme == "iob2"
    assert [ents(d) for d in docs] == [[("John Smith", "PER"), ("New York", "LOC")],
                                        [("Apple", "ORG"), ("Google", "ORG")]]
    # IOB2 detected as such; IOB1 rejected in strict IOB2
    assert read_file(FIXTURES / "conll_iob2.txt", nlp)[1].scheme == "iob2 (detected)"
    with pytest.raises(ValueError, match=r"E227.*conll_iob1.txt:3"):
        read_file(FIXTURES / "conll_iob1.txt", nlp, iob_scheme="iob2")


def test_separator_constant_is_used(nlp):
    docs, _ = read_file(FIXTURES / "pairs.jsonl", nlp)
    assert all(d.text.count(SEPARATOR) == 1 for d in docs)
