"""Readers: one module per input format, all producing `schemas.Transcript`."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript
from .attributes import load_attributes
from .text import read_text_transcript

READERS = {".txt": read_text_transcript, ".md": read_text_transcript}

__all__ = ["READERS", "discover_inputs", "load_attributes", "read_transcript"]


def discover_inputs(inputs: list[str | Path]) -> tuple[list[Path], list[InputError]]:
    """Expand files and folders into a sorted list of transcript files.

    Folders contribute the files whose extension has a reader (not recursing into hidden
    folders); a file named directly with no reader, or a missing path, is an error.
    Attribute tables (`participants.csv` / `.yaml`) are never transcripts.
    """
    found: set[Path] = set()
    errors: list[InputError] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in READERS:
                    if child.stem.lower() in ("participants", "readme"):
                        continue
                    found.add(child)
        elif path.is_file():
            if path.suffix.lower() not in READERS:
                known = ", ".join(sorted(READERS))
                errors.append(InputError(path, f"no reader for '{path.suffix}' (known: {known})"))
            else:
                found.add(path)
        else:
            errors.append(InputError(path, "no such file or folder"))
    return sorted(found), errors


def read_transcript(path: Path, *, config: Config, attributes: dict[str, str] | None = None) -> Transcript:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(path, f"no reader for '{path.suffix}'")
    return reader(path, config=config, attributes=attributes or {})
