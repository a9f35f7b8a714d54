"""Open survey answers (`.csv`, `.xlsx`): one response per row.

The text column is `--text-column` (default: the first of text, response, answer,
comment); the id column (`--id-column`, default id or respondent_id) becomes the
transcript id, else `FILE-ROW`; every other column becomes an attribute.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript, Turn
from .decode import decode, read_bytes

TEXT_COLUMNS = ("text", "response", "answer", "comment")
ID_COLUMNS = ("id", "respondent_id", "response_id")


def _rows_csv(path: Path, warnings: list[str]) -> tuple[list[list[str]], str]:
    raw, digest = read_bytes(path)
    text = decode(path, raw, warnings)
    try:
        return list(csv.reader(io.StringIO(text))), digest
    except csv.Error as err:
        raise InputError(path, f"not valid CSV: {err}") from None


def _rows_xlsx(path: Path) -> tuple[list[list[str]], str]:
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
    return rows, digest


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
    warnings: list[str] = []
    rows, digest = _rows_xlsx(path) if path.suffix.lower() == ".xlsx" else _rows_csv(path, warnings)
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(cell.strip() for cell in r)]
    if len(numbered) < 2:
        raise InputError(path, "no rows of answers under the header")
    header = [h.strip() for h in numbered[0][1]]
    text_col = _pick(header, config.text_column, TEXT_COLUMNS, path, "text")
    if text_col is None:
        raise InputError(path, f"no text column (tried {', '.join(TEXT_COLUMNS)}); name one with --text-column", 1)
    id_col = _pick(header, config.id_column, ID_COLUMNS, path, "id")
    answers, blank = [], 0
    for n, row in numbered[1:]:
        row = row + [""] * (len(header) - len(row))
        answer = row[text_col].replace("\r\n", "\n").replace("\r", "\n").strip()
        if not answer:
            blank += 1
            continue
        tid = row[id_col].strip() if id_col is not None and row[id_col].strip() else f"{path.stem}-{n}"
        attributes = {h: row[i].strip() for i, h in enumerate(header) if i not in (text_col, id_col) and h}
        answers.append((tid, answer, attributes))
    if not answers:
        raise InputError(path, "every answer is blank")
    if blank:
        warnings.append(f"{blank} row(s) with no answer skipped")
    transcripts = [
        Transcript(
            id=tid,
            source=str(path),
            source_sha256=digest,
            text=answer,
            turns=[Turn(index=0, speaker="respondent", is_interviewer=False, start=0, end=len(answer))],
            attributes=attributes,
            warnings=warnings if i == 0 else [],
        )
        for i, (tid, answer, attributes) in enumerate(answers)
    ]
    return transcripts
