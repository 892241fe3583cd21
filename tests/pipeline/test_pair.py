import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_bertft import SEPARATOR, pair_doc
from spacy_bertft.segments import join_segments

PAIRS = [
    ("the cat sat on the mat", "a cat sat", "entailment"),
    ("the cat sat on the mat", "a dog was running", "contradiction"),
    ("john lives in paris", "john lives in france", "entailment"),
    ("john lives in paris", "john lives in berlin", "contradiction"),
    ("mary visited london", "mary visited a city", "entailment"),
    ("mary visited london", "mary was sleeping inside", "contradiction"),
]


def make_nlp(encoder, **model_cfg):
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_pair_classifier", name="pair",
                 config={"model": {"encoder": {"name": encoder}, "dropout": 0.0, **model_cfg},
                         "positive_label": "entailment"})
    return nlp


def make_examples(nlp, pairs=PAIRS):
    labels = sorted({p[2] for p in pairs})
    return [
        Example.from_dict(pair_doc(nlp, a, b), {"cats": {l: float(l == y) for l in labels}})
        for a, b, y in pairs
    ]


def test_pair_overfit_and_io(tiny_encoder, tmp_path):
    fix_random_seed(0)
    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    opt = Adam(1e-3)
    losses = []
    for _ in range(60):
        l = {}
        nlp.update(examples, sgd=opt, losses=l)
        losses.append(l["pair"])
    assert losses[-1] < losses[0] * 0.2
    docs = [nlp(pair_doc(nlp, a, b)) for a, b, _ in PAIRS]
    for doc, (a, b, y) in zip(docs, PAIRS):
        assert max(doc.cats, key=doc.cats.get) == y
        assert [s.text for s in doc.spans["segments"]] == [a, b]
    piped = list(nlp.pipe([pair_doc(nlp, a, b) for a, b, _ in PAIRS], batch_size=4))
    for d1, d2 in zip(docs, piped):
        assert d1.cats == pytest.approx(d2.cats, abs=1e-6)
    # A plain-text doc (what spacy train and nlp.evaluate make) is classified the same way.
    plain = nlp(join_segments(PAIRS[0][0], PAIRS[0][1]))
    assert plain.cats == pytest.approx(docs[0].cats, abs=1e-6)
    assert [s.text for s in plain.spans["segments"]] == [PAIRS[0][0], PAIRS[0][1]]
    # DocBin round trip keeps what the component needs
    db = DocBin(store_user_data=True, docs=[eg.reference for eg in examples])
    restored = list(db.from_bytes(db.to_bytes()).get_docs(nlp.vocab))
    nlp.to_disk(tmp_path)
    nlp2 = spacy.load(tmp_path)
    again = [nlp2(nlp2.make_doc(d.text)) for d in restored]
    for d1, d2 in zip(docs, again):
        assert d1.cats == pytest.approx(d2.cats, abs=1e-6)
    scores = nlp2.evaluate([Example(nlp2.make_doc(d.text), d) for d in restored])
    assert scores["cats_accuracy"] == 1.0
    assert scores["cats_positive_f"] == 1.0
    assert "cats_macro_f" in scores and "cats_f_per_type" in scores


def test_pair_token_types_and_longest_first_truncation(tiny_encoder):
    from spacy_bertft.layers.wordpieces import encode_texts, text_segments

    nlp = make_nlp(tiny_encoder, max_length=16)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    tokenizer = nlp.get_pipe("pair").encoder_shim.tokenizer
    long_a = " ".join(["good"] * 40)
    doc = pair_doc(nlp, long_a, "a cat sat")
    a, b, b_start = text_segments([doc.text], SEPARATOR)
    batch = encode_texts(tokenizer, a, b, b_start, max_length=16)
    row = batch.input_ids[0]
    assert len(row) == 16
    types = batch.token_type_ids[0]
    # the short segment is kept whole: longest-first trims the long one
    assert tokenizer.decode(row[types == 1], skip_special_tokens=True) == "a cat sat"
    assert batch.truncated == [0]
    # offsets of the second segment point into the doc's text
    offs = batch.offsets[0][types == 1]
    real = offs[offs[:, 0] >= 0]
    assert doc.text[real[0, 0]:real[-1, 1]] == "a cat sat"
    with pytest.warns(UserWarning, match="truncated"):
        nlp(doc)


def test_pair_bad_input(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    with pytest.raises(ValueError, match="contains the separator"):
        pair_doc(nlp, f"a{SEPARATOR}b", "c")
    with pytest.raises(ValueError, match="is empty"):
        pair_doc(nlp, "a cat", "  ")
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    with pytest.raises(ValueError, match=r"Doc 1: .*found 0"):
        list(nlp.pipe([pair_doc(nlp, "a", "b"), nlp.make_doc("just one text")]))
    bad = Example.from_dict(nlp.make_doc("only one segment"), {"cats": {"entailment": 1.0, "contradiction": 0.0}})
    with pytest.raises(ValueError, match="separator"):
        nlp.update([bad])
