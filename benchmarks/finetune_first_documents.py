"""Does tuning the encoder on the first coded documents pay on the rest?

    .venv/bin/python benchmarks/finetune_first_documents.py --gold G.jsonl --codebook C.yaml \
        [--fraction 0.1] [--top-layers 2] [--pairs 4]

The first `fraction` of the documents are coded (as in first_documents.py). The embedding
model's top layers are tuned on them (`pipeline.finetune.finetune`, on the CPU), the whole
study is embedded again with the tuned encoder, and qcode's learner and a plain top-1
logistic regression score the rest, on the frozen vectors and on the tuned ones.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from first_documents import logreg_top1, qcode, split  # noqa: E402
from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.finetune import finetune  # noqa: E402
from pipeline.learn import Labelled  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def scores(items, train, test, codebook, config) -> dict[str, float]:
    """Mean kappa on the rest of qcode's learner and the plain logistic regression."""
    embedder = build_embedder(config)
    units = embed_units(embedder, [it.text for it in items], config)
    gold = [items[i].labels for i in test]
    learned = qcode(items, units, train, test, codebook, config, embedder)
    plain = logreg_top1(items, units, train, test, neighbours=False, seed=config.seed)
    return {
        "qcode": score(gold, learned, codebook.code_ids).mean_kappa,
        "logreg-top1": score(gold, plain, codebook.code_ids).mean_kappa,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path, required=True)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--top-layers", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=4, help="pairs of each kind per coded passage")
    args = ap.parse_args()
    config = Config()
    codebook, items = load_gold(args.gold, args.codebook, seed=config.seed)
    train, test = split(items, args.fraction)
    started = time.perf_counter()
    frozen = scores(items, train, test, codebook, config)
    print(f"frozen: {frozen} ({len(train)} coded, {len(test)} scored, {time.perf_counter() - started:.0f}s)")
    data = Labelled([items[i].id for i in train], [items[i].text for i in train], [items[i].labels for i in train])
    with tempfile.TemporaryDirectory(prefix="qcode-tune-") as tmp:
        started = time.perf_counter()
        tuned = finetune(
            codebook,
            data,
            config=config,
            out_dir=Path(tmp),
            device="cpu",
            top_layers=args.top_layers,
            per_text=args.pairs,
        )
        after = scores(items, train, test, codebook, config.model_copy(update={"model": str(tuned.folder)}))
        print(
            f"tuned:  {after} ({tuned.pairs} pairs, tuning {tuned.seconds:.0f}s,"
            f" with embedding {time.perf_counter() - started:.0f}s)"
        )


if __name__ == "__main__":
    main()
