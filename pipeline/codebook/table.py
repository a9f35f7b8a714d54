"""Codebooks as researchers keep them: a CSV or XLSX table, one row per code.

Headers are recognised without regard to case, spacing or punctuation:

| field | headers |
| --- | --- |
| name (required) | code, name, tag, code name, label |
| id | id, code id |
| definition | definition, description, meaning |
| include | include, inclusion, inclusion criteria, when to use |
| exclude | exclude, exclusion, exclusion criteria, when not to use |
| examples | example, examples, example quote(s) |
| counterexamples | counterexample(s), near miss(es) |
| keywords | keyword(s) |
| theme | theme, category, parent, group |

Any other column is kept in the code's `notes`. A cell may hold several rules or
examples, one per line; keywords may also be separated by commas or semicolons. A row
with a code name seen before and no other definition continues that code (one example
per row is a common layout). A code with no definition takes its name as its definition.

    >>> table_codebook(Path("codes.csv"))  # doctest: +SKIP
    {'name': 'codes', 'version': '1', 'codes': [{'id': 'trust', 'name': 'Trust', ...}]}
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..errors import InputError

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("code", "name", "tag", "codename", "label"),
    "id": ("id", "codeid"),
    "definition": ("definition", "description", "meaning"),
    "include": ("include", "inclusion", "inclusioncriteria", "whentouse"),
    "exclude": ("exclude", "exclusion", "exclusioncriteria", "whennottouse"),
    "examples": ("example", "examples", "examplequote", "examplequotes"),
    "counterexamples": ("counterexample", "counterexamples", "nearmiss", "nearmisses"),
    "keywords": ("keyword", "keywords"),
    "theme": ("theme", "category", "parent", "group"),
}
LISTS = ("include", "exclude", "examples", "counterexamples", "keywords")


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "code"


def read_table(path: Path, sheet: str | None = None) -> list[list[str]]:
    """Rows of cells as text (header first), from CSV/TSV (delimiter sniffed) or XLSX."""
    try:
        if path.suffix.lower() == ".xlsx":
            return _read_xlsx(path, sheet)
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text: save the table as CSV UTF-8") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        return [row for row in reader]
    except csv.Error as err:  # a cell over the csv module's field limit (131,072 characters), say
        raise InputError(path, f"not a readable table: {err}", reader.line_num) from None


def _read_xlsx(path: Path, sheet: str | None) -> list[list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        raise InputError(path, f"not a readable .xlsx file: {err}") from None
    if sheet is not None and sheet not in book.sheetnames:
        raise InputError(path, f"no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
    rows = book[sheet].iter_rows(values_only=True) if sheet else book.worksheets[0].iter_rows(values_only=True)
    return [["" if v is None else str(v) for v in row] for row in rows]


def column_roles(path: Path, header: list[str], named: dict[str, str]) -> dict[int, str]:
    """{column index: field or 'note:HEADER'}; `named` maps a field to a header the user gave."""
    keys = [_key(h) for h in header]
    roles: dict[int, str] = {}
    for field, wanted in named.items():
        if field not in FIELDS:
            raise InputError(path, f"--column {field}=...: not a codebook field (one of {', '.join(FIELDS)})")
        if _key(wanted) not in keys:
            raise InputError(
                path, f"--column {field}={wanted!r}: no such column (columns: {', '.join(h for h in header if h)})", 1
            )
        roles[keys.index(_key(wanted))] = field
    for i, k in enumerate(keys):
        if i in roles or not k:
            continue
        field = next((f for f, names in FIELDS.items() if k in names and f not in roles.values()), None)
        roles[i] = field or f"note:{header[i].strip()}"
    if "name" not in roles.values():
        raise InputError(
            path,
            "no code name column: name one code, name or tag, or pass --column name=HEADER (columns:"
            f" {', '.join(h for h in header if h)})",
            1,
        )
    return roles


def _items(text: str, field: str) -> list[str]:
    parts = re.split(r"[\n;,]" if field == "keywords" else r"\n", text)
    return [p.strip().lstrip("-\u2022* ").strip() for p in parts if p.strip().lstrip("-\u2022* ").strip()]


def table_codebook(path: Path, *, columns: dict[str, str] | None = None, sheet: str | None = None) -> dict:
    """A CSV/XLSX codebook as a qcode codebook (a dict ready for validation or YAML)."""
    path = Path(path)
    rows = [r for r in read_table(path, sheet)]
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(path, "empty table: the first row names the columns", 1)
    header = rows[0]
    roles = column_roles(path, header, columns or {})
    codes: dict[str, dict] = {}
    themes: dict[str, dict] = {}
    taken: set[str] = set()  # the code ids given so far (kept, not rebuilt per row: 100,000 rows took 352 s)
    for n, row in enumerate(rows[1:], start=2):
        cells = {roles[i]: (row[i] if i < len(row) else "").strip() for i in roles}
        if not any(cells.values()):
            continue
        name = cells.get("name", "")
        if not name:
            col = header[next(i for i, r in roles.items() if r == "name")]
            raise InputError(path, f"column {col!r}: no code name in a row that has other cells", n)
        _add_row(path, n, name, cells, codes, themes, taken)
    if not codes:
        raise InputError(path, "no codes: every row below the header is empty")
    book: dict = {"name": path.stem, "version": "1"}
    if themes:
        book["themes"] = list(themes.values())
    book["codes"] = [{k: v for k, v in c.items() if k != "_row" and v not in ([], None, "")} for c in codes.values()]
    return book


def _add_row(
    path: Path,
    n: int,
    name: str,
    cells: dict[str, str],
    codes: dict[str, dict],
    themes: dict[str, dict],
    taken: set[str],
) -> None:
    definition = cells.get("definition", "")
    code = codes.get(name)
    if code is not None and definition and definition != code["definition"] and code["definition"] != name:
        raise InputError(path, f"code {name!r} appears again with another definition (first on row {code['_row']})", n)
    if code is None:
        code_id = cells.get("id") or _slug(name)
        if not re.fullmatch(r"[a-z0-9_]+", code_id):
            code_id = _slug(code_id)
        base, k = code_id, 2
        while code_id in taken:
            code_id, k = f"{base}_{k}", k + 1
        taken.add(code_id)
        code = codes[name] = {
            "_row": n,
            "id": code_id,
            "name": name,
            "theme": None,
            "definition": definition or name,
            **{f: [] for f in LISTS},
            "notes": [],
        }
    elif definition and code["definition"] == name:
        code["definition"] = definition
    theme = cells.get("theme", "")
    if theme:
        theme_id = themes.setdefault(theme, {"id": _slug(theme), "name": theme})["id"]
        code["theme"] = code["theme"] or theme_id
    for field in LISTS:
        code[field].extend(i for i in _items(cells.get(field, ""), field) if i not in code[field])
    for role, value in cells.items():
        if role.startswith("note:") and value:
            code["notes"].append(f"{role[5:]}: {value}")
