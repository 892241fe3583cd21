"""spacy-bertft's command line: ``python -m spacy_bertft COMMAND`` and, through
the ``spacy_cli`` entry point, ``spacy bertft COMMAND``.

spaCy's CLI loads the entry points of its ``cli`` registry before it runs;
loading this module adds the ``bertft`` command group to spaCy's typer app.
"""
from spacy.cli._util import app as spacy_app

from ._app import NAME, app
from .augment import augment, augment_cli
from .convert import ConvertReport, convert, convert_cli, split_dev


def _register_with_spacy() -> None:
    if not any(group.typer_instance is app for group in spacy_app.registered_groups):
        spacy_app.add_typer(app, name=NAME)


_register_with_spacy()

__all__ = ["app", "convert", "convert_cli", "augment", "augment_cli", "ConvertReport", "split_dev"]
