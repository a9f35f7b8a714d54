"""Open survey answers (`.csv`, `.xlsx`): one response per row, one passage per answer
(`--split-answers` splits long ones as interview turns are).

The text column is `--text-column` (default: the first of text, response, answer,
comment); its header, unless it is one of those plain names, is kept as the question
each answer replies to (a Qualtrics export's second header row, the question's wording,
is used when present). The id column (`--id-column`, default id, respondent id or
response id in any spelling: Qualtrics `ResponseId`, SurveyMonkey `Respondent ID`)
becomes the respondent's id, else `FILE-ROW`; a repeated id is kept as `ID-rowN` and
named with both row numbers. Every other column becomes an attribute.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..cells import unescape
from ..config import Config
from ..errors import InputError
from ..schemas import Transcript, Turn
from .decode import decode, read_bytes

TEXT_COLUMNS = ("text", "response", "answer", "comment")
ID_COLUMNS = ("id", "respondent_id", "response_id")  # matched in any case, with spaces or underscores or none
QUESTION_SPEAKER = "question"


def _rows_csv(path: Path, warnings: list[str]) -> tuple[Callable[[], Iterator[list[str]]], str]:
    """The file's rows, as a function that reads them afresh each call (nothing but the
    decoded text is held), and the file's sha256."""
    raw, digest = read_bytes(path)
    text = decode(path, raw, warnings)
    del raw

    def rows() -> Iterator[list[str]]:
        try:
            for row in csv.reader(io.StringIO(text)):
                yield [unescape(cell) for cell in row]  # qcode's own CSVs escape formula cells
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


def _plain(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in " _-")


def _pick(header: list[str], wanted: str | None, defaults: tuple[str, ...], path: Path, what: str) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.lower() not in lowered:
            raise InputError(path, f"no {what} column {wanted!r} (columns: {', '.join(header)})", 1)
        return lowered.index(wanted.lower())
    plain = [_plain(h) for h in header]
    for name in defaults:
        if _plain(name) in plain:
            return plain.index(_plain(name))
    return None


def _qualtrics_rows(rows: list[list[str]]) -> bool:
    """A Qualtrics export: under the header, a row of question wordings and a row of
    {"ImportId": ...} cells."""
    return len(rows) >= 3 and any(cell.strip().startswith('{"ImportId"') for cell in rows[2])


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
    question, skip = _question(rows(), header, text_col)
    answers = blank = 0
    for _, row in _body(rows(), skip):
        if _answer(row, text_col):
            answers += 1
        else:
            blank += 1
    if not answers:
        raise InputError(path, "every answer is blank")
    if blank:
        warnings.append(f"{blank} row(s) with no answer skipped")
    columns = _Columns(header, text_col, id_col, question, skip)
    return _transcripts(path, digest, rows, columns, warnings, whole=not config.split_answers)


def _question(rows: Iterator[list[str]], header: list[str], text_col: int) -> tuple[str | None, int]:
    """The question the text column answers (None for a plain name such as `text`), and
    how many rows under the header are not answers (a Qualtrics export's two)."""
    top = [r for _, r in zip(range(3), (r for r in rows if any(cell.strip() for cell in r)))]
    if _qualtrics_rows(top):
        wording = top[1][text_col].strip() if text_col < len(top[1]) else ""
        return wording or header[text_col] or None, 2
    name = header[text_col]
    return (None if name.strip().lower() in TEXT_COLUMNS else name), 0


def _body(rows: Iterator[list[str]], skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows under the header (and `skip` rows more), with their 1-based row numbers."""
    numbered = ((n, r) for n, r in enumerate(rows, start=1) if any(cell.strip() for cell in r))
    for _ in range(1 + skip):
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


@dataclass(frozen=True)
class _Columns:
    header: list[str]
    text: int
    id: int | None
    question: str | None
    skip: int


def _transcripts(path, digest, rows, columns: _Columns, warnings, whole: bool) -> Iterator[Transcript]:
    first, seen = True, {}
    for n, row in _body(rows(), columns.skip):
        answer = _answer(row, columns.text)
        if not answer:
            continue
        row = row + [""] * (len(columns.header) - len(row))
        tid = row[columns.id].strip() if columns.id is not None and row[columns.id].strip() else f"{path.stem}-{n}"
        if tid in seen:
            kept = f"{tid}-row{n}"
            warnings = [*warnings, f"row {n}: id {tid!r} also on row {seen[tid]}: both kept, this one as {kept!r}"]
            tid = kept
        seen[tid] = n
        attributes = {
            h: row[i].strip() for i, h in enumerate(columns.header) if i not in (columns.text, columns.id) and h
        }
        text, turns = _answer_turns(answer, columns.question)
        yield Transcript(
            id=tid,
            source=str(path),
            source_sha256=digest,
            text=text,
            turns=turns,
            attributes=attributes,
            warnings=warnings if first or warnings else [],
            whole_turns=whole,
        )
        warnings, first = [], False


def _answer_turns(answer: str, question: str | None) -> tuple[str, list[Turn]]:
    """The answer's text, after the question it replies to when there is one (as an
    interviewer's turn: the passage's question, never coded)."""
    if not question:
        return answer, [Turn(index=0, speaker="respondent", is_interviewer=False, start=0, end=len(answer))]
    question = " ".join(question.split())
    start = len(question) + 2
    text = f"{question}\n\n{answer}"
    return text, [
        Turn(index=0, speaker=QUESTION_SPEAKER, is_interviewer=True, start=0, end=len(question)),
        Turn(index=1, speaker="respondent", is_interviewer=False, start=start, end=len(text)),
    ]
