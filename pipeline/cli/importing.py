"""`qcode import project FILE --out DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..codebook_table import TABLE_SUFFIXES, table_codebook
from ..embed import build_embedder
from ..export.refi import import_qdc
from ..importing import read_project, write_import
from .common import backend_option, device_option, embedding_model_option, make_config, say


def shorten(line: str, limit: int = 500) -> str:
    """A problem line as printed: at most `limit` characters (a hostile name can be megabytes)."""
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _codebook(path: Path | None) -> dict | None:
    """A codebook to read a segments table's codes against (YAML, .qdc or a table)."""
    if path is None:
        return None
    import yaml

    if path.suffix.lower() in TABLE_SUFFIXES:
        return table_codebook(path)
    if path.suffix.lower() == ".qdc":
        return import_qdc(path)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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
    selections.jsonl. A coded-segments table has no documents: its segments become the
    labelled passages. Each problem (unknown code, selection outside its source, missing
    source, duplicate GUID) is one line; the rest is imported. Exit 1 if any.
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
