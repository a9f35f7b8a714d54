"""One background fine-tune round of the review page (`qcode review serve --finetune`),
alone, and where its seconds go.

    .venv/bin/python benchmarks/finetune_round.py --gold G.jsonl --codebook C.yaml [--decided 100]
        [--limit 600] [--device cpu] [--json OUT]

A study of `--limit` gold passages (the seeded sample every benchmark draws) with the first
`--decided` of them decided as the gold says; `retune.retune` runs on it as the page's
worker does: the top layers tuned on the decisions less the held-out fifth, then the
learner scored on the held-out ones with the tuned and the original encoder, and, when the
tuned one wins, the whole study embedded with it. Prints the held-out check, the pairs,
the training seconds and precision, and the whole round's seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.codebook import resolve_codebook  # noqa: E402
from pipeline.reviewing import retune  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--decided", type=int, default=100)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    config = Config(model=args.model)
    _, items = load_gold(args.gold, args.codebook, limit=args.limit, seed=config.seed)
    labels = [list(item.labels) if n < args.decided else None for n, item in enumerate(items)]
    with tempfile.TemporaryDirectory(prefix="qcode-round-") as root:
        job = retune.RetuneJob(
            root,
            str(resolve_codebook(args.codebook)),
            config,
            1,
            [i.id for i in items],
            [i.text for i in items],
            labels,
            device=args.device,
        )
        done = retune.retune(job)
    result = {
        "gold": str(args.gold),
        "model": config.model,
        "passages": len(items),
        "decided": done.decisions,
        "top_layers": job.top_layers,
        "check": done.check,
        "won": done.encoder is not None,
        "round_seconds": round(done.seconds, 1),
    }
    check = done.check
    print(
        f"{done.decisions} decisions: {check['pairs']} pairs, training {check['training_seconds']} s"
        f" ({check['precision']}), round {result['round_seconds']} s; held out {check['held_out']}: wrong"
        f" {check['wrong_tuned']} tuned vs {check['wrong_current']} in use -> {'won' if result['won'] else 'lost'}",
        flush=True,
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
