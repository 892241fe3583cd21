"""Tokenization and post-processing shared by the Hugging Face Trainer peer
and the plain PyTorch loop: what ``run_glue``, ``run_ner`` and ``run_qa``
do, written out so that both peers see identical features."""
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy

from .data import ClsExample, NerSentence, PairExample, QAExample, iob1_spans


def ner_tag_names(types: Sequence[str]) -> List[str]:
    """IOB2 tag names, as run_ner uses them: O, B-X, I-X."""
    tags = ["O"]
    for label in types:
        tags += [f"B-{label}", f"I-{label}"]
    return tags


def iob2_tags(sentence: NerSentence) -> List[str]:
    tags = ["O"] * len(sentence.words)
    for start, end, label in sentence.spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def encode_classification(tokenizer, items, label2id: Dict[str, int], max_length: int) -> List[dict]:
    """run_glue's preprocessing with dynamic padding: one feature per example."""
    if items and isinstance(items[0], PairExample):
        enc = tokenizer([x.text_a for x in items], [x.text_b for x in items], truncation=True,
                        max_length=max_length)
    else:
        enc = tokenizer([x.text for x in items], truncation=True, max_length=max_length)
    features = []
    for i, item in enumerate(items):
        feature = {key: enc[key][i] for key in enc.keys()}
        feature["labels"] = label2id[item.label]
        features.append(feature)
    return features


def encode_ner(tokenizer, sentences: Sequence[NerSentence], tag2id: Dict[str, int], max_length: int,
               with_labels: bool = True) -> Tuple[List[dict], List[List[Optional[int]]]]:
    """run_ner's preprocessing: words tokenized as pre-split input, the first
    wordpiece of each word labelled, the others -100.

    RETURNS: The features and, per sentence, the word id of each wordpiece.
    """
    enc = tokenizer([s.words for s in sentences], is_split_into_words=True, truncation=True,
                    max_length=max_length)
    features, word_ids_all = [], []
    for i, sentence in enumerate(sentences):
        word_ids = enc.word_ids(i)
        feature = {key: enc[key][i] for key in enc.keys()}
        if with_labels:
            tags = iob2_tags(sentence)
            labels, previous = [], None
            for word in word_ids:
                labels.append(-100 if word is None or word == previous else tag2id[tags[word]])
                previous = word
            feature["labels"] = labels
        features.append(feature)
        word_ids_all.append(word_ids)
    return features, word_ids_all


def decode_ner(predictions: Sequence[Sequence[int]], word_ids_all, id2tag: Dict[int, str],
               n_words: Sequence[int]) -> List[Set[Tuple[int, int, str]]]:
    """First-wordpiece predictions back to word tags (words cut off by
    truncation get O), then to entity spans as conlleval reads them."""
    out = []
    for preds, word_ids, n in zip(predictions, word_ids_all, n_words):
        tags = ["O"] * n
        previous = None
        for position, word in enumerate(word_ids):
            if word is not None and word != previous and position < len(preds):
                tags[word] = id2tag[int(preds[position])]
            previous = word
        out.append(set(iob1_spans(tags)))
    return out


def encode_qa_train(tokenizer, examples: Sequence[QAExample], max_length: int, stride: int) -> List[dict]:
    """run_qa's prepare_train_features: question + context windows with stride;
    each window labelled with the answer's start/end wordpiece, or with [CLS]
    (index 0) when the answer is not wholly inside it."""
    enc = tokenizer([x.question.lstrip() for x in examples], [x.context for x in examples],
                    truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    features = []
    for row in range(len(enc["input_ids"])):
        example = examples[enc["overflow_to_sample_mapping"][row]]
        offsets = enc["offset_mapping"][row]
        sequence_ids = enc.sequence_ids(row)
        cls_index = enc["input_ids"][row].index(tokenizer.cls_token_id)
        answer_text, answer_start = example.answers[0]
        start_char, end_char = answer_start, answer_start + len(answer_text)
        token_start = 0
        while sequence_ids[token_start] != 1:
            token_start += 1
        token_end = len(enc["input_ids"][row]) - 1
        while sequence_ids[token_end] != 1:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            start_position = end_position = cls_index
        else:
            while token_start < len(offsets) and offsets[token_start][0] <= start_char:
                token_start += 1
            start_position = token_start - 1
            while offsets[token_end][1] >= end_char:
                token_end -= 1
            end_position = token_end + 1
        feature = {key: enc[key][row] for key in enc.keys()
                   if key not in ("offset_mapping", "overflow_to_sample_mapping")}
        feature["start_positions"] = start_position
        feature["end_positions"] = end_position
        features.append(feature)
    return features


def encode_qa_eval(tokenizer, examples: Sequence[QAExample], max_length: int, stride: int):
    """run_qa's prepare_validation_features. RETURNS: (model inputs per window,
    example index per window, context offsets per window (None outside the context))."""
    enc = tokenizer([x.question.lstrip() for x in examples], [x.context for x in examples],
                    truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    features, example_index, offsets_all = [], [], []
    for row in range(len(enc["input_ids"])):
        sequence_ids = enc.sequence_ids(row)
        offsets = [o if sequence_ids[k] == 1 else None for k, o in enumerate(enc["offset_mapping"][row])]
        features.append({key: enc[key][row] for key in enc.keys()
                         if key not in ("offset_mapping", "overflow_to_sample_mapping")})
        example_index.append(int(enc["overflow_to_sample_mapping"][row]))
        offsets_all.append(offsets)
    return features, example_index, offsets_all


def postprocess_qa(examples: Sequence[QAExample], example_index: Sequence[int], offsets_all,
                   start_logits, end_logits, *, n_best: int = 20, max_answer_length: int = 30) -> List[str]:
    """run_qa's postprocess_qa_predictions (SQuAD v1: always an answer): per
    example, the best (start + end logit) span over all its windows among the
    n_best start and end candidates, at most max_answer_length wordpieces."""
    best: List[Tuple[float, str]] = [(-numpy.inf, "") for _ in examples]
    for row, ex in enumerate(example_index):
        offsets = offsets_all[row]
        starts = numpy.asarray(start_logits[row])[: len(offsets)]
        ends = numpy.asarray(end_logits[row])[: len(offsets)]
        start_idx = numpy.argsort(starts)[-1 : -n_best - 1 : -1]
        end_idx = numpy.argsort(ends)[-1 : -n_best - 1 : -1]
        context = examples[ex].context
        for s in start_idx:
            if offsets[s] is None:
                continue
            for e in end_idx:
                if offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                if score > best[ex][0]:
                    best[ex] = (score, context[offsets[s][0] : offsets[e][1]])
    return [text for _, text in best]


def item_texts(item) -> Tuple[str, ...]:
    """The text(s) the encoder reads for an example: one, or two segments."""
    if isinstance(item, (ClsExample, NerSentence)):
        return (item.text,)
    if isinstance(item, PairExample):
        return (item.text_a, item.text_b)
    if isinstance(item, QAExample):
        return (item.question, item.context)
    raise TypeError(f"Unknown benchmark item {type(item).__name__}")


def wordpiece_length(tokenizer) -> Callable[[Any], int]:
    """Example -> its wordpieces with special tokens, untruncated: the length
    the batchers sort by, as bertft's batcher and the Trainer's
    group_by_length do. Each example is tokenized once."""
    lengths: Dict[int, int] = {}

    def get_length(item) -> int:
        key = id(item)
        if key not in lengths:
            ids = tokenizer(*item_texts(item), truncation=False, verbose=False,
                            return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            lengths[key] = len(ids)
        return lengths[key]

    return get_length


def word_spans_to_chars(sentence: NerSentence, spans) -> Set[Tuple[int, int, str]]:
    """Word-index entity spans to character spans in ``sentence.text``."""
    from .data import word_starts

    starts = word_starts(sentence.words)
    return {(starts[s], starts[e - 1] + len(sentence.words[e - 1]), label) for s, e, label in spans}
