"""Bad input gives a clear error naming the file and line (or question), or
with skip_invalid a count and the first examples; counts add up to what was
read."""
import json

import pytest
import spacy

from spacy_bertft.readers import detect_format, read_file


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def jsonl(tmp_path, records, name="data.jsonl"):
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def ner(text, *spans, **extra):
    out = []
    for start, end, label in spans:
        out.append({"start": start, "end": end, "label": label})
    return {"text": text, "spans": out, **extra}


GOOD_NER = ner("John lives in Paris", (0, 4, "PER"), (14, 19, "LOC"))


def test_malformed_json_line(nlp, tmp_path):
    path = jsonl(tmp_path, [GOOD_NER, '{"text": "broken", "spans": [', GOOD_NER])
    with pytest.raises(ValueError, match=r"E200.*data.jsonl:2"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert len(docs) == 2
    assert dict(report.outcomes) == {"used": 2, "invalid": 1}
    assert report.invalid_examples[0].line == 2
    assert "E200" in report.invalid_examples[0].message


def test_malformed_first_json_line(nlp, tmp_path):
    # Still read as JSONL (not taken for a JSON document): the error names line 1.
    path = jsonl(tmp_path, ['{"text": "broken", "spans": [', GOOD_NER, GOOD_NER])
    assert detect_format(path) == "ner"
    with pytest.raises(ValueError, match=r"E200.*data.jsonl:1"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert len(docs) == 2 and report.invalid_examples[0].line == 1


def test_not_an_object(nlp, tmp_path):
    path = jsonl(tmp_path, [GOOD_NER, "[1, 2]"])
    with pytest.raises(ValueError, match=r"E201.*data.jsonl:2.*list"):
        read_file(path, nlp, format="ner")


def test_span_out_of_range(nlp, tmp_path):
    path = jsonl(tmp_path, [ner("John lives in Paris", (14, 40, "LOC"))])
    with pytest.raises(ValueError, match=r"E204.*data.jsonl:1 spans\[0\].*14:40.*19 characters"):
        read_file(path, nlp)


def test_span_text_mismatch(nlp, tmp_path):
    record = ner("John lives in Paris", (14, 19, "LOC"))
    record["spans"][0]["text"] = "Berlin"
    path = jsonl(tmp_path, [GOOD_NER, record])
    with pytest.raises(ValueError, match=r"E205.*data.jsonl:2.*'Paris'.*'Berlin'"):
        read_file(path, nlp)


def test_qa_answer_text_mismatch_names_the_line(nlp, tmp_path):
    path = jsonl(tmp_path, [{"question": "Where?", "context": "He lives in Paris.",
                             "answers": [{"text": "Paris", "answer_start": 3}]}])
    with pytest.raises(ValueError, match=r"E205.*data.jsonl:1 answers\[0\]"):
        read_file(path, nlp)


def test_squad_errors_name_the_question(nlp, tmp_path):
    data = {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "He lives in Paris.", "qas": [
        {"id": "good", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 12}]},
        {"id": "bad-1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 2}]},
    ]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf8")
    with pytest.raises(ValueError, match=r"E205.*data\[0\]\.paragraphs\[0\]\.qas\[1\] \(id bad-1\)"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert len(docs) == 1 and dict(report.outcomes) == {"used": 1, "invalid": 1}
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "T"}]}), encoding="utf8")
    with pytest.raises(ValueError, match=r"E229.*data\[0\].*paragraphs"):
        read_file(path, nlp, format="squad")
    path.write_text('{"version": "1.1", "data": [\n{"title": ]}', encoding="utf8")
    with pytest.raises(ValueError, match=r"E200.*squad.json:2"):
        read_file(path, nlp, format="squad")


def test_overlapping_entities(nlp, tmp_path):
    path = jsonl(tmp_path, [ner("John Smith lives here", (0, 10, "PER"), (5, 10, "PER"))])
    with pytest.raises(ValueError, match=r"E206.*data.jsonl:1"):
        read_file(path, nlp)
    # overlap across two annotations of the same input
    path = jsonl(tmp_path, [ner("John Smith lives here", (0, 10, "PER"), _input_hash=1),
                            ner("John Smith lives here", (0, 4, "PER"), _input_hash=1)])
    with pytest.raises(ValueError, match=r"E206.*data.jsonl:2.*line 1"):
        read_file(path, nlp)
    # the same span twice is not an overlap
    path = jsonl(tmp_path, [ner("John Smith lives here", (0, 10, "PER"), _input_hash=1),
                            ner("John Smith lives here", (0, 10, "PER"), _input_hash=1)])
    docs, report = read_file(path, nlp)
    assert [(e.text, e.label_) for e in docs[0].ents] == [("John Smith", "PER")]


@pytest.mark.parametrize("records,fmt,pattern", [
    ([{"label": "POS", "answer": "accept"}], "textcat", r"E202.*data.jsonl:1.*'text'"),
    ([{"text": "a", "answer": "accept"}], "textcat", r"E202.*data.jsonl:1.*'label'.*present: answer, text"),
    ([{"premise": "a", "hypothesis": "b"}], "pairs", r"E202.*data.jsonl:1.*'label'"),
    ([{"question": "q", "context": "c"}], "qa", r"E202.*data.jsonl:1.*'answers'"),
    ([{"text": "a", "spans": [{"start": 0, "end": 1}]}], "ner", r"E202.*spans\[0\].*'label'"),
])
def test_missing_field(nlp, tmp_path, records, fmt, pattern):
    path = jsonl(tmp_path, records)
    with pytest.raises(ValueError, match=pattern):
        read_file(path, nlp, format=fmt)


def test_wrong_encoding(nlp, tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps(GOOD_NER).encode() + b"\n" + '{"text": "café", "spans": []}'.encode("latin-1") + b"\n")
    with pytest.raises(ValueError, match=r"E203.*latin.jsonl:2.*not valid UTF-8"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert len(docs) == 1 and report.outcomes["invalid"] == 1
    tsv = tmp_path / "latin.tsv"
    tsv.write_bytes("sentence\tlabel\nnice\t1\ncaf\xe9\t0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"E203.*latin.tsv:3"):
        read_file(tsv, nlp)


def test_unknown_label_scheme(nlp, tmp_path):
    conll = tmp_path / "biluo.conll"
    conll.write_text("John B-PER\nSmith L-PER\n\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"E207.*biluo.conll:2.*'L-PER'"):
        read_file(conll, nlp, format="conll")
    path = jsonl(tmp_path, [{"text": "a", "cats": {"POS": 0.7, "NEG": 0.3}}])
    with pytest.raises(ValueError, match=r"E207.*data.jsonl:1.*cats\['POS'\] is 0.7"):
        read_file(path, nlp)


def test_misaligned_span_strict_and_snapped(nlp, tmp_path):
    path = jsonl(tmp_path, [ner("Visit Pariss today", (6, 11, "LOC"))])
    with pytest.raises(ValueError, match=r"E210.*data.jsonl:1.*'Paris'.*Pariss"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, alignment_mode="expand")
    assert [e.text for e in docs[0].ents] == ["Pariss"] and report.misaligned_spans == 1
    assert "'Paris' -> 'Pariss'" in report.misaligned_examples[0].message
    with pytest.raises(ValueError, match=r"E211.*inside one token"):
        read_file(path, nlp, alignment_mode="contract")


def test_tokens_must_reproduce_the_text(nlp, tmp_path):
    record = {"text": "John  lives", "spans": [],
              "tokens": [{"text": "John", "ws": True}, {"text": "lives", "ws": False}]}
    path = jsonl(tmp_path, [record])
    with pytest.raises(ValueError, match=r"E223.*data.jsonl:1"):
        read_file(path, nlp)
    record = {"text": "John lives", "spans": [{"start": 0, "end": 4, "label": "PER", "token_start": 1,
                                                "token_end": 1}],
              "tokens": [{"text": "John", "start": 0, "end": 4, "ws": True},
                         {"text": "lives", "start": 5, "end": 10, "ws": False}]}
    with pytest.raises(ValueError, match=r"E224.*token_start/token_end"):
        read_file(jsonl(tmp_path, [record]), nlp)


def test_tsv_wrong_number_of_fields(nlp, tmp_path):
    path = tmp_path / "rte.tsv"
    path.write_text("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tentailment\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"E216.*rte.tsv:3.*3 tab-separated fields.*4"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert report.read == 2 and dict(report.outcomes) == {"used": 1, "invalid": 1}


def test_unknown_tsv_header(nlp, tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("index\tsentence\n0\tno labels here\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"E217.*test.tsv.*cannot be converted"):
        read_file(path, nlp)
    docs, _ = read_file(path, nlp, text_field="sentence", label_field="index")
    assert docs[0].cats == {"0": 1.0}


def test_exclusive_conflicts(nlp, tmp_path):
    path = jsonl(tmp_path, [
        {"text": "a", "label": "POS", "answer": "accept", "_input_hash": 1},
        {"text": "a", "label": "NEG", "answer": "accept", "_input_hash": 1},
        {"text": "b", "label": "POS", "answer": "reject", "_input_hash": 2},
        {"text": "b", "label": "NEG", "answer": "reject", "_input_hash": 2},
    ])
    with pytest.raises(ValueError, match=r"E213.*data.jsonl:1,2.*2 accepted labels"):
        read_file(path, nlp, exclusive=True)
    docs, report = read_file(path, nlp, exclusive=True, skip_invalid=True)
    assert docs == [] and dict(report.outcomes) == {"invalid": 4}
    assert "E214" in report.invalid_examples[1].message
    docs, report = read_file(path, nlp, exclusive=False)
    assert [d.cats for d in docs] == [{"NEG": 1.0, "POS": 1.0}, {"NEG": 0.0, "POS": 0.0}]


def test_conflicting_answers_for_one_input(nlp, tmp_path):
    path = jsonl(tmp_path, [
        {"text": "a", "label": "POS", "answer": "accept", "_input_hash": 1},
        {"text": "a", "label": "POS", "answer": "reject", "_input_hash": 1},
    ])
    with pytest.raises(ValueError, match=r"E215.*data.jsonl:2.*'POS'.*line 1"):
        read_file(path, nlp)


def test_same_hash_different_text(nlp, tmp_path):
    path = jsonl(tmp_path, [
        {"text": "a", "label": "POS", "_input_hash": 1},
        {"text": "b", "label": "NEG", "_input_hash": 1},
    ])
    with pytest.raises(ValueError, match=r"E242.*data.jsonl:2.*line 1"):
        read_file(path, nlp)


def test_pair_segment_errors(nlp, tmp_path):
    path = jsonl(tmp_path, [{"text": "a \u241e b", "text_pair": "c", "label": "x"}, {"text": " ", "text_pair": "c",
                                                                                    "label": "x"}])
    with pytest.raises(ValueError, match=r"E222.*data.jsonl:1.*E016"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert docs == [] and report.outcomes["invalid"] == 2
    assert "E017" in report.invalid_examples[1].message


def test_unknown_and_undetectable_format(nlp, tmp_path):
    path = jsonl(tmp_path, [{"foo": 1}])
    with pytest.raises(ValueError, match=r"E208.*data.jsonl.*\['foo'\].*--format"):
        detect_format(path)
    with pytest.raises(ValueError, match=r"E209.*format 'xml'"):
        read_file(path, nlp, format="xml")
    with pytest.raises(ValueError, match=r"E218"):
        read_file(tmp_path / "missing.jsonl", nlp)


def test_skip_invalid_counts_add_up(nlp, tmp_path):
    records = [GOOD_NER, "not json", "", ner("x", (0, 5, "A")), dict(GOOD_NER, answer="reject"),
               dict(GOOD_NER, answer="ignore"), {"spans": []}, GOOD_NER]
    path = jsonl(tmp_path, records)
    docs, report = read_file(path, nlp, skip_invalid=True, max_examples=2)
    assert report.read == 8
    assert dict(report.outcomes) == {"used": 2, "invalid": 3, "blank": 1, "rejected": 1, "ignored": 1}
    assert sum(report.outcomes.values()) == report.read
    assert [p.line for p in report.invalid_examples] == [2, 4]  # only the first two listed
    assert len(docs) == 2


def test_conll_bad_sentence_skipped_whole(nlp, tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("John NNP I-PER\nSmith I-PER\nsat VBD O\n\nMary NNP I-PER\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"E228.*bad.conll:2.*2 columns, expected 3"):
        read_file(path, nlp)
    docs, report = read_file(path, nlp, skip_invalid=True)
    assert [d.text for d in docs] == ["Mary"]
    assert dict(report.outcomes) == {"invalid": 3, "blank": 1, "tokens": 1}


def test_snapped_spans_of_skipped_records_are_not_counted(nlp, tmp_path):
    path = jsonl(tmp_path, [ner("Visit Pariss today", (6, 11, "LOC"), (6, 40, "LOC")),
                            ner("Visit Pariss today", (6, 11, "LOC"), answer="reject"),
                            ner("Visit Pariss today", (6, 11, "LOC"))])
    docs, report = read_file(path, nlp, alignment_mode="expand", skip_invalid=True)
    assert dict(report.outcomes) == {"used": 1, "invalid": 1, "rejected": 1}
    assert report.misaligned_spans == 1 == len(report.misaligned_examples)
    assert report.misaligned_examples[0].line == 3
    qa = jsonl(tmp_path, [{"question": "Where?", "context": "in Pariss",
                           "answers": [{"text": "Paris", "answer_start": 3}, {"text": "x", "answer_start": 0}]}],
               name="qa.jsonl")
    docs, report = read_file(qa, nlp, skip_invalid=True)
    assert docs == [] and report.misaligned_spans == 0 and report.spans == 0
