"""A real double-coded survey as qcode gold files: educators' free-text answers about
online exam proctoring, coded by the authors (Balash et al., "Educators' Perspectives of
Using (or Not Using) Online Exam Proctoring", USENIX Security 2023;
github.com/gwusec/2023-USENIX-Educator-Perspectives-of-Exam-Proctoring, folder
data/qualitative-data/irr_inputs; the repository states no licence, so the answers are
only read here, never copied into qcode).

    .venv/bin/python benchmarks/edu_survey.py IRR_INPUTS --question Q5 --out out/real/edu \
        [--quote-examples codebook/proctoring_q5.yaml]

Each question's answers were coded by a primary and a secondary coder ("code" or
"code->sub-code" in the columns `Code 1`, `Code 2`...). A row's labels are its top-level
codes (before "->"), spelled as ids ("don't_know" -> "dont_know"). `NA` (an answer with
nothing to code) means no code. Only codes the primary coder gave at least `--min` times
(2) are kept: the codebook a user would write. Writes `{question}_primary.jsonl` and
`{question}_secondary.jsonl` (the answers the secondary coder coded, about a fifth) and
prints each code's count and the two coders' Cohen's kappa per code on those answers,
mean over the kept codes present there.

`--quote-examples CODEBOOK` also writes `{question}_quoted.yaml`: the codebook with each
code's examples replaced by the first answers the primary coder gave it (one fewer than it
gave, one to three), as a user who copies quotes into a codebook writes one (issue 36's
survey codebook was written so). It holds the answers' text, so it stays outside the
repository with the gold files.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import slug  # noqa: E402

from pipeline.kappa import cohen_kappa  # noqa: E402

NO_CODE = {"NA"}


def code_id(code: str) -> str:
    """A code's top-level id ("don't_know->unaware" -> "dont_know")."""
    return slug(code.split("->")[0].replace("'", ""))


def read_coder(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{response id: (answer, top-level code ids)} of one coder's CSV: the answers the
    coder coded (at least one code, `NA` included)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    out = {}
    for row in rows[1:]:
        if not row or not row[0].strip() or not row[1].strip() or not any(c.strip() for c in row[2:]):
            continue
        codes = [c for c in row[2:] if c.strip() and c.split("->")[0].strip() not in NO_CODE]
        out[row[0].strip()] = (row[1].strip(), sorted({code_id(c) for c in codes}))
    return out


def find(folder: Path, question: str, coder: str) -> Path:
    found = sorted(folder.glob(f"* - {question} ({coder}).csv"))
    if not found:
        raise SystemExit(f"{folder}: no CSV for {question} ({coder})")
    return found[0]


def survey_gold(folder: Path, question: str, least: int = 2) -> tuple[dict[str, list[dict]], dict[str, int], dict]:
    """({coder: gold rows}, {kept code: times the primary coder gave it}, {kept code: the
    coders' kappa on the answers both coded, None where neither gave it there})."""
    coders = {c: read_coder(find(folder, question, c)) for c in ("primary", "secondary")}
    counts = Counter(c for _, codes in coders["primary"].values() for c in codes)
    kept = {c: n for c, n in sorted(counts.items()) if n >= least}
    both = [i for i in coders["primary"] if i in coders["secondary"]]
    gold = {}
    for coder, rows in coders.items():
        ids = list(rows) if coder == "primary" else both
        gold[coder] = [{"id": i, "text": rows[i][0], "labels": [c for c in rows[i][1] if c in kept]} for i in ids]
    kappas = {}
    for code in kept:
        a = [int(code in coders["primary"][i][1]) for i in both]
        b = [int(code in coders["secondary"][i][1]) for i in both]
        kappas[code] = cohen_kappa(a, b) if any(a) or any(b) else None
    return gold, kept, kappas


def quoted_codebook(codebook: dict, rows: list[dict]) -> dict:
    """`codebook` (YAML data) with each code's examples the first answers coded with it."""
    out = {**codebook, "name": f"{codebook['name']} (examples quoted from the answers)", "codes": []}
    for code in codebook["codes"]:
        answers = [r["text"] for r in rows if code["id"] in r["labels"]]
        out["codes"].append({**code, "examples": answers[: min(3, max(1, len(answers) - 1))]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="data/qualitative-data/irr_inputs of the repository")
    ap.add_argument("--question", default="Q5")
    ap.add_argument("--min", type=int, default=2, help="keep codes the primary coder gave at least this often")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--quote-examples", type=Path, metavar="CODEBOOK", help="also write the codebook with quoted examples"
    )
    args = ap.parse_args()
    gold, kept, kappas = survey_gold(args.folder, args.question, args.min)
    args.out.mkdir(parents=True, exist_ok=True)
    for coder, items in gold.items():
        path = args.out / f"{args.question.lower()}_{coder}.jsonl"
        path.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    if args.quote_examples:
        book = quoted_codebook(yaml.safe_load(args.quote_examples.read_text(encoding="utf-8")), gold["primary"])
        path = args.out / f"{args.question.lower()}_quoted.yaml"
        path.write_text(yaml.safe_dump(book, sort_keys=False, allow_unicode=True), encoding="utf-8")
    print(
        f"{args.question}: {len(gold['primary'])} answers, {len(gold['secondary'])} coded by both;"
        f" {len(kept)} codes kept (given >= {args.min} times)"
    )
    for code, n in kept.items():
        k = "-" if kappas[code] is None else f"{kappas[code]:.3f}"
        print(f"  {code:<32} {n:>4}  coders' kappa {k}")
    shown = [k for k in kappas.values() if k is not None]
    print(
        f"mean coders' kappa over the {len(shown)} codes in the answers both coded: {sum(shown) / max(len(shown), 1):.3f}"
    )


if __name__ == "__main__":
    main()
