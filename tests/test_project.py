"""Smoke test of project.yml: the `all` workflow end to end on corpus/ with a
tiny encoder, the trained pipelines loaded and applied by scripts/demo.py, the
evaluation reports, and `spacy package` building a wheel that loads from a
fresh install directory with no network."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srsly

from .util import make_tiny_encoder

ROOT = Path(__file__).parent.parent
TASKS = ("textcat", "pair", "ner", "qa")
PROJECT_FILES = ("project.yml", "corpus", "configs", "scripts")
# Few steps, small batches: the point is that every command runs and connects.
TINY_VARS = {
    "textcat_steps": 6, "pair_steps": 6, "ner_steps": 6, "qa_steps": 6,
    "demo_eval_frequency": 3, "demo_batch_size": 8, "demo_warmup_steps": 1,
    "demo_learn_rate": 0.001,
}


def _offline_env() -> dict:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    return env


def _run(cmd, cwd: Path, env=None, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env or _offline_env(), capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def _corpus_words() -> set:
    words = set()
    for path in (ROOT / "corpus").glob("*.jsonl"):
        for record in srsly.read_jsonl(path):
            for key in ("text", "text_pair", "question", "context"):
                if isinstance(record.get(key), str):
                    words.update(re.findall(r"[a-z0-9]+", record[key].lower()))
    return words


def _load_script(project: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"project_{name}", project / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus_encoder(tmp_path_factory) -> str:
    """A tiny BERT whose vocabulary holds the corpus words, so the inputs stay
    short (few wordpieces) and the workflow runs in seconds per task."""
    return str(make_tiny_encoder(
        tmp_path_factory.mktemp("corpus_bert"), extra_words=sorted(_corpus_words()), max_positions=512
    ))


@pytest.fixture(scope="module")
def project(tmp_path_factory, corpus_encoder) -> Path:
    """A copy of the project, with the `all` workflow run on the tiny encoder."""
    project = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.spacy"))
        else:
            shutil.copy(src, project / name)
    overrides = [f"--vars.encoder={corpus_encoder}"]
    overrides += [f"--vars.{key}={value}" for key, value in TINY_VARS.items()]
    _run([sys.executable, "-m", "spacy", "project", "run", "all", project, *overrides], cwd=project)
    return project


def test_project_yml_is_valid():
    from weasel.schemas import ProjectConfigSchema, validate

    config = srsly.read_yaml(ROOT / "project.yml")
    errors = validate(ProjectConfigSchema, config)
    assert not errors, errors
    commands = {cmd["name"]: cmd for cmd in config["commands"]}
    for workflow, steps in config["workflows"].items():
        missing = [step for step in steps if step not in commands]
        assert not missing, f"workflow {workflow} names unknown commands {missing}"
    # Every command that a workflow runs declares what it reads and writes, and
    # each dep is either in the repository or the output of an earlier step.
    for workflow, steps in config["workflows"].items():
        produced = set()
        for step in steps:
            cmd = commands[step]
            assert cmd.get("deps") and cmd.get("outputs"), f"{step}: deps and outputs must be complete"
            for dep in cmd["deps"]:
                if "${vars." in dep:
                    continue
                assert dep in produced or (ROOT / dep).exists(), f"{workflow}/{step}: dep {dep} comes from nowhere"
            produced.update(cmd["outputs"])


def test_all_workflow_outputs(project):
    for task in TASKS:
        assert (project / "training" / task / "model-best" / "config.cfg").exists()
        scores = srsly.read_json(project / "metrics" / f"{task}.json")
        assert task in scores, f"metrics/{task}.json lacks the {task} component's scores: {list(scores)}"
        log = (project / "training" / task / "train_log.jsonl").read_text().splitlines()
        # eval at steps 0, 3, 6
        assert [json.loads(line)["step"] for line in log] == [0, 3, 6]
    assert {"cats_accuracy", "cats_macro_f", "cats_f_per_type"} <= set(srsly.read_json(project / "metrics/textcat.json")["textcat"])
    assert {"cats_accuracy", "cats_positive_f"} <= set(srsly.read_json(project / "metrics/pair.json")["pair"])
    assert {"ents_f", "ents_per_type"} <= set(srsly.read_json(project / "metrics/ner.json")["ner"])
    assert {"qa_f1", "qa_exact_match"} <= set(srsly.read_json(project / "metrics/qa.json")["qa"])


def test_reports(project):
    reports = project / "metrics" / "reports"
    assert "textcat/report.md" in (reports / "index.md").read_text()
    for task in TASKS:
        data = json.loads((reports / task / "report.json").read_text())
        assert [step["step"] for step in data["training_curve"]] == [0, 3, 6]
        for figure in data["figures"]:
            assert (reports / task / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        text = (reports / task / "report.md").read_text()
        assert "## Training curve" in text and "## Scores" in text
    for task, labels in (("textcat", ["POSITIVE", "NEGATIVE"]), ("pair", ["PARAPHRASE", "NOT_PARAPHRASE"])):
        data = json.loads((reports / task / "report.json").read_text())
        cls = data["classifiers"][task]
        assert sorted(cls["labels"]) == sorted(labels)
        # every dev doc lands in exactly one cell of the confusion matrix
        n_dev = sum(1 for _ in srsly.read_jsonl(ROOT / "corpus" / f"{task}_dev.jsonl"))
        assert sum(map(sum, cls["matrix"])) == cls["n_docs"] == n_dev
        assert set(cls["per_label"]) == set(labels)
    assert "## Per-type precision, recall, F1" in (reports / "ner" / "report.md").read_text()


def test_demo_script_predicts(project, capsys):
    demo = _load_script(project, "demo")
    results = demo.run_demo(project / "training", list(TASKS))
    printed = capsys.readouterr().out
    for cats in results["textcat"]:
        assert set(cats) == {"POSITIVE", "NEGATIVE"}
        assert sum(cats.values()) == pytest.approx(1.0, abs=1e-4)
    for label, score in results["pair"]:
        assert label in {"PARAPHRASE", "NOT_PARAPHRASE"} and 0.5 <= score <= 1.0
    for ents in results["ner"]:
        assert {label for _, label in ents} <= {"PERSON", "ORG", "LOC"}
    assert len(results["qa"]) == len(demo.QA_EXAMPLES)
    for answer in results["qa"]:
        # an answer, when given, is a piece of the context
        assert answer is None or answer[0] in demo.QA_CONTEXT
    assert "Question answering" in printed and "Named entities" in printed


def test_package_builds_and_loads(project, tmp_path):
    _run([sys.executable, "-m", "spacy", "project", "run", "package", project, "--vars.package_task=textcat",
          "--vars.package_name=bertft_smoke", "--vars.package_version=0.0.1"], cwd=project)
    wheels = list((project / "packages").glob("en_bertft_smoke-0.0.1/dist/*.whl"))
    assert len(wheels) == 1, list((project / "packages").rglob("*"))
    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
          "--target", target, wheels[0]], cwd=tmp_path)
    text = "The soup was cold and the staff were rude."
    code = (
        "import json, sys, spacy\n"
        "nlp = spacy.load('en_bertft_smoke')\n"
        "assert nlp.get_pipe_meta('textcat').factory == 'bert_textcat'\n"
        "print(json.dumps({'path': str(nlp.path), 'cats': nlp(sys.argv[1]).cats}))\n"
    )
    env = _offline_env()
    env["PYTHONPATH"] = str(target)
    # run outside the repository, so nothing is found by accident in the cwd
    out = _run([sys.executable, "-c", code, text], cwd=tmp_path, env=env).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert Path(loaded["path"]).is_relative_to(target)
    import spacy

    expected = spacy.load(project / "training" / "textcat" / "model-best")(text).cats
    assert loaded["cats"] == pytest.approx(expected, abs=1e-5)


def test_report_classification_counts():
    report = _load_script(ROOT, "report")
    gold = [{"A": 1.0, "B": 0.0}, {"A": 1.0, "B": 0.0}, {"A": 0.0, "B": 1.0}, {}]
    pred = [{"A": 0.9, "B": 0.1}, {"A": 0.2, "B": 0.8}, {"A": 0.3, "B": 0.7}, {"A": 0.5, "B": 0.5}]
    cr = report.classification_report(gold, pred, ["A", "B"], multi_label=False)
    # the doc without annotation is not counted
    assert cr.matrix.tolist() == [[1, 1], [0, 1]] and cr.n_docs == 3
    assert cr.prf["A"] == {"p": 1.0, "r": 0.5, "f": pytest.approx(2 / 3), "support": 2}
    assert cr.prf["B"] == {"p": 0.5, "r": 1.0, "f": pytest.approx(2 / 3), "support": 1}
    multi = report.classification_report(
        [{"A": 1.0, "B": 1.0}, {"A": 0.0, "B": 1.0}], [{"A": 0.7, "B": 0.2}, {"A": 0.6, "B": 0.9}],
        ["A", "B"], multi_label=True, threshold=0.5,
    )
    # columns: TP, FP, FN, TN
    assert multi.matrix.tolist() == [[1, 1, 0, 0], [1, 0, 1, 0]]
    assert multi.prf["B"]["r"] == 0.5 and multi.prf["B"]["support"] == 2


def test_report_training_log(tmp_path):
    report = _load_script(ROOT, "report")
    log = tmp_path / "train_log.jsonl"
    rows = [
        {"epoch": 0, "step": 0, "losses": {"x": 0.7}, "scores": {"acc": 50.0}, "score": 0.5},
        {"epoch": 1, "step": 10, "losses": {"x": 5.0}, "scores": {"acc": 80.0}, "score": 0.8},
        {"epoch": 2, "step": 15, "losses": {"x": 1.0}, "scores": {"acc": 90.0}, "score": 0.9},
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    steps = report.read_training_log(log)
    # losses are summed between evaluations: per step they divide by the window
    assert [s.loss_per_step["x"] for s in steps] == pytest.approx([0.7, 0.5, 0.2])
    log.write_text(json.dumps(rows[0]) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"train_log.jsonl:2"):
        report.read_training_log(log)
    with pytest.raises(FileNotFoundError, match="ConsoleLogger.v3"):
        report.read_training_log(tmp_path / "missing.jsonl")


def test_squad_split_by_article():
    squad_split = _load_script(ROOT, "squad_split")

    def article(title, n_paragraphs, n_questions):
        return {"title": title, "paragraphs": [
            {"context": f"{title} {p}", "qas": [{"id": f"{title}-{p}-{q}", "question": "?", "answers": []}
                                                for q in range(n_questions)]}
            for p in range(n_paragraphs)
        ]}

    data = {"version": "1.1", "data": [article(t, 2, 3) for t in "abcde"]}
    train, dev, (n_train, n_dev) = squad_split.split_squad(data, n_train_articles=3, n_train=8, n_eval=0)
    assert [a["title"] for a in train["data"]] == ["a", "b"] and n_train == 8
    assert [len(p["qas"]) for p in train["data"][1]["paragraphs"]] == [2]
    assert [a["title"] for a in dev["data"]] == ["d", "e"] and n_dev == 12
    contexts = lambda d: {p["context"] for a in d["data"] for p in a["paragraphs"]}  # noqa: E731
    assert not contexts(train) & contexts(dev)
    # the input is not modified
    assert len(data["data"][1]["paragraphs"][0]["qas"]) == 3
    with pytest.raises(ValueError, match="n-train-articles"):
        squad_split.split_squad(data, n_train_articles=5)
