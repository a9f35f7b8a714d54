"""The real workflow: a team codes its first documents by hand and qcode codes the rest.

    .venv/bin/python benchmarks/first_documents.py --gold G.jsonl --codebook C.yaml \
        [--fractions 0.1 0.25 0.5] [--json OUT]

Gold rows carry their document in `source` (or `transcript`) and come in document order.
For each fraction f, the first f of the documents (in file order: the first lessons,
conversations or sessions) are the coded ones and every row of the other documents is
scored (mean kappa over the codes present in them, macro-F1), for:

- `codebook`: the codebook-only tagger (adapted to the whole study, no labels read);
- `qcode`: `qcode learn`'s learner on the coded documents, with its defaults (it sees the
  whole study unlabelled, and each passage's neighbours through the documents);
- `logreg-top1`: a plain multinomial logistic regression on the same frozen vectors
  (each passage's mean unit vector), one code per passage (its first, or no code);
- `logreg-top1+nb`: the same with the previous and next passage's vectors beside (x 0.5).

The two baselines are the floor the learner must not fall below. `qcode-v9` (run only
when named) is the learner without its fourth way of deciding (learned-blend-v10's
"combined"), for the comparison in docs/tagging.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import ONE_WAY_AT_A_TIME, logreg_top1  # noqa: E402
from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.tag import CodebookTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402

LEARNERS = ("codebook", "qcode", "logreg-top1", "logreg-top1+nb", "qcode-v9")


def split(items, fraction: float) -> tuple[list[int], list[int]]:
    """(rows of the first `fraction` of the documents, rows of the rest)."""
    docs = list(dict.fromkeys(it.document for it in items))
    if None in docs:
        raise SystemExit("every gold row needs its document: a `source` or `transcript` key")
    first = set(docs[: max(1, math.ceil(fraction * len(docs)))])
    train = [i for i, it in enumerate(items) if it.document in first]
    return train, [i for i, it in enumerate(items) if it.document not in first]


def qcode(items, units, train, test, codebook, config, embedder, heads=LearnedTagger.heads) -> list[list[str]]:
    groups = [it.document for it in items]
    data = Labelled(
        [items[i].id for i in train],
        [items[i].text for i in train],
        [items[i].labels for i in train],
        [it.text for it in items],
        groups=[groups[i] for i in train],
        study_groups=groups,
        where=train,
    )
    tagger = LearnedTagger(codebook, config=config)
    tagger.heads = heads
    tagger.fit(embedder, data, study=units)
    qcode.last = tagger  # for the report of what it chose
    return [c for _, c in tagger.suggest(units.take(test), [groups[i] for i in test])]


def predict(learner, items, units, train, test, codebook, config, embedder) -> list[list[str]]:
    if learner == "codebook":
        tagger = CodebookTagger(codebook, config=config).fit(embedder, units)
        return [c for _, c in tagger.suggest(units.take(test))]
    if learner in ("qcode", "qcode-v9"):
        heads = LearnedTagger.heads if learner == "qcode" else ONE_WAY_AT_A_TIME
        return qcode(items, units, train, test, codebook, config, embedder, heads)
    return logreg_top1(items, units, train, test, neighbours=learner.endswith("+nb"), seed=config.seed)


def run(items, units, codebook, config, embedder, fractions, learners) -> list[dict]:
    rows = []
    for fraction in fractions:
        train, test = split(items, fraction)
        for learner in learners:
            started = time.perf_counter()
            predicted = predict(learner, items, units, train, test, codebook, config, embedder)
            report = score([items[i].labels for i in test], predicted, codebook.code_ids)
            row = {
                "fraction": fraction,
                "learner": learner,
                "coded_passages": len(train),
                "scored_passages": len(test),
                "mean_kappa": report.mean_kappa,
                "macro_f1": report.macro_f1,
                "seconds": round(time.perf_counter() - started, 1),
            }
            if learner.startswith("qcode"):
                row["chose"] = qcode.last.head_check_
            rows.append(row)
            print(
                f"{fraction:>8} {learner:<15} {len(train):>6} {len(test):>6} {report.mean_kappa:>8.3f}"
                f" {report.macro_f1:>8.3f} {row['seconds']:>7}",
                flush=True,
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path, required=True)
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.1, 0.25, 0.5])
    ap.add_argument("--learners", nargs="+", default=list(LEARNERS[:4]), choices=LEARNERS)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--model", default=Config().model, help="embedding model id or short name (minilm, mpnet)")
    ap.add_argument("--backend", default=Config().backend)
    args = ap.parse_args()

    config = Config(model=args.model, backend=args.backend)
    codebook, items = load_gold(args.gold, args.codebook, seed=config.seed)
    embedder = build_embedder(config)
    units = embed_units(embedder, [it.text for it in items], config)
    docs = len(set(it.document for it in items))
    print(f"first documents of {args.gold} ({len(items)} passages, {docs} documents), codebook {codebook.name}")
    print(f"{'fraction':>8} {'learner':<15} {'coded':>6} {'scored':>6} {'kappa':>8} {'macroF1':>8} {'seconds':>7}")
    rows = run(items, units, codebook, config, embedder, args.fractions, args.learners)
    if args.json:
        meta = {"gold": str(args.gold), "codebook": str(args.codebook), "model": config.model, "documents": docs}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
