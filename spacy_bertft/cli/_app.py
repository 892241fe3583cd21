"""The typer app of spacy-bertft's commands: ``python -m spacy_bertft ...``,
and ``spacy bertft ...`` once spaCy's CLI has loaded the ``spacy_cli`` entry
point."""
import typer

NAME = "bertft"
HELP = """spacy-bertft: convert annotations and benchmark files to spaCy's
DocBin, and augment classification data.
"""

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, rich_markup_mode=None)
Arg = typer.Argument
Opt = typer.Option
