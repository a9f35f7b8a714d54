"""The think-aloud workflow of issue 35, run with the real commands: a team exports the
highlights of its first coded sessions from a tool such as Taguette, imports them, learns,
and scores the highlights of the other sessions.

    .venv/bin/python benchmarks/highlights_import.py --gold G.jsonl --codebook C.yaml \
        [--fraction 0.25] [--json OUT]

Gold rows carry their document in `source` (or `transcript`), in document order; only
coded rows are highlights (a highlights export holds nothing else), so uncoded rows are
left out on both sides. The first `fraction` of the documents become a highlights table
(`document, tag, content`, one row per code of a highlight, as Taguette writes it); the
coded rows of the other documents are the gold file `qcode evaluate` scores. Two paths:

- `import-study` (this release): `qcode import project TABLE --codebook C -o IMP`,
  `qcode learn IMP`, `qcode evaluate --gold REST --model IMP/learned`. The table's
  documents are made from its highlights, so `learn` knows each passage's session and
  neighbours;
- `labelled-only` (the release before): the same highlights as labelled rows with no
  document (what `import project` of a table wrote then), `qcode learn FILE -o M -c C`,
  `qcode evaluate --gold REST --model M`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app


def document_of(row: dict) -> str:
    doc = row.get("source", row.get("transcript"))
    if doc is None:
        raise SystemExit("every gold row needs its document: a `source` or `transcript` key")
    return str(doc)


def split(rows: list[dict], fraction: float) -> tuple[list[dict], list[dict]]:
    """(coded rows of the first `fraction` of the documents, coded rows of the rest)."""
    docs = list(dict.fromkeys(document_of(r) for r in rows))
    first = set(docs[: max(1, math.ceil(fraction * len(docs)))])
    coded = [r for r in rows if r["labels"]]
    return [r for r in coded if document_of(r) in first], [r for r in coded if document_of(r) not in first]


def write_table(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "document", "tag", "content"])
        for n, r in enumerate(rows):
            for code in r["labels"]:
                out.writerow([n, f"session {document_of(r)}", code, r["text"]])


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def invoke(args: list[str]) -> str:
    res = CliRunner().invoke(app, args)
    if res.exit_code != 0:
        raise SystemExit(f"qcode {' '.join(args)}: exit {res.exit_code}\n{res.stderr}")
    return res.stdout


def kappa(gold: Path, model: Path, common: list[str]) -> dict:
    return json.loads(invoke(["evaluate", "--gold", str(gold), "--model", str(model), "--json", *common]))


def run(rows: list[dict], codebook: Path, fraction: float, common: list[str], work: Path) -> list[dict]:
    first, rest = split(rows, fraction)
    table, gold = work / "highlights.csv", work / "rest.jsonl"
    write_table(first, table)
    write_jsonl(
        [{"id": r["id"], "text": r["text"], "labels": r["labels"], "source": document_of(r)} for r in rest], gold
    )
    results = []
    started = time.perf_counter()
    invoke(["import", "project", str(table), "--codebook", str(codebook), "-o", str(work / "imp"), *common])
    learned = invoke(["learn", str(work / "imp"), *common])
    report = kappa(gold, work / "imp" / "learned", common)
    results.append(_row("import-study", fraction, len(first), len(rest), report, started, learned))
    started = time.perf_counter()
    labelled = work / "labelled_nodoc.jsonl"
    write_jsonl([{"id": r["id"], "text": r["text"], "labels": sorted(r["labels"])} for r in first], labelled)
    learned = invoke(["learn", str(labelled), "-o", str(work / "m0"), "-c", str(codebook), *common])
    report = kappa(gold, work / "m0", common)
    results.append(_row("labelled-only", fraction, len(first), len(rest), report, started, learned))
    return results


def _row(path: str, fraction: float, coded: int, scored: int, report: dict, started: float, learned: str) -> dict:
    row = {
        "path": path,
        "fraction": fraction,
        "coded_highlights": coded,
        "scored_highlights": scored,
        "mean_kappa": report["mean_kappa"],
        "macro_f1": report["macro_f1"],
        "seconds": round(time.perf_counter() - started, 1),
        "learn_said": [
            line for line in learned.splitlines() if line.startswith(("learned from", "codebook ", "passages"))
        ],
    }
    print(
        f"{path:<14} {fraction:>8} {coded:>6} {scored:>6} {row['mean_kappa']:>8.3f} {row['macro_f1']:>8.3f}"
        f" {row['seconds']:>8}",
        flush=True,
    )
    for line in row["learn_said"]:
        print(f"    {line}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path, required=True)
    ap.add_argument("--fraction", type=float, default=0.25)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--cache-dir", type=Path, help="embedding cache folder")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    common = ["--cache-dir", str(args.cache_dir)] if args.cache_dir else []
    print(f"highlights of the first {args.fraction:g} of the documents of {args.gold} imported, the rest scored")
    print(f"{'path':<14} {'fraction':>8} {'coded':>6} {'scored':>6} {'kappa':>8} {'macroF1':>8} {'seconds':>8}")
    with tempfile.TemporaryDirectory(prefix="qcode-highlights-") as tmp:
        results = run(rows, args.codebook, args.fraction, common, Path(tmp))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"gold": str(args.gold), "codebook": str(args.codebook)}
        args.json.write_text(json.dumps({**meta, "rows": results}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
