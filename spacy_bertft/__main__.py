"""``python -m spacy_bertft COMMAND``: the package's CLI."""
from .cli import app

if __name__ == "__main__":
    app(prog_name="python -m spacy_bertft")
