"""The excerpts file's owner: journal, torn lines, compaction, and its lock across processes."""

import multiprocessing
import time

import pytest

from pipeline.errors import InputError
from pipeline.schemas import Review
from pipeline.store import (
    JournalEntry,
    append_decisions,
    compact,
    journal_path,
    locked,
    read_excerpts,
    read_journal,
    record,
)

from .test_review import load, make_output


def decision(who="ana", codes=("conflict",)):
    return Review(status="corrected", codes=list(codes), reviewer=who, reviewed_at="2026-11-28T10:00:00+00:00")


def test_journal_is_applied_by_every_reader_and_folded_in_by_compact(tmp_path):
    _, path = make_output(tmp_path)
    rows = load(path)
    before = path.read_bytes()
    append_decisions(path, [JournalEntry(id=rows[1].id, review=decision())])
    append_decisions(
        path, [JournalEntry(id=rows[1].id, review=decision("ben")), JournalEntry(id=rows[2].id, review=decision())]
    )
    assert path.read_bytes() == before  # only the journal was written
    seen = {e.id: e.review for e in read_excerpts(path)}
    assert seen[rows[1].id].reviewer == "ben" and seen[rows[2].id].reviewer == "ana"  # the last entry wins
    assert compact(path) == 3
    assert not journal_path(path).exists()
    assert {e.id: e.review for e in load(path)} == seen


def test_a_torn_last_line_is_not_a_decision_and_the_next_append_cuts_it(tmp_path):
    _, path = make_output(tmp_path)
    rows = load(path)
    append_decisions(path, [JournalEntry(id=rows[0].id, review=decision())])
    with open(journal_path(path), "ab") as f:
        f.write(b'{"id": "' + rows[1].id.encode() + b'", "review": {"stat')  # killed mid-append
    assert [e.id for e in read_journal(path)] == [rows[0].id]
    append_decisions(path, [JournalEntry(id=rows[2].id, review=decision())])
    assert [e.id for e in read_journal(path)] == [rows[0].id, rows[2].id]
    assert journal_path(path).read_bytes().count(b"\n") == 2


def test_a_corrupt_journal_line_is_an_error_naming_it(tmp_path):
    _, path = make_output(tmp_path)
    journal_path(path).write_text('{"id": "x", "review": {"status": "maybe"}}\n')
    with pytest.raises(InputError, match=r"excerpts.jsonl.journal:1: review.status"):
        read_excerpts(path)


def test_record_refuses_unknown_ids_and_writes_nothing(tmp_path):
    _, path = make_output(tmp_path)
    before = path.read_bytes()
    with pytest.raises(InputError, match="no passage 'nope'"):
        record(path, {"nope": decision()})
    assert path.read_bytes() == before and not journal_path(path).exists()


def _hold_lock(path, ready, seconds):
    with locked(path):
        ready.set()
        time.sleep(seconds)


def test_the_lock_serialises_processes(tmp_path):
    _, path = make_output(tmp_path)
    ready = multiprocessing.Event()
    other = multiprocessing.Process(target=_hold_lock, args=(path, ready, 1.0))
    other.start()
    try:
        assert ready.wait(10)
        with pytest.raises(InputError, match="locked by another qcode process"):
            with locked(path, timeout=0.2):
                pass
        started = time.monotonic()
        with locked(path, timeout=10):
            waited = time.monotonic() - started
        assert waited > 0.3  # it waited for the other process to let go
    finally:
        other.join(10)


def test_a_failed_append_leaves_the_journal_as_it_was_and_says_so(tmp_path, monkeypatch):
    """A full disk: os.write writes part of the data, then fails (issue 24 #1)."""
    import os as _os

    from pipeline.schemas import Review
    from pipeline.store import JournalEntry, NotSaved, append_decisions, journal_path, read_journal

    path = tmp_path / "excerpts.jsonl"
    path.write_text("")
    first = JournalEntry(id="a", review=Review(status="rejected", codes=[]))
    append_decisions(path, [first])
    before = journal_path(path).read_bytes()
    real_write = _os.write
    calls = {"n": 0}

    def short_then_full(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, data[:7])  # a short write: only part of the line
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_os, "write", short_then_full)
    with pytest.raises(NotSaved, match="No space left"):
        append_decisions(path, [JournalEntry(id="b", review=Review(status="rejected", codes=[]))])
    monkeypatch.setattr(_os, "write", real_write)
    assert journal_path(path).read_bytes() == before and [e.id for e in read_journal(path)] == ["a"]


def test_short_writes_are_completed(tmp_path, monkeypatch):
    import os as _os

    from pipeline.schemas import Review
    from pipeline.store import JournalEntry, append_decisions, read_journal

    path = tmp_path / "excerpts.jsonl"
    path.write_text("")
    real_write = _os.write
    monkeypatch.setattr(_os, "write", lambda fd, data: real_write(fd, data[:5]))  # 5 bytes at a time
    append_decisions(path, [JournalEntry(id=i, review=Review(status="rejected", codes=[])) for i in "abc"])
    monkeypatch.setattr(_os, "write", real_write)
    assert [e.id for e in read_journal(path)] == ["a", "b", "c"]
