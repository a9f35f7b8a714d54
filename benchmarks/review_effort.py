"""Reviewer effort with static suggestions, live learning and live learning with
fine-tuning: a simulated reviewer goes through a whole study in the review page's order
and decides every passage as the gold file says.

    .venv/bin/python benchmarks/review_effort.py --gold G.jsonl --codebook C.yaml [--relearn-every 20] [--order file] [--finetune] [--ceiling] [--json OUT]

For each passage it counts whether the suggestion shown was wrong (its pre-selected codes
are not the gold codes) and the keys pressed (one per code toggled, one to decide).
`static` shows the batch run's suggestions throughout (codebook-only tagging adapted to
the study, as `qcode code` writes them; with `--labelled FILE`, a model learned from the
passages coded before, as `qcode code --model` writes them); live models then learn from
FILE and the decisions together. `live` relearns from every decision so far after every N
new ones with the page's own code (`relearn.pending_suggestions`: the learner of `qcode
learn`, then whichever of the batch run, that learner and the decision model, alone or
with the codes each passage's transcript has received, made the fewest wrong suggestions
on the decided passages) and re-orders the queue; where the chosen model reads the
transcript, the pending passages of a decided passage's transcript are rescored after
each decision, as the page does (`context.py`). `live_finetune` also fine-tunes the
embedding model as the page does with --finetune (`retune.retune`: after 50 decisions,
then every 100 more, swapped in only when it beats the encoder in use on held-out
decisions); the simulated reviewer waits for nothing, and the background seconds are
counted.

The reviewer takes the passages in the page's queue order (most uncertain first) or, with
`--order file`, in file order, transcript after transcript: the page's order after an
import (`review serve` without `--order`, where the batch run's model learned from coded
passages).

`--ceiling` also measures how far live learning can go on the study: each fifth of the
passages (every fifth in order) suggested by the page's relearn with every other passage
decided, as at the end of a review (`ceiling`).

JSON: {"passages": N, "static": {"wrong": W, "keys": K, ...}, "live": {...}, "live_finetune": {...},
"ceiling": {"wrong": W, "batch_wrong": W, ...}}.
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
from pipeline.codebook import resolve_codebook  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.learn import Labelled, LearnedTagger  # noqa: E402
from pipeline.model_folder import training_rows  # noqa: E402
from pipeline.reviewing import retune  # noqa: E402
from pipeline.reviewing.choice import misses  # noqa: E402
from pipeline.reviewing.relearn import Snapshot, pending_suggestions, training_set  # noqa: E402
from pipeline.reviewing.reviews import uncertainty_of_scores  # noqa: E402
from pipeline.tag import CodebookTagger  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


def batch_suggestions(units, codebook, config, embedder, items, prior=()) -> tuple[dict, list]:
    """({passage: (the batch run's codes, their uncertainty)}, each passage's suggestions
    (Suggestion, best first)): codebook-only, or with a `prior` coding (gold lines) a model
    learned from it, as `qcode code --model` would."""
    groups = [it.document for it in items]
    if prior:
        texts = [it.text for it in items] + [row["text"] for row in prior]
        data = Labelled(
            [row["id"] for row in prior],
            [row["text"] for row in prior],
            [row["labels"] for row in prior],
            groups=[row.get("source") for row in prior],
            study_groups=groups + [row.get("source") for row in prior],
            where=list(range(len(items), len(texts))),
        )
        study = embed_units(embedder, texts, config)
        tagger = LearnedTagger(codebook, config=config).fit(embedder, data, study=study)
    else:
        tagger = CodebookTagger(codebook, config=config).fit(embedder, units)
    scored = tagger.suggest(units, groups)
    batch = {
        i: (codes, uncertainty_of_scores([(s.code, s.score) for s in sugg], config.threshold))
        for i, (sugg, codes) in enumerate(scored)
    }
    return batch, [sugg for sugg, _ in scored]


def snapshot_of(items, decided: list[int], uncertainty: list[float], codes: list[list[str]]) -> Snapshot:
    """What the page hands a relearn: every passage, the decided ones' gold codes, the
    batch run's uncertainty and codes, each passage's document."""
    done = set(decided)
    return Snapshot(
        [i.id for i in items],
        [i.text for i in items],
        [list(item.labels) if n in done else None for n, item in enumerate(items)],
        uncertainty,
        codes,
        [i.document for i in items],
    )


class Study:
    """What the simulated page knows: the passages, the batch run, the decisions so far.
    `shown[i]`: passage i's pre-selected codes and their uncertainty, as the page shows them."""

    def __init__(self, items, units, codebook, config, embedder, prior=()):
        self.items, self.units, self.codebook, self.config, self.embedder = items, units, codebook, config, embedder
        self.prior = list(prior)
        self.batch, self.batch_rows = batch_suggestions(units, codebook, config, embedder, items, self.prior)
        self.shown = dict(self.batch)
        self.decided: list[int] = []
        self.context = None  # rescores the pending passages after each decision (context.py)
        self.check: dict | None = None  # what the last relearn chose, and on what (choice.py)
        self.index = {item.id: n for n, item in enumerate(items)}

    def snapshot(self) -> Snapshot:
        n = range(len(self.items))
        return snapshot_of(self.items, self.decided, [self.batch[i][1] for i in n], [self.batch[i][0] for i in n])

    def relearn(self) -> str:
        """As the page: learn (from the decisions and the prior coding), choose, show the
        new suggestions (the batch run's where none)."""
        snap = self.snapshot()
        data, texts, _ = training_set(snap, self.prior)
        units = self.units if len(texts) == len(self.items) else embed_units(self.embedder, texts, self.config)
        tagger = LearnedTagger(self.codebook, config=self.config).fit(self.embedder, data, study=units)
        suggestions, self.check, _, self.context = pending_suggestions(tagger, units, snap, self.config, data)
        done = set(self.decided)
        for n in range(len(self.items)):
            if n not in done:
                self.shown[n] = self.batch[n]
        self.show(suggestions)
        return self.check["chosen"]

    def show(self, suggestions: dict) -> None:
        """Show a live model's suggestions (id -> (suggestion rows, codes, uncertainty))."""
        for pid, (_, codes, sure) in suggestions.items():
            self.shown[self.index[pid]] = (codes, sure)

    def decide(self, i: int) -> None:
        """Decide passage i; as the page, rescore the pending passages of its transcript
        from the decisions so far where the live model reads the transcript (context.py)."""
        self.decided.append(i)
        if self.context is not None:
            self.show(self.context.suggestions(self.snapshot().labels, [self.items[i].id]))


def finetune_round(
    study: Study, root: Path, codebook_path: Path, encoder: str | None, device: str, prior: Path | None = None
) -> dict:
    """One background fine-tune as the page runs it (on the decisions and the imported
    coding `prior`); swaps the study's embedder and units when the tuned encoder wins."""
    snap = study.snapshot()
    job = retune.RetuneJob(
        str(root),
        str(codebook_path),
        study.config,
        retune.next_version(root),
        snap.ids,
        snap.texts,
        snap.labels,
        current=encoder,
        device=device,
        prior=str(prior) if prior else None,
    )
    done = retune.retune(job)
    if done.encoder is not None:
        study.embedder = build_embedder(study.config.model_copy(update={"model": done.encoder}), device=device)
        study.units = retune.study_vectors(done.encoder, snap.texts, study.config)
    return {
        "decisions": done.decisions,
        "seconds": round(done.seconds, 1),
        "check": done.check,
        "encoder": done.encoder,
    }


def next_passage(study: Study, order: str) -> int:
    """The next passage to decide: the most uncertain by the suggestions shown now
    (`uncertain`, the page's queue), or the first pending in file order (`file`, the
    page's --order file: transcript after transcript, as many coders read)."""
    done = set(study.decided)
    pending = [j for j in range(len(study.items)) if j not in done]
    if order == "file":
        return pending[0]
    return min(pending, key=lambda j: (-study.shown[j][1], study.items[j].id))


def simulate(
    study: Study, *, relearn_every: int | None, finetune: dict | None = None, order: str = "uncertain"
) -> dict:
    """Go through every passage in `order` (next_passage); relearn every `relearn_every`
    decisions; with `finetune` ({root, codebook_path, device}), fine-tune when one is due."""
    n = len(study.items)
    wrong, keys, seconds, chosen, tunes, encoder = [], [], 0.0, [], [], None
    while len(study.decided) < n:
        i = next_passage(study, order)
        suggested, gold = set(study.shown[i][0]), set(study.items[i].labels)
        wrong.append(suggested != gold)
        keys.append(len(suggested ^ gold) + 1)
        study.decide(i)
        if len(study.decided) == n:
            break
        if finetune and retune.due(
            len(study.decided), tunes[-1]["decisions"] if tunes else None, prior=len(study.prior)
        ):
            tunes.append(finetune_round(study, **finetune, encoder=encoder))
            encoder = tunes[-1]["encoder"] or encoder
        if relearn_every and len(study.decided) % relearn_every == 0:
            started = time.perf_counter()
            chosen.append(study.relearn())
            seconds += time.perf_counter() - started
    per_100 = [
        {"from": s, "wrong": int(sum(wrong[s : s + 100])), "keys": int(sum(keys[s : s + 100]))}
        for s in range(0, len(wrong), 100)
    ]
    out = {"wrong": int(sum(wrong)), "keys": int(sum(keys)), "per_100": per_100}
    if relearn_every:
        out.update(
            relearn_every=relearn_every,
            relearns=len(chosen),
            chosen={c: chosen.count(c) for c in sorted(set(chosen))},
            relearn_seconds=round(seconds, 1),
        )
    if finetune:
        out.update(finetunes=tunes, finetune_seconds=round(sum(t["seconds"] for t in tunes), 1))
    return out


def ceiling(study: Study, folds: int = 5) -> dict:
    """How far live learning can go here: the passages dealt into `folds` folds (every
    `folds`-th in the study's order), each fold suggested by the page's relearn with every
    other passage decided (and the prior coding), so that each passage has its transcript's
    other decisions and its neighbours' codes, as at the end of a review. Live learning,
    which has only the decisions so far, can hardly do better; the batch run's wrong count
    is beside it."""
    n = len(study.items)
    gold = [item.labels for item in study.items]
    wrong, chosen = 0, []
    for k in range(folds):
        study.decided = [i for i in range(n) if i % folds != k]
        chosen.append(study.relearn())
        wrong += misses([study.shown[i][0] for i in range(k, n, folds)], gold[k::folds]).sum()
    batch = misses([study.batch[i][0] for i in range(n)], gold).sum()
    return {"wrong": int(wrong), "batch_wrong": int(batch), "folds": folds, "chosen": chosen}


def report(name: str, r: dict, passages: int) -> None:
    line = f"{name:<14} wrong {r['wrong']:>5} ({r['wrong'] / passages:.1%})  keys {r['keys']:>6}"
    line += f" ({r['keys'] / passages:.2f}/passage)"
    if "relearns" in r:
        line += f"  {r['relearns']} relearns {r['chosen']}, {r['relearn_seconds']} s"
    if "finetunes" in r:
        used = sum(t["encoder"] is not None for t in r["finetunes"])
        line += f"; {len(r['finetunes'])} fine-tunes ({used} used), {r['finetune_seconds']} s"
    print(line, flush=True)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--relearn-every", type=int, default=20)
    ap.add_argument("--finetune", action="store_true", help="also simulate live learning with fine-tuning")
    ap.add_argument("--device", default="cpu", help="where fine-tuning runs (cpu, cuda, auto)")
    ap.add_argument("--definitions-only", action="store_true", help="strip the codebook to names and definitions")
    ap.add_argument("--limit", type=int, help="a seeded sample of this many gold passages")
    ap.add_argument(
        "--sample-seed", type=int, help="draw --limit's sample with this seed: another study [default: the config's]"
    )
    ap.add_argument("--model", default=Config().model)
    ap.add_argument(
        "--labelled",
        type=Path,
        help="gold lines coded before the review (the first documents, say): the batch run is a model learned from"
        " them and live models learn from them too, as after `qcode import project` and `qcode learn`",
    )
    ap.add_argument(
        "--ceiling",
        action="store_true",
        help="also: each fifth of the passages suggested by a relearn with every other passage decided"
        " (how far live learning can go here)",
    )
    ap.add_argument(
        "--order",
        choices=("uncertain", "file"),
        default="uncertain",
        help="uncertain: most uncertain first (the page's queue); file: file order (the page's --order file)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.finetune and args.definitions_only:
        ap.error("--finetune reads the codebook file as the page does: give a definitions-only codebook file instead")
    return args


def compare(result: dict) -> None:
    """Each live run's fewer wrong pre-selections and keys than the static one, into `result`."""
    for name in ("live", "live_finetune"):
        if name in result:
            result[f"{name}_vs_static"] = {
                k: round(1 - result[name][k] / max(result["static"][k], 1), 3) for k in ("wrong", "keys")
            }
            print(f"{name}: {result[f'{name}_vs_static']['wrong']:.1%} fewer wrong suggestions than static", flush=True)


def main() -> None:
    args = parse_args()
    config = Config(model=args.model)
    sample_seed = config.seed if args.sample_seed is None else args.sample_seed
    codebook, items = load_gold(
        args.gold,
        args.codebook,
        definitions_only=args.definitions_only,
        limit=args.limit,
        seed=sample_seed,
    )
    embedder = build_embedder(config)
    units = embed_units(embedder, [i.text for i in items], config)
    prior = training_rows(str(args.labelled), set(codebook.code_ids)) if args.labelled else []
    result = {"gold": str(args.gold), "codebook": codebook.name, "model": config.model, "passages": len(items)}
    result["labelled"] = {"file": str(args.labelled), "passages": len(prior)} if args.labelled else None
    result["sample_seed"], result["order"] = sample_seed, args.order
    runs = [("static", None, False), ("live", args.relearn_every, False)]
    runs += [("live_finetune", args.relearn_every, True)] if args.finetune else []
    with tempfile.TemporaryDirectory(prefix="qcode-effort-") as root:
        for name, every, tune in runs:
            settings = {"root": Path(root), "codebook_path": resolve_codebook(args.codebook), "device": args.device}
            settings["prior"] = args.labelled
            study = Study(items, units, codebook, config, embedder, prior)
            result[name] = simulate(study, relearn_every=every, finetune=settings if tune else None, order=args.order)
            report(name, result[name], len(items))
    if args.ceiling:
        result["ceiling"] = ceiling(Study(items, units, codebook, config, embedder, prior))
        c = result["ceiling"]
        print(f"ceiling        wrong {c['wrong']:>5} (batch run on the same passages: {c['batch_wrong']})", flush=True)
    compare(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
