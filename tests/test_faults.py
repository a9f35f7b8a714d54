"""Fault injection: a real `qcode review serve` process under a full disk, an unwritable
journal, concurrent merge, import and `qcode code` reruns, SIGTERM, two tabs and two
servers. In every scenario each acknowledged decision (HTTP 200) is checked against the
file on disk afterwards; each prints `fault SCENARIO: acknowledged N, on disk M` (run with
`-s` to see them). SIGKILL mid-write is in test_review_durability.py."""

from __future__ import annotations

import csv
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from pipeline import code_corpus
from pipeline.reviewing.reviews import decisions_of
from pipeline.store import journal_path, read_excerpts

from .browser import Server, qcode_env
from .conftest import FakeEmbedder
from .test_review import make_output
from .test_review_durability import sign_in

pytestmark = pytest.mark.slow


def decide_all(client: httpx.Client, ids: list[str], note: str = "") -> tuple[dict[str, dict], list[int]]:
    """Decide each passage once: the acknowledged reviews, and every status code seen."""
    acknowledged, codes = {}, []
    for i, pid in enumerate(ids):
        try:
            r = client.post(
                "/api/decide",
                json={"id": pid, "action": "reject" if i % 2 else "accept", "codes": [], "note": f"{note}{i}"},
            )
        except httpx.HTTPError:
            codes.append(0)
            continue
        codes.append(r.status_code)
        if r.status_code == 200:
            acknowledged[pid] = r.json()["review"]
    return acknowledged, codes


def kept(excerpt, review: dict) -> bool:
    """The acknowledged review is the passage's decision on disk, or (after a merge) one
    of the decisions it keeps, with the same reviewer, time and note."""
    if excerpt.review.model_dump() == review:
        return True
    fields = ("status", "reviewer", "note", "reviewed_at")
    return any(all(getattr(d, f) == review[f] for f in fields) for d in decisions_of(excerpt, default_reviewer="?"))


def check(name: str, path: Path, acknowledged: dict[str, dict]) -> None:
    """Every acknowledged decision is on disk, as acknowledged."""
    disk = {e.id: e for e in read_excerpts(path)}
    held = sum(1 for pid, review in acknowledged.items() if kept(disk[pid], review))
    print(f"fault {name}: acknowledged {len(acknowledged)}, on disk {held}")
    assert held == len(acknowledged), f"{name}: {len(acknowledged) - held} acknowledged decision(s) lost"


def serve(tmp_path: Path, cache_dir: Path, *extra: str) -> Server:
    return Server([str(tmp_path / "out"), "--reviewer", "ana", "--no-learn", *extra], cache_dir)


class LimitedServer(Server):
    """A server that may write files of at most `limit` bytes (RLIMIT_FSIZE): past it every
    write fails as on a full disk (EFBIG instead of ENOSPC; SIGXFSZ ignored)."""

    def __init__(self, args: list[str], cache_dir: Path, limit: int):
        real_popen = subprocess.Popen

        def limited(*a, **kw):
            def cap():
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

            return real_popen(*a, preexec_fn=cap, **kw)

        subprocess.Popen = limited
        try:
            super().__init__(args, cache_dir)
        finally:
            subprocess.Popen = real_popen


def test_a_full_disk_acknowledges_nothing_it_did_not_keep(tmp_path, cache_dir):
    _, path = make_output(tmp_path, n=20)
    ids = [e.id for e in read_excerpts(path)]
    limit = path.stat().st_size - 1  # the rewrite that folds the journal fails; the journal fills at 'limit'
    server = LimitedServer([str(tmp_path / "out"), "--reviewer", "ana", "--no-learn"], cache_dir, limit)
    try:
        client = sign_in(server)
        acknowledged, codes = decide_all(client, ids * 40, note="x" * 200)  # past the limit
        assert 507 in codes and 200 in codes
        assert set(codes[codes.index(507) :]) <= {200, 507}  # never a 500, never a reset
    finally:
        server.kill()  # no shutdown: what is on disk is what counts
    check("full disk", path, acknowledged)


def test_an_unwritable_journal_then_a_writable_one(tmp_path, cache_dir):
    _, path = make_output(tmp_path, n=6)
    ids = [e.id for e in read_excerpts(path)]
    server = serve(tmp_path, cache_dir)
    try:
        client = sign_in(server)
        journal_path(path).mkdir()  # a journal that cannot be opened for writing (root ignores chmod)
        refused, codes = decide_all(client, ids[:3])
        assert not refused and set(codes) <= {503, 507}  # "not saved", said on the page
        journal_path(path).rmdir()
        acknowledged, codes = decide_all(client, ids)
        assert set(codes) == {200}
    finally:
        assert server.stop() == 0
    check("unwritable journal", path, acknowledged)


def _hammer_while(name: str, tmp_path: Path, cache_dir: Path, writer, n: int = 30) -> None:
    """Decide every passage while `writer(stop)` writes the same file from elsewhere."""
    _, path = make_output(tmp_path, n=n)
    ids = [e.id for e in read_excerpts(path)]
    server = serve(tmp_path, cache_dir)
    stop = threading.Event()
    other = threading.Thread(target=writer, args=(path, stop))
    try:
        client = sign_in(server)
        other.start()
        acknowledged, codes = decide_all(client, ids)
        assert codes.count(200) == len(ids)
    finally:
        stop.set()
        other.join(120)
        assert server.stop() == 0
    check(name, path, acknowledged)


def _loop(args_for, stop: threading.Event, cache_dir: Path) -> None:
    while not stop.is_set():
        subprocess.run(
            [sys.executable, "-m", "pipeline", *args_for()], env=qcode_env(cache_dir), capture_output=True, timeout=120
        )


def test_merge_into_the_served_file_while_reviewing(tmp_path, cache_dir):
    _hammer_while(
        "merge during review",
        tmp_path,
        cache_dir,
        lambda path, stop: _loop(lambda: ["review", "merge", str(path), "-o", str(path)], stop, cache_dir),
    )


def test_review_import_while_reviewing(tmp_path, cache_dir):
    def importer(path: Path, stop: threading.Event) -> None:
        sheet = path.parent.parent / "sheet.csv"
        subprocess.run(
            [sys.executable, "-m", "pipeline", "export", "table", str(path.parent), "-o", str(sheet)],
            env=qcode_env(cache_dir),
            check=True,
            capture_output=True,
        )
        with open(sheet, encoding="utf-8", newline="") as f:  # ben rejects every passage in the sheet
            grid = list(csv.reader(f))
        status = grid[0].index("review status")
        for row in grid[1:]:
            row[status] = "rejected"
        with open(sheet, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(grid)
        _loop(lambda: ["review", "import", str(sheet), "--into", str(path.parent), "-r", "ben"], stop, cache_dir)

    _hammer_while("import during review", tmp_path, cache_dir, importer)


def test_a_code_rerun_into_the_served_folder_while_reviewing(tmp_path, cache_dir):
    def rerun(path: Path, stop: threading.Event) -> None:
        while not stop.is_set():
            code_corpus([tmp_path / "in"], out_dir=path.parent, embedder=FakeEmbedder())

    _hammer_while("code rerun during review", tmp_path, cache_dir, rerun, n=10)


def test_sigterm_the_moment_the_page_announces_itself_stops_it_cleanly(tmp_path, cache_dir):
    """The address is printed before the web server runs: a SIGTERM then asks it to stop
    (a flag it reads on starting), and the page ends as on Ctrl+C, exit 0."""
    _, path = make_output(tmp_path, n=5)
    server = serve(tmp_path, cache_dir)
    server.proc.send_signal(signal.SIGTERM)
    out = server.printed(timeout=60)
    assert server.proc.returncode == 0 and f"stopped; decisions are in {path}" in out


def test_sigterm_mid_review_prints_the_stop_line_and_folds_the_journal(tmp_path, cache_dir):
    _, path = make_output(tmp_path, n=20)
    ids = [e.id for e in read_excerpts(path)]
    server = serve(tmp_path, cache_dir)
    client = sign_in(server)
    acknowledged, _ = decide_all(client, ids[:15])
    server.proc.send_signal(signal.SIGTERM)
    out = server.printed(timeout=30)
    assert server.proc.returncode == 0 and f"stopped; decisions are in {path}" in out
    assert not journal_path(path).exists()
    check("SIGTERM", path, acknowledged)


def test_two_tabs_never_overwrite_each_other_unseen(tmp_path, cache_dir):
    _, path = make_output(tmp_path, n=4)
    ids = [e.id for e in read_excerpts(path)]
    server = serve(tmp_path, cache_dir)
    try:
        a, b = sign_in(server), sign_in(server)
        a.headers["X-QCode-Tab"], b.headers["X-QCode-Tab"] = "tab-a", "tab-b"  # as each page sends its own
        shown = {pid: b.get("/api/passage", params={"id": pid}).json()["rev"] for pid in ids}  # tab B opens them
        acknowledged, _ = decide_all(a, ids)  # tab A decides them all
        stale = [b.post("/api/decide", json={"id": pid, "action": "reject", "rev": shown[pid]}) for pid in ids]
        assert {r.status_code for r in stale} == {409}  # B's decisions on what it did not see are refused
        undo = b.post("/api/undo")  # and B's Backspace has nothing of its own to undo
        assert undo.status_code == 404
    finally:
        assert server.stop() == 0
    check("two tabs", path, acknowledged)


def test_two_servers_on_one_file(tmp_path, cache_dir):
    _, path = make_output(tmp_path, n=30)
    ids = [e.id for e in read_excerpts(path)]
    first, second = serve(tmp_path, cache_dir), serve(tmp_path, cache_dir)
    results: list[dict] = [{}, {}]

    def work(k: int, server: Server) -> None:
        results[k], _ = decide_all(sign_in(server), ids[k::2])

    threads = [threading.Thread(target=work, args=(k, s)) for k, s in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert first.stop() == 0 and second.stop() == 0
    acknowledged = {**results[0], **results[1]}
    assert len(acknowledged) == len(ids)
    check("two servers", path, acknowledged)
