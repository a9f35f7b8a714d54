"""`qcode counts`, `qcode report` and `qcode reproduce`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import load_codebook, recorded_path
from ..counts import write_counts
from ..io import file_sha256
from .common import SOURCE_HELP, check_source, device_option, say, study_codebook


def counts_cli(
    dirs: list[Path] = typer.Argument(..., metavar="DIR", help="qcode output folders (or excerpts JSONL files)."),
    by: list[str] = typer.Option(None, "--by", help="Attribute to break counts down by (repeatable), e.g. sector."),
    source: str = typer.Option("final", help=SOURCE_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for the tables [default: DIR/counts]."),
    codebook: Path = typer.Option(None, "--codebook", "-c", help="Codebook [default: the one in DIR/manifest.json]."),
) -> None:
    """Thematic count tables: passages per code per transcript, participants per code,
    code x attribute (counts and percentages), code x code co-occurrence.

    Example: qcode counts out/ --by sector --by role

    The tables and counts_manifest.json go to --out; the same inputs give byte-identical files.
    """
    check_source(source)
    first = dirs[0] if dirs[0].is_dir() else dirs[0].parent
    out = out or first / "counts"
    path = study_codebook(first, codebook)
    cb = load_codebook(path)
    written = write_counts(
        dirs,
        out_dir=out,
        codebook=cb,
        codebook_path=recorded_path(path),
        codebook_sha256=file_sha256(path),
        by=by or [],
        source=source,
    )
    say(f"wrote {len(written)} tables ({source} codes) to {out}/: " + ", ".join(written))


def reproduce_cli(
    manifest: Path = typer.Argument(
        ..., help="manifest.json of `qcode code` (or its folder), or counts_manifest.json of `qcode counts`."
    ),
    inputs: Path = typer.Option(None, "--inputs", help="Folder holding the inputs, if not at their recorded paths."),
    cache_dir: Path = typer.Option(
        None, "--cache-dir", help="Reuse this embedding cache [default: a fresh one, so embeddings are recomputed]."
    ),
    device: str = device_option(),
    model: Path = typer.Option(
        None,
        "--model",
        "-m",
        help="The learned model, if not the study's copy (OUT/models/...) or the path the run was given.",
    ),
) -> None:
    """Re-run from a manifest in a temporary folder and compare every table cell by cell.

    Example: qcode reproduce out/demo/manifest.json

    Exit 0 and "reproduced" when every table is identical; exit 1 listing the differing
    cells, and any input, codebook or model whose sha256 changed, when not (a changed
    learned model is named first; a missing one is an error naming it). A run made with
    `--model` reruns with the copy kept in the study folder (OUT/models/...). A run made on
    a GPU reproduces on a CPU (and back) when the codes and counts agree.
    """
    from ..reproduce import reproduce

    if manifest.is_dir():
        manifest = manifest / "manifest.json"
    result = reproduce(manifest, inputs_dir=inputs, cache_dir=cache_dir, device=device, model=model)
    for note in result.notes:
        say(f"note: {note}")
    if result.reproduced:
        typer.echo("reproduced")
        return
    for d in result.differences:
        typer.echo(d)
    typer.echo(f"not reproduced: {len(result.differences)} difference(s)")
    raise typer.Exit(1)


def report_cli(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="A qcode output folder."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Folder for report.html and the PNG figures [default: DIR/report]."
    ),
    by: str = typer.Option("sector", "--by", help="Attribute for the frequency figure."),
    source: str = typer.Option("final", help=SOURCE_HELP),
    codebook: Path = typer.Option(None, "--codebook", "-c", help="Codebook [default: the one in DIR/manifest.json]."),
) -> None:
    """A self-contained HTML report (opens offline) with the figures also as PNG.

    Example: qcode report out/ && xdg-open out/report/report.html
    """
    from ..report import build_report

    check_source(source)
    cb = load_codebook(study_codebook(out_dir, codebook))
    page = build_report(out_dir, cb, report_dir=out or out_dir / "report", by=by, source=source)
    say(f"wrote {page}")
