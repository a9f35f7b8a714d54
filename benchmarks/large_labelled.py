"""Thousands of labelled passages, dozens of codes: qcode's learner against TF-IDF +
LinearSVC (and the previous learner), trained on one part and scored on the other.

    .venv/bin/python benchmarks/corpora.py px PATH/v6framework_230831.csv --out out/real/px
    .venv/bin/python benchmarks/large_labelled.py [--train out/real/px/dev.jsonl --test out/real/px/test.jsonl --codebook out/real/px/codebook.yaml] [--json OUT]

Prints macro-F1, micro-F1 and mean kappa on the test part, and seconds to learn (embedding
not counted: it is cached, and the baseline needs none).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import PreviousLearner, TfidfSvc  # noqa: E402

from pipeline import Config, load_codebook  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import read_gold, score  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, default=Path("out/real/px/dev.jsonl"))
    ap.add_argument("--test", type=Path, default=Path("out/real/px/test.jsonl"))
    ap.add_argument("--codebook", type=Path, default=Path("out/real/px/codebook.yaml"))
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--json", type=Path)
    return ap.parse_args()


def scored_row(name: str, fit_predict, test, code_ids: list[str]) -> dict:
    """Fit and predict with `fit_predict`, score it on the test passages, print the row."""
    started = time.perf_counter()
    report = score([i.labels for i in test], fit_predict(), code_ids)
    row = {
        "learner": name,
        "macro_f1": report.macro_f1,
        "micro_f1": report.micro_f1,
        "mean_kappa": report.mean_kappa,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(
        f"{name:<32} macro-F1 {report.macro_f1:.3f}  micro-F1 {report.micro_f1:.3f}  mean κ {report.mean_kappa:.3f}"
        f"  {row['seconds']:>6}s",
        flush=True,
    )
    return row


def main() -> None:
    args = parse_args()
    config = Config(model=args.model)
    codebook = load_codebook(args.codebook)
    train, test = read_gold(args.train, codebook), read_gold(args.test, codebook)
    data = Labelled([i.id for i in train], [i.text for i in train], [i.labels for i in train])
    embedder = build_embedder(config)
    t = time.perf_counter()
    units = embed_units(embedder, [i.text for i in test], config)
    embed_units(embedder, data.texts, config)
    print(
        f"{len(train)} training passages, {len(test)} test passages, {len(codebook.codes)} codes; model {config.model}"
        f" (embedding {time.perf_counter() - t:.0f}s, cached after)"
    )
    learners = {
        "TF-IDF + LinearSVC": lambda: (
            TfidfSvc(codebook, config.seed).fit(data.texts, data.labels).predict([i.text for i in test])
        ),
        "previous qcode learn (v2)": lambda: PreviousLearner(codebook, config).fit(embedder, data).predict(units),
        "qcode learn": lambda: [
            c for _, c in LearnedTagger(codebook, config=config).fit(embedder, data).suggest(units)
        ],
    }
    rows = [scored_row(name, fit_predict, test, codebook.code_ids) for name, fit_predict in learners.items()]
    if args.json:
        where = {"train": str(args.train), "test": str(args.test), "codebook": codebook.name, "model": config.model}
        args.json.write_text(json.dumps({**where, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
