"""The `qcode` command: thin wrappers over plain functions in `pipeline`.

Data goes to stdout or files; progress and messages go to stderr. Exit 1 means bad
input data, 2 bad usage.
"""

from __future__ import annotations

import sys

import typer

from ..version import __version__
from . import agreement as agreement_cmd
from . import code as code_cmd
from . import codebook as codebook_cmd
from . import counts as counts_cmd
from . import evaluate as evaluate_cmd
from . import export as export_cmd
from . import importing as importing_cmd
from . import learn as learn_cmd
from . import models as models_cmd
from . import redact as redact_cmd
from . import review as review_cmd
from .common import boundary

app = typer.Typer(
    name="qcode",
    help="Deductive qualitative coding of interview transcripts against a YAML codebook. "
    "Everything runs on this machine; nothing is sent anywhere.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qcode {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """qcode: code transcripts, review, measure agreement, learn from reviewers."""


app.command("code")(boundary(code_cmd.code_cli))
app.command("evaluate")(boundary(evaluate_cmd.evaluate_cli))
app.command("agreement")(boundary(agreement_cmd.agreement_cli))
app.command("learn")(boundary(learn_cmd.learn_cli))
app.command("counts")(boundary(counts_cmd.counts_cli))
app.command("report")(boundary(counts_cmd.report_cli))
app.command("reproduce")(boundary(counts_cmd.reproduce_cli))
app.command("models")(boundary(models_cmd.models_cli))
app.command("redact")(boundary(redact_cmd.redact_cli))
app.add_typer(codebook_cmd.app, name="codebook")
app.add_typer(review_cmd.app, name="review")
app.add_typer(export_cmd.export_app, name="export")
importing_cmd.import_app.command("project")(boundary(importing_cmd.import_project_cli))
app.add_typer(importing_cmd.import_app, name="import")


def main() -> None:
    sys.exit(app(standalone_mode=True) or 0)
