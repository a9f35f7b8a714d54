"""How much reviewing pays: macro-F1 and mean kappa after learning from 0, 25, 50, 100 and
all labelled passages, always scored on held-out folds.

    .venv/bin/python benchmarks/learning_curve.py [--gold eval/dev_gold.jsonl] [--codebook PATH] [--json OUT]

The gold file is split into 5 folds; for each fold, n passages are drawn from the other
four (seeded) to learn from, and the fold is coded. Scores pool the out-of-fold
predictions. n = 0 is the codebook-only tagger.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

from pipeline import Config, load_codebook
from pipeline.codebook import default_codebook_path
from pipeline.embed import build_embedder
from pipeline.evaluate import read_gold, score
from pipeline.learn import Labelled, LearnedTagger
from pipeline.tag import CodebookTagger
from pipeline.units import embed_units

SIZES = (0, 25, 50, 100, None)  # None = all


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=Path("eval/dev_gold.jsonl"))
    ap.add_argument("--codebook", type=Path, default=default_codebook_path())
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--model", default=Config().model, help="embedding model id or short name (minilm, mpnet)")
    ap.add_argument("--backend", default=Config().backend)
    args = ap.parse_args()

    config = Config(model=args.model, backend=args.backend)
    codebook = load_codebook(args.codebook)
    items = read_gold(args.gold, codebook)
    embedder = build_embedder(config.model, batch_size=config.batch_size, seed=config.seed, backend=config.backend)
    units = embed_units(embedder, [i.text for i in items], config)
    base = CodebookTagger(codebook, config=config).fit(embedder)
    rng = np.random.default_rng(config.seed)
    folds = list(KFold(n_splits=args.folds, shuffle=True, random_state=config.seed).split(items))
    rows = []
    for size in SIZES:
        started = time.perf_counter()
        predicted: dict[int, list[str]] = {}
        used = []
        for train, test in folds:
            pool = rng.permutation(train)
            chosen = pool if size is None else pool[: min(size, len(pool))]
            used.append(len(chosen))
            if len(chosen) == 0:
                tagger = base
            else:
                data = Labelled([items[i].id for i in chosen], [items[i].text for i in chosen], [items[i].labels for i in chosen])
                tagger = LearnedTagger(codebook, config=config).fit(embedder, data)
            for i, (_, codes) in zip(test, tagger.suggest(units.take(test))):
                predicted[int(i)] = codes
        order = sorted(predicted)
        report = score([items[i].labels for i in order], [predicted[i] for i in order], codebook.code_ids)
        rows.append(
            {
                "labelled": "all" if size is None else size,
                "mean_train_passages": round(float(np.mean(used)), 1),
                "macro_f1": report.macro_f1,
                "micro_f1": report.micro_f1,
                "mean_kappa": report.mean_kappa,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    print(f"learning curve on {args.gold} ({len(items)} passages, {args.folds} held-out folds), model {config.model} ({config.backend})")
    print(f"{'labelled':>9} {'used/fold':>9} {'macro-F1':>9} {'micro-F1':>9} {'mean kappa':>11} {'seconds':>8}")
    for r in rows:
        print(f"{r['labelled']:>9} {r['mean_train_passages']:>9} {r['macro_f1']:>9.3f} {r['micro_f1']:>9.3f} {r['mean_kappa']:>11.3f} {r['seconds']:>8}")
    if args.json:
        args.json.write_text(json.dumps({"gold": str(args.gold), "model": config.model, "backend": config.backend, "folds": args.folds, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
