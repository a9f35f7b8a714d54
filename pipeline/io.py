"""Atomic file writing, line-checked JSONL reading, and the caches' sqlite tables."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError, validation_messages

M = TypeVar("M", bound=BaseModel)
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator:
    """Write to a temporary file beside `path`, then rename over it: readers see the old
    file or the complete new one, never a truncated one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "\n") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_jsonl(path: Path, model: type[M]) -> Iterator[tuple[int, M]]:
    """Yield (line number, record); a bad line raises `InputError` with its line number.
    Blank lines are skipped."""
    try:
        f = open(path, encoding="utf-8-sig")
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    with f:
        try:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(path, f"not valid JSON ({err.msg})", n) from None
                try:
                    yield n, model.model_validate(data)
                except ValidationError as err:
                    raise InputError(path, "; ".join(validation_messages(err)), n) from None
        except UnicodeDecodeError:
            raise InputError(path, "not UTF-8 text") from None


def open_table(path: Path, table: str, value: str) -> sqlite3.Connection:
    """An sqlite file (created with its folder if missing, write-ahead logged) holding
    `table (key BLOB PRIMARY KEY, <value> BLOB NOT NULL)`: the shape of every cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key BLOB PRIMARY KEY, {value} BLOB NOT NULL)")
    return db
