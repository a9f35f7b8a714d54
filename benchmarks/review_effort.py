"""Reviewer effort with static suggestions and with live learning: a simulated reviewer
goes through a whole study in the review page's order and decides every passage as the
gold file says.

    .venv/bin/python benchmarks/review_effort.py --gold G.jsonl --codebook C.yaml [--relearn-every 20] [--json OUT]

For each passage it counts whether the suggestion shown was wrong (its pre-selected codes
are not the gold codes) and the keys pressed (one per code toggled, one to decide).
`static` shows the batch run's suggestions throughout (codebook-only tagging adapted to
the study, as `qcode code` writes them), in the page's queue order (most uncertain
first). `live` relearns from every decision so far after every N new ones, exactly as
`qcode review serve` does (LearnedTagger on the decided passages, the study unlabelled),
and, when the new model beats codebook-only suggestions in cross-validation on the
decisions, re-scores the pending passages (keeping the batch suggestion where the
reviews say to trust the codebook and it is surer, `live.keeps_batch`) and re-orders the
queue; the seconds spent
relearning are counted. Per 100 passages and over the study.

JSON: {"passages": N, "static": {"wrong": W, "keys": K, ...}, "live": {...}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import load_gold  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.review import uncertainty_of_scores  # noqa: E402
from pipeline.reviewing.live import keeps_batch  # noqa: E402
from pipeline.tag import CodebookTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def suggestions_of(tagger, units, index: list[int], threshold: float) -> dict[int, tuple[list[str], float]]:
    """passage -> (pre-selected codes, uncertainty) for the passages in `index`."""
    out = {}
    for i, (sugg, codes) in zip(index, tagger.suggest(units.take(index)) if index else []):
        out[i] = (codes, uncertainty_of_scores([(s.code, s.score) for s in sugg], threshold))
    return out


def simulate(items, units, codebook, config, embedder, *, relearn_every: int | None) -> dict:
    """Go through every passage in queue order; relearn every `relearn_every` decisions."""
    base = CodebookTagger(codebook, config=config).fit(embedder, units)
    shown = suggestions_of(base, units, list(range(len(items))), config.threshold)
    batch = dict(shown)
    decided: list[int] = []
    wrong, keys, seconds, relearns, used = [], [], 0.0, 0, 0
    while len(decided) < len(items):
        pending = [i for i in range(len(items)) if i not in set(decided)]
        i = min(pending, key=lambda j: (-shown[j][1], items[j].id))
        suggested, gold = set(shown[i][0]), set(items[i].labels)
        wrong.append(suggested != gold)
        keys.append(len(suggested ^ gold) + 1)
        decided.append(i)
        if relearn_every and len(decided) % relearn_every == 0 and len(decided) < len(items):
            started = time.perf_counter()
            data = Labelled(
                [items[j].id for j in decided], [items[j].text for j in decided], [items[j].labels for j in decided]
            )
            tagger = LearnedTagger(codebook, config=config).fit(embedder, data, study=units)
            if tagger.cv_["better"]:  # as the page: a model that does not beat codebook-only in CV is not used
                left = [j for j in range(len(items)) if j not in set(decided)]
                new = suggestions_of(tagger, units, left, config.threshold)
                shown.update({j: new[j] for j in left if not keeps_batch(tagger, new[j][1], batch[j][1])})
                used += 1
            seconds += time.perf_counter() - started
            relearns += 1
    per_100 = [
        {"from": s, "wrong": int(sum(wrong[s : s + 100])), "keys": int(sum(keys[s : s + 100]))}
        for s in range(0, len(wrong), 100)
    ]
    out = {"wrong": int(sum(wrong)), "keys": int(sum(keys)), "per_100": per_100}
    if relearn_every:
        out.update(relearn_every=relearn_every, relearns=relearns, used=used, relearn_seconds=round(seconds, 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--relearn-every", type=int, default=20)
    ap.add_argument(
        "--finetune", action="store_true", help="not available yet: fine-tuning in the background is not built"
    )
    ap.add_argument("--definitions-only", action="store_true", help="strip the codebook to names and definitions")
    ap.add_argument("--limit", type=int, help="a seeded sample of this many gold passages")
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.finetune:
        ap.error("--finetune: background fine-tuning is not built yet (see docs/reviewing.md)")
    config = Config(model=args.model)
    codebook, items = load_gold(
        args.gold, args.codebook, definitions_only=args.definitions_only, limit=args.limit, seed=config.seed
    )
    embedder = build_embedder(config)
    units = embed_units(embedder, [i.text for i in items], config)
    result = {"gold": str(args.gold), "codebook": codebook.name, "model": config.model, "passages": len(items)}
    for name, every in (("static", None), ("live", args.relearn_every)):
        result[name] = simulate(items, units, codebook, config, embedder, relearn_every=every)
        r = result[name]
        print(
            f"{name:<7} wrong {r['wrong']:>5} ({r['wrong'] / len(items):.1%})  keys {r['keys']:>6}"
            f" ({r['keys'] / len(items):.2f}/passage)"
            + (f"  {r['relearns']} relearns ({r['used']} used), {r['relearn_seconds']} s" if every else ""),
            flush=True,
        )
    s, live = result["static"], result["live"]
    result["live_vs_static"] = {
        "wrong": round(1 - live["wrong"] / max(s["wrong"], 1), 3),
        "keys": round(1 - live["keys"] / max(s["keys"], 1), 3),
    }
    print(
        f"live learning: {result['live_vs_static']['wrong']:.1%} fewer wrong suggestions,"
        f" {result['live_vs_static']['keys']:.1%} fewer keys"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
