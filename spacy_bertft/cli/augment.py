"""``augment``: edited copies (synonyms, swaps, insertions, deletions) of
classification and NER training docs, from a ``.spacy`` file to a ``.spacy``
file."""
from pathlib import Path
from typing import Optional, Sequence, Union

import spacy
import srsly
from spacy.tokens import DocBin
from wasabi import msg

from ..augment import EDITS, SOURCES, AugmentReport, EmbeddingNeighbours, WordNetSynonyms, augment_docs, check_edits
from ..errors import Errors
from ..util import DEFAULT_MODEL
from ._app import Arg, Opt, app
from .convert import write_docbin


def augment(
    *,
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    source: str = "wordnet",
    model: str = DEFAULT_MODEL,
    wordnet_dir: Optional[Union[str, Path]] = None,
    lang: str = "en",
    seed: int = 0,
    max_copies: int = 1,
    replace_fraction: float = 0.15,
    edits: Union[str, Sequence[str]] = ("synonym",),
    top_k: int = 5,
    min_similarity: float = 0.5,
    keep_originals: bool = True,
    skip_dev: bool = False,
    max_examples: int = 5,
) -> AugmentReport:
    """Read a ``.spacy`` file, add edited copies of its docs and write them
    (after their originals) to another ``.spacy`` file.

    input_path (Union[str, Path]): The training docs (.spacy).
    output_path (Union[str, Path]): Where the docs go (.spacy).
    source (str): "wordnet" (nltk over the Princeton files) or "embeddings"
        (neighbours in the encoder's wordpiece embeddings).
    model (str): The encoder for "embeddings".
    wordnet_dir (Optional[Union[str, Path]]): The WordNet files for
        "wordnet"; None: searched (see ``find_wordnet_dir``).
    lang (str): Language of the vocab the docs are read with.
    seed (int): Seed of the random choices.
    max_copies (int): At most this many copies per doc.
    replace_fraction (float): Share of a doc's editable words edited per
        copy (at least one).
    edits (Union[str, Sequence[str]]): The edits each copy draws one from:
        "synonym", "swap", "insert", "delete" (or a comma-separated string).
    top_k (int): "embeddings": neighbours considered per word.
    min_similarity (float): "embeddings": least cosine similarity.
    keep_originals (bool): Write the originals too.
    skip_dev (bool): Leave out docs marked as dev instead of refusing.
    max_examples (int): How many substitutions the report lists.
    RETURNS (AugmentReport): What was read and written.
    """
    edits = check_edits(edits)  # before WordNet or an encoder is loaded
    if source not in SOURCES:
        raise ValueError(Errors.E209.format(what="synonym source", value=source, options=", ".join(SOURCES)))
    input_path = Path(input_path)
    if not input_path.is_file():
        raise ValueError(Errors.E218.format(path=input_path))
    nlp = spacy.blank(lang)
    try:
        docs = list(DocBin().from_disk(input_path).get_docs(nlp.vocab))
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(Errors.E236.format(path=input_path, err=e)) from None
    if not docs:
        raise ValueError(Errors.E238.format(path=input_path))
    if source == "wordnet":
        synonyms = WordNetSynonyms(wordnet_dir)
    else:
        synonyms = EmbeddingNeighbours(model, top_k=top_k, min_similarity=min_similarity)
    try:
        out, report = augment_docs(
            docs, synonyms, seed=seed, max_copies=max_copies, replace_fraction=replace_fraction, edits=edits,
            keep_originals=keep_originals, skip_dev=skip_dev, source_name=source, max_examples=max_examples,
        )
    except ValueError as e:
        raise ValueError(str(e).replace("input:", f"{input_path}:").replace("'input'", f"'{input_path}'")) from None
    write_docbin(out, output_path)
    return report


@app.command("augment")
def augment_cli(
    # fmt: off
    input_path: Path = Arg(..., help="Training docs (.spacy), e.g. from 'convert'", exists=True, dir_okay=False),
    output_path: Path = Arg(..., help="Output .spacy file: originals and their copies", dir_okay=False),
    source: str = Opt("wordnet", "--source", "-s", help=f"Synonym source: {', '.join(SOURCES)}"),
    model: str = Opt(DEFAULT_MODEL, "--model", "-m", help="Encoder whose wordpiece embeddings give neighbours (--source embeddings)"),
    wordnet_dir: Optional[Path] = Opt(None, "--wordnet-dir", help="Directory of the Princeton WordNet files (default: searched)"),
    lang: str = Opt("en", "--lang", "-l", help="Language of the docs' vocab"),
    seed: int = Opt(0, "--seed", help="Random seed"),
    max_copies: int = Opt(1, "--max-copies", help="Copies per doc, at most"),
    replace_fraction: float = Opt(0.15, "--replace-fraction", help="Share of editable words edited per copy"),
    edits: str = Opt("synonym", "--edits", "-e", help=f"Comma-separated edits each copy draws one from: {', '.join(EDITS)}"),
    top_k: int = Opt(5, "--top-k", help="Neighbours per word (--source embeddings)"),
    min_similarity: float = Opt(0.5, "--min-similarity", help="Least cosine similarity (--source embeddings)"),
    keep_originals: bool = Opt(True, "--keep-originals/--copies-only", help="Write the original docs too"),
    skip_dev: bool = Opt(False, "--skip-dev", help="Leave out docs marked as dev data instead of refusing"),
    report_path: Optional[Path] = Opt(None, "--report", help="Also write the report as JSON here", dir_okay=False),
    # fmt: on
):
    """Add edited copies of text classification, pair or NER training docs:
    synonyms, and with --edits also swapped, inserted and deleted words
    (entity tokens, stop words and negations are never edited; each copy keeps
    its source doc's id in doc.user_data["bertft_source_id"])."""
    try:
        report = augment(
            input_path=input_path, output_path=output_path, source=source, model=model, wordnet_dir=wordnet_dir,
            lang=lang, seed=seed, max_copies=max_copies, replace_fraction=replace_fraction, edits=edits, top_k=top_k,
            min_similarity=min_similarity, keep_originals=keep_originals, skip_dev=skip_dev,
        )
    except ValueError as e:
        msg.fail(str(e), exits=1)
    msg.info(f"Read {report.docs_read} docs from {input_path} (source: {report.source})")
    msg.text(f"copies: {report.copies_written}, words replaced: {report.words_replaced}, "
             f"docs without a copy: {report.docs_without_copy}, dev docs left out: {report.skipped_dev}, "
             f"entity tokens kept: {report.entity_tokens_kept}")
    if report.edit_counts:
        msg.text("copies per edit: " + ", ".join(f"{k} {v}" for k, v in report.edit_counts.items()))
    if report.label_counts:
        msg.text("copies per label: " + ", ".join(f"{k} {v}" for k, v in report.label_counts.items()))
    for example in report.examples:
        msg.text(f"  {example}")
    msg.good(f"Wrote {report.originals_written} originals and {report.copies_written} copies to {output_path}")
    if report_path is not None:
        srsly.write_json(report_path, report.to_dict())
