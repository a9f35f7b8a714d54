"""Spreadsheet export: one row per excerpt, and a 0/1 code-by-participant table.

`.xlsx` gets both as sheets ("excerpts", "participants"); `.csv` writes the excerpts to
FILE and the participant table beside it as FILE stem + `.participants.csv`. Zip entry
dates and document properties are fixed, so reruns are byte-identical. A cell that a
spreadsheet would run as a formula is written as text (cells.py).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from ..cells import as_text_cells, csv_text
from ..errors import InputError
from ..io import atomic_write
from ..reviewing.reviews import codes_for
from ..schemas import Codebook, Excerpt
from ..store import read_excerpts

FIXED_TIME = dt.datetime(2000, 1, 1)


def theme_path(codebook: Codebook) -> dict[str, str]:
    return {c.id: f"{c.theme}/{c.id}" if c.theme else c.id for c in codebook.codes}


def excerpt_rows(excerpts: list[Excerpt], codebook: Codebook, source: str) -> list[list]:
    path = theme_path(codebook)
    attrs = sorted({k for e in excerpts for k in e.attributes})
    header = ["id", "transcript", "speaker", "start", "end", "time_start", "time_end", "text", "context"]
    header += [f"attribute: {a}" for a in attrs]
    header += [
        "codes",
        "machine codes",
        "scores",
        "review status",
        "reviewer",
        "review note",
        "disagreement",
        "reviewed at",
    ]
    rows = [header]
    for e in excerpts:
        final = codes_for(e, source)
        rows.append(
            [e.id, e.transcript, e.speaker, e.start, e.end, e.time_start, e.time_end, e.text, e.context or ""]
            + [e.attributes.get(a, "") for a in attrs]
            + [
                "; ".join(path.get(c, c) for c in final or []),
                "; ".join(path.get(c, c) for c in e.codes),
                "; ".join(f"{s.code}={s.score:.4f}" for s in e.suggestions),
                e.review.status,
                e.review.reviewer or "",
                e.review.note or "",
                "yes" if e.disagreement else "",
                e.review.reviewed_at or "",  # review import: was the passage decided again since?
            ]
        )
    return rows


def participant_rows(excerpts: list[Excerpt], codebook: Codebook, source: str) -> list[list]:
    present: dict[str, set[str]] = {}
    for e in excerpts:
        present.setdefault(e.transcript, set()).update(codes_for(e, source) or [])
    rows = [["transcript", *codebook.code_ids]]
    for t in sorted(present):
        rows.append([t, *(int(c in present[t]) for c in codebook.code_ids)])
    return rows


def _xlsx(sheets: dict[str, list[list]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        as_text_cells(sheet)  # a cell that begins with "=" is text, never a formula
        sheet.freeze_panes = "A2"
    book.properties.creator = "qcode"
    book.properties.created = book.properties.modified = FIXED_TIME
    raw = io.BytesIO()
    book.save(raw)
    # re-zip with fixed entry dates so the file is byte-identical on rerun
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` with the time of saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            dst.writestr(fixed, data)
    return out.getvalue()


def export_table(out_dir: Path, target: Path, codebook: Codebook, source: str = "final") -> list[Path]:
    """Write the excerpt table (and participant table) for a qcode output folder."""
    excerpts = read_excerpts(out_dir / "excerpts.jsonl" if out_dir.is_dir() else out_dir)
    rows = excerpt_rows(excerpts, codebook, source)
    people = participant_rows(excerpts, codebook, source)
    suffix = target.suffix.lower()
    if suffix == ".xlsx":
        with atomic_write(target, "wb") as f:
            f.write(_xlsx({"excerpts": rows, "participants": people}))
        return [target]
    if suffix == ".csv":
        second = target.with_name(target.stem + ".participants.csv")
        with atomic_write(target) as f:
            f.write(csv_text(rows))
        with atomic_write(second) as f:
            f.write(csv_text(people))
        return [target, second]
    raise InputError(target, "write .xlsx or .csv")
