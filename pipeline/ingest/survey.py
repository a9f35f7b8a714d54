"""Open survey answers (`.csv`, `.xlsx`): one response per row.

The text column is `--text-column` (default: the first of text, response, answer,
comment); the id column (`--id-column`, default id or respondent_id) becomes the
transcript id, else `FILE-ROW`; every other column becomes an attribute.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript, Turn
from .decode import decode, read_bytes

TEXT_COLUMNS = ("text", "response", "answer", "comment")
ID_COLUMNS = ("id", "respondent_id", "response_id")


def _rows_csv(path: Path, warnings: list[str]) -> tuple[Callable[[], Iterator[list[str]]], str]:
    """The file's rows, as a function that reads them afresh each call (nothing but the
    decoded text is held), and the file's sha256."""
    raw, digest = read_bytes(path)
    text = decode(path, raw, warnings)
    del raw

    def rows() -> Iterator[list[str]]:
        try:
            yield from csv.reader(io.StringIO(text))
        except csv.Error as err:
            raise InputError(path, f"not valid CSV: {err}") from None

    return rows, digest


def _rows_xlsx(path: Path) -> tuple[Callable[[], Iterator[list[str]]], str]:
    import openpyxl

    raw, digest = read_bytes(path)
    if not raw:
        raise InputError(path, "empty file")
    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types for corrupt files
        raise InputError(path, f"not a readable .xlsx ({type(err).__name__})") from None
    sheet = book.worksheets[0]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return lambda: iter(rows), digest


def _pick(header: list[str], wanted: str | None, defaults: tuple[str, ...], path: Path, what: str) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.lower() not in lowered:
            raise InputError(path, f"no {what} column {wanted!r} (columns: {', '.join(header)})", 1)
        return lowered.index(wanted.lower())
    for name in defaults:
        if name in lowered:
            return lowered.index(name)
    return None


def read_survey(path: Path, *, config: Config) -> list[Transcript]:
    """Every answer of a survey file as a transcript (see `iter_survey`)."""
    return list(iter_survey(path, config=config))


def iter_survey(path: Path, *, config: Config) -> Iterator[Transcript]:
    """The answers one by one. The file is checked whole first (header, text column, at
    least one answer), so a bad file raises before anything is yielded; then the rows are
    read again, so a survey of a million answers is never held as a million transcripts."""
    warnings: list[str] = []
    rows, digest = _rows_xlsx(path) if path.suffix.lower() == ".xlsx" else _rows_csv(path, warnings)
    header, text_col, id_col = _columns(path, rows(), config)
    answers = blank = 0
    for _, row in _body(rows()):
        if _answer(row, text_col):
            answers += 1
        else:
            blank += 1
    if not answers:
        raise InputError(path, "every answer is blank")
    if blank:
        warnings.append(f"{blank} row(s) with no answer skipped")
    return _transcripts(path, digest, rows, header, text_col, id_col, warnings)


def _body(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows under the header, with their 1-based row numbers."""
    numbered = ((n, r) for n, r in enumerate(rows, start=1) if any(cell.strip() for cell in r))
    next(numbered, None)
    return numbered


def _answer(row: list[str], text_col: int) -> str:
    text = row[text_col] if text_col < len(row) else ""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _columns(path: Path, rows: Iterator[list[str]], config: Config) -> tuple[list[str], int, int | None]:
    first = next((r for r in rows if any(cell.strip() for cell in r)), None)
    if first is None or next((r for r in rows if any(cell.strip() for cell in r)), None) is None:
        raise InputError(path, "no rows of answers under the header")
    header = [h.strip() for h in first]
    text_col = _pick(header, config.text_column, TEXT_COLUMNS, path, "text")
    if text_col is None:
        raise InputError(path, f"no text column (tried {', '.join(TEXT_COLUMNS)}); name one with --text-column", 1)
    return header, text_col, _pick(header, config.id_column, ID_COLUMNS, path, "id")


def _transcripts(path, digest, rows, header, text_col, id_col, warnings) -> Iterator[Transcript]:
    first = True
    for n, row in _body(rows()):
        answer = _answer(row, text_col)
        if not answer:
            continue
        row = row + [""] * (len(header) - len(row))
        tid = row[id_col].strip() if id_col is not None and row[id_col].strip() else f"{path.stem}-{n}"
        attributes = {h: row[i].strip() for i, h in enumerate(header) if i not in (text_col, id_col) and h}
        yield Transcript(
            id=tid, source=str(path), source_sha256=digest, text=answer,
            turns=[Turn(index=0, speaker="respondent", is_interviewer=False, start=0, end=len(answer))],
            attributes=attributes, warnings=warnings if first else [],
        )
        first = False
