"""The first hour of review: a simulated reviewer makes N decisions in the page's order,
with live learning, under the old queue (most uncertain first) and the new one (first a
queue that meets every code, `pipeline/reviewing/first_queue.py`).

    .venv/bin/python benchmarks/first_hour.py --gold G.jsonl --codebook C.yaml [--decisions 60] [--json OUT]

The batch run is codebook-only (adapted to the study), as `qcode code` writes it; the
page relearns every 20 decisions (`relearn.pending_suggestions`, as the page does) and, where
its model reads the transcript, rescores after each decision (`context.py`). For each
queue: the codes met in those decisions (suggested on a decided passage, or given to it)
against the codes present in the study, the wrong pre-selections per 20 decisions, and
mean Cohen's kappa on the passages not yet decided, of the suggestions the page then
shows. The two queues leave different passages undecided (the new one takes rare codes'
likeliest passages out of the rest), so each is also scored on the passages neither
queue decided (`kappa_neither`, `neither` passages): the fair comparison.

JSON: {"decisions": N, "neither": n, "batch_kappa_neither": K (the batch run's own suggestions
there), "old": {"codes_met", "codes_present", "first_met" (each code present: the decision at which
the reviewer first met it, offered or given), "horizon" (3 x codes), "codes_met_by_horizon" (codes
present met within it; null where fewer decisions were made), "wrong_per_20", "kappa_rest", "wrong_rest" and
"batch_wrong_rest" (the passages not yet decided whose pre-selection differs from the gold, as
the page then shows them and as the batch run did), "kappa_neither",
"choices": [{"decided", "chosen", "wrong", "kappa"}, ...] (the page's model at each relearn, and
each candidate's wrong pre-selections and mean kappa on the decided passages)}, "new": {...}}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gold import load_gold  # noqa: E402
from review_effort import Study  # noqa: E402

from pipeline import Config  # noqa: E402
from pipeline.embed import build_embedder  # noqa: E402
from pipeline.evaluate import score  # noqa: E402
from pipeline.reviewing.choice import misses  # noqa: E402
from pipeline.reviewing.first_queue import ROUNDS, codes_met, review_order, with_likeliest  # noqa: E402
from pipeline.units import embed_units  # noqa: E402


class Page(Study):
    """The simulated page of review_effort.py (a codebook-only batch run, no prior coding)
    that also keeps, per passage, the codes its suggestions offer with their scores
    (`offered`: the batch run's, or a live model's with each code's likeliest passage kept),
    which the covering queue reads, and what the page chose at each relearn (`choices`)."""

    def __init__(self, items, units, codebook, config, embedder):
        super().__init__(items, units, codebook, config, embedder)
        self.batch_offered = [{s.code: s.score for s in rows} for rows in self.batch_rows]
        self.offered = list(self.batch_offered)
        self.choices: list[dict] = []  # what the page chose at each relearn, and the wrong suggestions it judged by

    def relearn(self) -> str:
        done = set(self.decided)
        self.offered = [self.offered[n] if n in done else self.batch_offered[n] for n in range(len(self.items))]
        chosen = super().relearn()
        check = self.check
        self.choices.append(
            {"decided": len(self.decided), "chosen": chosen, "wrong": check["wrong"], "kappa": check["kappa"]}
        )
        return chosen

    def show(self, suggestions: dict) -> None:
        super().show(suggestions)
        for pid, (rows, _, _) in suggestions.items():
            n = self.index[pid]
            self.offered[n] = {r["code"]: r["score"] for r in with_likeliest(rows, self.batch_rows[n])}

    def next_passage(self, queue: str) -> int:
        done = set(self.decided)
        pending = [n for n in range(len(self.items)) if n not in done]
        if queue == "old":
            return min(pending, key=lambda n: (-self.shown[n][1], self.items[n].id))
        met = codes_met([(list(self.offered[n]), self.items[n].labels) for n in self.decided])
        order, _ = review_order(
            pending,
            self.offered,
            [self.shown[n][1] for n in range(len(self.items))],
            self.codebook.code_ids,
            met,
            len(self.decided),
        )
        return order[0]


def first_hour(page: Page, decisions: int, queue: str, relearn_every: int = 20) -> dict:
    wrong, first_met = [], {}
    for k in range(decisions):
        n = page.next_passage(queue)
        wrong.append(set(page.shown[n][0]) != set(page.items[n].labels))
        for code in sorted(set(page.offered[n]) | set(page.items[n].labels)):
            first_met.setdefault(code, k + 1)  # as the reviewer met it: offered, or given
        page.decide(n)
        if len(page.decided) % relearn_every == 0:
            page.relearn()
    present = {c for it in page.items for c in it.labels}
    met = {c: first_met[c] for c in sorted(first_met) if c in present}  # a decided passage's offer stays as decided
    done = set(page.decided)
    rest = [n for n in range(len(page.items)) if n not in done]
    horizon = ROUNDS * len(page.codebook.code_ids)
    gold = [page.items[n].labels for n in rest]
    return {
        "codes_met": len(met),
        "codes_present": len(present),
        "first_met": met,
        "horizon": horizon,
        "codes_met_by_horizon": (
            sum(first_met.get(c, decisions + 1) <= horizon for c in present) if decisions >= horizon else None
        ),
        "wrong_per_20": [int(sum(wrong[s : s + 20])) for s in range(0, len(wrong), 20)],
        "kappa_rest": kappa_on(page, rest),
        "wrong_rest": int(misses([page.shown[n][0] for n in rest], gold).sum()),
        "batch_wrong_rest": int(misses([page.batch[n][0] for n in rest], gold).sum()),
        "choices": page.choices,
    }


def kappa_on(page: Page, rows: list[int]) -> float:
    """Mean kappa of the suggestions `page` shows on `rows`."""
    return score(
        [page.items[n].labels for n in rows], [page.shown[n][0] for n in rows], page.codebook.code_ids
    ).mean_kappa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--codebook", type=Path)
    ap.add_argument("--decisions", type=int, default=60)
    ap.add_argument("--limit", type=int, help="a seeded sample of this many gold passages")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--every-passage-coded", action="store_true", help="the study's passages all carry a code (qcode's option)"
    )
    args = ap.parse_args()
    config = Config(every_passage_coded=args.every_passage_coded)
    codebook, items = load_gold(args.gold, args.codebook, limit=args.limit, seed=config.seed)
    embedder = build_embedder(config)
    units = embed_units(embedder, [it.text for it in items], config)
    result = {"gold": str(args.gold), "codebook": codebook.name, "passages": len(items), "decisions": args.decisions}
    result["every_passage_coded"] = config.every_passage_coded
    pages = {}
    for queue in ("old", "new"):
        pages[queue] = Page(items, units, codebook, config, embedder)
        result[queue] = first_hour(pages[queue], args.decisions, queue)
    decided = set(pages["old"].decided) | set(pages["new"].decided)
    neither = [n for n in range(len(items)) if n not in decided]
    result["neither"] = len(neither)
    result["batch_kappa_neither"] = score(
        [items[n].labels for n in neither], [pages["old"].batch[n][0] for n in neither], codebook.code_ids
    ).mean_kappa  # the batch run's own suggestions there, had no live model taken over
    for queue, page in pages.items():
        r = result[queue]
        r["kappa_neither"] = kappa_on(page, neither)
        by = r["codes_met_by_horizon"]
        print(
            f"{queue}: codes met {r['codes_met']} of {r['codes_present']}"
            f" ({'-' if by is None else by} in the first {r['horizon']}), wrong per 20 {r['wrong_per_20']},"
            f" kappa on the rest {r['kappa_rest']:.3f}, on the {len(neither)} neither decided {r['kappa_neither']:.3f}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
