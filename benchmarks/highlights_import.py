"""The think-aloud workflow of issue 35, run with the real commands: a team exports the
highlights of its first coded sessions from a tool such as Taguette, imports them, learns,
and scores the highlights of the other sessions.

    .venv/bin/python benchmarks/highlights_import.py --gold G.jsonl --codebook C.yaml \
        [--fraction 0.25 | --documents 5] [--codebook-table] [--study-only] [--json OUT]

Gold rows carry their document in `source` (or `transcript`), in document order; only
coded rows are highlights (a highlights export holds nothing else), so uncoded rows are
left out on both sides. The first `fraction` of the documents (or the first `--documents`
of them) become a highlights table
(`document, tag, content`, one row per code of a highlight, as Taguette writes it); the
coded rows of the other documents are the gold file `qcode evaluate` scores. Two paths:

- `import-study` (this release): `qcode import project TABLE --codebook C -o IMP`,
  `qcode learn IMP`, `qcode evaluate --gold REST --model IMP/learned`. The table's
  documents are made from its highlights, so `learn` knows each passage's session and
  neighbours;
- `labelled-only` (the release before; left out with `--study-only`): the same
  highlights as labelled rows with no document (what `import project` of a table wrote
  then), `qcode learn FILE -o M -c C`, `qcode evaluate --gold REST --model M`;
- `logreg-top1`, `logreg-top1+nb`: the floor, a plain logistic regression on the same
  frozen vectors of the same highlights, one code each, without and with the highlights
  before and after it in its session (benchmarks/baselines.py).

With `--codebook-table` the codebook comes in as a team exports it from Taguette: a
codebook CSV of each code's id (the tag) and definition (its description), without the
codebook's names, examples or themes, as in issue 35's study.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import logreg_top1  # noqa: E402
from gold import load_gold  # noqa: E402

from pipeline import Config, load_codebook  # noqa: E402
from pipeline.cli import app  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def document_of(row: dict) -> str:
    doc = row.get("source", row.get("transcript"))
    if doc is None:
        raise SystemExit("every gold row needs its document: a `source` or `transcript` key")
    return str(doc)


def split(rows: list[dict], fraction: float, documents: int | None = None) -> tuple[list[dict], list[dict]]:
    """(coded rows of the first `fraction` of the documents, or of the first `documents`
    of them, and coded rows of the rest)."""
    docs = list(dict.fromkeys(document_of(r) for r in rows))
    first = set(docs[: documents or max(1, math.ceil(fraction * len(docs)))])
    coded = [r for r in rows if r["labels"]]
    return [r for r in coded if document_of(r) in first], [r for r in coded if document_of(r) not in first]


def write_table(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "document", "tag", "content"])
        for n, r in enumerate(rows):
            for code in r["labels"]:
                out.writerow([n, f"session {document_of(r)}", code, r["text"]])


def write_codebook_table(codebook: Path, path: Path) -> Path:
    """The codebook as Taguette's codebook CSV: tag (the code's id), description (its
    definition), number of highlights."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["tag", "description", "number of highlights"])
        for code in load_codebook(codebook).codes:
            out.writerow([code.id, " ".join(code.definition.split()), 0])
    return path


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def invoke(args: list[str], messages: bool = False) -> str:
    """What the command wrote to stdout (and, with `messages`, to stderr after it)."""
    res = CliRunner().invoke(app, args)
    if res.exit_code != 0:
        raise SystemExit(f"qcode {' '.join(args)}: exit {res.exit_code}\n{res.stderr}")
    return res.stdout + (res.stderr if messages else "")


def kappa(gold: Path, model: Path, common: list[str]) -> dict:
    return json.loads(invoke(["evaluate", "--gold", str(gold), "--model", str(model), "--json", *common]))


def gold_rows(rows: list[dict]) -> list[dict]:
    return [{"id": r["id"], "text": r["text"], "labels": r["labels"], "source": document_of(r)} for r in rows]


def part_of(args: argparse.Namespace) -> float | str:
    """What is imported, as the results name it: the fraction, or "N docs"."""
    return f"{args.documents} docs" if args.documents else args.fraction


def run(rows: list[dict], args: argparse.Namespace, work: Path) -> list:
    """The two import paths and the plain classifier on the first part's highlights
    (`args`: main's options), each scored on the rest."""
    codebook, table_book, part = args.codebook, args.codebook_table, part_of(args)
    common = ["--cache-dir", str(args.cache_dir)] if args.cache_dir else []
    first, rest = split(rows, args.fraction, args.documents)
    table, gold = work / "highlights.csv", work / "rest.jsonl"
    write_table(first, table)
    write_jsonl(gold_rows(rest), gold)
    book = write_codebook_table(codebook, work / "codebook.csv") if table_book else codebook
    results = []
    started = time.perf_counter()
    invoke(["import", "project", str(table), "--codebook", str(book), "-o", str(work / "imp"), *common])
    learned = invoke(["learn", str(work / "imp"), *common], messages=True)
    report = kappa(gold, work / "imp" / "learned", common)
    results.append(_row("import-study", part, len(first), len(rest), report, started, learned))
    if not args.study_only:
        book = work / "imp" / "codebook.yaml" if table_book else codebook
        results.append(labelled_only(first, gold, book, part, len(rest), common, work))
    return results + baselines(first, rest, codebook, part, work, args.cache_dir)


def labelled_only(first: list[dict], gold: Path, book: Path, part, scored: int, common: list[str], work: Path) -> dict:
    """The same highlights learned as labelled rows with no document, scored on `gold`."""
    started = time.perf_counter()
    labelled = work / "labelled_nodoc.jsonl"
    write_jsonl([{"id": r["id"], "text": r["text"], "labels": sorted(r["labels"])} for r in first], labelled)
    learned = invoke(["learn", str(labelled), "-o", str(work / "m0"), "-c", str(book), *common], messages=True)
    report = kappa(gold, work / "m0", common)
    return _row("labelled-only", part, len(first), scored, report, started, learned)


def baselines(first: list[dict], rest: list[dict], codebook: Path, part, work: Path, cache_dir: Path | None) -> list:
    """The plain classifier on the same highlights' frozen vectors (from the cache the
    commands filled), the neighbours being the highlights before and after in the session."""
    path = work / "highlights.jsonl"
    write_jsonl(gold_rows(first + rest), path)
    config = Config()
    book, items = load_gold(path, codebook, seed=config.seed)
    units = embed_units(build_embedder(config, cache_dir=cache_dir), [it.text for it in items], config)
    train, test = list(range(len(first))), list(range(len(first), len(items)))
    results = []
    for neighbours in (False, True):
        started = time.perf_counter()
        predicted = logreg_top1(items, units, train, test, neighbours=neighbours, seed=config.seed)
        scored = score([items[i].labels for i in test], predicted, book.code_ids)
        report = {"mean_kappa": scored.mean_kappa, "macro_f1": scored.macro_f1}
        name = "logreg-top1" + ("+nb" if neighbours else "")
        results.append(_row(name, part, len(first), len(rest), report, started, ""))
    return results


def _row(path: str, fraction: float | str, coded: int, scored: int, report: dict, started: float, learned: str) -> dict:
    row = {
        "path": path,
        "fraction": fraction,
        "coded_highlights": coded,
        "scored_highlights": scored,
        "mean_kappa": report["mean_kappa"],
        "macro_f1": report["macro_f1"],
        "seconds": round(time.perf_counter() - started, 1),
        "learn_said": [
            line
            for line in learned.splitlines()
            if line.startswith(("learned from", "codebook ", "passages", "encoder:"))
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
    ap.add_argument("--documents", type=int, help="import the first N documents instead of a fraction")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--cache-dir", type=Path, help="embedding cache folder")
    ap.add_argument(
        "--codebook-table",
        action="store_true",
        help="import the codebook as Taguette's codebook CSV (ids and definitions only), as a team exports it",
    )
    ap.add_argument(
        "--study-only",
        action="store_true",
        help="skip the labelled-only path (from 450 highlights each path checks whether tuning the encoder pays)",
    )
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"highlights of the first {part_of(args)} of the documents of {args.gold} imported, the rest scored")
    print(f"{'path':<14} {'fraction':>8} {'coded':>6} {'scored':>6} {'kappa':>8} {'macroF1':>8} {'seconds':>8}")
    with tempfile.TemporaryDirectory(prefix="qcode-highlights-") as tmp:
        results = run(rows, args, Path(tmp))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"gold": str(args.gold), "codebook": str(args.codebook), "codebook_table": args.codebook_table}
        args.json.write_text(json.dumps({**meta, "rows": results}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
