"""Units of the benchmark harness: the paired bootstrap, the metrics, the
loaders' handling of the shared data's formats."""

import numpy
import pytest

from bench.data import DataError, iob1_spans, load_task, read_conll
from bench.features import postprocess_qa
from bench.metrics import (METRIC_FUNCS, metric_stats, metric_value, normalize_answer, squad_f1, task_scores)
from bench.significance import paired_bootstrap


def test_bootstrap_identical_systems():
    stats = metric_stats("sst2", "accuracy", ["1", "0", "1", "1"] * 25, ["1", "0", "0", "1"] * 25)
    result = paired_bootstrap(stats, stats.copy(), METRIC_FUNCS["accuracy"], samples=500)
    assert result.delta == 0.0 and result.ci_low == 0.0 and result.ci_high == 0.0
    assert result.p_value == 1.0
    assert result.score_a == pytest.approx(75.0)


def test_bootstrap_clear_difference_is_significant():
    rng = numpy.random.default_rng(1)
    gold = list(rng.choice(["a", "b"], size=400))
    good = [g if rng.random() < 0.9 else ("a" if g == "b" else "b") for g in gold]
    bad = [g if rng.random() < 0.6 else ("a" if g == "b" else "b") for g in gold]
    a = metric_stats("rte", "accuracy", good, gold)
    b = metric_stats("rte", "accuracy", bad, gold)
    result = paired_bootstrap(a, b, METRIC_FUNCS["accuracy"], samples=2000, seed=3)
    assert result.delta == pytest.approx(result.score_a - result.score_b)
    assert 20 < result.delta < 40
    assert 0 < result.ci_low < result.delta < result.ci_high
    assert result.p_value < 0.01
    # Swapping the systems mirrors the interval.
    swapped = paired_bootstrap(b, a, METRIC_FUNCS["accuracy"], samples=2000, seed=3)
    assert swapped.ci_low == pytest.approx(-result.ci_high) and swapped.ci_high == pytest.approx(-result.ci_low)


def test_bootstrap_small_noisy_difference_is_not_significant():
    gold = ["a"] * 50
    a = metric_stats("rte", "accuracy", ["a"] * 26 + ["b"] * 24, gold)
    b = metric_stats("rte", "accuracy", ["b"] * 25 + ["a"] * 25, gold)
    result = paired_bootstrap(a, b, METRIC_FUNCS["accuracy"], samples=2000)
    assert result.delta == pytest.approx(2.0)
    assert result.ci_low < 0 < result.ci_high
    assert result.p_value > 0.5


def test_bootstrap_f1_is_recomputed_from_counts():
    gold = [{(0, 3, "PER")}, {(4, 9, "LOC")}, set(), {(0, 2, "ORG"), (5, 8, "PER")}]
    pred = [{(0, 3, "PER")}, {(4, 9, "ORG")}, {(1, 2, "PER")}, {(0, 2, "ORG")}]
    stats = metric_stats("conll", "ents_f", pred, gold)
    # tp 2, fp 2 (wrong type, spurious), fn 2 (wrong type, missed): F1 = 4 / 8
    assert stats.sum(axis=0).tolist() == [2, 2, 2]
    assert metric_value("ents_f", stats) == pytest.approx(50.0)
    scores = task_scores("conll", pred, gold)
    assert scores["ents_f"] == pytest.approx(50.0)
    assert scores["ents_f_per_type"] == {"LOC": 0.0, "ORG": 66.67, "PER": 50.0}
    result = paired_bootstrap(stats, metric_stats("conll", "ents_f", gold, gold), METRIC_FUNCS["ents_f"],
                              samples=300)
    assert result.score_b == 100.0 and result.delta < 0


def test_bootstrap_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="same shape"):
        paired_bootstrap(numpy.zeros((3, 1)), numpy.zeros((4, 1)), METRIC_FUNCS["accuracy"])


def test_iob1_spans_follow_conlleval():
    assert iob1_spans(["I-ORG", "O", "I-MISC", "I-MISC", "B-MISC", "I-PER", "I-LOC"]) == [
        (0, 1, "ORG"), (2, 4, "MISC"), (4, 5, "MISC"), (5, 6, "PER"), (6, 7, "LOC")]
    with pytest.raises(DataError, match="bad NER tag"):
        iob1_spans(["X-PER"], where="f:1")


def test_conll_reader_skips_docstart_and_errors_with_line(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\n",
                    encoding="utf8")
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert sentences[0].char_spans() == [(0, 2, "ORG")]
    path.write_text("EU NNP I-ORG\n", encoding="utf8")
    with pytest.raises(DataError, match=r"eng.train:1: expected 4"):
        read_conll(path)


def test_glue_loaders_split_on_tabs_only(tmp_path):
    (tmp_path / "mrpc").mkdir()
    rows = '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\the said " yes\tshe said " no\n'
    for name in ("train.tsv", "dev.tsv"):
        (tmp_path / "mrpc" / name).write_text(rows, encoding="utf8")
    data = load_task("mrpc", tmp_path)
    assert data.train[0].text_a == 'he said " yes' and data.train[0].label == "1"
    (tmp_path / "mrpc" / "dev.tsv").write_text(rows + "1\tonly three\tfields\n", encoding="utf8")
    with pytest.raises(DataError, match=r"dev.tsv:3: expected 5"):
        load_task("mrpc", tmp_path)


def test_squad_normalization_and_f1():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert squad_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (2 / 2 + 2 / 3))
    scores = task_scores("squad", ["Denver Broncos", "x"], [["Denver Broncos", "Broncos"], ["y"]])
    assert scores == {"f1": 50.0, "exact_match": 50.0}


def test_qa_postprocess_picks_best_valid_span():
    from bench.data import QAExample

    example = QAExample("q", "who?", "alpha beta gamma", [("beta", 6)])
    offsets = [None, None, (0, 5), (6, 10), (11, 16), None]
    start = numpy.array([9.0, 0, 1, 5, 0, 0])
    end = numpy.array([9.0, 0, 0, 4, 3, 0])
    assert postprocess_qa([example], [0], [offsets], [start], [end]) == ["beta"]
    # A span longer than max_answer_length is not allowed.
    end = numpy.array([0, 0, 0, 0, 9, 0])
    start = numpy.array([0, 0, 9, 0, 0, 0])
    assert postprocess_qa([example], [0], [offsets], [start], [end], max_answer_length=2) != ["alpha beta gamma"]


def _run_report(seed, bertft, hf, *, lr=5e-5):
    def system(score, speed):
        return {"status": "ok", "metric": "accuracy", "score": score, "train_ex_per_s": speed,
                "infer_ex_per_s": 2 * speed, "peak_rss_mb": 1000.0, "scores": {"accuracy": score}}

    return {"task": "rte", "command": f"run rte --seed {seed}", "date": f"2026-11-2{seed}",
            "settings": {"seed": seed, "epochs": 3, "lr": lr, "batch_size": 32, "max_length": 128,
                         "device": "cpu", "save_dir": None},
            "machine": {}, "versions": {},
            "systems": {"bertft": system(*bertft), "hf": system(*hf)}}


def test_seed_means_table():
    from bench.report import render_seed_means

    table = render_seed_means([_run_report(0, (60.0, 30.0), (58.0, 10.0)),
                               _run_report(1, (62.0, 20.0), (60.0, 20.0)),
                               _run_report(2, (64.0, 40.0), (59.0, 20.0))])
    bertft = next(line for line in table.splitlines() if line.startswith("| bertft"))
    hf = next(line for line in table.splitlines() if line.startswith("| hf"))
    assert "| 62.00 | 2.00 | 60.00 / 62.00 / 64.00 | 30.0 |" in bertft
    # bertft's median speed (30) over the Trainer's median (20)
    assert hf.split("|")[8].strip() == "1.50"
    with pytest.raises(ValueError, match="more than the seed"):
        render_seed_means([_run_report(0, (1, 1), (1, 1)), _run_report(1, (1, 1), (1, 1), lr=1e-4)])


def test_augment_table():
    from bench.report import render_augment

    runs = [{"seed": s, "augmentation": name, "accuracy": acc, "n_train_docs": n}
            for s, (a, b) in enumerate([(0.70, 0.74), (0.72, 0.76)])
            for name, acc, n in (("none", a, 500), ("wordnet", b, 980))]
    report = {"settings": {"n_train": 500, "epochs": 5, "lr": 1e-4, "sources": ["wordnet"],
                           "edit_sets": ["synonym"], "seeds": [0, 1], "max_copies": 1, "replace_fraction": 0.15},
              "n_dev": 872, "runs": runs,
              "summary": {"none": {"mean_accuracy": 0.71, "stdev": 0.0141}, "wordnet": {"mean_accuracy": 0.75,
                                                                                        "stdev": 0.0141}}}
    table = render_augment(report)
    assert "| wordnet | 75.00 | 1.41 | 74.00 / 76.00 | 980 |" in table
    assert "--seeds 0 1" in table


def test_torch_loop_pools_as_the_bertft_config():
    # The limit mirrors the plugin's head: the config's pooling unless overridden.
    import torch
    from transformers import BertConfig, BertModel

    from bench.common import Settings
    from bench.sys_torch import _module, classifier_pooling

    assert classifier_pooling(Settings(task="sst2")) == "pooler"
    assert classifier_pooling(Settings(task="mrpc")) == "pooler"
    assert classifier_pooling(Settings(task="sst2", pooling="cls")) == "cls"
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=32), add_pooling_layer=True)
    ids = torch.randint(0, 30, (2, 5))
    mask = torch.ones_like(ids)
    for pooling in ("pooler", "cls"):
        model = _module(bert, "cls", 3, 0.0, pooling=pooling).eval()
        hidden = bert(input_ids=ids, attention_mask=mask).last_hidden_state
        first = bert.pooler(hidden) if pooling == "pooler" else hidden[:, 0]
        torch.testing.assert_close(model(ids, mask), model.out(first))
    with pytest.raises(ValueError, match="pools 'cls' or 'pooler'"):
        _module(bert, "pair", 2, 0.0, pooling="mean")


def test_optimizer_step_times_each_adamw(tiny_encoder, capsys):
    from bench.optimizer_step import main

    assert main(["--model", tiny_encoder, "--steps", "1", "--rounds", "2"]) == 0
    table = capsys.readouterr().out
    for name in ("loop (torch's CPU default)", "foreach", "fused"):
        assert f"| {name} |" in table


def test_peak_rss_growth_keeps_the_steps_where_the_peak_grew(monkeypatch):
    from bench import spacy_side

    monkeypatch.setattr(spacy_side, "_STEP_PEAKS", [1000.0, 1010.0, 1060.0, 1070.0, 1200.5, 1201.0])
    assert spacy_side.peak_rss_growth(min_step_mb=50.0) == [(0, 1000), (2, 1060), (4, 1200)]


def test_cpu_bf16_times_both_precisions(tiny_encoder, capsys):
    from bench.cpu_bf16 import main

    assert main(["--model", tiny_encoder, "--lengths", "8", "--rounds", "1", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "| 8 |" in out and "bfloat16 features:" in out
