"""The benchmark harness end to end on tiny synthetic data with the tiny
encoder: every system runs in its own process and reports the same keys."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"
SYSTEM_KEYS = {"metric", "score", "train_ex_per_s", "infer_ex_per_s", "peak_rss_mb", "scores", "n_train",
               "n_eval", "train_seconds", "infer_seconds", "status"}

POSITIVE = ["a great happy film", "i love this story", "good fun acting", "a happy movie with a great plot"]
NEGATIVE = ["an awful sad movie", "i hate the plot", "boring terrible acting", "a bad film with an awful story"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A fixture copy of the shared data layout: SST-2 and MRPC TSVs, SQuAD's JSON."""
    root = tmp_path_factory.mktemp("bench_data")
    sst2 = root / "sst2"
    sst2.mkdir()
    rows = [(t, "1") for t in POSITIVE] + [(t, "0") for t in NEGATIVE]
    # SST-2 rows carry a trailing space before the tab, as the GLUE files do.
    train = "".join(f"{text} \t{label}\n" for text, label in rows * 3)
    (sst2 / "train.tsv").write_text("sentence\tlabel\n" + train, encoding="utf8")
    (sst2 / "dev.tsv").write_text("sentence\tlabel\n" + "".join(f"{t} \t{l}\n" for t, l in rows), encoding="utf8")
    mrpc = root / "mrpc"
    mrpc.mkdir()
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    pairs = [("1", 'he said " the cat sat', 'he said " a cat sat'), ("0", "the cat sat", "a dog ran outside"),
             ("1", "john lives in paris", "john lives in paris france"), ("0", "mary is happy", "the city is new")]
    lines = [f"{q}\t{i}\t{i + 1}\t{a}\t{b}\n" for i, (q, a, b) in enumerate(pairs * 3)]
    (mrpc / "train.tsv").write_text(header + "".join(lines), encoding="utf8")
    (mrpc / "dev.tsv").write_text(header + "".join(lines[:4]), encoding="utf8")
    squad = root / "squad11"
    squad.mkdir()
    # bench/data.py's fixed split: the first 38 articles train, the rest evaluate.
    contexts = [("john lives in paris and works for google.", "where does john live?", "paris"),
                ("the man visited the capital of france.", "who visited the capital?", "the man"),
                ("mary smith was born in london.", "where was mary born?", "london")]
    articles = []
    for i in range(40):
        context, question, answer = contexts[i % len(contexts)]
        qas = [{"id": f"q{i}", "question": question,
                "answers": [{"text": answer, "answer_start": context.index(answer)}]}]
        articles.append({"title": f"a{i}", "paragraphs": [{"context": context, "qas": qas}]})
    (squad / "dev-v1.1.json").write_text(json.dumps({"version": "1.1", "data": articles}), encoding="utf8")
    return root


def run_bench(args, tmp_path: Path) -> dict:
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(RUN), *args, "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text(encoding="utf8"))
    report["_stdout"] = proc.stdout
    report["_predictions"] = json.loads(out.with_suffix(".predictions.json").read_text(encoding="utf8"))
    return report


def check_report(report: dict, systems, n_eval: int, metric: str) -> None:
    assert {"task", "command", "date", "settings", "machine", "versions", "systems", "ratios"} <= set(report)
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    assert report["versions"]["torch"] and report["versions"]["transformers"]
    assert list(report["systems"]) == systems
    for name in systems:
        result = report["systems"][name]
        assert SYSTEM_KEYS <= set(result), (name, result)
        assert result["status"] == "ok"
        assert result["metric"] == metric
        assert 0.0 <= result["score"] <= 100.0
        assert result["n_eval"] == n_eval
        assert result["train_ex_per_s"] > 0 and result["infer_ex_per_s"] > 0
        assert result["peak_rss_mb"] > 100  # torch alone takes more: the child's own peak
        assert "predictions" not in result
        assert len(report["_predictions"]["predictions"][name]) == n_eval
    for peer in systems[1:]:
        ratio = report["ratios"][peer]
        assert set(ratio) == {"score_diff", "train_speed", "infer_speed", "peak_rss"}
        ours, theirs = report["systems"]["bertft"], report["systems"][peer]
        assert ratio["train_speed"] == pytest.approx(ours["train_ex_per_s"] / theirs["train_ex_per_s"])
        assert ratio["score_diff"] == pytest.approx(ours["score"] - theirs["score"])
    table = report["_stdout"]
    assert table.startswith(f"| system | {metric} |")
    for name in systems:
        assert f"| {name} |" in table


def test_run_sst2_bertft_hf_torch(tiny_encoder, data_dir, tmp_path):
    report = run_bench(["sst2", "--n-train", "16", "--n-eval", "8", "--epochs", "1", "--batch-size", "8",
                        "--peers", "hf,torch", "--model", tiny_encoder, "--data-dir", str(data_dir)], tmp_path)
    check_report(report, ["bertft", "hf", "torch"], n_eval=8, metric="accuracy")
    assert report["settings"]["n_train"] == 16 and report["systems"]["bertft"]["n_train"] == 16
    bertft = report["systems"]["bertft"]
    assert bertft["steps"] == 2  # 16 examples in batches of 8, one epoch
    assert bertft["config"].endswith("configs/textcat.cfg")
    assert bertft["overrides"]["training.optimizer.learn_rate.warmup_steps"] == 1
    assert report["systems"]["hf"]["steps"] == 2 and report["systems"]["torch"]["steps"] == 2
    assert set(report["_predictions"]["predictions"]["hf"]) <= {"0", "1"}

    # The paired bootstrap reads the run's predictions.
    from bench.significance import main

    out = tmp_path / "sig.json"
    pred_file = tmp_path / "result.predictions.json"
    assert main(["bertft", "hf", "--run", str(pred_file), "--data", str(data_dir), "--samples", "200",
                 "--out", str(out)]) == 0
    sig = json.loads(out.read_text())
    assert sig["n"] == 8 and sig["metric"] == "accuracy"
    assert sig["ci_low"] <= sig["delta"] <= sig["ci_high"]
    assert sig["delta"] == pytest.approx(bertft["score"] - report["systems"]["hf"]["score"])


def test_run_pair_task(tiny_encoder, data_dir, tmp_path):
    report = run_bench(["mrpc", "--n-train", "12", "--n-eval", "4", "--epochs", "1", "--batch-size", "4",
                        "--peers", "hf", "--model", tiny_encoder, "--data-dir", str(data_dir)], tmp_path)
    check_report(report, ["bertft", "hf"], n_eval=4, metric="accuracy")
    assert "f1_positive" in report["systems"]["bertft"]["scores"]
    assert report["systems"]["bertft"]["config"].endswith("configs/pair.cfg")


def test_missing_data_dir_is_a_clear_error(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(RUN), "sst2", "--peers", "none", "--data-dir",
                           str(tmp_path / "nowhere"), "--out", str(out)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    report = json.loads(out.read_text())
    assert report["systems"]["bertft"]["status"] == "failed"
    assert "does not exist" in report["systems"]["bertft"]["error"]
    assert "--data-dir" in report["systems"]["bertft"]["error"]


def test_infer_ab_classification_and_qa(tiny_encoder, data_dir, tmp_path):
    # bench/infer_ab.py: nlp.pipe against the HF pipeline on a twin holding the
    # component's weights; the twin must compute what the component computes.
    from bench.infer_ab import main

    from ..util import make_tiny_encoder

    # QA's windows (256 wordpieces, stride 128) need more positions than the tiny encoder's 128.
    long_encoder = str(make_tiny_encoder(tmp_path / "tiny-512", max_positions=512))
    for task, encoder, check in (("sst2", tiny_encoder, "max_prob_diff"), ("squad", long_encoder, "max_logit_diff")):
        out = tmp_path / f"{task}.json"
        assert main(["--init", "--task", task, "--model", encoder, "--data-dir", str(data_dir), "--n-eval", "2",
                     "--batch-size", "4", "--rounds", "2", "--out", str(out)]) == 0
        report = json.loads(out.read_text(encoding="utf8"))
        assert report["n_inputs"] == 2 and report["rounds"] == 2
        assert all(len(runs) == 2 and min(runs) > 0 for runs in report["seconds"].values())
        assert report[check] < 1e-4
        if task == "sst2":
            assert report["label_agreement"] == 1.0
        else:  # answers may differ where the component snaps them to spaCy tokens
            assert 0.0 <= report["label_agreement"] <= 1.0
