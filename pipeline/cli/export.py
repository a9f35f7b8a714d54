"""`qcode export codebook|refi|table` and `qcode import codebook`."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from ..codebook import codebook_problems, load_codebook
from ..codebook_table import TABLE_SUFFIXES, table_codebook
from ..errors import InputError, InputErrors
from ..export.refi import codebook_qdc, import_qdc, project_qde, write_qdpx
from ..export.table import export_table
from ..io import atomic_write
from .common import SOURCE_HELP, UsageError, check_source, command, say, study_codebook

export_app = typer.Typer(
    help="Export codebooks and results for NVivo, ATLAS.ti, MAXQDA, QualCoder, Excel.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
import_app = typer.Typer(
    help="Import codebooks and coded projects made in other tools.",
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


def _column_options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        field, sep, header = pair.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise UsageError(f"--column {pair!r}: write FIELD=HEADER, e.g. --column definition=Meaning")
        out[field.strip().lower()] = header.strip()
    return out


@command(import_app, "codebook")
def import_codebook_cli(
    path: Path = typer.Argument(..., help="A REFI-QDA .qdc codebook, or a CSV/XLSX table with one row per code."),
    out: Path = typer.Option(..., "--out", "-o", help="The YAML codebook to write."),
    column: list[str] = typer.Option(
        [],
        "--column",
        help=(
            "Tables: FIELD=HEADER, naming the column of a field (name, id, definition, include, exclude, examples,"
            " counterexamples, keywords, theme) when its header is not recognised. Repeatable."
        ),
    ),
    sheet: str = typer.Option(None, "--sheet", help="XLSX: the sheet to read [default: the first]."),
) -> None:
    """Turn a .qdc codebook (nested codes -> themes and codes) or a CSV/XLSX table of codes
    into a qcode YAML codebook. Table headers are recognised without regard to case: code /
    name / tag; definition / description / meaning; include / inclusion; exclude /
    exclusion; example(s); theme / category / parent; other columns become notes. A table
    can also be given straight to --codebook.

    Example: qcode import codebook codes.xlsx --column definition="What it means" -o codebook/mine.yaml
    """
    if path.suffix.lower() in TABLE_SUFFIXES:
        book = table_codebook(path, columns=_column_options(column), sheet=sheet)
        problems = codebook_problems(book)
        if problems:
            raise InputErrors([InputError(path, p) for p in problems])
    else:
        book = import_qdc(path)
    with atomic_write(out) as f:
        f.write(yaml.safe_dump(book, sort_keys=False, allow_unicode=True, width=100))
    say(
        f"wrote {out}: {len(book['codes'])} codes, {len(book.get('themes', []))} themes; check it with: qcode codebook"
        f" check {out}"
    )
