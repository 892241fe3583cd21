"""spacy-bertft: fine-tune BERT-style encoders in spaCy."""
from .about import __version__
from .segments import SEPARATOR, pair_doc, qa_doc

__all__ = ["__version__", "SEPARATOR", "pair_doc", "qa_doc"]
