"""`qcode review check|merge|status|queue`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import load_codebook
from ..errors import InputError
from ..io import atomic_write
from ..review import check_file, excerpt_files, merge_reviews, read_excerpts, review_queue, status_counts
from .common import say

app = typer.Typer(help="Check, merge and track reviewers' decisions.", no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
CODEBOOK = typer.Option(None, "--codebook", "-c", help="YAML codebook [default: the King's Fund 2023 codebook].")


def _load(paths: list[Path]):
    excerpts = []
    for path in excerpt_files(paths):
        excerpts.extend(read_excerpts(path))
    return excerpts


@app.command("check")
def check_cli(files: list[Path] = typer.Argument(..., metavar="FILE", help="Review files (excerpts JSONL) or output folders."), codebook: Path = CODEBOOK) -> None:
    """Validate review files: every problem as FILE:LINE: message, exit 1; else exit 0.

    Example: qcode review check out/excerpts.jsonl reviews/ana.jsonl
    """
    try:
        cb = load_codebook(codebook)
    except InputError as err:
        say(f"error: {err}")
        raise typer.Exit(1) from None
    failed = False
    for path in excerpt_files(files):
        problems, lines, reviewed = check_file(path, cb)
        for p in problems:
            say(str(p))
        failed |= bool(problems)
        if not problems:
            typer.echo(f"{path}: ok: {lines} lines, {reviewed} reviewed")
    raise typer.Exit(1 if failed else 0)


@app.command("merge")
def merge_cli(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Reviewers' files (excerpts JSONL)."),
    out: Path = typer.Option(..., "--out", "-o", help="Merged JSONL to write."),
) -> None:
    """Combine reviewers' files per passage, keeping every decision and flagging disagreements.

    Example: qcode review merge reviews/ana.jsonl reviews/ben.jsonl -o reviews/merged.jsonl
    """
    try:
        merged = merge_reviews(excerpt_files(files))
    except InputError as err:
        say(f"error: {err}")
        raise typer.Exit(1) from None
    with atomic_write(out) as f:
        for m in merged:
            f.write(m.model_dump_json() + "\n")
    disagreements = sum(m.disagreement for m in merged)
    say(f"merged {len(files)} file(s): {len(merged)} passages, {sum(bool(m.reviews) for m in merged)} reviewed, {disagreements} disagreement(s) -> {out}")


@app.command("status")
def status_cli(paths: list[Path] = typer.Argument(..., metavar="DIR_OR_FILE", help="Output folders or excerpts JSONL files.")) -> None:
    """Review progress: counts by status, by code (decided passages) and by reviewer.

    Example: qcode review status out/
    """
    try:
        excerpts = _load(paths)
    except InputError as err:
        say(f"error: {err}")
        raise typer.Exit(1) from None
    counts = status_counts(excerpts)
    typer.echo(f"passages {len(excerpts)}")
    for title, key in (("status", "status"), ("code (final, decided passages)", "code"), ("reviewer (decisions)", "reviewer")):
        typer.echo(f"\nby {title}")
        items = counts[key].items()
        order = ["pending", "accepted", "corrected", "rejected"] if key == "status" else sorted(counts[key])
        for name in order:
            typer.echo(f"  {name:<32} {counts[key].get(name, 0):>6}")
        if not items:
            typer.echo("  (none)")


@app.command("queue")
def queue_cli(
    paths: list[Path] = typer.Argument(..., metavar="DIR_OR_FILE", help="Output folders or excerpts JSONL files."),
    n: int = typer.Option(20, "--n", "-n", min=1, help="How many passages to list."),
    threshold: float = typer.Option(0.5, min=0.0, max=1.0, help="The tagger's decision threshold."),
) -> None:
    """Pending passages most informative first (the current tagger's uncertainty).

    Example: qcode review queue out/ --n 30
    """
    try:
        queue = review_queue(_load(paths), n, threshold)
    except InputError as err:
        say(f"error: {err}")
        raise typer.Exit(1) from None
    typer.echo("uncertainty\tid\tbest suggestion\ttext")
    for u, e in queue:
        best = f"{e.suggestions[0].code} {e.suggestions[0].score:.2f}" if e.suggestions else "-"
        text = " ".join(e.text.split())
        typer.echo(f"{u:.3f}\t{e.id}\t{best}\t{text[:80]}")
