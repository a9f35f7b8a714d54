"""How much the learner's choices depend on how its cross-validation folds fall: the same
labelled passages given to `qcode learn`'s learner in several orders (the folds shuffle
positions, so another order is another split), each fit scored on the study's other passages.

    .venv/bin/python benchmarks/fold_splits.py --gold REST.jsonl --codebook C.yaml \\
        [--labelled FIRST.jsonl] [--decided 100] [--limit 600] [--orders 4] [--json OUT]

The study is `--limit` gold passages (the seeded sample every benchmark draws); the first
`--decided` of them and every passage of `--labelled` (an imported coding) are learned from;
the rest are scored: wrong suggestions (pre-selected codes that are not the gold codes) and
mean kappa. Order 0 is the rows as given (decided first, then the import); order r > 0 is a
permutation drawn with seed r. Per order it prints the codebook trust, how passages are
decided (with the out-of-fold kappa of each way and the gain's standard error), each code's
mode and the scores.

JSON: {"passages": N, "learned_from": M, "orders": [{"order": r, "trust": [...], "head": ..., "wrong": W, "kappa": K}, ...]}.
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
from pipeline.decision import mean_kappa  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import label_matrix  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.model_folder import training_rows  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def one_order(codebook, config, embedder, rows: list[tuple], order: np.ndarray, scored, scored_units) -> dict:
    """The learner fitted on `rows` in `order`: its choices and its scores on `scored`."""
    picked = [rows[i] for i in order]
    data = Labelled([r[0] for r in picked], [r[1] for r in picked], [r[2] for r in picked])
    tagger = LearnedTagger(codebook, config=config)
    tagger.fit(embedder, data, study=embed_units(embedder, data.texts, config))
    chosen = tagger.choices()
    codes = [c for _, c in tagger.suggest(scored_units)]
    gold = [list(item.labels) for item in scored]
    ids = codebook.code_ids
    head = chosen["head"] or {}
    return {
        "trust": chosen["trust"],
        "head": head.get("chosen", "codes"),
        "head_kappa": head.get("mean_kappa_out_of_fold"),
        "head_gains": head.get("gains"),
        "modes": chosen["modes"],
        "wrong": sum(set(c) != set(g) for c, g in zip(codes, gold)),
        "kappa": round(mean_kappa(label_matrix(gold, ids), label_matrix(codes, ids)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--labelled", type=Path, help="an imported coding, learned from too (gold JSONL)")
    ap.add_argument("--decided", type=int, default=100)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--orders", type=int, default=4)
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    config = Config(model=args.model)
    codebook, items = load_gold(args.gold, args.codebook, limit=args.limit, seed=config.seed)
    prior = training_rows(args.labelled, set(codebook.code_ids)) if args.labelled else []
    rows = [(i.id, i.text, list(i.labels)) for i in items[: args.decided]]
    rows += [(r["id"], r["text"], list(r["labels"])) for r in prior]
    scored = items[args.decided :]
    embedder = build_embedder(config)
    scored_units = embed_units(embedder, [i.text for i in scored], config)
    result = {"gold": str(args.gold), "passages": len(scored), "learned_from": len(rows), "orders": []}
    for r in range(args.orders):
        order = np.arange(len(rows)) if r == 0 else np.random.default_rng(r).permutation(len(rows))
        line = {"order": r, **one_order(codebook, config, embedder, rows, order, scored, scored_units)}
        result["orders"].append(line)
        gains = {k: (v["gain"], v["se"]) for k, v in (line["head_gains"] or {}).items()}
        print(
            f"order {r}: trust {line['trust']}, decided by {line['head']} (gain, SE: {gains}),"
            f" modes {list(line['modes'].values())}; on the other {len(scored)}: wrong {line['wrong']},"
            f" kappa {line['kappa']}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
