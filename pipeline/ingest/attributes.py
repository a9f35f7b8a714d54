"""Participant attributes (`participants.csv` or `.yaml`) that become passage attributes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..cells import unescape
from ..errors import InputError
from .decode import decode, read_bytes

ID_COLUMNS = ("file", "transcript")


@dataclass
class AttributeTable:
    """transcript id -> {attribute: value}, with the line each came from."""

    path: Path | None = None
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def get(self, transcript: str) -> dict[str, str]:
        return self.rows.get(transcript, {})


def _from_csv(path: Path, text: str) -> AttributeTable:
    rows = [[unescape(cell) for cell in row] for row in csv.reader(io.StringIO(text))]
    header = [h.strip() for h in rows[0]]
    key = next((c for c in ID_COLUMNS if c in header), None)
    if key is None:
        raise InputError(path, f"attributes need a column named one of {list(ID_COLUMNS)}", 1)
    table = AttributeTable(path)
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(path, f"expected {len(header)} columns, found {len(row)}", n)
        values = dict(zip(header, (cell.strip() for cell in row)))
        _add(table, Path(values.pop(key)).stem, values, n)
    return table


def _from_yaml(path: Path, text: str) -> AttributeTable:
    """`{transcript: {attribute: value}}` or a list of mappings with a `file` key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(path, "not valid YAML", mark.line + 1 if mark else None) from None
    table = AttributeTable(path)
    if isinstance(data, dict):
        items = [(k, v) for k, v in data.items()]
    elif isinstance(data, list) and all(isinstance(d, dict) for d in data):
        items = []
        for i, d in enumerate(data):
            key = next((c for c in ID_COLUMNS if c in d), None)
            if key is None:
                raise InputError(path, f"entry {i} has no 'file' key")
            items.append((d[key], {k: v for k, v in d.items() if k != key}))
    else:
        raise InputError(path, "attributes YAML is a mapping of transcript -> attributes")
    for i, (name, values) in enumerate(items):
        if not isinstance(values, dict):
            raise InputError(path, f"attributes of {name!r} are not a mapping")
        _add(table, Path(str(name)).stem, {str(k): "" if v is None else str(v) for k, v in values.items()}, i + 1)
    return table


def _add(table: AttributeTable, tid: str, values: dict[str, str], line: int) -> None:
    if tid in table.rows:
        raise InputError(table.path, f"transcript {tid!r} listed twice", line if table.path.suffix == ".csv" else None)
    table.rows[tid] = values
    table.lines[tid] = line


def load_attributes(path: Path) -> AttributeTable:
    """Read a participants table: a `file` (or `transcript`) column naming each transcript by
    file name or stem, every other column an attribute."""
    raw, _ = read_bytes(path)
    text = decode(path, raw, [])
    if path.suffix.lower() in (".yaml", ".yml"):
        return _from_yaml(path, text)
    return _from_csv(path, text)
