"""How long `qcode import codebook` takes on a codebook sheet of many rows (issue 38 #13:
100,000 rows took 352 s when every row rebuilt the set of ids already taken).

    .venv/bin/python benchmarks/codebook_sheet.py [--rows 5000 20000 100000] [--json OUT]

Each size: a CSV of that many codes (name, definition; every tenth name repeated under
another id-clashing spelling), imported in-process; prints rows, seconds and rows per
second. Linear work keeps rows per second about flat as the sheet grows.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pipeline.codebook.table import table_codebook


def sheet(path: Path, rows: int) -> Path:
    lines = ["name,definition"]
    for i in range(rows):
        name = f"Code {i - 1}!" if i % 10 == 0 and i else f"Code {i}"  # "Code 9!" slugs as "Code 9": a clash to settle
        lines.append(f"{name},Talk about topic {i} and what follows from it")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", nargs="+", type=int, default=[5000, 20000, 100000])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = sheet(Path(tmp) / f"codes_{rows}.csv", rows)
            started = time.perf_counter()
            book = table_codebook(path)
            seconds = time.perf_counter() - started
            assert len(book["codes"]) == rows and len({c["id"] for c in book["codes"]}) == rows
            results.append({"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)})
            print(f"{rows:>7} rows  {seconds:7.2f} s  {rows / seconds:9.0f} rows/s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
