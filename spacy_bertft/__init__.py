"""spacy-bertft: fine-tune BERT-style encoders in spaCy."""
from .about import __version__
from .segments import SEPARATOR, pair_doc, qa_doc


def __getattr__(name):
    # Imported lazily: the pipeline modules pull in torch and transformers.
    if name == "qa_reference_doc":
        from .pipeline.qa import qa_reference_doc

        return qa_reference_doc
    raise AttributeError(f"module 'spacy_bertft' has no attribute {name!r}")


__all__ = ["__version__", "SEPARATOR", "pair_doc", "qa_doc", "qa_reference_doc"]
