"""The order of the review queue: first a queue that meets every code, then the most
uncertain passages first.

A live learner cannot learn a code the reviewer has never seen, and the most uncertain
passages of a study are rarely spread over its codes: on a 22-code study the first 60
uncertain-first decisions met 18 codes. So while some code has not been met in the first
`ROUNDS` x codes decisions (met: suggested on a decided passage, or given to it), the
queue alternates the most uncertain passage with the pending passage most likely to
carry a code not yet met (its best suggestion score; each passage taken once, so the
picks are as different as the codes), the most uncertain first. Past that, or once every
code that any pending passage suggests has been met, it is most uncertain first: where
the uncertain passages meet every code by themselves (a codebook of a few codes), the
queue is as it was.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence

COVER = 1  # times a code is met before the queue stops seeking it
ROUNDS = 3  # the covering phase lasts at most ROUNDS x codes decisions
COVERING = "covering the codebook"
UNCERTAIN = "most uncertain first"


def codes_met(decided: Sequence[tuple[Sequence[str], Sequence[str]]]) -> Counter:
    """How often each code was met on the decided passages, from each passage's
    (suggested codes, final codes)."""
    met: Counter = Counter()
    for suggested, final in decided:
        met.update(set(suggested) | set(final))
    return met


def review_order(
    pending: Sequence[int],
    scores: Sequence[dict[str, float]],
    uncertainty: Sequence[float],
    code_ids: Sequence[str],
    met: Counter,
    decided: int,
) -> tuple[list[int], str]:
    """(pending passages in review order, which order it is). `scores[i]`: passage i's
    suggested codes and their scores; `uncertainty[i]`: how unsure its suggestion is;
    `met`: codes_met of the decided passages; `decided`: how many there are. Ties keep
    the order of `pending`."""
    position = {i: k for k, i in enumerate(pending)}
    by_doubt = sorted(pending, key=lambda i: (-uncertainty[i], position[i]))
    wanted = _wanted(pending, scores, code_ids, met, decided)
    if not wanted:
        return by_doubt, UNCERTAIN
    picks = _best_for_each(wanted, pending, scores, position)
    order, taken = [], set()
    doubt = iter(by_doubt)
    for pick in picks:
        pair = [next(doubt, None), pick] if decided % 2 == 0 else [pick, next(doubt, None)]
        for i in pair:
            if i is not None and i not in taken:
                order.append(i)
                taken.add(i)
    order += [i for i in by_doubt if i not in taken]
    return order, _covering(code_ids, met)


def queue_mode(pending: Sequence[int], scores, code_ids: Sequence[str], met: Counter, decided: int) -> str:
    """Which order `review_order` gives, without ordering anything (for the page's stats)."""
    return _covering(code_ids, met) if _wanted(pending, scores, code_ids, met, decided) else UNCERTAIN


def _covering(code_ids: Sequence[str], met: Counter) -> str:
    return f"{COVERING}: {sum(met[c] > 0 for c in code_ids)} of {len(code_ids)} codes met"


def _wanted(pending, scores, code_ids, met: Counter, decided: int) -> list[str]:
    """The codes still to meet, least met first (codebook order among equals); none once
    the covering phase is over."""
    if decided >= ROUNDS * len(code_ids):
        return []
    offered = {c for i in pending for c in scores[i]}
    return sorted((c for c in code_ids if met[c] < COVER and c in offered), key=lambda c: (met[c], code_ids.index(c)))


def _best_for_each(codes: list[str], pending: Sequence[int], scores, position: dict[int, int]) -> list[int]:
    """Per code in turn, the pending passage with its highest score not taken already
    (one pass over the pending passages, then each code's few best)."""
    wanted = set(codes)
    ranked: dict[str, list] = {c: [] for c in codes}
    for i in pending:
        for code, score in scores[i].items():
            if code in wanted:
                ranked[code].append((-score, position[i], i))
    picks, taken = [], set()
    for code in codes:
        for _, _, i in heapq.nsmallest(len(codes), ranked[code]):
            if i not in taken:
                picks.append(i)
                taken.add(i)
                break
    return picks


def with_likeliest(live: list[dict], batch: Sequence) -> list[dict]:
    """A live model's suggestions for a passage, followed by the batch run's (Suggestion)
    for the codes it lacks where the batch run marked this passage the study's likeliest
    for the code (tag.py): a live model learned from the first decisions cannot suggest a
    code it has not seen, and the queue still seeks it here."""
    from ..tag import is_likeliest

    have = {r["code"] for r in live}
    return list(live) + [s.model_dump() for s in batch if s.code not in have and is_likeliest(s.rationale)]


def queue_of(excerpts: Sequence, code_ids: Sequence[str], threshold: float) -> tuple[list, str]:
    """(pending excerpts in review order, which order it is) from an excerpts file's own
    suggestions, as `qcode review queue` lists them (the page also weighs a live model's)."""
    from ..schemas import final_codes
    from .reviews import uncertainty

    rows = sorted(excerpts, key=lambda e: e.id)
    pending = [i for i, e in enumerate(rows) if e.review.status == "pending"]
    decided = [e for e in rows if e.review.status != "pending"]
    met = codes_met([([s.code for s in e.suggestions], final_codes(e) or []) for e in decided])
    scores = [{s.code: s.score for s in e.suggestions} for e in rows]
    doubt = [uncertainty(e, threshold) for e in rows]
    order, mode = review_order(pending, scores, doubt, list(code_ids), met, len(decided))
    return [(doubt[i], rows[i]) for i in order], mode
