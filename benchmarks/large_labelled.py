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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, default=Path("out/real/px/dev.jsonl"))
    ap.add_argument("--test", type=Path, default=Path("out/real/px/test.jsonl"))
    ap.add_argument("--codebook", type=Path, default=Path("out/real/px/codebook.yaml"))
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    config = Config(model=args.model)
    codebook = load_codebook(args.codebook)
    train, test = read_gold(args.train, codebook), read_gold(args.test, codebook)
    data = Labelled([i.id for i in train], [i.text for i in train], [i.labels for i in train])
    embedder = build_embedder(config)
    t = time.perf_counter()
    units = embed_units(embedder, [i.text for i in test], config)
    embed_units(embedder, data.texts, config)
    embed_seconds = time.perf_counter() - t
    rows = []

    def run(name, fit_predict):
        started = time.perf_counter()
        predicted = fit_predict()
        report = score([i.labels for i in test], predicted, codebook.code_ids)
        rows.append(
            {
                "learner": name,
                "macro_f1": report.macro_f1,
                "micro_f1": report.micro_f1,
                "mean_kappa": report.mean_kappa,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(
            f"{name:<32} macro-F1 {report.macro_f1:.3f}  micro-F1 {report.micro_f1:.3f}  mean κ {report.mean_kappa:.3f}"
            f"  {rows[-1]['seconds']:>6}s",
            flush=True,
        )

    print(
        f"{len(train)} training passages, {len(test)} test passages, {len(codebook.codes)} codes; model {config.model}"
        f" (embedding {embed_seconds:.0f}s, cached after)"
    )
    run(
        "TF-IDF + LinearSVC",
        lambda: TfidfSvc(codebook, config.seed).fit(data.texts, data.labels).predict([i.text for i in test]),
    )
    run("previous qcode learn (v2)", lambda: PreviousLearner(codebook, config).fit(embedder, data).predict(units))
    run(
        "qcode learn", lambda: [c for _, c in LearnedTagger(codebook, config=config).fit(embedder, data).suggest(units)]
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "train": str(args.train),
                    "test": str(args.test),
                    "codebook": codebook.name,
                    "model": config.model,
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
