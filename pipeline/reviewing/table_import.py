"""`qcode review import`: decisions from the spreadsheet that `qcode export table` writes,
after reviewers filled its review columns, recorded as the review page would record them.

Columns read: `id`, `review status` (pending, accepted, corrected or rejected), `codes`
(the final codes, `theme/code` or `code`, separated by `;`), `reviewer` and `review note`.
Every row is checked first; any problem is reported as `FILE:ROW: message` and nothing is
written. Rows left pending are skipped (they never erase a decision), and so are rows whose
decision is already in the file, so importing the same sheet twice changes nothing.

A row never overwrites a decision made after the sheet was exported: its `reviewed at`
cell (written by the export) must match the passage's decision in the file, else the
newer decision is kept and the row named (`--overwrite` lets the sheet win; a sheet
without the column is treated as older than every decision it differs from).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ..cells import unescape
from ..errors import InputError, InputErrors
from ..schemas import STATUSES, Codebook, Excerpt, Review
from ..store import locked, read_excerpts, record
from .decision import checked_codes, make_review, now

REQUIRED = ("id", "review status")


@dataclass
class ImportResult:
    decisions: dict[str, Review] = field(default_factory=dict)
    unchanged: int = 0
    pending: int = 0
    newer: list[InputError] = field(default_factory=list)  # rows whose passage was decided again since the export


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of the excerpts sheet (`.xlsx`) or file (`.csv`) as header -> cell text."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as f:
                grid = list(csv.reader(f))
        elif suffix == ".xlsx":
            grid = _xlsx_grid(path)
        else:
            raise InputError(path, "read .xlsx or .csv (as written by `qcode export table`)")
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(path, f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    if not grid:
        raise InputError(path, "empty table")
    header = [str(h).strip().lower() for h in grid[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(path, f"no column(s) {missing}: use the table `qcode export table` writes", 1)
    return [{h: "" if v is None else unescape(str(v)) for h, v in zip(header, row)} for row in grid[1:]]


def _xlsx_grid(path: Path) -> list[list]:
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise InputError(path, f"not a readable .xlsx ({err})") from None
    sheet = book["excerpts"] if "excerpts" in book.sheetnames else book.worksheets[0]
    grid = [list(row) for row in sheet.iter_rows(values_only=True)]
    book.close()
    return grid


def parse_codes(cell: str, codebook: Codebook) -> list[str]:
    """`practice/conflict; shared_decisions` -> codebook-ordered ids."""
    codes = [part.strip().rsplit("/", 1)[-1] for part in cell.replace(",", ";").split(";") if part.strip()]
    return checked_codes(codes, codebook)


def _row_review(
    row: dict[str, str], excerpt: Excerpt, codebook: Codebook, reviewer: str | None, at: str
) -> Review | None:
    status = row.get("review status", "").strip().lower() or "pending"
    if status not in STATUSES:
        raise ValueError(f"review status {status!r}: use one of {', '.join(STATUSES)}")
    try:
        codes = parse_codes(row.get("codes", ""), codebook)
    except InputError as err:
        raise ValueError(err.message) from None
    if status == "pending":
        if "codes" in row and codes and codes != checked_codes(list(excerpt.codes), codebook):
            raise ValueError("codes changed but the review status is pending: set it to corrected (or accepted)")
        return None
    who = row.get("reviewer", "").strip() or reviewer
    if not who:
        raise ValueError("no reviewer: fill the reviewer column or pass --reviewer")
    action = "reject" if status == "rejected" else "accept"
    return make_review(
        excerpt,
        action=action,
        codes=codes,
        reviewer=who,
        note=row.get("review note", "").strip() or None,
        codebook=codebook,
        at=at,
    )


def decided_since(row: dict[str, str], current: Review) -> bool:
    """Whether the file's decision is newer than the sheet's row (see the module note)."""
    return current.status != "pending" and row.get("reviewed at") != (current.reviewed_at or "")


def plan_import(
    table: Path, excerpts: list[Excerpt], codebook: Codebook, reviewer: str | None, overwrite: bool = False
) -> ImportResult:
    """The decisions a table holds, checked against the excerpts; every problem is raised
    together (`InputErrors`, one `FILE:ROW: message` each)."""
    by_id = {e.id: e for e in excerpts}
    result, at = ImportResult(), now()
    problems: list[InputError] = []
    for n, row in enumerate(read_table(table), start=2):
        pid = row.get("id", "").strip()
        if not pid:
            if any(v.strip() for v in row.values()):
                problems.append(InputError(table, "no id", n))
            continue
        if pid not in by_id:
            problems.append(InputError(table, f"unknown id {pid!r} (not in the excerpts file)", n))
            continue
        try:
            review = _row_review(row, by_id[pid], codebook, reviewer, at)
        except ValueError as err:
            problems.append(InputError(table, str(err), n))
            continue
        if review is None:
            result.pending += 1
        elif _same(review, by_id[pid].review):
            result.unchanged += 1
        elif not overwrite and decided_since(row, by_id[pid].review):
            now_ = by_id[pid].review
            result.newer.append(
                InputError(
                    table,
                    f"id {pid!r} was decided after this sheet was exported ({now_.status} by"
                    f" {now_.reviewer or 'unnamed'} at {now_.reviewed_at or 'an unknown time'}): that decision is kept;"
                    " export again, or pass --overwrite",
                    n,
                )
            )
        else:
            result.decisions[pid] = review
    if problems:
        raise InputErrors(problems)
    return result


def _same(new: Review, old: Review) -> bool:
    keys = ("status", "codes", "reviewer", "note")
    return all(getattr(new, k) == getattr(old, k) for k in keys)


def import_table(
    table: Path, target: Path, codebook: Codebook, reviewer: str | None = None, overwrite: bool = False
) -> ImportResult:
    """Check every row, then record the decisions in `target` (an excerpts file) under its
    lock, as the review page does."""
    with locked(target):
        result = plan_import(table, read_excerpts(target), codebook, reviewer, overwrite)
        if result.decisions:
            record(target, result.decisions)
    return result
