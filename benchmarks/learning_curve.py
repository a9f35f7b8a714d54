"""How much reviewing pays: mean kappa and macro/micro-F1 after learning from 0, 25, 50,
100, 200 and all labelled passages, always scored on held-out folds, for qcode's learner,
the previous one, TF-IDF + LinearSVC trained on the same reviewed passages, and a plain
logistic regression on the same frozen vectors, one code per passage (`logreg-top1`).
`qcode-v9` is qcode's learner without its fourth way of deciding (learned-blend-v10's
"combined"), for the comparison in docs/tagging.md; it is run only when named.

    .venv/bin/python benchmarks/learning_curve.py --gold G.jsonl --codebook C.yaml [--reps 3] [--json OUT]

The gold file is split into 5 folds; for each fold, n passages are drawn at random from
the other four (seeded; `--reps` draws) to learn from, and the fold is coded. Scores pool
the out-of-fold predictions; with several draws, the mean and standard deviation over
draws are shown. n = 0 is the codebook-only tagger.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import ONE_WAY_AT_A_TIME, PreviousLearner, TfidfSvc, logreg_top1  # noqa: E402
from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.tag import CodebookTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402

SIZES = (0, 25, 50, 100, 200, None)  # None = all
LEARNERS = ("qcode", "previous", "tfidf-svc", "logreg-top1", "qcode-v9")


def predict(learner, items, train, test, units, codebook, config, embedder, base):
    """Codes for the `test` passages after learning from the `train` ones. (The codebook
    part of qcode's tagger adapts to every passage of the study, `units`, without their
    labels, as `qcode code` adapts to the passages it codes.)"""
    if len(train) == 0:
        return [c for _, c in base.suggest(units.take(test))]
    data = Labelled([items[i].id for i in train], [items[i].text for i in train], [items[i].labels for i in train])
    if learner in ("qcode", "qcode-v9"):
        data.where = [int(i) for i in train]  # their places in the study, whose other passages are unlabelled
        tagger = LearnedTagger(codebook, config=config)
        if learner == "qcode-v9":
            tagger.heads = ONE_WAY_AT_A_TIME
        return [c for _, c in tagger.fit(embedder, data, study=units).suggest(units.take(test))]
    if learner == "logreg-top1":
        return logreg_top1(items, units, train, test, neighbours=False, seed=config.seed)
    if learner == "previous":
        return PreviousLearner(codebook, config).fit(embedder, data).predict(units.take(test))
    return TfidfSvc(codebook, config.seed).fit(data.texts, data.labels).predict([items[i].text for i in test])


def curve(items, codebook, config, embedder, folds, size, learner, reps):
    units = embed_units(embedder, [i.text for i in items], config)
    base = CodebookTagger(codebook, config=config).fit(embedder, units)
    scores, used = [], []
    for rep in range(1 if size in (0, None) else reps):
        rng = np.random.default_rng(config.seed + rep)
        predicted: dict[int, list[str]] = {}
        for train, test in folds:
            pool = rng.permutation(train)
            chosen = pool if size is None else pool[: min(size, len(pool))]
            used.append(len(chosen))
            for i, codes in zip(test, predict(learner, items, chosen, test, units, codebook, config, embedder, base)):
                predicted[int(i)] = codes
        order = sorted(predicted)
        scores.append(score([items[i].labels for i in order], [predicted[i] for i in order], codebook.code_ids))
    return {
        "mean_kappa": round(float(np.mean([s.mean_kappa for s in scores])), 4),
        "kappa_sd": round(float(np.std([s.mean_kappa for s in scores])), 4),
        "macro_f1": round(float(np.mean([s.macro_f1 for s in scores])), 4),
        "micro_f1": round(float(np.mean([s.micro_f1 for s in scores])), 4),
        "draws": len(scores),
        "mean_train_passages": round(float(np.mean(used)), 1),
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=Path("eval/dev_gold.jsonl"))
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3, help="random draws of the reviewed passages per size")
    ap.add_argument("--learners", nargs="+", default=list(LEARNERS[:4]), choices=LEARNERS)
    ap.add_argument("--sizes", nargs="+", default=[str(s) if s is not None else "all" for s in SIZES])
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--definitions-only", action="store_true", help="strip the codebook to names and definitions")
    ap.add_argument("--limit", type=int, help="a seeded sample of this many gold passages")
    ap.add_argument("--model", default=Config().model, help="embedding model id or short name (minilm, mpnet)")
    ap.add_argument("--backend", default=Config().backend)
    return ap.parse_args()


def write_json(args: argparse.Namespace, codebook, config, rows: list[dict]) -> None:
    settings = {"folds": args.folds, "reps": args.reps, "definitions_only": args.definitions_only, "limit": args.limit}
    where = {"gold": str(args.gold), "codebook": codebook.name, "model": config.model, "backend": config.backend}
    args.json.write_text(json.dumps({**where, **settings, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


def main() -> None:
    args = parse_args()
    config = Config(model=args.model, backend=args.backend)
    codebook, items = load_gold(
        args.gold, args.codebook, definitions_only=args.definitions_only, limit=args.limit, seed=config.seed
    )
    embedder = build_embedder(config)
    folds = list(KFold(n_splits=args.folds, shuffle=True, random_state=config.seed).split(items))
    rows = []
    print(
        f"learning curve on {args.gold} ({len(items)} passages, {args.folds} held-out folds), codebook {codebook.name},"
        f" model {config.model}"
    )
    print(f"{'labelled':>9} {'learner':<10} {'mean kappa':>14} {'macro-F1':>9} {'micro-F1':>9} {'seconds':>8}")
    for size in [None if s == "all" else int(s) for s in args.sizes]:
        for learner in ["codebook"] if size == 0 else args.learners:
            started = time.perf_counter()
            row = curve(items, codebook, config, embedder, folds, size, learner if size != 0 else "qcode", args.reps)
            row.update(labelled="all" if size is None else size, learner=learner)
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(
                f"{row['labelled']:>9} {learner:<10} {row['mean_kappa']:>7.3f} ±{row['kappa_sd']:.3f}"
                f" {row['macro_f1']:>9.3f} {row['micro_f1']:>9.3f} {row['seconds']:>8}",
                flush=True,
            )
    if args.json:
        write_json(args, codebook, config, rows)


if __name__ == "__main__":
    main()
