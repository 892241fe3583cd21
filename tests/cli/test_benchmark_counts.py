"""The readers reproduce the counts that the READMEs of the shared benchmark
files list (../shared/data/*/README.md). Skipped where the data is absent."""
from pathlib import Path

import pytest
import spacy

from spacy_bertft.readers import read_file

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"benchmark data not found at {DATA}"),
]

# file, format, rows (docs), label counts: from the READMEs
CLASSIFICATION = [
    ("sst2/train.tsv", "glue (sst2)", 67349, {"1": 37569, "0": 29780}),
    ("sst2/dev.tsv", "glue (sst2)", 872, {"1": 444, "0": 428}),
    ("mrpc/train.tsv", "glue (mrpc)", 3668, {"1": 2474, "0": 1194}),
    ("mrpc/dev.tsv", "glue (mrpc)", 408, {"1": 279, "0": 129}),
    ("rte/train.tsv", "glue (rte)", 2490, {"entailment": 1249, "not_entailment": 1241}),
    ("rte/dev.tsv", "glue (rte)", 277, {"entailment": 146, "not_entailment": 131}),
]
# file, documents, sentences, tokens, entities per type
CONLL = [
    ("conll2003/eng.train", 946, 14041, 203621, {"PER": 6600, "LOC": 7140, "ORG": 6321, "MISC": 3438}),
    ("conll2003/eng.testa", 216, 3250, 51362, {"PER": 1842, "LOC": 1837, "ORG": 1341, "MISC": 922}),
]


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def needs(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.parametrize("name,fmt,n_rows,labels", CLASSIFICATION)
def test_glue_counts(nlp, name, fmt, n_rows, labels):
    docs, report = read_file(needs(DATA / name), nlp)
    assert report.format == f"{fmt} [detected]"
    assert report.read == len(docs) == n_rows
    assert dict(report.outcomes) == {"used": n_rows}
    assert dict(report.label_counts) == labels
    assert all(sum(d.cats.values()) == 1.0 and set(d.cats) == set(labels) for d in docs)


@pytest.mark.parametrize("name,n_documents,n_sents,n_tokens,entities", CONLL)
def test_conll_counts(nlp, name, n_documents, n_sents, n_tokens, entities):
    docs, report = read_file(needs(DATA / name), nlp)
    assert report.scheme == "iob1 (detected)"
    assert report.outcomes["docstart"] == n_documents
    assert len(docs) == n_sents
    assert report.outcomes["tokens"] == sum(len(d) for d in docs) == n_tokens
    assert dict(report.label_counts) == entities
    assert report.outcomes.get("invalid", 0) == 0
    grouped, _ = read_file(DATA / name, nlp, n_sents=0)
    assert len(grouped) == n_documents
    assert sum(len(d.ents) for d in grouped) == sum(entities.values())


def test_squad_counts(nlp):
    docs, report = read_file(needs(DATA / "squad11" / "dev-v1.1.json"), nlp)
    assert report.format == "squad (version 1.1) [detected]"
    assert report.read == len(docs) == 10570
    assert report.label_counts["answers"] == report.spans == 34726
    assert len({d.user_data["bertft_group"] for d in docs}) == 48
    # every reference text is kept exactly, snapped spans only widen it
    for doc in docs[:500]:
        group = doc.spans["answers"]
        assert all(text in span.text for text, span in zip(group.attrs["texts"], group))
