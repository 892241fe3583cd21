__title__ = "spacy-bertft"
__version__ = "0.1.0"
