"""`convert` through typer's CliRunner, through spaCy's own CLI (`spacy bertft`),
as `python -m spacy_bertft`, the dev split, and its output trained with
`spacy train`."""
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_bertft.cli import app, convert, split_dev

FIXTURES = Path(__file__).parent.parent / "fixtures" / "convert"
CONFIGS = Path(__file__).parent.parent.parent / "configs"
runner = CliRunner()


def load(path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


@pytest.mark.parametrize("name,n_docs,counts", [
    ("textcat_binary.jsonl", 3, "lines read: 5 = ignored 1, merged 1, used 3"),
    ("choice.jsonl", 2, "lines read: 4 = ignored 1, rejected 1, used 2"),
    ("cats.jsonl", 3, "lines read: 3 = used 3"),
    ("ner.jsonl", 5, "lines read: 8 = ignored 1, merged 1, rejected 1, used 5"),
    ("pairs.jsonl", 3, "lines read: 3 = used 3"),
    ("sst2.tsv", 3, "rows read: 3 = used 3"),
    ("mrpc.tsv", 2, "rows read: 2 = used 2"),
    ("rte.tsv", 2, "rows read: 2 = used 2"),
    ("qa.jsonl", 4, "lines read: 4 = used 4"),
    ("squad_v2.json", 3, "questions read: 3 = used 3"),
    ("conll_iob1.txt", 3, "lines read: 20 = blank 4, docstart 2, tokens 14"),
])
def test_convert_cli_each_format(tmp_path, name, n_docs, counts):
    out = tmp_path / "out.spacy"
    result = runner.invoke(app, ["convert", str(FIXTURES / name), str(out)])
    assert result.exit_code == 0, result.output
    assert counts in result.output
    assert f"Wrote {n_docs} docs" in result.output
    assert len(load(out)) == n_docs


def test_convert_cli_report_and_options(tmp_path):
    out = tmp_path / "out.spacy"
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["convert", str(FIXTURES / "mrpc.tsv"), str(out), "--label-map",
                                 "0=not_paraphrase,1=paraphrase", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "per label: not_paraphrase 1, paraphrase 1" in result.output
    data = srsly.read_json(report)
    assert data["read"]["outcomes"] == {"used": 2}
    assert data["read"]["label_counts"] == {"paraphrase": 1, "not_paraphrase": 1}
    assert data["train_docs"] == 2
    result = runner.invoke(app, ["convert", str(FIXTURES / "textcat_binary.jsonl"), str(out), "--exclusive"])
    assert "exclusive docs whose positive is the one label left after rejects: 1" in result.output
    result = runner.invoke(app, ["convert", str(FIXTURES / "pairs.jsonl"), str(out), "--format", "textcat"])
    assert result.exit_code == 1 and "E202" in result.output and "pairs.jsonl:1" in result.output


def test_convert_cli_bad_input_and_skip(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "X"}\n{"text": \n{"text": "b", "label": "Y"}\n', encoding="utf8")
    out = tmp_path / "out.spacy"
    result = runner.invoke(app, ["convert", str(path), str(out)])
    assert result.exit_code == 1
    assert "E200" in result.output and "bad.jsonl:2" in result.output
    result = runner.invoke(app, ["convert", str(path), str(out), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "lines read: 3 = invalid 1, used 2" in result.output
    assert "skipped:" in result.output and "bad.jsonl:2" in result.output


def test_dev_split(tmp_path):
    out, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    report = convert(input_path=FIXTURES / "squad_v2.json", output_path=out, dev_fraction=0.3, seed=0,
                     dev_output=dev)
    train_docs, dev_docs = load(out), load(dev)
    assert len(train_docs) + len(dev_docs) == 3 == report.train_docs + report.dev_docs
    # questions of one article stay together
    train_groups = {d.user_data["bertft_group"] for d in train_docs}
    dev_groups = {d.user_data["bertft_group"] for d in dev_docs}
    assert not train_groups & dev_groups and report.dev_groups == len(dev_groups) == 1
    assert all(d.user_data["bertft_split"] == "dev" for d in dev_docs)
    assert all(d.user_data["bertft_split"] == "train" for d in train_docs)


def test_split_dev_is_seeded_and_sized():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(f"doc {i}") for i in range(20)]
    train, dev, n = split_dev(docs, fraction=0.25, seed=7)
    assert len(dev) == n == 5 and len(train) == 15
    again = split_dev([nlp.make_doc(f"doc {i}") for i in range(20)], fraction=0.25, seed=7)[1]
    other = split_dev([nlp.make_doc(f"doc {i}") for i in range(20)], fraction=0.25, seed=8)[1]
    assert [d.text for d in again] == [d.text for d in dev]
    assert [d.text for d in other] != [d.text for d in dev]
    with pytest.raises(ValueError, match="E219"):
        split_dev(docs, fraction=1.0, seed=0)


def test_dev_split_needs_dev_output(tmp_path):
    result = runner.invoke(app, ["convert", str(FIXTURES / "sst2.tsv"), str(tmp_path / "o.spacy"),
                                 "--dev-fraction", "0.5"])
    assert result.exit_code == 1 and "E220" in result.output


def test_registered_with_spacy_cli(tmp_path):
    from spacy.cli._util import app as spacy_app
    from spacy.util import registry

    assert "bertft" in registry.cli.get_all()
    out = tmp_path / "out.spacy"
    result = runner.invoke(spacy_app, ["bertft", "convert", str(FIXTURES / "rte.tsv"), str(out)])
    assert result.exit_code == 0, result.output
    assert len(load(out)) == 2


def test_python_m_spacy_bertft(tmp_path):
    out = tmp_path / "out.spacy"
    proc = subprocess.run([sys.executable, "-m", "spacy_bertft", "convert", str(FIXTURES / "cats.jsonl"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 3 docs" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "spacy", "bertft", "--help"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "convert" in proc.stdout and "augment" in proc.stdout


def test_converted_data_trains_with_spacy_train(tiny_encoder, tmp_path):
    from spacy.cli.train import train

    data = tmp_path / "train.spacy"
    report = convert(input_path=FIXTURES / "textcat_binary.jsonl", output_path=data, exclusive=True)
    assert report.train_docs == 3
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
    train(CONFIGS / "textcat.cfg", tmp_path / "out", overrides=overrides)
    loaded = spacy.load(tmp_path / "out" / "model-best")
    assert set(loaded("I loved this movie").cats) == {"POSITIVE", "NEGATIVE"}
    assert loaded.meta["performance"]["cats_accuracy"] is not None
