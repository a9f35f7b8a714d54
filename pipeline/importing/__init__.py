"""`qcode import project`: coded projects from other tools (REFI-QDA `.qdpx` from NVivo,
ATLAS.ti, MAXQDA, QualCoder or qcode; coded-segments tables such as Taguette's highlights)
as a folder qcode reads: codebook, transcripts, a coded study with the imported coding as
reviewers' decisions, and gold labelled passages. See `write.py` for the layout and the
overlap rule."""

from __future__ import annotations

from pathlib import Path

from ..codebook.table import TABLE_SUFFIXES
from .project import Document, ImportedProject, Selection
from .qdpx import read_qdpx
from .segments import read_segments
from .write import ImportResult, write_import

__all__ = [
    "Document",
    "ImportResult",
    "ImportedProject",
    "Selection",
    "read_project",
    "write_import",
]


def read_project(path: Path, codebook: dict | None = None, sheet: str | None = None) -> ImportedProject:
    """A REFI-QDA project (.qdpx, .qde) or a coded-segments table (.csv, .tsv, .xlsx)."""
    path = Path(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return read_segments(path, codebook, sheet)
    return read_qdpx(path)
