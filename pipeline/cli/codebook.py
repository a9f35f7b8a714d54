"""`qcode codebook check PATH`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import read_codebook, thin_codes
from .common import command, say

app = typer.Typer(
    help="Work with codebooks.", no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]}
)

# What a definition-only codebook cost on our benchmarks (docs/tagging.md, "Codebook
# richness"): keep this in step with the table there.
THIN_COST = (
    "qcode also reads such codes as talk about them and adapts them to the passages it codes, but on "
    "eight coded sets definitions alone agreed with the coders at mean kappa 0.02-0.45; "
    "on six of them full entries reached 0.23-0.68. Add a few example quotes (examples:) "
    "or include rules, or review 40-100 passages (the review page learns as you go)"
)


@command(app, "check")
def check_cli(
    path: Path = typer.Argument(..., help="A codebook: YAML, a CSV/XLSX table of codes, or a REFI-QDA .qdc."),
) -> None:
    """Validate a codebook: every problem with its location, exit 1; or a summary, and which
    codes are thin (a definition and nothing else), exit 0.

    Example: qcode codebook check codebook/kings_fund_2023.yaml
    """
    cb, problems = read_codebook(path)
    if problems:
        for p in problems:
            say(f"{path}: {p}")
        say(f"{len(problems)} problem(s) in {path}")
        raise typer.Exit(1)
    examples = sum(len(c.examples) for c in cb.codes)
    typer.echo(
        f"{path}: ok: {cb.name} v{cb.version}: {len(cb.codes)} codes, {len(cb.themes)} themes, {examples} examples"
    )
    thin = thin_codes(cb)
    if thin:
        typer.echo(
            f"{len(thin)} of {len(cb.codes)} code(s) are thin (a definition only: no examples or include rules):"
            f" {', '.join(thin)}"
        )
        typer.echo(f"  {THIN_COST}")
