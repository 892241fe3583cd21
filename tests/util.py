"""Helpers for the test suite: a tiny BERT encoder built locally, so the
tests need no network and no large weights."""
import string
from pathlib import Path
from typing import Iterable, Union

WORDS = (
    "the a an and or not is was were be it this that i you he she we they of to in on at "
    "for with by from as good great love like happy bad awful hate sad terrible movie film "
    "plot actor acting story fun boring cat dog sat mat man woman city paris london berlin "
    "john mary smith york new company apple google lives works visited capital france "
    "germany who what where when which how why answer question born river mountain "
    "yes no some many all every sleeping running eating outside inside"
).split()


def make_tiny_encoder(
    path: Union[str, Path],
    *,
    extra_words: Iterable[str] = (),
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 2,
    max_positions: int = 128,
    seed: int = 0,
    dropout: float = 0.0,
) -> Path:
    """Write a small randomly initialised BERT with a WordPiece fast tokenizer
    to ``path`` (config.json, vocab, tokenizer.json, model.safetensors)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = specials + chars + [f"##{c}" for c in chars] + sorted(set(WORDS) | set(extra_words))
    seen = set()
    vocab = [v for v in vocab if not (v in seen or seen.add(v))]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True,
                                  model_max_length=max_positions)
    tokenizer.save_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=max_positions,
        type_vocab_size=2,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    # With its pooler, as pretrained BERT checkpoints are saved (pooling = "pooler" reads it).
    BertModel(config, add_pooling_layer=True).save_pretrained(path, safe_serialization=True)
    return path
