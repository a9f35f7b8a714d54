"""Codebook-only tagging across codebook richness: each gold set is coded with its full
codebook and with the same codebook stripped to names and definitions, by three rules.

    .venv/bin/python benchmarks/richness.py --set NAME GOLD CODEBOOK [--set ...] [--limit 2000] [--json OUT]

- top-1 cosine: each passage takes the code whose "name. definition" is nearest (the
  naive baseline a researcher could run by hand);
- unadapted: the codebook's sentences alone, a logistic regression per code, 0.5 (qcode's
  rule before the study adaptation, codebook-logreg-v2);
- qcode: the same, adapted to the study's own passages (adapt.py, `adapt`; no label read).

Mean Cohen's kappa over the codes present, macro-F1 beside it. Passages are scored by
their units as `qcode code` scores them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.codebook import definitions_only  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.tag import CodebookTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402

RULES = ("top-1 cosine", "unadapted", "qcode")


def top1_cosine(codebook, embedder, units) -> list[list[str]]:
    definitions = embedder.embed([f"{c.name}. {c.definition}" for c in codebook.codes])
    best = np.maximum.reduceat(units.vectors @ definitions.T, units.bounds[:-1], axis=0)
    return [[codebook.code_ids[int(k)]] for k in best.argmax(axis=1)]


def code_set(codebook, embedder, config, units, rule: str) -> list[list[str]]:
    if rule == "top-1 cosine":
        return top1_cosine(codebook, embedder, units)
    tagger = CodebookTagger(codebook, config=config).fit(embedder, units if rule == "qcode" else None)
    return [codes for _, codes in tagger.suggest(units)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", nargs=3, action="append", metavar=("NAME", "GOLD", "CODEBOOK"), required=True)
    ap.add_argument("--limit", type=int, default=2000, help="a seeded sample of this many passages per set")
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    config = Config(model=args.model)
    embedder = build_embedder(config)
    rows = []
    print(f"{'set':<28} {'codebook':<12} {'codes':>5} {'passages':>8} " + " ".join(f"{r:>14}" for r in RULES))
    for name, gold, codebook_path in args.set:
        full, items = load_gold(Path(gold), codebook_path, limit=args.limit, seed=config.seed)
        units = embed_units(embedder, [i.text for i in items], config)
        for richness, codebook in (("full", full), ("definitions", definitions_only(full))):
            row = {
                "set": name,
                "gold": gold,
                "codebook": richness,
                "codes": len(codebook.codes),
                "passages": len(items),
            }
            for rule in RULES:
                report = score(
                    [i.labels for i in items], code_set(codebook, embedder, config, units, rule), codebook.code_ids
                )
                row[rule] = {"mean_kappa": report.mean_kappa, "macro_f1": report.macro_f1}
            rows.append(row)
            print(
                f"{name:<28} {richness:<12} {row['codes']:>5} {row['passages']:>8} "
                + " ".join(f"{row[r]['mean_kappa']:>14.3f}" for r in RULES),
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps({"model": config.model, "limit": args.limit, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
