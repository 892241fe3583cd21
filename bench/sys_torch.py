"""The limit: a plain PyTorch loop with the same encoder and head, the same
length-grouped batches of the same size (the plugin's batcher over the
same examples), tokenizing each batch as it goes, torch AdamW with linear
warmup and decay and gradient clipping. No framework around it: what is
left between this and the plugin is the plugin's overhead."""
import random
from typing import Any, Dict, List

from .common import Settings, Timer, clamp_max_length, model_path, total_steps, warmup_steps
from .data import TaskData
from .features import (decode_ner, encode_ner, encode_qa_eval, encode_qa_train, ner_tag_names,
                       postprocess_qa, word_spans_to_chars, wordpiece_length)


def classifier_pooling(settings: Settings) -> str:
    """The pooling bertft's classifier uses in this run: the --pooling
    override, else its config's (configs/textcat.cfg, configs/pair.cfg)."""
    if settings.pooling:
        return settings.pooling
    from spacy.util import load_config

    from .sys_bertft import config_path

    config = load_config(config_path(settings), interpolate=False)
    name = config["nlp"]["pipeline"][0]
    return config["components"][name]["model"].get("pooling", "cls")


def _module(encoder, kind: str, n_out: int, dropout: float, head_init: str = "torch", pooling: str = "cls"):
    """The encoder and a linear head. head_init "torch" keeps torch.nn.Linear's
    default (uniform, bound 1/sqrt(width), weights and bias); "bert" draws the
    weights from Normal(0, 0.02) with a zero bias, as BERT and the plugin do.
    A classifier reads [CLS] ("cls") or the encoder's pooler over it
    ("pooler", as BertForSequenceClassification)."""
    import torch

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(dropout)
            width = encoder.config.hidden_size
            self.out = torch.nn.Linear(width, 2 if kind == "qa" else n_out)
            if head_init == "bert":
                torch.nn.init.normal_(self.out.weight, 0.0, 0.02)
                torch.nn.init.zeros_(self.out.bias)
            elif head_init != "torch":
                raise ValueError(f"head_init must be 'torch' or 'bert', not {head_init!r}")
            if kind in ("cls", "pair") and pooling not in ("cls", "pooler"):
                raise ValueError(f"the torch loop pools 'cls' or 'pooler', not {pooling!r}")

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids, return_dict=True).last_hidden_state
            if kind in ("cls", "pair"):
                first = self.encoder.pooler(hidden) if pooling == "pooler" else hidden[:, 0]
                return self.out(self.dropout(first))
            if kind == "ner":
                return self.out(self.dropout(hidden))
            return self.out(hidden)  # (batch, length, 2): start and end logits

    return Head()


def _pad(tokenizer, features: List[dict], device):
    """Pad model inputs with the tokenizer; label lists with -100."""
    import torch

    inputs = [{k: f[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in f} for f in features]
    batch = tokenizer.pad(inputs, return_tensors="pt")
    batch = {k: v.to(device) for k, v in batch.items()}
    if features and "labels" in features[0]:
        width = batch["input_ids"].shape[1]
        labels = [f["labels"] + [-100] * (width - len(f["labels"])) for f in features]
        batch["labels"] = torch.tensor(labels, device=device)
    for key in ("start_positions", "end_positions"):
        if features and key in features[0]:
            batch[key] = torch.tensor([f[key] for f in features], device=device)
    return batch


def _encode_batch(tokenizer, kind: str, items, settings: Settings, label_ids: Dict[str, int], device):
    if kind == "cls":
        enc = tokenizer([x.text for x in items], truncation=True, max_length=settings.max_length,
                        padding=True, return_tensors="pt")
    elif kind == "pair":
        enc = tokenizer([x.text_a for x in items], [x.text_b for x in items], truncation=True,
                        max_length=settings.max_length, padding=True, return_tensors="pt")
    elif kind == "ner":
        features, _ = encode_ner(tokenizer, items, label_ids, settings.max_length)
        return _pad(tokenizer, features, device)
    else:
        return _pad(tokenizer, encode_qa_train(tokenizer, items, settings.max_length, settings.stride), device)
    batch = {k: v.to(device) for k, v in enc.items()}
    import torch

    batch["labels"] = torch.tensor([label_ids[x.label] for x in items], device=device)
    return batch


def run(settings: Settings, data: TaskData) -> Dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from spacy_bertft.batchers import length_grouped_batches

    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    device = torch.device("cuda" if settings.device == "cuda" else "cpu")
    cuda = device.type == "cuda"
    path = model_path(settings.model)
    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    settings = clamp_max_length(settings, tokenizer)
    kind = data.kind
    pooling = classifier_pooling(settings) if kind in ("cls", "pair") else "cls"
    encoder = AutoModel.from_pretrained(path, add_pooling_layer=pooling == "pooler")
    if kind == "ner":
        names = ner_tag_names(data.labels)
    else:
        names = list(data.labels)
    label_ids = {name: i for i, name in enumerate(names)}
    head_init = settings.extra.get("head_init", "torch")
    model = _module(encoder, kind, max(len(names), 2), 0.1, head_init, pooling).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    n_total = total_steps(len(data.train), settings.batch_size, settings.epochs)
    n_warmup = warmup_steps(len(data.train), settings.batch_size, settings.epochs, settings.warmup_ratio)

    def schedule(step: int) -> float:
        if step < n_warmup:
            return step / max(1, n_warmup)
        return max(0.0, (n_total - step) / max(1, n_total - n_warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=settings.bf16)
    ce = torch.nn.CrossEntropyLoss(ignore_index=-100)
    get_length = wordpiece_length(tokenizer)
    steps = 0
    model.train()
    with Timer(cuda) as train_timer:
        for _ in range(settings.epochs):
            items = list(data.train)
            random.shuffle(items)
            for batch_items in length_grouped_batches(items, size=settings.batch_size, buffer=50,
                                                      get_length=get_length):
                batch = _encode_batch(tokenizer, kind, batch_items, settings, label_ids, device)
                with autocast:
                    logits = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
                logits = logits.float()
                if kind == "qa":
                    loss = (ce(logits[..., 0], batch["start_positions"])
                            + ce(logits[..., 1], batch["end_positions"])) / 2
                else:
                    loss = ce(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                steps += 1
    with Timer(cuda) as infer_timer:
        predictions = predict(model, tokenizer, kind, data.eval, settings, names, device, autocast)
    return {"train_seconds": train_timer.seconds, "infer_seconds": infer_timer.seconds, "steps": steps,
            "predictions": predictions}


def predict(model, tokenizer, kind: str, items, settings: Settings, names: List[str], device, autocast) -> list:
    """Length-sorted batches under inference mode; results in input order."""
    import torch

    model.eval()
    get_length = wordpiece_length(tokenizer)
    order = sorted(range(len(items)), key=lambda i: get_length(items[i]))
    results: List[Any] = [None] * len(items)
    bs = settings.infer_batch_size
    id2name = dict(enumerate(names))
    with torch.inference_mode():
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            batch_items = [items[i] for i in idx]
            if kind in ("cls", "pair"):
                texts = ([x.text for x in batch_items],) if kind == "cls" else (
                    [x.text_a for x in batch_items], [x.text_b for x in batch_items])
                enc = tokenizer(*texts, truncation=True, max_length=settings.max_length, padding=True,
                                return_tensors="pt").to(device)
                with autocast:
                    logits = model(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
                out = [id2name[int(i)] for i in logits.float().argmax(-1).cpu()]
            elif kind == "ner":
                features, word_ids = encode_ner(tokenizer, batch_items, {}, settings.max_length, with_labels=False)
                enc = _pad(tokenizer, features, device)
                with autocast:
                    logits = model(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
                spans = decode_ner(logits.float().argmax(-1).cpu().numpy(), word_ids, id2name,
                                   [len(x.words) for x in batch_items])
                out = [word_spans_to_chars(x, s) for x, s in zip(batch_items, spans)]
            else:
                features, example_index, offsets = encode_qa_eval(tokenizer, batch_items, settings.max_length,
                                                                   settings.stride)
                enc = _pad(tokenizer, features, device)
                with autocast:
                    logits = model(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
                logits = logits.float().cpu().numpy()
                out = postprocess_qa(batch_items, example_index, offsets, logits[..., 0], logits[..., 1])
            for i, value in zip(idx, out):
                results[i] = value
    model.train()
    return results
