"""The excerpts file a review page serves, kept in step with the disk.

The file (with its journal) stays the one source of truth. `ReviewedFile` keeps a copy in
memory for speed, and before every read or write that matters it checks the file's
signature: if another process changed it (a `qcode code` rerun, a merge, a second page),
it reloads (or, when only the journal grew, applies just the new decisions). Decisions
are appended to the journal under the file's lock and folded into the file a moment
later (`compact`), and on shutdown. What the page shows of it is `session.py`'s.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..schemas import Excerpt, Review
from ..store import (
    JournalEntry,
    NotSaved,
    Signature,
    append_decisions,
    journal_path,
    locked,
    parse_journal,
    read_lines,
    set_aside,
    write_excerpts,
)
from .reviews import uncertainty


class ReviewError(Exception):
    """A request the session cannot honour; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.extra = extra


@dataclass
class _Loaded:
    excerpts: list[Excerpt] = field(default_factory=list)
    lines: list[str | None] = field(default_factory=list)  # the file's line, None once changed
    index: dict[str, int] = field(default_factory=dict)
    uncertainty: list[float] = field(default_factory=list)  # the machine's; fixed per load
    scores: list[dict[str, float]] = field(default_factory=list)  # the machine's suggestions; fixed per load
    signature: Signature | None = None
    journal_offset: int = 0  # bytes of the journal already applied


class ReviewedFile:
    """`path`'s excerpts with their decisions, in memory and in step with the disk.
    `threshold` orders by uncertainty; every method that reads or writes takes `mutex`
    and the file's lock, or is called with both held."""

    def __init__(self, path: Path, threshold: float, *, compact_after: float = 1.0):
        self.path = path
        self.threshold = threshold
        self.compact_after = compact_after
        self.mutex = threading.RLock()
        self.state = _Loaded()
        self._timer: threading.Timer | None = None
        self._warned: set[str] = set()  # journal problems already named on stderr
        with self.mutex, locked(path):
            self.reload()

    def reload(self) -> None:
        """Read the file and its journal afresh (caller holds the locks)."""
        excerpts, lines = read_lines(self.path)
        sure = [uncertainty(e, self.threshold) for e in excerpts]
        scores = [{s.code: s.score for s in e.suggestions} for e in excerpts]
        self.state = _Loaded(excerpts, lines, {e.id: i for i, e in enumerate(excerpts)}, sure, scores)
        self._apply_journal_from(0)

    def _apply_journal_from(self, offset: int) -> None:
        """Apply the journal's complete lines from byte `offset` on (0: all of it). Lines
        that are not decisions for this file are named once on stderr and kept aside at
        compaction (`excerpts.jsonl.journal.rejected`); the page goes on working."""
        jpath = journal_path(self.path)
        try:
            raw = jpath.read_bytes() if jpath.exists() else b""
        except OSError as err:
            raise ReviewError(
                503, f"{jpath}: cannot read the journal: {err.strerror or err}; nothing was changed"
            ) from None
        end = raw.rfind(b"\n") + 1  # a torn last line is not a decision
        entries, bad = parse_journal(raw[offset:end], raw[:offset].count(b"\n") + 1)
        for line in bad:
            self.warn(f"{jpath}:{line.line}: not a decision, kept aside at the next fold: {line.message}")
        for entry in entries:
            i = self.state.index.get(entry.id)
            if i is not None:
                self.set_review(i, entry.review)
            else:
                self.warn(
                    f"{jpath}: a decision for {entry.id!r}, which is not in {self.path.name}: kept aside at the"
                    " next fold"
                )
        self.state.journal_offset = end
        self.state.signature = Signature.of(self.path)

    def sync(self) -> None:
        """Catch up with changes other processes made (caller holds the locks)."""
        now = Signature.of(self.path)
        before = self.state.signature
        if now == before:
            return
        grew = (
            before is not None
            and now.file == before.file
            and now.journal is not None
            and before.journal is not None
            and now.journal[0] == before.journal[0]
            and now.journal[1] >= before.journal[1]
        )
        if grew:
            self._apply_journal_from(self.state.journal_offset)
        else:
            self.reload()

    def record(self, changes: list[tuple[str, Review]]) -> None:
        """Journal the new reviews (caller holds the locks and has synced); a decision
        that cannot be made durable is answered 507 and not applied."""
        try:
            append_decisions(self.path, [JournalEntry(id=i, review=r) for i, r in changes])
        except NotSaved as err:
            raise ReviewError(
                507, f"{err}; the decision is kept on the page: free some space and press the key again"
            ) from None
        for pid, review in changes:
            self.set_review(self.state.index[pid], review)
        self.state.journal_offset = journal_path(self.path).stat().st_size  # ends with our newline
        self.state.signature = Signature.of(self.path)
        self._schedule_compaction()

    def set_review(self, i: int, review: Review) -> None:
        self.state.excerpts[i] = self.state.excerpts[i].model_copy(update={"review": review})
        self.state.lines[i] = None

    def _schedule_compaction(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self.compact_after, self.compact)
        self._timer.daemon = True
        self._timer.start()

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            print(f"warning: {message}", file=sys.stderr, flush=True)

    def _set_aside_journal(self) -> None:
        """Keep the journal's lines that fold into nothing (not decisions, or for passages
        not in the file) in the rejected file before the journal is dropped."""
        raw = journal_path(self.path).read_bytes()
        entries, bad = parse_journal(raw[: raw.rfind(b"\n") + 1])
        stray = [e.model_dump_json().encode() for e in entries if e.id not in self.state.index]
        set_aside(self.path, [b.raw for b in bad] + stray)

    def compact(self) -> None:
        """Fold the journal into the file; if that cannot be done now (a full disk, an
        unreadable journal), the decisions stay in the journal and it is said on stderr."""
        try:
            self._compact()
        except (OSError, ReviewError, InputError) as err:
            self.warn(f"{self.path}: decisions not folded in yet, they stay in the journal: {err}")

    def _compact(self) -> None:
        with self.mutex, locked(self.path):
            self.sync()
            if not journal_path(self.path).exists():
                return
            self._set_aside_journal()
            st = self.state
            st.lines = [line if line is not None else e.model_dump_json() for e, line in zip(st.excerpts, st.lines)]
            write_excerpts(self.path, st.lines)
            st.journal_offset = 0
            self.state.signature = Signature.of(self.path)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.compact()
