"""Participant attributes (`participants.csv`) that become passage attributes."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError

ID_COLUMNS = ("file", "transcript")


def load_attributes(path: Path) -> dict[str, dict[str, str]]:
    """Map transcript id (file stem) -> {column: value} for every other column.

    The table needs a `file` (or `transcript`) column naming each transcript by file name
    or stem; every other column becomes an attribute.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read attributes: {err}") from None
    if not rows:
        raise InputError(path, "attributes file is empty")
    header = [h.strip() for h in rows[0]]
    key = next((c for c in ID_COLUMNS if c in header), None)
    if key is None:
        raise InputError(path, f"attributes need a column named one of {list(ID_COLUMNS)}", 1)
    table: dict[str, dict[str, str]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(path, f"expected {len(header)} columns, found {len(row)}", n)
        values = dict(zip(header, (cell.strip() for cell in row)))
        tid = Path(values.pop(key)).stem
        if tid in table:
            raise InputError(path, f"transcript {tid!r} listed twice", n)
        table[tid] = values
    return table
