import functools
import itertools
import warnings

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.attrs import ENT_IOB, ENT_TYPE
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Adam, fix_random_seed

from spacy_bertft.layers.hf_shim import fused_adamw_supported
from spacy_bertft.layers.token_pooling import choose_windows
from spacy_bertft.layers.wordpieces import encode_texts, token_alignment
from spacy_bertft.pipeline.ner import (
    _biluo_gold,
    _same_tokens,
    _TagTable,
    tag_names,
    tags_to_spans,
    transition_constraints,
    viterbi_decode,
    viterbi_decode_batch,
)

# Every piece is at most 14 wordpieces, so it fits one window of max_length 16.
PIECES = [
    ("john smith lives in paris", [(0, 10, "PER"), (20, 25, "LOC")]),
    ("mary visited london and berlin", [(0, 4, "PER"), (13, 19, "LOC"), (24, 30, "LOC")]),
    ("the cat sat on the mat", []),
    ("apple works in new york", [(0, 5, "ORG"), (15, 23, "LOC")]),
    ("she visited google in france", [(12, 18, "ORG"), (22, 28, "LOC")]),
]
WINDOW = {"max_length": 16, "stride": 8}


def make_nlp(encoder: str, **cfg):
    model_cfg = {"encoder": {"name": encoder}, "dropout": 0.0, **WINDOW}
    model_cfg.update(cfg.pop("model", {}))
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_ner", name="ner", config={"model": model_cfg, **cfg})
    return nlp


def make_examples(nlp, data=PIECES):
    return [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in data]


def train(nlp, examples, steps, lr=5e-3):
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    optimizer = Adam(lr)
    seen = []
    for _ in range(steps):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        seen.append(losses["ner"])
    return seen


def ents(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def join(pieces):
    """Concatenate (text, entities) pieces with single spaces."""
    texts, spans, offset = [], [], 0
    for text, piece_ents in pieces:
        spans.extend((s + offset, e + offset, label) for s, e, label in piece_ents)
        texts.append(text)
        offset += len(text) + 1
    return " ".join(texts), spans


@pytest.fixture(scope="module")
def trained(tiny_encoder):
    """Trained on the pieces alone and in pairs of neighbours (each fits one
    window), so the tiny encoder learns the words rather than their positions."""
    nlp = make_nlp(tiny_encoder)
    pairs = [(i, (i + 1) % 5) for i in range(5)] + [((i + 1) % 5, i) for i in range(5)]
    data = PIECES + [join([PIECES[a], PIECES[b]]) for a, b in pairs]
    losses = train(nlp, make_examples(nlp, data), steps=30)
    return nlp, make_examples(nlp), losses


def test_ner_overfit_and_io(trained, tmp_path):
    nlp, examples, losses = trained
    assert losses[-1] < losses[0] * 0.1
    texts = [text for text, _ in PIECES]
    for text, gold in PIECES:
        assert ents(nlp(text)) == gold
    before = [ents(nlp(t)) for t in texts]
    assert [ents(d) for d in nlp.pipe(texts, batch_size=2)] == before
    ner = nlp.get_pipe("ner")
    probs_before = ner.predict([nlp.make_doc(t) for t in texts])
    nlp.to_disk(tmp_path)
    nlp2 = spacy.load(tmp_path)
    assert [ents(nlp2(t)) for t in texts] == before
    probs_after = nlp2.get_pipe("ner").predict([nlp2.make_doc(t) for t in texts])
    for a, b in zip(probs_before, probs_after):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    assert nlp2.get_pipe("ner").labels == ("LOC", "ORG", "PER")
    scores = nlp2.evaluate(examples)
    assert scores["ents_f"] == 1.0
    assert scores["ents_p"] == 1.0 and scores["ents_r"] == 1.0
    assert set(scores["ents_per_type"]) == {"PER", "LOC", "ORG"}
    nlp3 = spacy.blank("en").from_config(nlp.config)
    nlp3.from_bytes(nlp.to_bytes())
    assert ents(nlp3(texts[0])) == before[0]


def test_ner_long_doc_predicts_like_its_pieces(trained):
    nlp, _, _ = trained
    order = [0, 2, 1, 3, 4, 1, 0, 3, 2, 4, 2, 2, 1]
    text, expected = join([(PIECES[i][0], ents(nlp(PIECES[i][0]))) for i in order])
    long_doc = nlp(text)
    ner = nlp.get_pipe("ner")
    batch = encode_texts(ner.encoder_shim.tokenizer, [text], max_length=16, windows=True, stride=8)
    assert batch.n_rows >= 8
    assert len(expected) == 21
    assert ents(long_doc) == expected


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_ner_each_token_is_read_from_its_best_window(tiny_encoder, pooling):
    """The per-token output equals the output layer applied to the token's
    wordpieces in its chosen window, encoded on its own."""
    nlp = make_nlp(tiny_encoder, model={"token_pooling": pooling})
    nlp.initialize(lambda: make_examples(nlp))
    ner = nlp.get_pipe("ner")
    output = ner.model.get_ref("output_layer")
    rng = numpy.random.default_rng(0)
    output.set_param("W", rng.normal(size=output.get_param("W").shape).astype("float32"))
    # Out-of-vocabulary words split into several wordpieces, some across windows.
    doc = nlp.make_doc(" ".join(t for t, _ in PIECES * 3) + " unbelievably quixotic zyx  paris")
    assert any(len(token_alignment(doc, o)[-4]) > 3 for o in [encode_texts(
        ner.encoder_shim.tokenizer, [doc.text], max_length=512).offsets[0]])
    probs = ner.predict([doc])[0]
    batch = encode_texts(ner.encoder_shim.tokenizer, [doc.text], max_length=16, windows=True, stride=8)
    assert batch.n_rows >= 6
    choice = choose_windows([doc], batch)
    encoder = ner.model.get_ref("encoder")
    hidden_per_row = []
    for row in range(batch.n_rows):
        n = int(batch.lengths[row])
        one = type(batch)(
            batch.input_ids[row : row + 1, :n], batch.attention_mask[row : row + 1, :n],
            batch.token_type_ids[row : row + 1, :n], [batch.offsets[row]], batch.doc_index[row : row + 1],
            batch.lengths[row : row + 1],
        )
        hidden_per_row.append(ner.model.ops.to_numpy(encoder.predict(one).hidden[0]))
    used_rows = set()
    for tok in doc:
        row = choice.row[tok.i]
        if row < 0:
            assert tok.is_space and not probs[tok.i].any()
            continue
        wps = token_alignment(doc, batch.offsets[row])[tok.i]
        use = wps[:1] if pooling == "first" else wps
        expected = output.predict(hidden_per_row[row][use].mean(axis=0, keepdims=True))[0]
        numpy.testing.assert_allclose(probs[tok.i], expected, atol=1e-4)
        used_rows.add(row)
    assert len(used_rows) >= 6


@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
def test_ner_training_on_long_docs(tiny_encoder, scheme):
    """Windows are used in training too: a doc of several windows is learnt."""
    nlp = make_nlp(tiny_encoder, scheme=scheme)
    text, spans = join(PIECES)
    examples = make_examples(nlp, [(text, spans)])
    losses = train(nlp, examples, steps=30)
    assert losses[-1] < losses[0] * 0.1
    assert ents(nlp(text)) == spans


def is_valid(tags, scheme):
    """Independent statement of valid sequences."""
    prev = "O"
    for tag in tags + (["O"] if scheme == "BILUO" else []):
        p_prefix, p_label = ("O", None) if prev == "O" else prev.split("-", 1)
        prefix, label = ("O", None) if tag == "O" else tag.split("-", 1)
        open_entity = p_prefix in ("B", "I")
        if prefix in ("I", "L"):
            if not open_entity or label != p_label:
                return False
        elif scheme == "BILUO" and open_entity:
            return False
        prev = tag
    return True


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["BIO", "BILUO"]),
    n_labels=st.integers(1, 3),
    data=st.data(),
)
def test_decoder_always_yields_valid_spans(scheme, n_labels, data):
    labels = ["A", "B", "C"][:n_labels]
    tags = tag_names(labels, scheme)
    n = data.draw(st.integers(0, 12))
    raw = data.draw(st.lists(st.floats(0.0, 1.0), min_size=n * len(tags), max_size=n * len(tags)))
    probs = numpy.asarray(raw, dtype="float32").reshape((n, len(tags)))
    unseen = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    probs[numpy.asarray(unseen, dtype=bool)] = 0.0
    constraints = transition_constraints(tags, scheme)
    path = viterbi_decode(probs, *constraints)
    decoded = [tags[i] for i in path]
    assert len(decoded) == n
    assert is_valid(decoded, scheme)
    for i, flag in enumerate(unseen):
        if flag:
            assert decoded[i] == "O"
    spans = tags_to_spans(decoded)
    covered = set()
    for start, end, label in spans:
        assert 0 <= start < end <= n and label in labels
        assert not covered & set(range(start, end))
        covered.update(range(start, end))
    assert covered == {i for i, tag in enumerate(decoded) if tag != "O"}
    # Small cases: the decoder finds the best valid sequence.
    if n <= 4 and len(tags) ** n <= 5000:
        logp = numpy.log(numpy.clip(probs, 1e-12, None))
        best = -numpy.inf
        for seq in itertools.product(range(len(tags)), repeat=n):
            if any(unseen[i] and seq[i] != 0 for i in range(n)):
                continue
            if is_valid([tags[i] for i in seq], scheme):
                best = max(best, sum(logp[i, j] for i, j in enumerate(seq) if not unseen[i]))
        got = sum(logp[i, j] for i, j in enumerate(path) if not unseen[i])
        assert got == pytest.approx(best, abs=1e-4)


@settings(max_examples=50, deadline=None)
@given(scheme=st.sampled_from(["BIO", "BILUO"]), lengths=st.lists(st.integers(0, 9), max_size=8),
       chunk_size=st.integers(1, 4), seed=st.integers(0, 1000))
def test_batched_decoder_equals_single(scheme, lengths, chunk_size, seed):
    tags = tag_names(["A", "B"], scheme)
    rng = numpy.random.default_rng(seed)
    probs = [rng.dirichlet(numpy.ones(len(tags)), size=n).astype("float32") for n in lengths]
    for p in probs:
        p[rng.random(len(p)) < 0.2] = 0.0
    constraints = transition_constraints(tags, scheme)
    batched = viterbi_decode_batch(probs, *constraints, chunk_size=chunk_size)
    assert [b.tolist() for b in batched] == [viterbi_decode(p, *constraints).tolist() for p in probs]


@functools.lru_cache(maxsize=1)
def english_vocab() -> Vocab:
    """A language's vocab (its lexemes know they are whitespace: IS_SPACE),
    made once for the property tests' many examples."""
    return spacy.blank("en").vocab


def draw_annotated_doc(data, vocab, labels):
    """A doc of words and whitespace tokens whose entity annotation is
    complete, partly missing or absent."""
    n = data.draw(st.integers(0, 12))
    words = data.draw(st.lists(st.sampled_from(["john", "paris", "new", "york", "the", " ", "\n"]),
                               min_size=n, max_size=n))
    spaces = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    reference = Doc(vocab, words=words, spaces=spaces)
    ents, outside, i = [], [], 0
    while i < n:
        kind = data.draw(st.sampled_from(["ent", "out", "missing"]))
        length = data.draw(st.integers(1, 3))
        span = reference[i : min(i + length, n)]
        if kind == "ent":
            span.label_ = data.draw(st.sampled_from(labels))
            ents.append(span)
        elif kind == "out":
            outside.append(span)
        i = span.end
    if data.draw(st.booleans()):
        reference.set_ents(ents, outside=outside, default="unmodified")
    return reference


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_gold_tags_of_identical_tokens_equal_spacy_alignment(data):
    """The batch shortcut for examples whose two docs share their tokens
    gives exactly spaCy's aligned tags, looked up in the scheme (missing
    annotation, whitespace, labels that are not spaCy symbols), and finds
    the first token of a label the component lacks."""
    vocab = english_vocab()
    labels = ["PER", "LOC", "MY_CUSTOM_LABEL"]
    known = tuple(data.draw(st.lists(st.sampled_from(labels), min_size=1, max_size=3, unique=True)))
    scheme = data.draw(st.sampled_from(["BIO", "BILUO"]))
    table = _TagTable((known, scheme), tuple(tag_names(known, scheme)), scheme)
    docs = [draw_annotated_doc(data, vocab, labels) for _ in range(data.draw(st.integers(1, 4)))]
    gold, unknown = _biluo_gold(docs, table.gold_by_type)
    expected, first_unknown = [], None
    for d, reference in enumerate(docs):
        predicted = Doc(vocab, words=[t.text for t in reference], spaces=[bool(t.whitespace_) for t in reference])
        assert _same_tokens(predicted, reference)
        for tag in Example(predicted, reference).get_aligned_ner():
            if tag in table.gold_index:
                expected.append(table.gold_index[tag])
            else:
                expected.append(None)
                if first_unknown is None:
                    first_unknown = (d, vocab.strings[tag.split("-", 1)[1]])
    assert unknown == first_unknown
    if unknown is None:
        assert gold.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_gold_tags_of_a_batch_equal_each_doc_alone(data):
    """Read together, each doc's tags are its own: an entity at the end of
    one doc does not run into the next, even where that doc starts inside
    one (token arrays spaCy's ents would reject, set with from_array)."""
    vocab = english_vocab()
    table = _TagTable((("PER", "LOC"), "BILUO"), tuple(tag_names(("PER", "LOC"), "BILUO")), "BILUO")
    docs = []
    for _ in range(data.draw(st.integers(1, 4))):
        n = data.draw(st.integers(0, 6))
        doc = Doc(vocab, words=data.draw(st.lists(st.sampled_from(["a", "b", " "]), min_size=n, max_size=n)))
        iob = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        types = [vocab.strings.add(data.draw(st.sampled_from(["PER", "LOC"]))) if i in (1, 3) else 0 for i in iob]
        if n:
            doc.from_array([ENT_IOB, ENT_TYPE], numpy.asarray(list(zip(iob, types)), dtype="uint64"))
        docs.append(doc)
    together, unknown = _biluo_gold(docs, table.gold_by_type)
    assert unknown is None
    assert together.tolist() == [g for doc in docs for g in _biluo_gold([doc], table.gold_by_type)[0].tolist()]


def test_whitespace_tokens_are_O_and_take_no_loss(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp, [("john  smith lives in paris", [(0, 11, "PER"), (21, 26, "LOC")])])
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    doc = examples[0].predicted
    assert doc[1].is_space
    scores, _ = ner.model.begin_update([doc])
    assert scores[0][1].sum() == 0.0 and scores[0][0].sum() == pytest.approx(1.0)
    _, d_scores = ner.get_loss(examples, scores)
    assert not d_scores[0][1].any() and d_scores[0][0].any()
    # The whitespace inside the gold entity splits the prediction, never crashes it.
    result = nlp("john  smith")
    assert result[1].ent_iob_ == "O"


def test_misaligned_entities_warn_with_counts(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    good = make_examples(nlp)
    # The reference splits "marysmith" into two entities; the predicted tokens do not.
    reference = Doc(nlp.vocab, words=["johnsmith", "mary", "smith", "visited", "paris", "zyx"],
                    spaces=[True, False, True, True, True, False], ents=["O", "B-PER", "B-PER", "O", "B-LOC", "O"])
    bad = Example(nlp.make_doc(reference.text), reference)
    with pytest.warns(UserWarning, match=r"W002.*2 reference entity span\(s\) in 1 training doc\(s\).*'mary'"):
        nlp.initialize(lambda: good + [bad])
    # Already reported: training on it does not warn again, and only the
    # misaligned tokens are left out of the loss.
    ner = nlp.get_pipe("ner")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses = nlp.update([bad], sgd=Adam(1e-3))
    assert losses["ner"] > 0
    gold, misaligned = ner._gold([bad])
    assert [span.text for _, span in misaligned] == ["mary", "smith"]
    assert [t.text for t in bad.predicted] == ["johnsmith", "marysmith", "visited", "paris", "zyx"]
    assert gold.tolist() == [0, -1, 0, ner.tags.index("B-LOC"), 0]
    # A fresh component warns on its first update instead.
    nlp2 = make_nlp(tiny_encoder)
    nlp2.initialize(lambda: good)
    with pytest.warns(UserWarning, match="W002"):
        nlp2.update([bad])


def test_gold_of_a_mixed_batch_is_each_examples(tiny_encoder):
    """Examples with the same tokens on both sides (read together) and
    misaligned ones (spaCy's alignment) in one batch: each gets its own tags,
    in the caller's order, and an unknown label names the first doc with
    one, whichever path read it."""
    nlp = make_nlp(tiny_encoder)
    good = make_examples(nlp)
    reference = Doc(nlp.vocab, words=["johnsmith", "mary", "smith", "visited", "paris", "zyx"],
                    spaces=[True, False, True, True, True, False], ents=["O", "B-PER", "B-PER", "O", "B-LOC", "O"])
    bad = Example(nlp.make_doc(reference.text), reference)
    with pytest.warns(UserWarning, match="W002"):
        nlp.initialize(lambda: good + [bad])
    ner = nlp.get_pipe("ner")
    batch = [good[0], bad, good[1], bad, good[3]]
    gold, misaligned = ner._gold(batch)
    assert gold.tolist() == [g for eg in batch for g in ner._gold([eg])[0].tolist()]
    assert [i for i, _ in misaligned] == [1, 1, 3, 3]
    # unknown labels on both paths: the first doc is named
    same_unknown = Example.from_dict(nlp.make_doc("mary lives in paris"), {"entities": [(0, 4, "PERSON")]})
    odd = Doc(nlp.vocab, words=["johnsmith", "mary", "smith"], spaces=[True, False, False],
              ents=["B-PERSON", "B-PER", "B-PER"])
    misaligned_unknown = Example(nlp.make_doc(odd.text), odd)
    assert not _same_tokens(misaligned_unknown.predicted, misaligned_unknown.reference)
    with pytest.raises(ValueError, match=r"doc 1 .*'PERSON'"):
        ner._gold([good[0], same_unknown, misaligned_unknown])
    with pytest.raises(ValueError, match=r"doc 1 .*'PERSON'"):
        ner._gold([good[0], misaligned_unknown, same_unknown])


def test_ner_spans_key_without_touching_ents(trained, tiny_encoder):
    nlp, examples, _ = trained
    nlp2 = make_nlp(tiny_encoder, spans_key="bert", set_ents=False)
    nlp2.from_bytes(nlp.to_bytes())
    doc = nlp2.make_doc("john smith lives in paris")
    doc.ents = [doc.char_span(0, 4, "OTHER")]
    doc = nlp2.get_pipe("ner")(doc)
    assert ents(doc) == [(0, 4, "OTHER")]
    group = doc.spans["bert"]
    assert [(s.start_char, s.end_char, s.label_) for s in group] == PIECES[0][1]
    assert all(0.5 < score <= 1.0 for score in group.attrs["scores"])
    scores = nlp2.evaluate(examples)
    assert scores["ents_f"] == 1.0


def test_ner_labels_and_config_errors(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    nlp.initialize(lambda: make_examples(nlp))
    ner = nlp.get_pipe("ner")
    assert ner.tags[0] == "O" and len(ner.tags) == 1 + 2 * 3
    with pytest.raises(ValueError, match="E106"):
        ner.add_label("MISC")
    unknown = Example.from_dict(nlp.make_doc("mary lives in paris"), {"entities": [(0, 4, "PERSON")]})
    with pytest.raises(ValueError, match=r"doc 1 .*'PERSON'"):
        nlp.update([make_examples(nlp)[0], unknown])
    partial = make_nlp(tiny_encoder)
    partial.config["initialize"]["components"]["ner"] = {"labels": ["PER", "LOC"]}
    with pytest.raises(ValueError, match=r"doc 3 .*'ORG'"):
        partial.initialize(lambda: make_examples(partial))
    nlp_labels = make_nlp(tiny_encoder, scheme="BILUO")
    nlp_labels.config["initialize"]["components"]["ner"] = {"labels": ["PER", "LOC", "ORG", "MISC"]}
    nlp_labels.initialize(lambda: make_examples(nlp_labels))
    assert nlp_labels.get_pipe("ner").labels == ("PER", "LOC", "ORG", "MISC")
    assert len(nlp_labels.get_pipe("ner").tags) == 1 + 4 * 4
    with pytest.raises(ValueError, match="E104"):
        empty = make_nlp(tiny_encoder)
        empty.initialize(lambda: make_examples(empty, [("the cat sat", [])]))
    with pytest.raises(ValueError, match="E105"):
        make_nlp(tiny_encoder, set_ents=False)
    with pytest.raises(ValueError, match="E102"):
        make_nlp(tiny_encoder, scheme="IOB2")
    with pytest.raises(ValueError, match="E101"):
        make_nlp(tiny_encoder, model={"max_length": 16, "stride": 14})
    with pytest.raises(ValueError, match="E100"):
        make_nlp(tiny_encoder, model={"token_pooling": "last"})


def test_ner_empty_inputs(trained):
    nlp, _, _ = trained
    ner = nlp.get_pipe("ner")
    assert ner.predict([]) == []
    assert list(nlp.pipe([])) == []
    assert ents(nlp("")) == []
    assert [ents(d) for d in nlp.pipe(["", "  ", "john smith lives in paris"])] == [[], [], PIECES[0][1]]


def test_ner_config_trains_with_spacy_train(tiny_encoder, tmp_path):
    from pathlib import Path

    from spacy.cli.train import train as spacy_train

    nlp = spacy.blank("en")
    db = DocBin()
    for eg in make_examples(nlp):
        db.add(eg.reference)
    data = tmp_path / "train.spacy"
    db.to_disk(data)
    overrides = {
        "paths.train": str(data),
        "paths.dev": str(data),
        "paths.encoder": tiny_encoder,
        "training.max_epochs": 0,
        "training.max_steps": 4,
        "training.eval_frequency": 2,
        "training.optimizer.learn_rate.warmup_steps": 1,
        "training.optimizer.learn_rate.total_steps": 4,
    }
    config = Path(__file__).parent.parent.parent / "configs" / "ner.cfg"
    spacy_train(config, tmp_path / "out", overrides=overrides)
    best = spacy.load(tmp_path / "out" / "model-best")
    assert best.get_pipe("ner").labels == ("LOC", "ORG", "PER")
    assert "ents_f" in best.meta["performance"]


def test_ner_update_is_the_plain_torch_adamw_step(tiny_encoder):
    """One bert_ner update (head by thinc's Adam, encoder by torch's AdamW, one
    clipping norm over both) is the step a plain PyTorch loop takes with the
    same model, loss and optimizer settings: the same clipped gradients, and
    the same losses over the next steps."""
    import copy

    import torch

    nlp = make_nlp(tiny_encoder)  # no dropout; the tiny encoder has none either
    examples = make_examples(nlp)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    shim = ner.encoder_shim
    output = ner.model.get_ref("output_layer")
    encoder = copy.deepcopy(shim._model.transformer)
    head = torch.nn.Linear(output.get_dim("nI"), output.get_dim("nO"))
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(output.get_param("W").copy()))
        head.bias.copy_(torch.from_numpy(output.get_param("b").copy()))
    lr, clip, decay = 1e-3, 0.5, 0.01
    sgd = Adam(lr, L2=decay, L2_is_weight_decay=True, grad_clip=clip, use_averages=False)
    no_decay = [p for n, p in encoder.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    with_decay = [p for n, p in encoder.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    params = with_decay + no_decay + [head.weight, head.bias]
    torch_opt = torch.optim.AdamW(
        [{"params": with_decay + [head.weight], "weight_decay": decay},
         {"params": no_decay + [head.bias], "weight_decay": 0.0}], lr=lr)
    tag_ids = {tag: i for i, tag in enumerate(ner.tags)}
    words = [[t.text for t in eg.predicted] for eg in examples]
    gold = [[tag_ids[f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ != "O" else "O"] for t in eg.reference]
            for eg in examples]
    batch = shim.tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt")
    labels = torch.full(batch["input_ids"].shape, -100)
    for i, tags in enumerate(gold):
        previous = None
        for j, word in enumerate(batch.word_ids(i)):
            if word is not None and word != previous:
                labels[i, j] = tags[word]
            previous = word

    def torch_loss():
        logits = head(encoder(**batch).last_hidden_state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        return float(loss), norm

    # The first step's clipped gradients, before either optimizer runs.
    losses = {}
    ner.update(examples, sgd=None, losses=losses)
    ner._clip_global_norm(sgd)
    loss, norm = torch_loss()
    assert norm > clip  # the clipping path runs
    assert losses["ner"] == pytest.approx(loss, rel=1e-5)
    scale = float(head.weight.grad.abs().max())
    numpy.testing.assert_allclose(output.get_grad("W"), head.weight.grad.numpy(), atol=1e-4 * scale)
    numpy.testing.assert_allclose(output.get_grad("b"), head.bias.grad.numpy(), atol=1e-4 * scale)
    ours = dict(shim._model.transformer.named_parameters())
    for name, param in encoder.named_parameters():
        numpy.testing.assert_allclose(ours[name].grad.numpy(), param.grad.numpy(), atol=1e-4 * scale,
                                      err_msg=name)
    ner.finish_update(sgd)
    # torch's fused AdamW kernel where this torch has one (CPU since 2.4): the
    # same step as the per-parameter loop torch_opt runs, about 5x faster on CPU
    assert shim._torch_opt.defaults["fused"] is fused_adamw_supported(torch.device("cpu"))
    torch_opt.step()
    torch_opt.zero_grad()
    for _ in range(3):
        losses = {}
        nlp.update(examples, sgd=sgd, losses=losses)
        loss, _ = torch_loss()
        torch_opt.step()
        torch_opt.zero_grad()
        assert losses["ner"] == pytest.approx(loss, rel=1e-3)


@pytest.mark.parametrize("version,device,fused", [
    ("2.3.1", "cpu", False), ("2.4.0", "cpu", True), ("2.13.0+cpu", "cpu", True), ("2.1.0", "cuda", True),
    ("2.13.0", "mps", False),
])
def test_fused_adamw_only_where_torch_has_it(monkeypatch, version, device, fused):
    import torch

    monkeypatch.setattr(torch, "__version__", version)
    assert fused_adamw_supported(torch.device(device)) is fused


def test_encoder_gradients_clipped_once(tiny_encoder, monkeypatch):
    # The component clips encoder and head in one norm; the shim's own
    # clip_grad_norm_ (a no-op after it, at a norm and a multiply over every
    # gradient) only runs when nothing clipped before finish_update.
    import torch

    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    calls = []
    clip_grad_norm = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_",
                        lambda *args, **kwargs: calls.append(1) or clip_grad_norm(*args, **kwargs))
    sgd = Adam(1e-3, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0, use_averages=False)
    ner.update(examples, sgd=sgd)
    assert calls == []
    ner.update(examples, sgd=None)
    ner.model.finish_update(sgd)  # the model alone, as another caller would step it
    assert calls == [1]
