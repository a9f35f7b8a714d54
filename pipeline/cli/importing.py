"""`qcode import project FILE --out DIR` and `qcode import codebook FILE --out YAML`."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from ..codebook import codebook_problems, load_codebook
from ..codebook.qdc import import_qdc
from ..codebook.table import TABLE_SUFFIXES, table_codebook
from ..embed import build_embedder
from ..errors import InputError, InputErrors
from ..importing import read_project, write_import
from ..io import atomic_write
from ..study import make_config
from .common import UsageError, backend_option, command, device_option, embedding_model_option, say

import_app = typer.Typer(
    help="Import codebooks and coded projects made in other tools.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def shorten(line: str, limit: int = 500) -> str:
    """A problem line as printed: at most `limit` characters (a hostile name can be megabytes)."""
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _codebook(path: Path | None) -> dict | None:
    """A codebook to read a segments table's codes against (YAML, .qdc or a table)."""
    return None if path is None else load_codebook(path).model_dump(mode="json", exclude_none=True)


PATH = typer.Argument(
    ...,
    metavar="FILE",
    help=(
        "A REFI-QDA project (.qdpx, or project.qde beside its sources/), or a coded-segments table (.csv .tsv"
        " .xlsx: document, code or tag, text or content)."
    ),
)
OUT = typer.Option(
    ...,
    "--out",
    "-o",
    help="Folder to write: codebook.yaml, transcripts/, study/, labelled.jsonl, selections.jsonl, import.json.",
)
CODEBOOK = typer.Option(
    None,
    "--codebook",
    "-c",
    help=(
        "Tables: the codebook their codes come from (YAML, .qdc, or a table such as Taguette's codebook export)"
        " [default: one code per name found]."
    ),
)
WHOLE_DOCUMENTS = typer.Option(
    False,
    "--whole-documents",
    help=(
        "The coders coded every document they touched throughout: its passages they did not code are decided 'no"
        " code' (default: they stay pending)."
    ),
)


def import_project_cli(
    path: Path = PATH,
    out: Path = OUT,
    codebook: Path = CODEBOOK,
    whole_documents: bool = WHOLE_DOCUMENTS,
    sheet: str = typer.Option(None, "--sheet", help="XLSX: the sheet to read [default: the first]."),
    embedding_model: str = embedding_model_option(),
    backend: str = backend_option(),
    device: str = device_option(),
    cache_dir: Path = typer.Option(None, "--cache-dir", envvar="QCODE_CACHE_DIR", help="Embedding cache folder."),
) -> None:
    """Start from coding a team has already done in NVivo, ATLAS.ti, MAXQDA, QualCoder, Taguette or qcode.

    Example: qcode import project team.qdpx --out imported/ && qcode learn imported/

    The documents are coded with qcode (into DIR/study) and every coded selection becomes
    its coder's decision on the qcode passages it covers (at least half of the passage, or
    the passage at least half of the selection); the exact selections stay in
    selections.jsonl. A coded-segments table has no documents: each document's segments,
    in order, become its text (one turn each), coded and decided the same way. Each
    problem (unknown code, selection outside its source, missing source, duplicate GUID)
    is one line; the rest is imported. Exit 1 if any.
    """
    config = make_config(model=embedding_model, backend=backend)
    project = read_project(path, _codebook(codebook), sheet)
    embedder = None
    if project.documents:
        embedder = build_embedder(config, cache_dir=cache_dir, device=device)
    result = write_import(project, path, out, config=config, embedder=embedder, whole_documents=whole_documents)
    for problem in project.problems + result.errors:
        say(f"problem: {shorten(problem)}")
    book = project.codebook
    say(
        f"imported from {project.origin}: {len(book['codes'])} codes, {len(book.get('themes', []))} themes,"
        f" {len(project.documents)} documents, {len(project.selections)} coded selections"
    )
    if result.study is not None:
        say(f"coded the documents into {result.study}: {result.decided} passages decided by the imported coding")
    say(f"{result.labelled} labelled passages -> {out / 'labelled.jsonl'}; next: qcode learn {out}")
    if project.problems or result.errors:
        raise typer.Exit(1)


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
