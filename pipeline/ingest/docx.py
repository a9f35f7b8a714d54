"""Word files (`.docx`, python-docx): one line per paragraph, speaker labels in plain or
bold text. Tables are ignored with a warning."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript
from .decode import read_bytes
from .text import transcript_from_text


def _bold_label(paragraph) -> str | None:
    """The leading bold words of a paragraph, if they look like a speaker label."""
    bold = ""
    for run in paragraph.runs:
        if not run.text:
            continue
        if not run.bold:
            break
        bold += run.text
    label = bold.strip().rstrip(":").strip()
    if label and len(label) <= 40 and len(label.split()) <= 4 and paragraph.text.strip() != bold.strip():
        return label
    return None


def read_docx(path: Path, *, config: Config) -> list[Transcript]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    raw, digest = read_bytes(path)
    if not raw.strip():
        raise InputError(path, "empty file")
    try:
        document = docx.Document(path)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as err:
        raise InputError(path, f"not a readable .docx ({type(err).__name__})") from None
    lines, labels, warnings = [], set(), []
    for paragraph in document.paragraphs:
        text = paragraph.text.replace("\r", "").replace("\n", " ").replace("\v", " ")
        label = _bold_label(paragraph)
        if label:
            rest = text.strip()[len(label) :].lstrip().removeprefix(":").lstrip()
            text = f"{label}: {rest}"
            labels.add(label)
        lines.append(text)
    if document.tables:
        warnings.append(f"{len(document.tables)} table(s) ignored")
    text = "\n".join(lines).strip("\n")
    if not text.strip():
        raise InputError(path, "no text in document")
    return [transcript_from_text(path, text, digest, config=config, warnings=warnings, known_labels=frozenset(labels))]
