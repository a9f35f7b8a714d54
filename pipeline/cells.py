"""Cells that a spreadsheet program opens as data, never as a formula.

A transcript, an id or an attribute can begin with `=`, `+`, `-` or `@` (a survey answer
`=HYPERLINK(...)`, an id `1+2`, an attribute `+cmd`). Excel, LibreOffice and Google
Sheets run such a cell as a formula when they open a CSV file, and openpyxl writes a
string that begins with `=` into an `.xlsx` file as a formula. So every CSV qcode writes
puts an apostrophe before such a cell (the text marker the programs themselves use, as
OWASP's advice on CSV injection says), every `.xlsx` cell is written as text, and qcode's
readers of its own tables take the apostrophe off again (`unescape`).
"""

from __future__ import annotations

import csv
import io

LEADING = ("=", "+", "-", "@", "\t", "\r")


def escape(value):
    """A string that a spreadsheet would run as a formula, with an apostrophe before it;
    anything else (numbers included) as it is."""
    if isinstance(value, str) and value.startswith(LEADING):
        return "'" + value
    return value


def unescape(value):
    """`escape` undone: the apostrophe before a formula character taken off."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(LEADING):
        return value[1:]
    return value


def csv_text(rows: list[list]) -> str:
    """Rows as CSV text ("\\n" line ends, None as empty), every cell escaped."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["" if v is None else escape(v) for v in row] for row in rows])
    return buf.getvalue()


def as_text_cells(sheet) -> None:
    """Every string cell of an openpyxl sheet stored as text, never as a formula."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"
