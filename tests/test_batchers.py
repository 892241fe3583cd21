import random

import pytest
import spacy
from spacy.util import registry

from spacy_bertft.batchers import length_grouped_batches


def test_length_grouped_batches_keep_size_and_items():
    random.seed(0)
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("x " * random.randint(1, 60)) for _ in range(103)]
    batches = list(length_grouped_batches(docs, size=8, buffer=4))
    flat = [d for b in batches for d in b]
    assert sorted(map(id, flat)) == sorted(map(id, docs))
    sizes = [len(b) for b in batches]
    assert sizes.count(8) >= len(batches) - 4  # at most one short batch per buffer
    # within a batch, lengths are close: the spread is far below a random batch's
    def mean_spread(bs):
        return sum(max(len(d.text) for d in b) - min(len(d.text) for d in b) for b in bs) / len(bs)

    unsorted = [docs[i : i + 8] for i in range(0, len(docs), 8)]
    assert mean_spread(batches) < 0.5 * mean_spread(unsorted)


def test_default_length_is_the_texts_characters():
    from spacy.training import Example

    from spacy_bertft.batchers import _text_length

    nlp = spacy.blank("en")
    for text in ["", " ", "a", "hello  world ", "  lead and trail\n", "ünïcode 😀 x"]:
        doc = nlp.make_doc(text)
        assert _text_length(doc) == len(text) == _text_length(Example(nlp.make_doc(text), doc))


def test_length_grouped_batcher_registered_and_validates():
    make = registry.batchers.get("spacy-bertft.length_grouped_batcher.v1")
    batcher = make(size=2, buffer=2, get_length=len)
    assert [len(b) for b in batcher(["aa", "b", "cccc", "ddd", "e"])] .count(2) == 2
    with pytest.raises(ValueError, match="size >= 1"):
        list(length_grouped_batches([1], size=0, buffer=1))


def test_wordpiece_length_counts_the_encoders_wordpieces(tiny_encoder):
    from spacy.training import Example
    from transformers import AutoTokenizer

    get_length = registry.resolve(
        {"g": {"@misc": "spacy-bertft.wordpiece_length.v1", "tokenizer": tiny_encoder}})["g"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    nlp = spacy.blank("en")
    long_text = "john visited paris " * 100  # beyond the model's maximum: counted, not cut
    for text in ["", "the cat", "zzzq xylophone", long_text]:
        doc = nlp.make_doc(text)
        expected = len(tokenizer(text, truncation=False)["input_ids"])
        assert get_length(doc) == expected
        assert get_length(Example(doc, doc)) == expected
    assert get_length(nlp.make_doc(long_text)) > tokenizer.model_max_length
    # Few characters can be many wordpieces: sorting by them groups what the encoder reads.
    short, rare = nlp.make_doc("the cat sat on the mat"), nlp.make_doc("zqxj vvk")
    assert len(rare.text) < len(short.text) and get_length(rare) > get_length(short)


def test_wordpiece_length_of_a_chunk_tokenizes_its_unseen_texts_once(tiny_encoder):
    from spacy.tokens import Doc
    from transformers import AutoTokenizer

    get_length = registry.resolve(
        {"g": {"@misc": "spacy-bertft.wordpiece_length.v1", "tokenizer": tiny_encoder}})["g"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    nlp = spacy.blank("en")
    calls = []
    backend = get_length._backend

    class Counting:
        def encode_batch(self, texts, **kwargs):
            calls.append(list(texts))
            return backend.encode_batch(texts, **kwargs)

    get_length._backend = Counting()
    # The same words with and without a space between them are different texts.
    docs = [nlp.make_doc("the cat"), Doc(nlp.vocab, words=["new", "york"], spaces=[True, False]),
            Doc(nlp.vocab, words=["new", "york"], spaces=[False, False]), nlp.make_doc("the cat"),
            nlp.make_doc("")]
    expected = [len(tokenizer(doc.text)["input_ids"]) for doc in docs]
    assert expected[1] != expected[2]
    assert get_length.batch_lengths(docs) == expected
    assert calls == [["the cat", "new york", "newyork", ""]]
    # Seen texts (in other docs) are not tokenized again; one call per chunk.
    assert get_length.batch_lengths([nlp.make_doc("new york"), nlp.make_doc("a dog")]) == [
        expected[1], len(tokenizer("a dog")["input_ids"])]
    assert get_length(nlp.make_doc("the cat")) == expected[0]
    assert calls[1:] == [["a dog"]]


def test_wordpiece_length_keeps_at_most_max_bytes(tiny_encoder):
    from spacy.attrs import ORTH, SPACY
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(f"the cat number {i} sat on mat {i}") for i in range(6)]
    expected = [len(tokenizer(doc.text)["input_ids"]) for doc in docs]
    one = len(docs[0].to_array([ORTH, SPACY]).tobytes()) + 100
    # room for two docs' lengths: the others are computed each time, not kept
    get_length = registry.resolve({"g": {"@misc": "spacy-bertft.wordpiece_length.v1", "tokenizer": tiny_encoder,
                                         "max_bytes": 2 * one + one // 2}})["g"]
    assert get_length.batch_lengths(docs) == expected
    assert len(get_length._lengths) == 2 and get_length.n_bytes <= get_length.max_bytes
    assert get_length.batch_lengths(docs[::-1]) == expected[::-1]
    assert [get_length(doc) for doc in docs] == expected
    assert len(get_length._lengths) == 2


def test_length_grouped_batches_read_a_chunks_lengths_at_once():
    class Lengths:
        def __init__(self):
            self.chunks = []

        def __call__(self, item):
            raise AssertionError("called per item")

        def batch_lengths(self, items):
            self.chunks.append(len(items))
            return [length for length, _ in items]

    random.seed(0)
    # Many items share a length: the batches are those of list.sort's stable
    # order (the items tell apart by their second field).
    items = [(random.randint(1, 10), i) for i in range(100)]
    get_length = Lengths()
    random.seed(1)
    batched = list(length_grouped_batches(items, size=8, buffer=5, get_length=get_length))
    random.seed(1)
    assert batched == list(length_grouped_batches(items, size=8, buffer=5, get_length=lambda item: item[0]))
    assert get_length.chunks == [40, 40, 20]
    # A get_length whose batch_lengths is not a method is called per item.
    class Keeping:
        batch_lengths = {}

        def __call__(self, item):
            return item[0]

    random.seed(1)
    assert list(length_grouped_batches(items, size=8, buffer=5, get_length=Keeping())) == batched


def test_wordpiece_length_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="E001"):
        registry.resolve({"g": {"@misc": "spacy-bertft.wordpiece_length.v1",
                                "tokenizer": str(tmp_path / "missing" / "model")}})


@pytest.mark.parametrize("seed", range(5))
def test_first_batch_is_the_longest_of_the_first_buffer(seed):
    random.seed(seed)
    items = [random.randint(1, 500) for _ in range(200)]
    batches = list(length_grouped_batches(items, size=8, buffer=10, get_length=int))
    assert max(batches[0]) == max(items[:80])
    assert sorted(x for b in batches for x in b) == sorted(items)
