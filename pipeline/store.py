"""The one owner of an excerpts file: reading it, recording reviewer decisions, and
replacing it, safely against every other qcode process.

A decision is appended to a journal beside the file (`excerpts.jsonl.journal`, one
`{"id", "review"}` line each, flushed and fsynced: about a millisecond, whatever the size
of the file), and the journal is folded into the file later by an atomic rewrite
(`compact`). Every reader applies the journal, so what a decision changed is visible at
once to `qcode review status`, `learn`, `counts`, the exports and a second review page.

Everything that writes the file or its journal holds the file's lock
(`.excerpts.jsonl.lock` beside it, `filelock`): the review page, `qcode code` while it
carries reviews over into a rerun's output, `qcode review merge` and `review import`.
A process killed mid-append leaves at most a torn last journal line, which no reader
counts and the next append cuts off; a process killed mid-rewrite leaves the old file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InputError, validation_messages
from .io import atomic_write, read_jsonl
from .schemas import Excerpt, Review

LOCK_TIMEOUT = 60.0  # seconds a writer waits for another qcode process


class JournalEntry(BaseModel):
    """One recorded decision: the passage's new `review` object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    review: Review


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the lock of excerpts file `path`: other processes and threads wait; the same
    thread may take it again (one lock object per file, counted per thread)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(path).resolve()), is_singleton=True)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise InputError(
            path, f"locked by another qcode process for over {timeout:.0f}s ({lock_path(path).name})"
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class BadLine:
    """A complete journal line that is not a decision (written by hand or by another tool)."""

    line: int
    raw: bytes
    message: str


def parse_journal(raw: bytes, first_line: int = 1) -> tuple[list[JournalEntry], list[BadLine]]:
    """The decisions in a journal's complete lines (a torn last line, never acknowledged,
    is not one), and the complete lines that are not decisions."""
    entries, bad = [], []
    for n, line in enumerate(raw.split(b"\n")[:-1], start=first_line):
        if not line.strip():
            continue
        try:
            entries.append(JournalEntry.model_validate_json(line))
        except ValidationError as err:
            bad.append(BadLine(n, line, "; ".join(validation_messages(err))))
    return entries, bad


def read_journal(path: Path) -> list[JournalEntry]:
    """The decisions recorded since the last compaction, oldest first. A torn last line
    (a writer killed mid-append, never acknowledged) is not counted; any other bad line is
    an error naming it."""
    jpath = journal_path(path)
    try:
        raw = jpath.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise InputError(jpath, f"cannot read: {err.strerror or err}") from None
    entries, bad = parse_journal(raw)
    if bad:
        raise InputError(jpath, bad[0].message, bad[0].line)
    return entries


def rejected_path(path: Path) -> Path:
    """Where journal lines that are not decisions for this file are kept (never dropped)."""
    return path.with_name(path.name + ".journal.rejected")


def set_aside(path: Path, lines: list[bytes]) -> None:
    """Append lines to the file's rejected-journal file, fsynced (the caller holds the lock)."""
    if not lines:
        return
    with open(rejected_path(path), "ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())


def apply_journal(excerpts: list[Excerpt], entries: Iterable[JournalEntry]) -> tuple[list[Excerpt], list[JournalEntry]]:
    """`excerpts` with each entry's review applied (the last entry for an id wins), and
    the entries whose passage is not in `excerpts`."""
    latest: dict[str, Review] = {}
    for entry in entries:
        latest[entry.id] = entry.review
    index = {e.id for e in excerpts}
    out = [e.model_copy(update={"review": latest[e.id]}) if e.id in latest else e for e in excerpts]
    missing = [JournalEntry(id=i, review=r) for i, r in latest.items() if i not in index]
    return out, missing


def read_lines(path: Path) -> tuple[list[Excerpt], list[str]]:
    """Every excerpt of the file (without its journal) with its line as written, for a
    reader that rewrites only the lines that changed (the review page); a bad line is an
    error naming it."""
    excerpts, lines = [], []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            excerpts.append(Excerpt.model_validate_json(line))
        except ValidationError as err:
            raise InputError(path, "; ".join(validation_messages(err)), n) from None
        lines.append(line)
    return excerpts, lines


def read_excerpts(path: Path) -> list[Excerpt]:
    """Every excerpt of a file, with the decisions in its journal applied."""
    excerpts = [e for _, e in read_jsonl(path, Excerpt)]
    entries = read_journal(path)
    if not entries:
        return excerpts
    applied, missing = apply_journal(excerpts, entries)
    if missing:
        raise InputError(
            journal_path(path), f"decisions for {len(missing)} passage(s) not in {path.name}, e.g. {missing[0].id!r}"
        )
    return applied


@dataclass(frozen=True)
class Signature:
    """What tells a process that someone else changed the file or its journal."""

    file: tuple[int, int, int] | None
    journal: tuple[int, int, int] | None

    @classmethod
    def of(cls, path: Path) -> Signature:
        def stat(p: Path) -> tuple[int, int, int] | None:
            try:
                s = p.stat()
            except FileNotFoundError:
                return None
            return (s.st_ino, s.st_size, s.st_mtime_ns)

        return cls(stat(path), stat(journal_path(path)))


class NotSaved(Exception):
    """Decisions that could not be made durable (a full disk, a read-only folder): nothing
    of them is left in the journal, and the caller must not report them saved."""


def append_decisions(path: Path, entries: list[JournalEntry]) -> None:
    """Record decisions durably (caller holds the lock): one complete, fsynced append to
    the journal, or `NotSaved` with the journal as it was before."""
    jpath = journal_path(path)
    data = "".join(e.model_dump_json() + "\n" for e in entries).encode()
    try:
        fd = os.open(jpath, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    except OSError as err:
        raise NotSaved(f"{jpath}: cannot open the journal: {err.strerror or err}") from None
    start = None
    try:
        start = _cut_torn_line(fd)
        written = 0
        while written < len(data):  # os.write may write less than asked (a full disk)
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except OSError as err:
        if start is not None:
            _truncate_quietly(fd, start)
        raise NotSaved(f"{jpath}: not saved: {err.strerror or err}") from None
    finally:
        os.close(fd)


def _cut_torn_line(fd: int) -> int:
    """Cut off a torn last line (a killed writer's); the journal's size after it."""
    size = os.fstat(fd).st_size
    if size:
        os.lseek(fd, size - 1, os.SEEK_SET)
        if os.read(fd, 1) != b"\n":
            size = os.pread(fd, size, 0).rfind(b"\n") + 1
            os.ftruncate(fd, size)
    return size


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # a torn tail is still never counted, and the next append cuts it off


def write_excerpts(path: Path, lines: Iterable[str]) -> None:
    """Replace the file atomically with these JSON lines and drop its journal (the caller
    holds the lock and has folded the journal into `lines`)."""
    with atomic_write(path) as f:
        for line in lines:
            f.write(line if line.endswith("\n") else line + "\n")
    journal_path(path).unlink(missing_ok=True)


def compact(path: Path) -> int:
    """Fold the journal into the file; returns how many decisions were folded."""
    with locked(path):
        entries = read_journal(path)
        if not entries:
            journal_path(path).unlink(missing_ok=True)
            return 0
        excerpts = read_excerpts(path)
        write_excerpts(path, (e.model_dump_json() for e in excerpts))
        return len(entries)


def record(path: Path, decisions: dict[str, Review]) -> None:
    """Record decisions for passages of `path` (ids must exist) and compact."""
    with locked(path):
        known = {e.id for e in read_excerpts(path)}
        unknown = sorted(set(decisions) - known)
        if unknown:
            raise InputError(path, f"no passage {unknown[0]!r}")
        append_decisions(path, [JournalEntry(id=i, review=r) for i, r in decisions.items()])
        compact(path)
