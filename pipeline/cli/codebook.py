"""`qcode codebook check PATH`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import codebook_problems, parse_yaml
from ..schemas import Codebook
from .common import command, say

app = typer.Typer(help="Work with codebooks.", no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


@command(app, "check")
def check_cli(path: Path = typer.Argument(..., help="A YAML codebook.")) -> None:
    """Validate a codebook: every problem with its location, exit 1; or a summary, exit 0.

    Example: qcode codebook check codebook/kings_fund_2023.yaml
    """
    data = parse_yaml(path)
    if not isinstance(data, dict):
        say(f"error: {path}: a codebook is a YAML mapping with name, version and codes")
        raise typer.Exit(1)
    problems = codebook_problems(data)
    if problems:
        for p in problems:
            say(f"{path}: {p}")
        say(f"{len(problems)} problem(s) in {path}")
        raise typer.Exit(1)
    cb = Codebook.model_validate(data)
    examples = sum(len(c.examples) for c in cb.codes)
    typer.echo(f"{path}: ok: {cb.name} v{cb.version}: {len(cb.codes)} codes, {len(cb.themes)} themes, {examples} examples")
