"""`qcode export codebook|refi|table` and `qcode import codebook`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook import load_codebook
from ..export.refi import codebook_qdc, project_qde, write_qdpx
from ..export.table import export_table
from ..io import atomic_write
from .common import SOURCE_HELP, UsageError, check_source, command, say, study_codebook

export_app = typer.Typer(
    help="Export codebooks and results for NVivo, ATLAS.ti, MAXQDA, QualCoder, Excel.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@command(export_app, "codebook")
def export_codebook_cli(
    path: Path = typer.Argument(None, help="YAML codebook [default: the King's Fund 2023 codebook]."),
    fmt: str = typer.Option("qdc", "--format", help="Only qdc (REFI-QDA codebook) for now."),
    out: Path = typer.Option(..., "--out", "-o", help="The .qdc file to write."),
) -> None:
    """Write a codebook as a REFI-QDA .qdc file (themes as parent codes).

    Example: qcode export codebook codebook/kings_fund_2023.yaml -o kings_fund.qdc
    """
    if fmt != "qdc":
        raise UsageError("--format must be qdc")
    data = codebook_qdc(load_codebook(path))
    with atomic_write(out, "wb") as f:
        f.write(data)
    say(f"wrote {out}")


@command(export_app, "refi")
def export_refi_cli(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="A qcode output folder."),
    out: Path = typer.Option(..., "--out", "-o", help="The .qdpx file to write."),
    source: str = typer.Option("final", help=SOURCE_HELP),
    codebook: Path = typer.Option(None, "--codebook", "-c", help="Codebook [default: the one in DIR/manifest.json]."),
) -> None:
    """Write a REFI-QDA project (.qdpx): transcripts, coded passages, codebook, cases.

    Example: qcode export refi out/ -o study.qdpx
    """
    check_source(source)
    cb = load_codebook(study_codebook(out_dir, codebook))
    project, files = project_qde(out_dir, cb, source)
    write_qdpx(out, project, files)
    say(f"wrote {out}: {len(files)} sources")


@command(export_app, "table")
def export_table_cli(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="A qcode output folder (or an excerpts JSONL file)."),
    out: Path = typer.Option(..., "--out", "-o", help="FILE.xlsx (two sheets) or FILE.csv (+ FILE.participants.csv)."),
    source: str = typer.Option("final", help=SOURCE_HELP),
    codebook: Path = typer.Option(None, "--codebook", "-c", help="Codebook [default: the one in DIR/manifest.json]."),
) -> None:
    """One row per excerpt (text, context, attributes, codes with theme, scores, review),
    plus a 0/1 code-by-participant table.

    Example: qcode export table out/ -o coded.xlsx
    """
    check_source(source)
    folder = out_dir if out_dir.is_dir() else out_dir.parent
    cb = load_codebook(study_codebook(folder, codebook))
    written = export_table(out_dir, out, cb, source)
    say("wrote " + ", ".join(map(str, written)))
