"""`qcode agreement FILE FILE... [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..agreement import AGREEMENT_SOURCES, AgreementReport, agreement, coder_from_file, coders_by_model
from ..codebook import load_codebook
from ..errors import InputError
from ..study import excerpt_files, for_files
from .common import UsageError, announce, say


def _f(x: float | None) -> str:
    return "    -" if x is None else f"{x:5.3f}"


def format_table(r: AgreementReport) -> str:
    width = max(len(c.code) for c in r.per_code) if r.per_code else 4
    lines = [f"coders: {'; '.join(r.coders)}", f"shared passages: {r.units} ({r.units_coded} with any code)", ""]
    lines.append(f"{'code':<{width}}  kappa  alpha    pct | kappa  alpha    pct  (passages with any code)")
    for c in r.per_code:
        lines.append(
            f"{c.code:<{width}}  {_f(c.kappa)}  {_f(c.alpha)}  {_f(c.percent)} | {_f(c.kappa_coded)} "
            f" {_f(c.alpha_coded)}  {_f(c.percent_coded)}"
        )
    lines.append(
        f"{'mean':<{width}}  {_f(r.mean_kappa)}  {_f(r.mean_alpha)}  {_f(r.mean_percent)} | {_f(r.mean_kappa_coded)} "
        f" {_f(r.mean_alpha_coded)}  {_f(r.mean_percent_coded)}"
    )
    return "\n".join(lines)


FILES = typer.Argument(
    ...,
    metavar="FILE",
    help=(
        "Excerpts JSONL files (or output folders), one per coder, or gold JSONL {id, text, labels}; one study"
        " folder alone: its machine codes vs its reviewers."
    ),
)
CODEBOOK = typer.Option(
    None,
    "--codebook",
    "-c",
    help=(
        "Codebook whose code order to use [default: the study's (its manifest.json), else the King's Fund 2023"
        " codebook]."
    ),
)
SOURCE = typer.Option(
    "auto",
    "--source",
    help=(
        "Which codes each excerpts file stands for: machine, reviewed (decisions only), final (decision where there"
        " is one, else machine), or auto (decisions if the file has any, else machine)."
    ),
)
BY_MODEL = typer.Option(
    False,
    "--by-model",
    help=(
        "One file: machine-reviewer agreement per model whose suggestions reviewers saw (batch, live-1, ...), each"
        " on the passages decided on its suggestions."
    ),
)


def agreement_cli(
    files: list[Path] = FILES,
    codebook: Path = CODEBOOK,
    source: str = SOURCE,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    by_model: bool = BY_MODEL,
) -> None:
    """Inter-coder agreement per code: Cohen's kappa, Krippendorff's alpha, percent agreement.

    Example: qcode agreement reviews/ana.jsonl reviews/ben.jsonl gold/coder_c.jsonl

    Each file is one coder (see --source). One study folder (or excerpts file) alone: the
    machine's codes against the reviewers' decisions, leaving out the passages the run's
    learned model was trained on. Passages shared by at least two coders count; kappa
    with more than two coders is the mean over pairs. '-' marks a statistic that is
    undefined (no variation). With --by-model (one file): for each model that made the
    suggestions reviewers saw on the review page, its pre-selection against their final
    codes.
    """
    if source not in AGREEMENT_SOURCES:
        raise UsageError(f"--source must be one of {', '.join(AGREEMENT_SOURCES)}")
    settings = announce(for_files(files, codebook))  # the study's, whichever file it is
    cb = load_codebook(settings.codebook)
    if by_model:
        _by_model(files, cb, as_json)
        return
    paths = excerpt_files(files)
    if len(paths) == 1:
        coders, note = machine_and_reviewers(paths[0], settings.learned)
        say(note)
    else:
        coders = [coder_from_file(p, source, cb) for p in paths]
    report = agreement(coders, cb.code_ids)
    typer.echo(report.model_dump_json() if as_json else format_table(report))


def machine_and_reviewers(path: Path, learned: frozenset[str]) -> tuple[list, str]:
    """One file: its machine codes and its reviewers' decisions, on the decided passages
    the run's learned model did not learn from."""
    _, decided = coder_from_file(path, "reviewed")
    _, machine = coder_from_file(path, "machine")
    if not decided:
        raise InputError(path, "no reviewer decisions to compare the machine's codes with; give two or more files")
    held_out = {i: codes for i, codes in decided.items() if i not in learned}
    note = f"machine vs reviewers on {len(held_out)} decided passage(s)"
    if learned:
        note += f" ({len(decided) - len(held_out)} the run's learned model was trained on left out)"
    return [("machine", {i: machine[i] for i in held_out if i in machine}), ("reviewers", held_out)], note


def _by_model(files: list[Path], cb, as_json: bool) -> None:
    paths = excerpt_files(files)
    if len(paths) != 1:
        raise UsageError("--by-model reads one excerpts file (or output folder)")
    reports = [(model, agreement(coders, cb.code_ids)) for model, coders in coders_by_model(paths[0])]
    if as_json:
        typer.echo(json.dumps({model: r.model_dump() for model, r in reports}))
        return
    typer.echo("\n\n".join(f"suggestions by {model}\n{format_table(r)}" for model, r in reports))
