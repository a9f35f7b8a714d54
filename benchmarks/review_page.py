"""The review page with a big file: server start, page ready, each decision on disk.

    .venv/bin/python benchmarks/review_page.py [--excerpts 10000] [--decisions 200] [--keyed 40] [--finetune] [--json OUT]

Makes an output folder of N excerpts (the sample transcripts coded with MiniLM, each
passage repeated under new ids, so lines are of real size and the transcript around each
passage is shown), starts `qcode review serve` in its own process and measures:
- start: from launching the process to the printed address (imports, reading the file);
- page ready: headless Chromium, from navigation to the first passage shown with its codes,
  stats and recent decisions (`performance.now()` at that point), median of 5 loads;
- API: each request's round trip (median of 5);
- decision on disk: POST /api/decide round trips (the answer is sent after the journal
  append is fsynced), median / 95th percentile / max over D decisions, and separately for
  the decisions made while a live relearn ran in the background (one starts every 20
  decisions; the first embeds every passage of the file), and with --finetune those made
  while the embedding model was being fine-tuned in a second background process (from
  the 50th decision);
- keyed decisions in the browser: pressing `a`, until the next passage is on screen;
- compaction and a reader's cost (`read_excerpts` with the journal) on the same file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import Config, code_corpus  # noqa: E402
from pipeline.store import compact, read_excerpts  # noqa: E402
from tests.browser import Server, chrome  # noqa: E402


def big_folder(work: Path, n: int) -> Path:
    """The sample coded once, then each excerpt repeated under new ids up to n lines."""
    out = work / "out"
    code_corpus([REPO / "transcripts_sample"], out_dir=out, config=Config(model="minilm"), cache_dir=work / "cache")
    lines = (out / "excerpts.jsonl").read_text().splitlines()
    rows = []
    for k in range(n):
        row = json.loads(lines[k % len(lines)])
        row["id"] = f"{row['id']}~{k // len(lines)}"
        rows.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    (out / "excerpts.jsonl").write_text("\n".join(rows) + "\n")
    return out


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return ms(statistics.median(times))


def sign_in(server: Server) -> httpx.Client:
    import re

    client = httpx.Client(base_url=server.base, timeout=30)
    client.get(f"/?key={server.key}", follow_redirects=True)
    client.headers["X-QCode-CSRF"] = re.search(r'content="([0-9a-f]{64})"', client.get("/").text).group(1)
    return client


def api_timings(client: httpx.Client) -> dict[str, float]:
    first = client.get("/api/queue").json()["ids"][0]
    return {
        "GET /": timed(lambda: client.get("/")),
        "GET /api/state": timed(lambda: client.get("/api/state")),
        "GET /api/queue": timed(lambda: client.get("/api/queue")),
        "GET /api/passage": timed(lambda: client.get("/api/passage", params={"id": first})),
        "GET /api/stats": timed(lambda: client.get("/api/stats")),
        "GET /api/recent": timed(lambda: client.get("/api/recent")),
    }


def decision_timings(client: httpx.Client, n: int) -> dict[str, float]:
    ids = client.get("/api/queue", params={"order": "file"}).json()["ids"][-n:]
    times, during, tuning = [], [], []
    for i, pid in enumerate(ids):
        t = time.perf_counter()
        r = client.post("/api/decide", json={"id": pid, "action": "reject" if i % 3 == 0 else "accept", "codes": []})
        times.append(time.perf_counter() - t)
        r.raise_for_status()
        live = client.get("/api/stats").json().get("live") or {}
        if live.get("relearning"):
            during.append(times[-1])
        if (live.get("finetune") or {}).get("tuning"):
            tuning.append(times[-1])
        time.sleep(0.05)  # a fast reviewer: 20 decisions a second at most
    out = summary(times)
    out["while_relearning"] = summary(during) if during else {"n": 0}
    out["while_finetuning"] = summary(tuning) if tuning else {"n": 0}
    out["models"] = (client.get("/api/stats").json().get("live") or {}).get("history", [])
    return out


def summary(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "n": len(times),
        "median_ms": ms(statistics.median(times)),
        "p95_ms": ms(times[int(0.95 * (len(times) - 1))]),
        "max_ms": ms(times[-1]),
    }


def browser_timings(server: Server, keyed: int) -> dict[str, float]:
    from selenium.webdriver.common.action_chains import ActionChains

    driver = chrome()
    try:
        loads = []
        for _ in range(5):
            driver.get(server.url)
            while driver.execute_script("return document.body.dataset.ready") != "1":
                time.sleep(0.005)
            loads.append(driver.execute_script("return performance.now()") / 1000)
        per_key = []
        for _ in range(keyed):
            before = driver.execute_script("return Number(document.body.dataset.saved || 0)")
            t = time.perf_counter()
            ActionChains(driver).send_keys("a").perform()
            while driver.execute_script("return Number(document.body.dataset.saved || 0)") <= before:
                time.sleep(0.002)
            per_key.append(time.perf_counter() - t)
        return {
            "page_ready_ms": ms(statistics.median(loads)),
            "page_ready_max_ms": ms(max(loads)),
            "keyed_decision_median_ms": ms(statistics.median(per_key)),
            "keyed_decisions": keyed,
        }
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--excerpts", type=int, default=10_000)
    ap.add_argument("--decisions", type=int, default=200)
    ap.add_argument("--keyed", type=int, default=40)
    ap.add_argument("--finetune", action="store_true", help="serve with --finetune (on the CPU)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="qcode-review-bench-") as tmp:
        work = Path(tmp)
        out = big_folder(work, args.excerpts)
        size = (out / "excerpts.jsonl").stat().st_size
        t = time.perf_counter()
        extra = ["--finetune", "--device", "cpu"] if args.finetune else []
        server = Server([str(out), "--reviewer", "bench", *extra], work / "cache")
        start = time.perf_counter() - t
        try:
            client = sign_in(server)
            result = {
                "excerpts": args.excerpts,
                "finetune": args.finetune,
                "file_mb": round(size / 1e6, 1),
                "server_start_s": round(start, 2),
                "api_ms": api_timings(client),
                "decision_on_disk": decision_timings(client, args.decisions),
                "browser": browser_timings(server, args.keyed),
            }
        finally:
            server.stop()
        path = out / "excerpts.jsonl"
        t = time.perf_counter()
        rows = read_excerpts(path)
        result["read_excerpts_s"] = round(time.perf_counter() - t, 3)
        decided = sum(e.review.status != "pending" for e in rows)
        result["decided_after"] = decided
        t = time.perf_counter()
        compact(path)
        result["compact_s"] = round(time.perf_counter() - t, 3)
    print(json.dumps(result, indent=2))
    b, d = result["browser"], result["decision_on_disk"]
    print(
        f"\n{args.excerpts} excerpts ({result['file_mb']} MB): server start {result['server_start_s']} s; page ready"
        f" {b['page_ready_ms']} ms (max {b['page_ready_max_ms']}); decision on disk median {d['median_ms']} ms, p95"
        f" {d['p95_ms']}, max {d['max_ms']}; while relearning ({d['while_relearning']['n']}) p95"
        f" {d['while_relearning'].get('p95_ms')} ms; while fine-tuning ({d['while_finetuning']['n']}) p95"
        f" {d['while_finetuning'].get('p95_ms')} ms; keyed decision to next passage {b['keyed_decision_median_ms']} ms",
        file=sys.stderr,
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
