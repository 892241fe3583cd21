from pathlib import Path

import numpy
import pytest
import spacy
import torch
from spacy.tokens import DocBin, SpanGroup
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_bertft import qa_doc
from spacy_bertft.pipeline.qa import qa_reference_doc, window_label
from spacy_bertft.segments import join_segments

CONFIGS = Path(__file__).parent.parent.parent / "configs"

QA = [
    ("where does john live?", "john lives in paris and works for google.", "paris"),
    ("who visited the capital?", "the man visited the capital of france.", "the man"),
    ("where was mary born?", "mary smith was born in london.", "london"),
    ("what is the dog doing?", "the dog is sleeping on the mat.", "sleeping"),
]


def make_nlp(encoder, *, max_length=64, stride=16, **cfg):
    nlp = spacy.blank("en")
    nlp.add_pipe("bert_qa", name="qa", config={
        "model": {"encoder": {"name": encoder}, "max_length": max_length, "stride": stride}, **cfg,
    })
    return nlp


def make_examples(nlp, rows):
    examples = []
    for i, (question, context, answer) in enumerate(rows):
        answers = [] if answer is None else [{"text": answer, "answer_start": context.index(answer)}]
        ref = qa_reference_doc(nlp, question, context, answers, index=i)
        examples.append(Example(nlp.make_doc(ref.text), ref))
    return examples


def train(nlp, examples, steps, lr=2e-3):
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    optimizer = Adam(lr)
    losses = []
    for _ in range(steps):
        step = {}
        nlp.update(examples, sgd=optimizer, losses=step)
        losses.append(step["qa"])
    return losses


def answers(doc, key="answers"):
    return [span.text for span in doc.spans[key]]


def test_qa_overfit_and_io(tiny_encoder, tmp_path):
    nlp = make_nlp(tiny_encoder)
    examples = make_examples(nlp, QA)
    losses = train(nlp, examples, 45)
    assert losses[-1] < losses[0] * 0.3
    docs = [nlp(qa_doc(nlp, q, c)) for q, c, _ in QA]
    for doc, (question, context, answer) in zip(docs, QA):
        group = doc.spans["answers"]
        assert group[0].text == answer
        assert group[0].label_ == "ANSWER"
        # answers are spans of the context, best first, with their scores
        assert all(span.start_char >= len(question) for span in group)
        scores = group.attrs["scores"]
        assert len(scores) == len(group) and scores == sorted(scores, reverse=True)
        assert isinstance(group.attrs["null_score"], float) and group.attrs["no_answer"] is False
        assert [s.text for s in doc.spans["segments"]] == [question, context]
    piped = list(nlp.pipe([qa_doc(nlp, q, c) for q, c, _ in QA], batch_size=3))
    for d1, d2 in zip(docs, piped):
        assert answers(d1) == answers(d2)
        assert d1.spans["answers"].attrs["scores"] == pytest.approx(d2.spans["answers"].attrs["scores"], abs=1e-5)
    # A plain-text doc (what spacy train and nlp.evaluate make) is answered the same way.
    plain = nlp(join_segments(QA[0][0], QA[0][1]))
    assert answers(plain) == answers(docs[0])
    # The reference docs survive a DocBin; the saved pipeline predicts the same.
    db = DocBin(store_user_data=True, docs=[eg.reference for eg in examples])
    restored = list(DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab))
    assert [r.spans["answers"].attrs["texts"] for r in restored] == [[a] for _, _, a in QA]
    nlp.to_disk(tmp_path)
    nlp2 = spacy.load(tmp_path)
    again = [nlp2(nlp2.make_doc(d.text)) for d in restored]
    for d1, d2 in zip(docs, again):
        assert answers(d1) == answers(d2)
        assert d1.spans["answers"].attrs["scores"] == pytest.approx(d2.spans["answers"].attrs["scores"], abs=1e-5)
        assert d1.spans["answers"].attrs["null_score"] == pytest.approx(d2.spans["answers"].attrs["null_score"], abs=1e-5)
    scores = nlp2.evaluate([Example(nlp2.make_doc(d.text), d) for d in restored])
    assert scores["qa_exact_match"] == 1.0
    assert scores["qa_f1"] == 1.0
    assert nlp2.get_pipe("qa").cfg["answers_key"] == "answers"


def test_qa_loss_and_gradient(tiny_encoder):
    nlp = make_nlp(tiny_encoder, max_length=24, stride=6)
    long_context = "the cat sat on the mat and the dog was sleeping outside in london with mary and john."
    rows = QA[:2] + [("where was the dog sleeping?", long_context, "outside in london"),
                     ("where does mary live?", QA[3][1], None)]
    examples = make_examples(nlp, rows)
    nlp.initialize(lambda: examples)
    qa = nlp.get_pipe("qa")
    output = qa.model.predict([eg.predicted for eg in examples])
    batch = output.wordpieces
    assert batch.n_rows > len(rows)  # the long context is windowed
    loss, d_logits = qa.get_loss(examples, output)
    starts, ends = qa._labels(examples, output)
    # windows of the unanswerable question point at [CLS]
    assert all(starts[batch.doc_index == 3] == 0) and all(ends[batch.doc_index == 3] == 0)
    logits = qa.model.ops.to_numpy(output.logits).astype("float64")
    mask = batch.attention_mask > 0

    def reference_loss(values):
        total = 0.0
        for row in range(batch.n_rows):
            for k, gold in ((0, starts[row]), (1, ends[row])):
                z = values[row, mask[row], k]
                total -= z[gold] - numpy.log(numpy.exp(z - z.max()).sum()) - z.max()
        return total / (2 * batch.n_rows)

    assert loss == pytest.approx(reference_loss(logits), rel=1e-4)
    assert (d_logits[~mask] == 0).all()
    eps = 1e-3
    for row, pos, k in [(0, 0, 0), (0, 5, 1), (batch.n_rows - 1, 3, 0), (2, int(starts[2]), 0)]:
        plus, minus = logits.copy(), logits.copy()
        plus[row, pos, k] += eps
        minus[row, pos, k] -= eps
        numeric = (reference_loss(plus) - reference_loss(minus)) / (2 * eps)
        assert d_logits[row, pos, k] == pytest.approx(numeric, abs=1e-4)


def _grads(qa):
    """The accumulated gradients of the encoder (torch) and the head (thinc)."""
    module = qa.encoder_shim._model
    grads = [p.grad.detach().clone().numpy() for p in module.parameters() if p.grad is not None]
    head = qa.model.get_ref("output_layer").get_ref("linear")
    return grads, numpy.array(head.get_grad("W"))


def test_qa_windows_per_pass_accumulates_the_same_gradient(tiny_encoder):
    # Long contexts make several windows each; with max_windows_per_pass the
    # batch goes through the encoder in passes of whole questions, and the
    # update is the one of a single pass (loss and gradients equal).
    long_context = "the cat sat on the mat and the dog was sleeping outside in london with mary and john."
    rows = [("where was the dog sleeping?", long_context, "outside in london"), QA[0],
            ("who sat on the mat?", long_context, "the cat"), ("where does mary live?", QA[3][1], None)]
    results = []
    for limit in (0, 3):
        nlp = make_nlp(tiny_encoder, max_length=24, stride=6, max_windows_per_pass=limit)
        examples = make_examples(nlp, rows)
        fix_random_seed(0)
        nlp.initialize(lambda: examples)
        qa = nlp.get_pipe("qa")
        batch = qa._encode([eg.predicted.text for eg in examples])
        counts = batch.rows_per_doc(len(examples))
        assert counts[0] >= 2 and counts.sum() > 3
        passes = qa._update_passes(examples)
        assert (len(passes) == 1) if limit == 0 else (len(passes) > 1)
        assert sum(w for _, _, w in passes) == pytest.approx(1.0)
        # each pass reads its questions' windows, tokenized once for the batch
        assert sum(inputs.n_rows for inputs, _, _ in passes) == batch.n_rows
        assert all(inputs.n_rows <= limit or len(set(inputs.doc_index.tolist())) == 1 for inputs, _, _ in passes if limit)
        losses = {}
        qa.update(examples, drop=0.0, losses=losses)
        results.append((losses["qa"], *_grads(qa)))
    (loss_a, torch_a, head_a), (loss_b, torch_b, head_b) = results
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    assert numpy.allclose(head_a, head_b, atol=1e-6)
    assert len(torch_a) == len(torch_b) > 0
    assert all(numpy.allclose(a, b, atol=1e-6) for a, b in zip(torch_a, torch_b))
    with pytest.raises(ValueError, match="E167"):
        make_nlp(tiny_encoder, max_windows_per_pass=-1)


def test_qa_windows_per_pass_default_depends_on_the_device(tiny_encoder, monkeypatch):
    # null: 16 windows on CPU (memory); 32 on GPU, where a pass costs its
    # kernel launches whatever its size; a number is kept as set
    qa = make_nlp(tiny_encoder).get_pipe("qa")
    assert qa.cfg["max_windows_per_pass"] is None
    assert qa._windows_per_pass() == 16
    assert make_nlp(tiny_encoder, max_windows_per_pass=5).get_pipe("qa")._windows_per_pass() == 5
    assert make_nlp(tiny_encoder, max_windows_per_pass=0).get_pipe("qa")._windows_per_pass() == 0

    class OnGPU:
        device = torch.device("cuda")

    monkeypatch.setattr(type(qa), "encoder_shim", property(lambda self: OnGPU()))
    assert qa._windows_per_pass() == 32


def test_qa_prediction_batches_count_windows(tiny_encoder):
    # predict_batch_size counts windows, as the HF pipeline's batch size does
    # (a question with more windows goes alone); the answers do not depend on
    # how the docs were split into passes.
    long_context = "the cat sat on the mat and the dog was sleeping outside in london with mary and john."
    rows = [("where was the dog sleeping?", long_context, "outside in london"), QA[0],
            ("who sat on the mat?", long_context, "the cat"), QA[2], QA[3]]
    nlp = make_nlp(tiny_encoder, max_length=24, stride=6)
    examples = make_examples(nlp, rows)
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    qa = nlp.get_pipe("qa")
    docs = [eg.predicted for eg in examples]
    texts = [doc.text for doc in docs]
    lengths, rows_per_doc = qa._measure(texts, qa._encode(texts))
    assert rows_per_doc == [2, 1, 2, 1, 1]
    assert lengths[0] > lengths[1]
    seen = []
    unbatch = qa._unbatch

    def spy(output, sub_docs):  # called once per forward pass
        assert output.wordpieces.n_rows == sum(rows_per_doc[texts.index(d.text)] for d in sub_docs)
        seen.append(output.wordpieces.n_rows)
        return unbatch(output, sub_docs)

    qa._unbatch = spy
    best = {}
    for size, passes in ((64, [7]), (3, [2, 3, 2]), (1, [2, 2, 1, 1, 1])):
        seen.clear()
        qa.cfg["predict_batch_size"] = size
        choices = qa.predict(docs)
        # longest first: with 3, [2], [2, 1], [1, 1]; with 1, each question alone
        assert seen == passes
        best[size] = [(c.answers[0].start_char, c.answers[0].end_char) for c in choices]
    assert best[3] == best[1] == best[64]
    assert qa._encode([]).n_rows == 0


def test_window_label():
    # [CLS] q [SEP] c0 c1 c2 [SEP]; the context starts at char 10
    offsets = numpy.asarray([[-1, -1], [0, 5], [-1, -1], [10, 14], [15, 19], [19, 20], [-1, -1]])
    assert window_label(offsets, 10, (15, 20)) == (4, 5)
    assert window_label(offsets, 10, (10, 14)) == (3, 3)
    assert window_label(offsets, 10, (16, 18)) == (4, 4)  # inside one wordpiece
    assert window_label(offsets, 10, (15, 25)) == (0, 0)  # runs past the window
    assert window_label(offsets, 10, (2, 5)) == (0, 0)  # before the window's context
    assert window_label(offsets, 10, None) == (0, 0)


def test_qa_answer_near_window_boundary(tiny_encoder):
    """A long context is cut into windows (32 wordpieces, 16 shared); the
    answer sits where one window ends, so one window holds only its start."""
    nlp = make_nlp(tiny_encoder, max_length=32, stride=16)
    question, answer = "who lives in berlin?", "john smith"
    fix_random_seed(0)
    nlp.initialize(lambda: make_examples(nlp, QA))
    qa = nlp.get_pipe("qa")
    filler = "the cat sat on the mat and the dog was sleeping outside ."
    words = filler.split()
    found = None
    for n in range(20, 60):
        prefix = " ".join((words * 5)[:n])
        context = f"{prefix} then {answer} lives in berlin with mary . {filler}"
        ref = make_examples(nlp, [(question, context, answer)])[0]
        output = qa.model.predict([ref.predicted])
        starts, ends = qa._labels([ref], output)
        b_start = ref.reference.text.index(context)
        a_start = b_start + context.index(answer)
        cut = [
            row for row, offs in enumerate(output.wordpieces.offsets)
            if (offs[:, 0] == a_start).any() and offs[:, 1].max() < a_start + len(answer)
        ]
        if cut and output.wordpieces.n_rows >= 4:
            found = ref
            break
    assert found is not None
    # the window that cuts the answer is labelled [CLS]; some window holds all of it
    assert starts[cut[0]] == 0 and ends[cut[0]] == 0
    assert (starts > 0).sum() >= 1
    examples = [found] + make_examples(nlp, QA[:2])
    losses = train(nlp, examples, 40)
    assert losses[-1] < losses[0] * 0.3
    doc = nlp(nlp.make_doc(found.reference.text))
    assert answers(doc)[0] == answer


def test_qa_no_answer(tiny_encoder):
    rows = QA[:3] + [
        ("where does mary live?", "the dog is sleeping on the mat.", None),
        ("what did the woman visit?", "it was a great film and a happy story.", None),
    ]
    nlp = make_nlp(tiny_encoder, null_threshold=0.0)
    examples = make_examples(nlp, rows)
    assert len(examples[3].reference.spans["answers"]) == 0
    losses = train(nlp, examples, 45)
    assert losses[-1] < losses[0] * 0.3
    for (question, context, answer) in rows:
        doc = nlp(qa_doc(nlp, question, context))
        group = doc.spans["answers"]
        if answer is None:
            assert len(group) == 0 and group.attrs["no_answer"] is True
            assert group.attrs["scores"] == []
        else:
            assert group[0].text == answer and group.attrs["no_answer"] is False
    scores = nlp.evaluate(examples)
    assert scores["qa_exact_match"] == 1.0 and scores["qa_f1"] == 1.0
    # without a threshold (SQuAD v1.1), every question gets an answer
    nlp.get_pipe("qa").cfg["null_threshold"] = None
    assert len(nlp(qa_doc(nlp, rows[3][0], rows[3][1])).spans["answers"]) > 0


def test_qa_bad_answers_name_the_example(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    question, context = QA[0][0], QA[0][1]
    # an answer_start that does not point at the answer's text
    with pytest.raises(ValueError, match=r"Example 7, answer 1: the answer text 'paris' .* answer_start=3"):
        qa_reference_doc(nlp, question, context, [{"text": "john", "answer_start": 0},
                                                  {"text": "paris", "answer_start": 3}], index=7)
    with pytest.raises(ValueError, match="Example 2, answer 0: .* only whitespace"):
        qa_reference_doc(nlp, question, context, [{"text": " ", "answer_start": 4}], index=2)
    with pytest.raises(ValueError, match="Example 4: answers must be a list of dicts"):
        qa_reference_doc(nlp, question, context, [("paris", 14)], index=4)
    examples = make_examples(nlp, QA[:2])
    nlp.initialize(lambda: examples)
    # an answer span in the question instead of the context
    ref = qa_doc(nlp, question, context)
    ref.spans["answers"] = [ref.char_span(11, 15)]
    bad = Example(nlp.make_doc(ref.text), ref)
    with pytest.raises(ValueError, match=r"doc 2 has the answer span 'john' \(chars 11-15\)"):
        nlp.update(examples + [bad])
    # no answers group at all
    missing = Example(nlp.make_doc(ref.text), qa_doc(nlp, question, context))
    with pytest.raises(ValueError, match="doc 0 has no span group 'answers'"):
        nlp.update([missing])
    # not a question/context doc
    with pytest.raises(ValueError, match=r"Doc 1: .*found 0"):
        list(nlp.pipe([qa_doc(nlp, question, context), nlp.make_doc("just one text")]))


def test_qa_question_too_long_for_window(tiny_encoder):
    nlp = make_nlp(tiny_encoder, max_length=32, stride=16)
    nlp.initialize(lambda: make_examples(nlp, QA))
    long_question = " ".join(["where"] * 14) + "?"
    long_context = " ".join(["the cat sat on the mat ."] * 10)
    with pytest.raises(ValueError, match=r"doc 1 has a question of 15 wordpieces"):
        nlp.get_pipe("qa").predict([qa_doc(nlp, "who?", long_context), qa_doc(nlp, long_question, long_context)])
    # the same question is fine when the context needs no window
    doc = nlp(qa_doc(nlp, long_question, "the cat sat."))
    assert len(doc.spans["answers"]) > 0


def test_qa_empty_batch_and_options(tiny_encoder):
    nlp = make_nlp(tiny_encoder, n_best=2, answers_key="qa_answers")
    nlp.initialize(lambda: [
        Example(ex.predicted, _rekey(ex.reference, "qa_answers")) for ex in make_examples(nlp, QA)
    ])
    qa = nlp.get_pipe("qa")
    assert qa.predict([]) == []
    doc = nlp(qa_doc(nlp, QA[0][0], QA[0][1]))
    assert "answers" not in doc.spans and 1 <= len(doc.spans["qa_answers"]) <= 2
    with pytest.raises(ValueError, match="n_best must be an integer >= 1"):
        make_nlp(tiny_encoder, n_best=0)
    with pytest.raises(ValueError, match="stride"):
        make_nlp(tiny_encoder, max_length=32, stride=32)
    # run_qa's 384/128 do not fit an encoder of 128 positions: a clear error
    too_long = make_nlp(tiny_encoder, max_length=384, stride=128)
    with pytest.raises(ValueError, match=r"max_length=384 wordpieces \(at most the encoder's 128\)"):
        too_long.initialize(lambda: make_examples(too_long, QA))


def _rekey(doc, key):
    doc.spans[key] = SpanGroup(doc, name=key, spans=list(doc.spans["answers"]))
    del doc.spans["answers"]
    return doc


def test_qa_config_trains_with_spacy_train(tiny_encoder, tmp_path):
    from spacy.cli.train import train as spacy_train

    nlp = spacy.blank("en")
    data = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in make_examples(nlp, QA)], store_user_data=True).to_disk(data)
    overrides = {
        "paths.train": str(data),
        "paths.dev": str(data),
        "paths.encoder": tiny_encoder,
        # the tiny encoder reads 128 wordpieces at most, so 128 cannot be shared
        "components.qa.model.stride": 64,
        "training.max_epochs": 0,
        "training.max_steps": 4,
        "training.eval_frequency": 2,
        "training.optimizer.learn_rate.warmup_steps": 1,
        "training.optimizer.learn_rate.total_steps": 4,
    }
    spacy_train(CONFIGS / "qa.cfg", tmp_path / "out", overrides=overrides)
    best = tmp_path / "out" / "model-best"
    assert (best / "qa" / "encoder" / "model.safetensors").exists()
    loaded = spacy.load(best)
    doc = loaded(qa_doc(loaded, QA[0][0], QA[0][1]))
    assert len(doc.spans["answers"]) > 0
    assert loaded.meta["performance"]["qa_f1"] is not None
