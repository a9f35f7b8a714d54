"""What `qcode learn --finetune` buys: κ on a held-out fold with and without fine-tuning the
embedding model on the codebook plus N reviewed passages, and how long it takes here.

    .venv/bin/python benchmarks/finetune.py --gold G.jsonl --codebook C.yaml [--model minilm]
        [--sizes 50 200] [--fold 0] [--device auto] [--json OUT]

One of 5 folds (`--fold`) is coded; N passages are drawn (seeded) from the other four.
For each N: the usual learner on the frozen model, then the model fine-tuned on the
codebook plus those N passages (`pipeline/finetune.py`, as `qcode learn --finetune`) with
the usual learner on top. Slow on a CPU: MiniLM takes minutes per N, mpnet far longer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import Config, load_codebook  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import read_gold, score  # noqa: E402
from pipeline.finetune import finetune  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.model_folder import with_encoder  # noqa: E402
from pipeline.tag import CodebookTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def kappa(codebook, config, embedder, items, train, test) -> float:
    """Mean κ on `test` after learning from `train` (codebook only when it is empty)."""
    units = embed_units(embedder, [items[i].text for i in test], config)
    if len(train):
        data = Labelled([items[i].id for i in train], [items[i].text for i in train], [items[i].labels for i in train])
        tagger = LearnedTagger(codebook, config=config).fit(embedder, data)
    else:
        tagger = CodebookTagger(codebook, config=config).fit(embedder)
    predicted = [codes for _, codes in tagger.suggest(units)]
    return score([items[i].labels for i in test], predicted, codebook.code_ids).mean_kappa


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path, required=True)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--sizes", nargs="+", type=int, default=[50, 200])
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--top-layers", type=int, default=None, help="train only the top N layers (finetune_top.py)")
    ap.add_argument(
        "--pairs", type=int, default=None, help="pairs of each kind per coded text [default: as qcode learn]"
    )
    ap.add_argument("--top-lr", type=float, default=None, help="learning rate of the top layers")
    ap.add_argument(
        "--precision", default="auto", choices=["auto", "fp32", "bf16"], help="of the top-layer steps [auto]"
    )
    ap.add_argument("--json", type=Path)
    return ap.parse_args()


def tuned_row(args, codebook, config, items, train, test, tmp: Path) -> dict:
    """The fine-tuned figures for one size: the model tuned on the codebook plus `train`,
    the usual learner on top, κ on `test`, and what the tuning took."""
    data = Labelled([items[i].id for i in train], [items[i].text for i in train], [items[i].labels for i in train])
    started = time.perf_counter()
    extra = {"per_text": args.pairs} if args.pairs else {}
    out_dir = tmp / f"m{len(train)}"
    tuned = finetune(
        codebook,
        data,
        config=config,
        out_dir=out_dir,
        device=args.device,
        top_layers=args.top_layers,
        top_lr=args.top_lr,
        precision=args.precision,
        **extra,
    )
    tuned_config = with_encoder(config, out_dir)
    embedder = build_embedder(
        tuned_config.model_copy(update={"batch_size": config.batch_size, "seed": config.seed}),
        cache_dir=tmp / "cache",
        device=args.device,
    )
    return {
        "finetuned_kappa": round(kappa(codebook, tuned_config, embedder, items, train, test), 4),
        "pairs": tuned.pairs,
        "finetune_s": round(tuned.seconds, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "device": tuned.device,
        "precision": tuned.precision,
    }


def main() -> None:
    args = parse_args()
    config = Config(model=args.model)
    codebook = load_codebook(args.codebook)
    items = read_gold(args.gold, codebook)
    train_pool, test = list(KFold(n_splits=5, shuffle=True, random_state=config.seed).split(items))[args.fold]
    pool = np.random.default_rng(config.seed).permutation(train_pool)
    with tempfile.TemporaryDirectory(prefix="qcode-finetune-") as tmp:
        frozen = build_embedder(config, cache_dir=Path(tmp) / "cache", device=args.device)
        rows = [{"reviewed": 0, "frozen_kappa": round(kappa(codebook, config, frozen, items, [], test), 4)}]
        print(
            f"{args.gold} fold {args.fold} ({len(test)} passages), {config.model}: codebook only κ"
            f" {rows[0]['frozen_kappa']:.3f}",
            flush=True,
        )
        for n in args.sizes:
            row = {"reviewed": n, "frozen_kappa": round(kappa(codebook, config, frozen, items, pool[:n], test), 4)}
            row |= tuned_row(args, codebook, config, items, pool[:n], test, Path(tmp))
            rows.append(row)
            print(
                f"  {n:>4} reviewed: frozen κ {row['frozen_kappa']:.3f}, fine-tuned κ {row['finetuned_kappa']:.3f} "
                f"({row['pairs']} pairs, {row['finetune_s']}s fine-tuning on {row['device']}, {row['precision']})",
                flush=True,
            )
    if args.json:
        settings = {"fold": args.fold, "top_layers": args.top_layers, "top_lr": args.top_lr}
        summary = {"gold": str(args.gold), "codebook": codebook.name, "model": config.model, **settings, "rows": rows}
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
