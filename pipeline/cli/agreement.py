"""`qcode agreement FILE FILE... [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..agreement import AgreementReport, agreement, coder_from_file, coders_by_model
from ..codebook import load_codebook
from ..review import excerpt_files
from .common import UsageError, say


def _f(x: float | None) -> str:
    return "    -" if x is None else f"{x:5.3f}"


def format_table(r: AgreementReport) -> str:
    width = max(len(c.code) for c in r.per_code) if r.per_code else 4
    lines = [f"coders: {'; '.join(r.coders)}", f"shared passages: {r.units} ({r.units_coded} with any code)", ""]
    lines.append(f"{'code':<{width}}  kappa  alpha    pct | kappa  alpha    pct  (passages with any code)")
    for c in r.per_code:
        lines.append(f"{c.code:<{width}}  {_f(c.kappa)}  {_f(c.alpha)}  {_f(c.percent)} | {_f(c.kappa_coded)}  {_f(c.alpha_coded)}  {_f(c.percent_coded)}")
    lines.append(f"{'mean':<{width}}  {_f(r.mean_kappa)}  {_f(r.mean_alpha)}  {_f(r.mean_percent)} | {_f(r.mean_kappa_coded)}  {_f(r.mean_alpha_coded)}  {_f(r.mean_percent_coded)}")
    return "\n".join(lines)


def agreement_cli(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Two or more excerpts JSONL files (or output folders), one per coder."),
    codebook: Path = typer.Option(None, "--codebook", "-c", help="Codebook whose code order to use [default: the King's Fund 2023 codebook]."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    by_model: bool = typer.Option(False, "--by-model", help="One file: machine-reviewer agreement per model whose suggestions reviewers saw (batch, live-1, ...), each on the passages decided on its suggestions."),
) -> None:
    """Inter-coder agreement per code: Cohen's kappa, Krippendorff's alpha, percent agreement.

    Example: qcode agreement reviews/ana.jsonl reviews/ben.jsonl out/excerpts.jsonl

    Each file is one coder: its reviewers' decisions if it has any, else the machine's
    codes. Passages shared by at least two coders count; kappa with more than two coders
    is the mean over pairs. '-' marks a statistic that is undefined (no variation).
    With --by-model (one file): for each model that made the suggestions reviewers saw on
    the review page, its pre-selection against their final codes.
    """
    if by_model:
        _by_model(files, codebook, as_json)
        return
    if len(files) < 2:
        say("error: agreement needs at least two files")
        raise typer.Exit(2)
    cb = load_codebook(codebook)
    report = agreement([coder_from_file(p) for p in excerpt_files(files)], cb.code_ids)
    typer.echo(report.model_dump_json() if as_json else format_table(report))


def _by_model(files: list[Path], codebook: Path | None, as_json: bool) -> None:
    paths = excerpt_files(files)
    if len(paths) != 1:
        raise UsageError("--by-model reads one excerpts file (or output folder)")
    cb = load_codebook(codebook)
    reports = [(model, agreement(coders, cb.code_ids)) for model, coders in coders_by_model(paths[0])]
    if as_json:
        typer.echo(json.dumps({model: r.model_dump() for model, r in reports}))
        return
    typer.echo("\n\n".join(f"suggestions by {model}\n{format_table(r)}" for model, r in reports))
