"""Readers: one module per input format, all producing `schemas.Transcript` with offsets
into a normalised text."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript
from .attributes import AttributeTable, load_attributes
from .docx import read_docx
from .subtitles import read_subtitles
from .survey import iter_survey, read_survey
from .text import read_text

READERS = {
    ".txt": read_text,
    ".md": read_text,
    ".docx": read_docx,
    ".vtt": read_subtitles,
    ".srt": read_subtitles,
    ".csv": read_survey,
    ".xlsx": read_survey,
}
ATTRIBUTE_NAMES = ("participants.csv", "participants.yaml", "participants.yml")
SURVEY_SUFFIXES = (".csv", ".xlsx")  # one respondent's answer per row

__all__ = [
    "ATTRIBUTE_NAMES",
    "READERS",
    "SURVEY_SUFFIXES",
    "AttributeTable",
    "discover_inputs",
    "iter_transcripts",
    "load_attributes",
    "read_transcripts",
]


KEY_SUFFIX = "pseudonym_key.csv"  # a pseudonym key is never read as input


def discover_inputs(inputs: list[str | Path], exclude: list[Path] = ()) -> tuple[list[Path], list[InputError]]:
    """Expand files and folders into a sorted list of input files.

    Folders contribute the files whose extension has a reader (skipping hidden files and
    folders, README files, participant tables, pseudonym keys and anything in or at an
    `exclude` path: qcode's own outputs are never read back as input); a file named
    directly with no reader, or a missing path, is an error.
    """
    skip = [Path(p).resolve() for p in exclude]
    found: set[Path] = set()
    errors: list[InputError] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith((".", "~$")) for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in READERS:
                    if (
                        child.name.lower() in ATTRIBUTE_NAMES
                        or child.stem.lower() == "readme"
                        or child.name.endswith(KEY_SUFFIX)
                    ):
                        continue
                    if any(child.resolve().is_relative_to(p) for p in skip):
                        continue
                    found.add(child)
        elif path.is_file():
            if path.suffix.lower() not in READERS:
                known = ", ".join(sorted(READERS))
                errors.append(InputError(path, f"no reader for '{path.suffix or path.name}' files (known: {known})"))
            else:
                found.add(path)
        else:
            errors.append(InputError(path, "no such file or folder"))
    return sorted(found), errors


def read_transcripts(path: Path, *, config: Config) -> list[Transcript]:
    """Every transcript in one input file (a survey file holds one per answer)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(path, f"no reader for '{path.suffix}' files")
    return reader(path, config=config)


def iter_transcripts(path: Path, *, config: Config) -> Iterable[Transcript]:
    """As `read_transcripts`, but a survey's answers come one by one (a bad file still
    raises before the first)."""
    if path.suffix.lower() in (".csv", ".xlsx"):
        return iter_survey(path, config=config)
    return read_transcripts(path, config=config)
