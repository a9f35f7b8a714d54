"""Reviewer decisions: check review files, keep every decision across reruns, merge
reviewers, report progress, and queue the passages most worth reviewing next."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from ..errors import InputError, validation_messages
from ..io import atomic_write, read_jsonl
from ..outputs import EXCERPTS, orphans_for, reviewer_copies
from ..schemas import Codebook, Excerpt, Review, decision_status, final_codes
from ..store import locked, read_excerpts, write_excerpts

REVIEWER_FIELDS = ("review", "reviews", "disagreement")  # what a rerun carries over


def is_reviewed(excerpt: Excerpt) -> bool:
    """Anything a person has written: a decision, a name, a note, merged decisions."""
    return excerpt.review != Review() or bool(excerpt.reviews)


SOURCES = ("machine", "reviewed", "final")


def codes_for(excerpt: Excerpt, source: str) -> list[str] | None:
    """The codes a passage counts under `source`, or None if it does not count.

    machine: the machine's codes; reviewed: a reviewer's final codes (pending passages do
    not count); final: the reviewer's codes where there is a decision, else the machine's.
    """
    if source == "machine":
        return list(excerpt.codes)
    decided = final_codes(excerpt)
    if source == "reviewed":
        return decided
    if source == "final":
        return decided if decided is not None else list(excerpt.codes)
    raise ValueError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")


# --- check --------------------------------------------------------------------------------


def check_file(path: Path, codebook: Codebook) -> tuple[list[InputError], int, int]:
    """Every problem in a review file as `FILE:LINE: message`; also (lines, reviewed)."""
    known = set(codebook.code_ids)
    problems: list[InputError] = []
    seen: dict[str, int] = {}
    lines = reviewed = 0
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        return [InputError(path, f"cannot read: {getattr(err, 'strerror', None) or err}")], 0, 0
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        lines += 1
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(InputError(path, f"not valid JSON ({err.msg})", n))
            continue
        try:
            excerpt = Excerpt.model_validate(data)
        except ValidationError as err:
            problems.extend(InputError(path, m, n) for m in validation_messages(err))
            continue
        if excerpt.id in seen:
            problems.append(InputError(path, f"duplicate id {excerpt.id!r} (first on line {seen[excerpt.id]})", n))
        seen.setdefault(excerpt.id, n)
        for field, codes in (("codes", excerpt.codes), ("review.codes", excerpt.review.codes or [])):
            unknown = sorted(set(codes) - known)
            if unknown:
                problems.append(InputError(path, f"{field}: unknown code(s) {unknown}", n))
        reviewed += excerpt.review.status != "pending"
    return problems, lines, reviewed


# --- keeping decisions across reruns --------------------------------------------------------


class ReviewLedger:
    """Reviewed excerpts of one excerpts file (its journal applied) and its orphans.

    `take(excerpt)` hands back the reviewer fields for a passage that still exists;
    `leftovers()` are the ones to write to the orphans file: reviews whose passage is
    gone, and older orphans that were not restored. Nothing is dropped.
    """

    def __init__(self, path: Path, orphans: Path | None = None):
        self.current: dict[str, Excerpt] = {}
        self.orphans: list[Excerpt] = []
        self.taken: dict[str, Excerpt] = {}  # passage id -> the reviewed excerpt handed back
        orphans = orphans_for(path) if orphans is None else orphans
        if orphans.exists():
            self.orphans = [e for _, e in read_jsonl(orphans, Excerpt)]
        if path.exists():
            for e in read_excerpts(path):
                if is_reviewed(e):
                    self.current[e.id] = e

    def __len__(self) -> int:
        return len(self.current) + len(self.orphans)

    def take(self, new: Excerpt) -> dict | None:
        """The reviewer fields (review, reviews, disagreement) to carry onto `new`, if any.
        An `accepted` decision names the machine codes it accepted: if those changed, it
        becomes `corrected` with the codes the reviewer accepted, so the decision stands."""
        found = self.current.get(new.id)
        if found is None:
            found = next((o for o in reversed(self.orphans) if o.id == new.id), None)  # most recent
        if found is None:
            return None
        self.taken[new.id] = found
        fields = {k: getattr(found, k) for k in REVIEWER_FIELDS}
        if found.review.status == "accepted" and sorted(found.codes) != sorted(new.codes):
            note = found.review.note
            fields["review"] = found.review.model_copy(
                update={"status": "corrected", "codes": list(found.codes), "note": note}
            )
        return fields

    def leftovers(self) -> list[Excerpt]:
        out: dict[tuple[str, str], Excerpt] = {}

        def key(e: Excerpt) -> tuple[str, str]:
            return e.id, json.dumps(
                [getattr(e, k) for k in REVIEWER_FIELDS], default=lambda m: m.model_dump(mode="json")
            )

        taken = {key(e) for e in self.taken.values()}
        for e in [*self.orphans, *self.current.values()]:
            if key(e) not in taken:  # not back in excerpts.jsonl
                out[key(e)] = e
        return [out[k] for k in sorted(out)]


def _machine_lines(machine: Path) -> Iterator[str]:
    with open(machine, encoding="utf-8") as f:
        yield from f


def carry_reviews(machine: Path, target: Path) -> tuple[int, int]:
    """Make `target` the new machine output `machine` with every review already in
    `target` (and its journal, and its orphans) carried over, under `target`'s lock, so
    decisions recorded while the new output was being computed are kept too. Reviews
    whose passage is gone go to the orphans file. Returns (kept, orphaned)."""
    with locked(target):
        ledger = ReviewLedger(target)

        def merged() -> Iterator[str]:
            for line in _machine_lines(machine):
                if not ledger:
                    yield line
                    continue
                new = Excerpt.model_validate_json(line)
                old = ledger.take(new)
                yield line if old is None else new.model_copy(update=old).model_dump_json() + "\n"

        write_excerpts(target, merged())
        orphans, where = ledger.leftovers(), orphans_for(target)
        if orphans or where.exists():
            with atomic_write(where) as f:
                f.writelines(e.model_dump_json() + "\n" for e in orphans)
        return len(ledger.taken), len(orphans)


def carry_reviews_into(out_dir: Path, machine: Path) -> tuple[int, int]:
    """The rerun's last step: refresh each reviewer's own copy, then excerpts.jsonl."""
    for copy in reviewer_copies(out_dir):
        carry_reviews(machine, copy)
    return carry_reviews(machine, out_dir / EXCERPTS)


def make_reviewer_copy(out_dir: Path, copy: Path) -> bool:
    """Create a reviewer's own copy from excerpts.jsonl with no decisions in it (each
    reviewer codes independently). Returns False when the copy already exists."""
    main = out_dir / EXCERPTS
    with locked(copy):
        if copy.exists():
            return False
        fresh = (
            e.model_copy(update={"review": Review(), "reviews": [], "disagreement": False}) for e in read_excerpts(main)
        )
        write_excerpts(copy, (e.model_dump_json() for e in fresh))
        return True


# --- merge --------------------------------------------------------------------------------


def decisions_of(excerpt: Excerpt, default_reviewer: str) -> list[Review]:
    """What reviewers wrote on a line: its merged reviews, and its own review if a person
    decided it after the merge (that reviewer's newer decision replaces their older one).
    A decision is made self-contained (accepted/rejected get their codes)."""
    if excerpt.reviews:
        merged = list(excerpt.reviews)
        newer = adjudication_of(excerpt, default_reviewer)
        if newer is None:
            return merged
        return [r for r in merged if r.reviewer != newer.reviewer] + [newer]
    if excerpt.review == Review():
        return []
    return [_own_decision(excerpt, default_reviewer)]


def adjudication_of(excerpt: Excerpt, default_reviewer: str) -> Review | None:
    """A decision made on a merged line (its `review` is a person's decision, not the
    merge's own consensus): it was made seeing every reviewer's, so it settles the line
    through any later merge. None where the line holds none."""
    if not excerpt.reviews or excerpt.review.status == "pending":
        return None
    undated = lambda r: r.model_copy(update={"reviewed_at": None})  # noqa: E731 (merges before 0.1 dated none)
    if undated(excerpt.review) == undated(consensus(excerpt, list(excerpt.reviews))):
        return None
    return _own_decision(excerpt, default_reviewer)


def _own_decision(excerpt: Excerpt, default_reviewer: str) -> Review:
    review = excerpt.review
    if review.status in ("accepted", "rejected"):  # self-contained: the codes it stands for
        review = review.model_copy(update={"codes": final_codes(excerpt)})
    if not review.reviewer:
        review = review.model_copy(update={"reviewer": default_reviewer})
    return review


def merge_reviews(files: list[Path]) -> list[Excerpt]:
    """One line per passage across reviewers' files, with everything reviewers wrote kept
    in `reviews`. Where all decisions give the same codes, `review` records that
    consensus; where they differ, `disagreement` is true and `review` stays pending,
    unless someone decided the merged line (an adjudication, `adjudication_of`): the
    newest adjudication is the line's decision, in any order of files and re-merges."""
    by_id: dict[str, Excerpt] = {}
    entries: dict[str, list[Review]] = {}
    settled: dict[str, list[Review]] = {}
    for path in files:
        for excerpt in read_excerpts(path):
            by_id.setdefault(excerpt.id, excerpt)
            for d in decisions_of(excerpt, default_reviewer=path.stem):
                if d not in entries.setdefault(excerpt.id, []):
                    entries[excerpt.id].append(d)
            adjudication = adjudication_of(excerpt, default_reviewer=path.stem)
            if adjudication is not None:
                settled.setdefault(excerpt.id, []).append(adjudication)
    return [_merged_line(by_id[pid], entries.get(pid, []), settled.get(pid, [])) for pid in sorted(by_id)]


def _merged_line(base: Excerpt, decisions: list[Review], adjudications: list[Review]) -> Excerpt:
    ds = sorted(decisions, key=lambda r: (r.reviewer or "", r.model_dump_json()))
    if adjudications:
        final = max(adjudications, key=lambda r: (r.reviewed_at or "", r.model_dump_json()))
        return base.model_copy(update={"review": final, "reviews": ds, "disagreement": False})
    disagreement = len({tuple(sorted(d.codes or [])) for d in ds if d.status != "pending"}) > 1
    return base.model_copy(update={"review": consensus(base, ds), "reviews": ds, "disagreement": disagreement})


def consensus(base: Excerpt, ds: list[Review]) -> Review:
    """The `review` a merge writes for these decisions: their agreed codes (dated by the
    newest of them, so that an older sheet cannot overwrite it), a pending disagreement,
    or (none decided) the reviewers' notes."""
    decided = [d for d in ds if d.status != "pending"]
    finals = {tuple(sorted(d.codes or [])) for d in decided}
    who = ", ".join(dict.fromkeys(d.reviewer or "?" for d in decided))
    if not decided:
        notes = "; ".join(f"{d.reviewer}: {d.note}" for d in ds if d.note)
        return Review(note=f"notes: {notes}") if notes else Review()
    if len(finals) > 1:
        detail = "; ".join(f"{d.reviewer}: {sorted(d.codes or [])}" for d in decided)
        return Review(status="pending", note=f"disagreement: {detail}")
    codes = sorted(finals.pop())
    newest = max((d.reviewed_at for d in decided if d.reviewed_at), default=None)
    return Review(
        status=decision_status(codes, base.codes),
        codes=codes,
        reviewer=who,
        note=f"agreed by {who}",
        reviewed_at=newest,
    )


# --- status and queue ---------------------------------------------------------------------


def status_counts(excerpts: list[Excerpt]) -> dict[str, Counter]:
    """Counts by status, by final code (decided passages) and by reviewer."""
    by_status: Counter = Counter(e.review.status for e in excerpts)
    by_code: Counter = Counter()
    by_reviewer: Counter = Counter()
    for e in excerpts:
        codes = final_codes(e)
        if codes is not None:
            by_code.update(codes)
        for d in decisions_of(e, default_reviewer="(unnamed)"):
            if d.status != "pending":
                by_reviewer[d.reviewer or "(unnamed)"] += 1
    return {"status": by_status, "code": by_code, "reviewer": by_reviewer}


def uncertainty(excerpt: Excerpt, threshold: float = 0.5) -> float:
    """1 at the decision threshold, 0 at a certain 0 or 1: how much a decision here would
    teach the tagger (uncertainty sampling). The most uncertain code counts."""
    return uncertainty_of_scores([(s.code, s.score) for s in excerpt.suggestions], threshold)


def uncertainty_of_scores(scores: list[tuple[str, float]], threshold: float = 0.5) -> float:
    """`uncertainty` of (code, score) pairs."""
    if not scores:
        return 0.0

    return round(max(_doubt(score, threshold) for _, score in scores), 4)


def _doubt(score: float, t: float) -> float:
    span = t if score < t else 1 - t
    return 1 - abs(score - t) / span if span else 0.0


def most_uncertain_code(excerpt: Excerpt, threshold: float = 0.5) -> tuple[str, float] | None:
    """(code, score) of the suggestion nearest the decision threshold: what a decision settles."""
    if not excerpt.suggestions:
        return None
    best = max(excerpt.suggestions, key=lambda s: (_doubt(s.score, threshold), s.code))
    return best.code, best.score


def review_queue(excerpts: list[Excerpt], n: int, threshold: float = 0.5) -> list[tuple[float, Excerpt]]:
    """Pending passages, most informative first (ties by id, so the order is stable)."""
    pending = [(uncertainty(e, threshold), e) for e in excerpts if e.review.status == "pending"]
    pending.sort(key=lambda t: (-t[0], t[1].id))
    return pending[:n]
