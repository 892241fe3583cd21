"""The two-segment representation shared by the pair classifier and QA.

spaCy's training loop and ``nlp.evaluate`` hand a component
``nlp.make_doc(reference.text)``: extension attributes and span groups of the
reference never reach it. A two-segment input must therefore survive as plain
text. It is stored as ``text_a + SEPARATOR + text_b``, where the separator is a
space, the symbol U+241E (SYMBOL FOR RECORD SEPARATOR) and a space. Any spaCy
tokenizer that splits on whitespace makes the symbol a token of its own, so
both segments stay token-aligned, and components recover them from
``doc.text`` alone. ``pair_doc`` and ``qa_doc`` build such docs and also record
the segments in ``doc.spans["segments"]`` for readers.
"""
from typing import Tuple

from spacy.language import Language
from spacy.tokens import Doc

from .errors import Errors

SEPARATOR = " \u241e "
SEGMENTS_KEY = "segments"


def join_segments(
    text_a: str,
    text_b: str,
    *,
    separator: str = SEPARATOR,
    names: Tuple[str, str] = ("first text", "second text"),
) -> str:
    """Join two segments into the text of a two-segment doc.

    text_a (str): The first segment (premise, question).
    text_b (str): The second segment (hypothesis, context).
    separator (str): The separator between the segments.
    names (Tuple[str, str]): What the segments are called in error messages.
    RETURNS (str): The joined text.
    """
    for which, text in ((names[0], text_a), (names[1], text_b)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(Errors.E017.format(which=which, first=names[0], second=names[1]))
        if separator.strip() in text:
            raise ValueError(Errors.E016.format(which=which, text=text, sep=separator.strip()))
    return f"{text_a}{separator}{text_b}"


def split_segments(
    text: str, *, separator: str = SEPARATOR, index: int = 0
) -> Tuple[str, str, int]:
    """Recover both segments from the text of a two-segment doc.

    text (str): The doc's text.
    separator (str): The separator between the segments.
    index (int): The doc's position in its batch, for the error message.
    RETURNS (Tuple[str, str, int]): The first segment, the second segment and
        the character offset at which the second segment starts.
    """
    n = text.count(separator.strip())
    if n != 1 or text.count(separator) != 1:
        raise ValueError(Errors.E015.format(index=index, sep=separator, n=n, text=text[:200]))
    start = text.index(separator)
    b_start = start + len(separator)
    return text[:start], text[b_start:], b_start


def _two_segment_doc(nlp: Language, text_a: str, text_b: str, names: Tuple[str, str]) -> Doc:
    text = join_segments(text_a, text_b, names=names)
    doc = nlp.make_doc(text)
    b_start = len(text_a) + len(SEPARATOR)
    span_a = doc.char_span(0, len(text_a), label=names[0].split()[-1], alignment_mode="expand")
    span_b = doc.char_span(b_start, len(text), label=names[1].split()[-1], alignment_mode="expand")
    doc.spans[SEGMENTS_KEY] = [s for s in (span_a, span_b) if s is not None]
    return doc


def pair_doc(nlp: Language, text_a: str, text_b: str) -> Doc:
    """Make the doc a pair classifier reads: ``nlp(pair_doc(nlp, a, b)).cats``.

    nlp (Language): The pipeline whose tokenizer makes the doc.
    text_a (str): The first text (premise, sentence 1).
    text_b (str): The second text (hypothesis, sentence 2).
    RETURNS (Doc): A doc whose text joins both, with ``doc.spans["segments"]``
        holding the two segments (labels "a" and "b").
    """
    return _two_segment_doc(nlp, text_a, text_b, ("text a", "text b"))


def qa_doc(nlp: Language, question: str, context: str) -> Doc:
    """Make the doc a QA component reads:
    ``nlp(qa_doc(nlp, question, context)).spans["answers"]``.

    nlp (Language): The pipeline whose tokenizer makes the doc.
    question (str): The question.
    context (str): The text that holds the answer.
    RETURNS (Doc): A doc whose text joins both, with ``doc.spans["segments"]``
        holding the question and the context (labels "question", "context").
    """
    return _two_segment_doc(nlp, question, context, ("question", "context"))
