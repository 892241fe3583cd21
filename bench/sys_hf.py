"""The Hugging Face peer: ``Trainer`` with the same model folder, data and
hyperparameters (run_glue / run_ner / run_qa preprocessing, dynamic padding),
scored the way those scripts score, and a ``transformers.pipeline`` on the
fine-tuned weights for inference."""
import tempfile
from typing import Any, Dict, List

from .common import Settings, Timer, clamp_max_length, model_path
from .data import TaskData
from .features import (decode_ner, encode_classification, encode_ner, encode_qa_eval, encode_qa_train,
                       ner_tag_names, postprocess_qa, word_spans_to_chars)
from .metrics import task_scores


class ListDataset:
    """A list of feature dicts as a map-style dataset."""

    def __init__(self, features: List[dict]):
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict:
        return self.features[i]


def training_arguments(settings: Settings, output_dir: str, *, group_by_length: bool):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.infer_batch_size,
        learning_rate=settings.lr,
        num_train_epochs=settings.epochs,
        warmup_ratio=settings.warmup_ratio,
        lr_scheduler_type="linear",
        weight_decay=settings.weight_decay,
        max_grad_norm=1.0,
        seed=settings.seed,
        data_seed=settings.seed,
        group_by_length=group_by_length,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=settings.device == "cpu",
        bf16=settings.bf16,
    )


def run(settings: Settings, data: TaskData, *, group_by_length: bool = False) -> Dict[str, Any]:
    import numpy
    from transformers import (AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              DataCollatorWithPadding, Trainer, set_seed)

    path = model_path(settings.model)
    cuda = settings.device == "cuda"
    set_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    settings = clamp_max_length(settings, tokenizer)
    kind, L = data.kind, settings.max_length
    extra: Dict[str, Any] = {}
    with Timer() as prep:
        if kind in ("cls", "pair"):
            label2id = {label: i for i, label in enumerate(data.labels)}
            id2label = {i: label for label, i in label2id.items()}
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=len(label2id), id2label=id2label, label2id=label2id)
            train_features = encode_classification(tokenizer, data.train, label2id, L)
            eval_features = encode_classification(tokenizer, data.eval, label2id, L)
            collator = DataCollatorWithPadding(tokenizer)
        elif kind == "ner":
            tags = ner_tag_names(data.labels)
            tag2id = {tag: i for i, tag in enumerate(tags)}
            id2tag = {i: tag for tag, i in tag2id.items()}
            model = AutoModelForTokenClassification.from_pretrained(
                path, num_labels=len(tags), id2label=id2tag, label2id=tag2id)
            train_features, _ = encode_ner(tokenizer, data.train, tag2id, L)
            eval_features, eval_word_ids = encode_ner(tokenizer, data.eval, tag2id, L)
            collator = DataCollatorForTokenClassification(tokenizer)
        elif kind == "qa":
            model = AutoModelForQuestionAnswering.from_pretrained(path)
            train_features = encode_qa_train(tokenizer, data.train, L, settings.stride)
            eval_features, example_index, offsets = encode_qa_eval(tokenizer, data.eval, L, settings.stride)
            collator = DataCollatorWithPadding(tokenizer)
            extra["train_features"] = len(train_features)
            extra["eval_features"] = len(eval_features)
        else:
            raise ValueError(f"Unknown task kind {kind!r}")
    extra["preprocess_seconds"] = prep.seconds
    with tempfile.TemporaryDirectory() as tmp:
        args = training_arguments(settings, tmp, group_by_length=group_by_length)
        trainer = Trainer(model=model, args=args, train_dataset=ListDataset(train_features),
                          data_collator=collator)
        with Timer(cuda) as train_timer:
            output = trainer.train()
        extra["trainer_train_runtime"] = output.metrics.get("train_runtime")
        # Scored as run_glue / run_ner / run_qa score: Trainer.predict on the eval features.
        # With group_by_length=True, transformers 4.53's Trainer.predict also samples the eval
        # set by length and returns the predictions in that order, not the dataset's (the
        # 52.41 of the first SST-2 run): predict in dataset order, as run_glue's users expect.
        trainer.args.group_by_length = False
        with Timer(cuda) as predict_timer:
            raw = trainer.predict(ListDataset(eval_features))
        extra["trainer_predict_seconds"] = predict_timer.seconds
    if kind in ("cls", "pair"):
        predictions = [id2label[int(i)] for i in numpy.argmax(raw.predictions, axis=-1)]
    elif kind == "ner":
        word_level = decode_ner(numpy.argmax(raw.predictions, axis=-1), eval_word_ids, id2tag,
                                [len(s.words) for s in data.eval])
        predictions = [word_spans_to_chars(s, spans) for s, spans in zip(data.eval, word_level)]
    else:
        start_logits, end_logits = raw.predictions
        predictions = postprocess_qa(data.eval, example_index, offsets, start_logits, end_logits,
                                     n_best=20, max_answer_length=30)
    if settings.save_dir:
        trainer.save_model(f"{settings.save_dir}/{'hf-grouped' if group_by_length else 'hf'}")
        tokenizer.save_pretrained(f"{settings.save_dir}/{'hf-grouped' if group_by_length else 'hf'}")

    pipe_predictions, infer_seconds = pipeline_inference(settings, data, model, tokenizer)
    gold = _gold(data)
    extra["pipeline_scores"] = task_scores(settings.task, pipe_predictions, gold, data.positive_label)
    return {
        "train_seconds": train_timer.seconds,
        "infer_seconds": infer_seconds,
        "steps": output.global_step,
        "predictions": predictions,
        **extra,
    }


def _gold(data: TaskData) -> list:
    from .spacy_side import gold_for

    return gold_for(data.kind, data.eval)


def pipeline_inference(settings: Settings, data: TaskData, model, tokenizer):
    """``transformers.pipeline`` on the fine-tuned weights, same inputs and
    batch size as the spaCy systems. RETURNS: (predictions, seconds)."""
    from transformers import pipeline

    import torch

    device = 0 if settings.device == "cuda" else -1
    bs = settings.infer_batch_size
    kind = data.kind
    model.eval()
    # With bf16 the Trainer trained under autocast; its pipeline predicts
    # under the same autocast (the model's weights stay float32). accelerate
    # may have left its own autocast wrapper on model.forward after training:
    # this makes the precision explicit either way.
    autocast = torch.autocast(device_type=settings.device, dtype=torch.bfloat16, enabled=settings.bf16)
    if kind in ("cls", "pair"):
        pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=device)
        with Timer(device >= 0) as timer, autocast:
            if kind == "cls":
                inputs = [x.text for x in data.eval]
            else:
                inputs = [{"text": x.text_a, "text_pair": x.text_b} for x in data.eval]
            outputs = pipe(inputs, batch_size=bs, truncation=True, max_length=settings.max_length)
        predictions = [o["label"] for o in outputs]
    elif kind == "ner":
        pipe = pipeline("token-classification", model=model, tokenizer=tokenizer, device=device,
                        aggregation_strategy="first")
        with Timer(device >= 0) as timer, autocast:
            outputs = pipe([x.text for x in data.eval], batch_size=bs)
        predictions = [{(int(e["start"]), int(e["end"]), e["entity_group"]) for e in o} for o in outputs]
    else:
        pipe = pipeline("question-answering", model=model, tokenizer=tokenizer, device=device)
        with Timer(device >= 0) as timer, autocast:
            outputs = pipe(question=[x.question for x in data.eval], context=[x.context for x in data.eval],
                           batch_size=bs, max_answer_len=30, doc_stride=settings.stride,
                           max_seq_len=settings.max_length, top_k=1)
        if isinstance(outputs, dict):
            outputs = [outputs]
        predictions = [o["answer"] for o in outputs]
    return predictions, timer.seconds
