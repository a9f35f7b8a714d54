"""Atomic file writing and line-checked JSONL reading."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import jsonlines
from pydantic import BaseModel, ValidationError

from .errors import InputError, validation_messages

M = TypeVar("M", bound=BaseModel)


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new file beside `path`, created 0666 less the umask (as `open` would make it)."""
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator:
    """Write to a temporary file beside `path`, then rename over it: readers see the old
    file or the complete new one, never a truncated one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "\n") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def swap_in(staging: Path, target: Path) -> None:
    """Replace folder `target` by `staging` with two renames (old copy removed after)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replace_folder(target: Path) -> Iterator[Path]:
    """A fresh folder beside `target` to fill; swapped in whole for `target` when the block
    ends, removed if it raises (the old folder stays as it was)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, target)


class _Counted:
    """A file's lines, counting them, so each record read is known by its line number."""

    def __init__(self, f):
        self.f, self.line = f, 0

    def __iter__(self):
        for line in self.f:
            self.line += 1
            yield line


def read_jsonl(path: Path, model: type[M]) -> Iterator[tuple[int, M]]:
    """Yield (line number, record), read with `jsonlines`; a bad line raises `InputError`
    with its line number. Blank lines are skipped."""
    try:
        f = open(path, encoding="utf-8-sig")
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    with f:
        lines = _Counted(f)
        reader = jsonlines.Reader(lines)
        try:
            for data in reader.iter(skip_empty=True):
                try:
                    yield lines.line, model.model_validate(data)
                except ValidationError as err:
                    raise InputError(path, "; ".join(validation_messages(err)), lines.line) from None
        except jsonlines.InvalidLineError as err:
            raise InputError(path, f"not valid JSON ({_reason(err)})", err.lineno) from None
        except UnicodeDecodeError:
            raise InputError(path, "not UTF-8 text") from None


def _reason(err: jsonlines.InvalidLineError) -> str:
    cause = err.__cause__
    return getattr(cause, "msg", None) or str(cause or err).split(" (line")[0]


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in blocks (qcode's one file hash)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
