"""Coded segments as tools export them, one row per coded segment: Taguette's highlights
(`id, document, tag, content`), MAXQDA's coded segments (`Document name, Code, Segment`),
ATLAS.ti's quotations (`Document, Codes, Quotation Content`), or any CSV/XLSX with a
document, a code and the coded text. Headers are recognised as for codebook tables:

| field | headers |
| --- | --- |
| text (required) | content, text, segment, quotation (content), coded text, quote, excerpt, highlight |
| code (required) | code, codes, tag, tags, code name |
| document | document, document name, doc, file, source, transcript |
| coder | coder, user, created by, author |

A code written as a path (`Barriers\\Money`, `Barriers > Money`, `Barriers/Money`) is the
code `Money` under the theme `Barriers`; several codes in one cell are separated by new
lines or `;`. Without `--codebook`, every code gets its name as its definition (a thin
codebook: add definitions, then `qcode codebook check`).

A table has no documents, so `with_documents` makes them: each document's distinct
segments in table order, one participant turn each (`P: ...`, a blank line between), and
each segment's selection placed on its turn. The import then codes them as it codes a
project's documents: a study whose passages are the segments (split where one is longer
than a passage), in their documents and order, decided by the table's codes.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..codebook.table import _key, _slug, read_table
from ..errors import InputError
from .project import Document, ImportedProject, Selection

ROLES = {
    "text": (
        "content",
        "text",
        "segment",
        "quotation",
        "quotationcontent",
        "codedtext",
        "quote",
        "excerpt",
        "highlight",
        "codedsegment",
    ),
    "code": ("code", "codes", "tag", "tags", "codename"),
    "document": ("document", "documentname", "doc", "file", "filename", "source", "transcript"),
    "coder": ("coder", "user", "createdby", "author"),
}
PATH_SEPARATORS = re.compile(r"\s*(?:\\|>|/)\s*")


def _roles(path: Path, header: list[str]) -> dict[str, int]:
    keys = [_key(h) for h in header]
    found = {}
    for role, names in ROLES.items():
        index = next((i for i, k in enumerate(keys) if k in names and i not in found.values()), None)
        if index is not None:
            found[role] = index
    for role in ("text", "code"):
        if role not in found:
            raise InputError(
                path,
                f"no {role} column (tried {', '.join(ROLES[role])}; columns: {', '.join(h for h in header if h)})",
                1,
            )
    return found


def _codes_in(cell: str) -> list[tuple[str | None, str]]:
    """(theme or None, code name) for each code a cell names."""
    out = []
    for part in re.split(r"[\n;]", cell):
        part = part.strip()
        if not part:
            continue
        steps = [s for s in PATH_SEPARATORS.split(part) if s]
        out.append((steps[0] if len(steps) > 1 else None, steps[-1]))
    return out


class _Book:
    """The codebook the rows build (or the one given), and code name -> id."""

    def __init__(self, name: str, given: dict | None):
        self.given = given
        self.book = given or {
            "name": name,
            "version": "1",
            "description": f"Codes of {name}, imported from a coded-segments table.",
            "codes": [],
        }
        self.ids = {}
        for code in self.book["codes"]:
            self.ids[code["name"].lower()] = self.ids[code["id"].lower()] = code["id"]
        self.themes = {t["name"]: t["id"] for t in self.book.get("themes", [])}
        self.taken = {c["id"] for c in self.book["codes"]}

    def code_id(self, theme: str | None, name: str) -> str | None:
        known = self.ids.get(name.lower())
        if known or self.given is not None:
            return known
        code = {"id": _slug(name), "name": name, "definition": name}
        base, k = code["id"], 2
        while code["id"] in self.taken:
            code["id"], k = f"{base}_{k}", k + 1
        self.taken.add(code["id"])
        if theme:
            if theme not in self.themes:
                self.themes[theme] = _slug(theme)
                self.book.setdefault("themes", []).append({"id": self.themes[theme], "name": theme})
            code["theme"] = self.themes[theme]
        self.book["codes"].append(code)
        self.ids[name.lower()] = code["id"]
        return code["id"]


def read_segments(path: Path, codebook: dict | None = None, sheet: str | None = None) -> ImportedProject:
    """A coded-segments table as an `ImportedProject` (no documents: only the coded text)."""
    path = Path(path)
    rows = read_table(path, sheet)
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(path, "empty table: the first row names the columns", 1)
    roles = _roles(path, rows[0])
    book = _Book(path.stem, codebook)
    project = ImportedProject(origin=f"coded-segments table {path.name}", codebook=book.book)
    cell = lambda row, role: row[roles[role]].strip() if role in roles and roles[role] < len(row) else ""  # noqa: E731
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        text, codes = cell(row, "text"), cell(row, "code")
        if not text:
            project.problems.append(f"{path}:{n}: no coded text: row skipped")
            continue
        ids = []
        for theme, name in _codes_in(codes):
            code_id = book.code_id(theme, name)
            if code_id is None:
                project.problems.append(f"{path}:{n}: code {name!r} is not in the codebook given: that code skipped")
            else:
                ids.append(code_id)
        if not ids:
            if codes:
                continue
            project.problems.append(f"{path}:{n}: no code: row skipped")
            continue
        project.selections.append(
            Selection(
                document=cell(row, "document") or path.stem,
                text=text,
                codes=sorted(set(ids)),
                coder=cell(row, "coder") or "imported",
            )
        )
    if not project.selections:
        raise InputError(path, "no coded segment with a code and a text")
    return with_documents(project.model_copy(update={"codebook": book.book}))  # with the themes its codes found


SEGMENT_LABEL = "P: "  # a participant's turn (ingest/text.py): one per segment


def with_documents(project: ImportedProject) -> ImportedProject:
    """The project with a document per table document (see the module note) and every
    selection placed on its segment's turn; a segment's own line breaks become spaces."""
    spans: dict[str, dict[str, tuple[int, int]]] = {}
    texts: dict[str, str] = {}
    for s in project.selections:
        seen = spans.setdefault(s.document, {})
        if s.text not in seen:
            before = texts.get(s.document, "")
            before += "\n" if before else ""
            flat = " ".join(s.text.split())
            start = len(before) + len(SEGMENT_LABEL)
            texts[s.document] = before + SEGMENT_LABEL + flat + "\n"
            seen[s.text] = (start, start + len(flat))
    placed = [s.model_copy(update=dict(zip(("start", "end"), spans[s.document][s.text]))) for s in project.selections]
    documents = [Document(name=name, text=text) for name, text in texts.items()]
    return project.model_copy(update={"documents": documents, "selections": placed})
