"""Load each trained demo pipeline with spacy.load and print a few predictions.

    python scripts/demo.py [--training training] [--tasks textcat,pair,ner,qa]

Run after `python -m spacy project run all .` (which `make demo` does). The
inputs below are new sentences, not from corpus/. Each pipeline is loaded the
way an application would load it: `spacy.load(path)` (or `spacy.load(name)`
for an installed package), with no import of spacy_bertft needed for the
components; only the two-segment helpers come from it.
"""
import argparse
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

TASKS = ("textcat", "pair", "ner", "qa")

TEXTCAT_EXAMPLES = [
    "The acting was superb and the story kept me hooked until the end.",
    "The hotel room was filthy and the staff could not have cared less.",
    "Decent food, but the service was painfully slow.",
]
PAIR_EXAMPLES = [
    ("The concert was cancelled because the singer was ill.",
     "The singer's illness led to the cancellation of the concert."),
    ("The concert was cancelled because the singer was ill.",
     "The concert hall was renovated last year."),
    ("The company opened a new office in Madrid.",
     "A new office in Madrid was opened by the company."),
]
NER_EXAMPLES = [
    "Sofia Moreno left Telefonica to start a design studio in Valencia.",
    "The Louvre lent two paintings to a museum in Tokyo.",
    "Kwame Asante met executives from Siemens in Accra on Monday.",
]
QA_CONTEXT = (
    "The Blackwater Canal was opened in 1821 to carry coal from the mines at Carrow to the port "
    "of Eastmere. It is 54 kilometres long and has 31 locks. The canal was designed by the "
    "engineer Thomas Irving, and today it is used mainly by holiday boats and anglers."
)
QA_EXAMPLES = [
    ("When was the Blackwater Canal opened?", QA_CONTEXT),
    ("Who designed the canal?", QA_CONTEXT),
    ("How long is the Blackwater Canal?", QA_CONTEXT),
]


def load(training: Path, task: str):
    import spacy

    path = training / task / "model-best"
    if not path.exists():
        raise FileNotFoundError(
            f"No trained {task} pipeline at {path}: run `python -m spacy project run all .` first."
        )
    return spacy.load(path)


def _fmt_cats(cats: Dict[str, float]) -> str:
    return "  ".join(f"{label} {score:.3f}" for label, score in sorted(cats.items(), key=lambda kv: -kv[1]))


def demo_textcat(nlp, texts: Sequence[str]) -> List[Dict[str, float]]:
    """Class scores per text (``doc.cats``)."""
    results = []
    for doc in nlp.pipe(texts):
        print(f"  {doc.text!r}\n      -> {_fmt_cats(doc.cats)}")
        results.append(dict(doc.cats))
    return results


def demo_pair(nlp, pairs: Sequence[Tuple[str, str]]) -> List[Tuple[str, float]]:
    """The verdict per pair: the best label and its probability."""
    from spacy_bertft import pair_doc

    results = []
    for doc in nlp.pipe(pair_doc(nlp, a, b) for a, b in pairs):
        label, score = max(doc.cats.items(), key=lambda kv: kv[1])
        a, b = (span.text for span in doc.spans["segments"])
        print(f"  A: {a!r}\n  B: {b!r}\n      -> {label} ({score:.3f})")
        results.append((label, score))
    return results


def demo_ner(nlp, texts: Sequence[str]) -> List[List[Tuple[str, str]]]:
    """The entities per text (``doc.ents``)."""
    results = []
    for doc in nlp.pipe(texts):
        ents = [(ent.text, ent.label_) for ent in doc.ents]
        shown = ", ".join(f"{text} [{label}]" for text, label in ents) or "(no entities)"
        print(f"  {doc.text!r}\n      -> {shown}")
        results.append(ents)
    return results


def demo_qa(nlp, questions: Sequence[Tuple[str, str]], *, context_shown: bool = True) -> List[Optional[Tuple[str, float]]]:
    """The best answer per question with its score (start + end logit) and its
    share of the softmax over the n-best answers."""
    from spacy_bertft import qa_doc

    qa_pipes = [pipe for _, pipe in nlp.pipeline if hasattr(pipe, "answers_key")]
    if not qa_pipes:
        raise ValueError(f"The pipeline {nlp.pipe_names} has no QA component (bert_qa).")
    key = qa_pipes[0].answers_key
    if context_shown:
        print(f"  context: {questions[0][1]!r}")
    results: List[Optional[Tuple[str, float]]] = []
    for doc in nlp.pipe(qa_doc(nlp, q, c) for q, c in questions):
        question = doc.spans["segments"][0].text
        group = doc.spans[key]
        if not len(group) or group.attrs.get("no_answer"):
            print(f"  Q: {question}\n      -> (no answer)")
            results.append(None)
            continue
        scores = [float(s) for s in group.attrs["scores"]]
        top = max(scores)
        share = math.exp(scores[0] - top) / sum(math.exp(s - top) for s in scores)
        print(f"  Q: {question}\n      -> {group[0].text!r}  (score {scores[0]:.2f}, "
              f"{share:.2f} of the {len(scores)}-best)")
        results.append((group[0].text, scores[0]))
    return results


def run_demo(training: Path, tasks: Sequence[str]) -> Dict[str, list]:
    """Load each task's pipeline and print its predictions.

    training (Path): The directory with one `spacy train` output per task.
    tasks (Sequence[str]): Which of "textcat", "pair", "ner", "qa".
    RETURNS (Dict[str, list]): The predictions per task.
    """
    demos = {
        "textcat": ("Text classification (bert_textcat): class scores", demo_textcat, TEXTCAT_EXAMPLES),
        "pair": ("Sentence pairs (bert_pair_classifier): paraphrase verdict", demo_pair, PAIR_EXAMPLES),
        "ner": ("Named entities (bert_ner)", demo_ner, NER_EXAMPLES),
        "qa": ("Question answering (bert_qa): best answer and score", demo_qa, QA_EXAMPLES),
    }
    results = {}
    for task in tasks:
        if task not in demos:
            raise ValueError(f"Unknown task {task!r}: choose from {', '.join(TASKS)}")
        title, fn, examples = demos[task]
        nlp = load(training, task)
        print(f"\n== {title}   [spacy.load('{training / task / 'model-best'}')]")
        results[task] = fn(nlp, examples)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--training", type=Path, default=Path("training"),
                        help="directory with one `spacy train` output per task")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of " + ",".join(TASKS))
    args = parser.parse_args(argv)
    run_demo(args.training, [t.strip() for t in args.tasks.split(",") if t.strip()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
