"""One background fine-tune round of the review page (`qcode review serve --finetune`),
alone, and where its seconds go.

    .venv/bin/python benchmarks/finetune_round.py --gold G.jsonl --codebook C.yaml [--decided 100]
        [--limit 600] [--labelled FIRST.jsonl] [--pending] [--device cpu] [--json OUT]

A study of `--limit` gold passages (the seeded sample every benchmark draws) with the first
`--decided` of them decided as the gold says; `retune.retune` runs on it as the page's
worker does: the top layers tuned on the decisions less the held-out fifth, then the
learner scored on the held-out ones with the tuned and the original encoder, and, when the
tuned one wins, the whole study embedded with it. Prints the held-out check, the pairs,
the training seconds and precision, and the whole round's seconds.

`--labelled FILE`: the study was imported with FILE's coding (the batch model's
training.jsonl), which the round tunes on with the decisions, as the page does after an
import. `--pending`: also count the wrong suggestions on the study's pending passages
(every passage not decided, scored against the gold) with the encoder in use and the tuned
one, the learner fitted on every decision and FILE with each: a judge far larger than the
round's own held-out fifth (the tuned encoder is scored whether it won or not).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.codebook import load_codebook, resolve_codebook  # noqa: E402
from pipeline.reviewing import retune  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--decided", type=int, default=100)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--labelled", type=Path, help="the imported coding the study started from (gold JSONL)")
    ap.add_argument("--pending", action="store_true", help="also count wrong suggestions on every pending passage")
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
            prior=str(args.labelled) if args.labelled else None,
        )
        if args.pending:
            result = tuned_and_pending(job, items, Path(root) / "tuned")
        else:
            done = retune.retune(job)
            result = {"decided": done.decisions, "check": done.check, "won": done.encoder is not None}
            result["round_seconds"] = round(done.seconds, 1)
    result = {
        "gold": str(args.gold),
        "model": config.model,
        "passages": len(items),
        "top_layers": job.top_layers,
        **result,
    }
    result["labelled"] = str(args.labelled) if args.labelled else None
    check = result["check"]
    print(
        f"{result['decided']} decisions (+{check['prior']} imported): {check['pairs']} pairs, training"
        f" {check['training_seconds']} s ({check['precision']}), round {result['round_seconds']} s; held out"
        f" {check['held_out']}: wrong {check['wrong_tuned']} tuned vs {check['wrong_current']} in use ->"
        f" {'won' if result['won'] else 'lost'}",
        flush=True,
    )
    if args.pending:
        p = result["pending"]
        print(f"pending {p['passages']}: wrong {p['wrong_tuned']} tuned vs {p['wrong_current']} in use", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


def tuned_and_pending(job: retune.RetuneJob, items, out_dir: Path) -> dict:
    """The round's own check, as retune.retune makes it, and the wrong suggestions on every
    pending passage with each encoder (the learner fitted on every decision and the prior)."""
    started = time.perf_counter()
    codebook = load_codebook(job.codebook_path)
    learn, held = retune.tuning_sets(job, set(codebook.code_ids))
    trained, tuned = retune.tune(job, codebook, learn, out_dir)
    current, original = encoders = retune.encoders_in_use(job)
    check = retune.judge(job, codebook, (learn, held), trained, tuned, encoders)
    seconds = time.perf_counter() - started
    every = retune.Rows(*(a + b for a, b in zip(learn, held)))
    at = [n for n, label in enumerate(job.labels) if label is None]
    pending = retune.Rows([items[n].id for n in at], [items[n].text for n in at], [list(items[n].labels) for n in at])
    fixed = retune.choices_before(codebook, job.config, original, every, pending)
    in_use = retune.held_out_misses(codebook, job.config, current, every, pending, fixed)
    with_tuned = retune.held_out_misses(codebook, job.config, tuned, every, pending, fixed)
    return {
        "decided": job.decided,
        "check": check,
        "won": check["better"],
        "round_seconds": round(seconds, 1),
        "pending": {"passages": len(at), "wrong_current": int(in_use.sum()), "wrong_tuned": int(with_tuned.sum())},
    }


if __name__ == "__main__":
    main()
