"""A reviewer's session over one excerpts file: what the review page shows and records
(the queue, decisions, undo, bulk accept, live learning; the passage as shown and recent
decisions are in page_view.py, the statistics in page_stats.py). The file itself, kept in
step with the disk, is a `ReviewedFile` (reviewed_file.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError
from ..schemas import Codebook, Excerpt, Review, final_codes
from ..store import (
    locked,
)
from . import first_queue
from .decision import Action, make_review
from .first_queue import codes_met, queue_mode, review_order, with_likeliest
from .live import LiveLearner
from .page_stats import PageStats
from .page_view import PassageView, rev
from .relearn import BATCH, Snapshot
from .reviewed_file import ReviewedFile, ReviewError

Order = Literal["queue", "file"]
RECENT = 12


@dataclass
class Served:
    """What a session serves: `path`, an excerpts file inside output folder `root` (whose
    `sources/` give the transcript around a passage), for `reviewer`."""

    root: Path
    path: Path
    reviewer: str
    codebook: Codebook
    threshold: float  # the run's decision threshold: the page's order is by closeness to it
    order: Order = "queue"
    live: LiveLearner | None = None  # learning while the reviewer works (None: --no-learn)
    learned_from: frozenset[str] = frozenset()  # passages the batch run's learned model was trained on


class ReviewSession(PassageView, PageStats):
    def __init__(self, served: Served, *, compact_after: float = 1.0):
        self.served = served
        self.file = ReviewedFile(served.path, served.threshold, compact_after=compact_after)
        self._undo: dict[
            str, list[list[tuple[str, Review, Review]]]
        ] = {}  # per tab, per step: (passage, review replaced, review written)
        self._recent: list[str] = []
        self._seed_recent()

    @property
    def _state(self):
        return self.file.state

    @property
    def _mutex(self):
        return self.file.mutex

    def sync(self) -> None:
        self.file.sync()

    def compact(self) -> None:
        self.file.compact()

    def _seed_recent(self) -> None:
        mine = [
            e
            for e in self._state.excerpts
            if e.review.reviewer == self.served.reviewer and e.review.status != "pending"
        ]
        mine.sort(key=lambda e: (e.review.reviewed_at or "", e.id))
        self._recent = [e.id for e in mine[-RECENT:]]

    # --- reading ----------------------------------------------------------------------

    def _excerpt(self, pid: str) -> Excerpt:
        i = self._state.index.get(pid)
        if i is None:
            raise ReviewError(
                404, f"no passage {pid!r} in {self.served.path.name} (a rerun may have replaced it: reload the page)"
            )
        return self._state.excerpts[i]

    def refreshed(self) -> None:
        with self._mutex, locked(self.served.path):
            self.sync()

    def queue(self, order: Order | None = None, code: str | None = None) -> list[str]:
        """Pending passage ids in review order, optionally only those suggesting `code`."""
        self.refreshed()
        order = order or self.served.order
        if code is not None and code not in self.served.codebook.code_ids:
            raise ReviewError(422, f"unknown code {code!r}")
        st = self._state
        pending = [i for i, e in enumerate(st.excerpts) if e.review.status == "pending"]
        if code:
            pending = [
                i
                for i in pending
                if code in st.excerpts[i].codes or any(s.code == code for s in st.excerpts[i].suggestions)
            ]
        if order == "queue":
            pending = self._review_order(pending)
        return [st.excerpts[i].id for i in pending]

    def _queue_now(self) -> str:
        """Which order the queue is in now (after the latest decision)."""
        if self.served.order != "queue":
            return "file order"
        pending, scores, _, met, decided = self._queue_inputs(
            [i for i, e in enumerate(self._state.excerpts) if e.review.status == "pending"]
        )
        return queue_mode(pending, scores, self.served.codebook.code_ids, met, decided)

    def _review_order(self, pending: list[int]) -> list[int]:
        """The page's queue (first_queue.py): first one that meets every code, then the
        most uncertain passages first, by the suggestions now shown. Ties: by id."""
        pending, scores, sure, met, decided = self._queue_inputs(pending)
        return review_order(pending, scores, sure, self.served.codebook.code_ids, met, decided)[0]

    def _queue_inputs(self, pending: list[int]):
        """(pending by id, each passage's shown scores, each one's uncertainty, codes met,
        decided passages) as the queue reads them. Past the covering phase the scores
        and codes met are not gathered: the queue does not read them then."""
        st = self._state
        live = self._live_model()
        sure = (
            st.uncertainty
            if live is None
            else [live.suggestions.get(e.id, (None, None, u))[2] for e, u in zip(st.excerpts, st.uncertainty)]
        )
        pending = sorted(pending, key=lambda i: st.excerpts[i].id)
        decided = [e for e in st.excerpts if e.review.status != "pending"]
        if len(decided) >= first_queue.ROUNDS * len(self.served.codebook.code_ids):
            return pending, st.scores, sure, Counter(), len(decided)
        met = codes_met(
            [([s.code for s in e.suggestions] + list(e.review.suggested or []), final_codes(e) or []) for e in decided]
        )
        scores = st.scores
        if live is not None:  # the scores the page shows (as `shown`): the live model's where it made some
            scores = list(scores)
            for i in pending:
                rows = live.suggestions.get(st.excerpts[i].id)
                if rows:
                    scores[i] = {r["code"]: r["score"] for r in with_likeliest(rows[0], st.excerpts[i].suggestions)}
        return pending, scores, sure, met, len(decided)

    def _live_model(self):
        return self.served.live.model() if self.served.live is not None else None

    def shown(self, e: Excerpt) -> tuple[str, list[dict], list[str]]:
        """(model, suggestions, codes) the page shows for a passage: the newest live
        model's for a passage pending when it was made, else the batch run's."""
        live = self._live_model()
        if live is not None and e.review.status == "pending" and e.id in live.suggestions:
            suggestions, codes, _ = live.suggestions[e.id]
            return live.name, with_likeliest(suggestions, e.suggestions), list(codes)
        return BATCH, [s.model_dump() for s in e.suggestions], list(e.codes)

    # --- recording --------------------------------------------------------------------

    def _remember(self, pids: list[str]) -> None:
        for pid in pids:
            if pid in self._recent:
                self._recent.remove(pid)
            self._recent.append(pid)
        del self._recent[:-RECENT]

    def decide(
        self,
        pid: str,
        action: Action,
        codes: list[str],
        note: str | None = None,
        base_rev: str | None = None,
        shown: tuple[str, list[str]] | None = None,
        tab: str = "",
    ) -> dict:
        """Record a decision; `base_rev` (the version the page showed) guards against
        overwriting a decision someone else made meanwhile (409 with theirs); `shown` is
        the (model, codes) the page pre-selected; `tab` the browser tab, whose own undo
        stack it joins."""
        with self._mutex, locked(self.served.path):
            self.sync()
            e = self._excerpt(pid)
            if base_rev is not None and base_rev != rev(e.review):
                raise ReviewError(
                    409,
                    f"{pid} was decided meanwhile ({e.review.status} by {e.review.reviewer or 'someone'}); reload it",
                    current=e.review.model_dump(),
                )
            try:
                review = make_review(
                    e,
                    action=action,
                    codes=codes,
                    reviewer=self.served.reviewer,
                    note=note,
                    codebook=self.served.codebook,
                    shown=shown,
                )
            except InputError as err:
                raise ReviewError(422, err.message) from None
            self.file.record([(pid, review)])
            self._undo.setdefault(tab, []).append([(pid, e.review, review)])
            self._remember([pid])
            out = {
                "id": pid,
                "review": review.model_dump(),
                "rev": rev(review),
                "final": final_codes(self._excerpt(pid)),
            }
        self._learn([pid])
        return out

    def _learn(self, pids: list[str]) -> None:
        """Tell the live learner about new decisions on `pids` (it may start a relearn in
        the background, and rescores their transcripts where its model reads them)."""
        if self.served.live is not None and pids:
            self.served.live.notice(len(pids), self.snapshot)
            self.served.live.follow(self.snapshot, pids)

    def snapshot(self) -> Snapshot:
        """Every passage's text and, where decided, its final codes."""
        with self._mutex:
            st = self._state
            return Snapshot(
                [e.id for e in st.excerpts],
                [e.text for e in st.excerpts],
                [final_codes(e) for e in st.excerpts],
                list(st.uncertainty),
                [list(e.codes) for e in st.excerpts],
                [e.transcript for e in st.excerpts],
            )

    def undo(self, tab: str = "") -> dict:
        """Put back what the last decision (or bulk action) made in this tab replaced."""
        with self._mutex, locked(self.served.path):
            stack = self._undo.setdefault(tab, [])
            if not stack:
                raise ReviewError(404, "nothing to undo in this tab")
            self.sync()
            step = stack.pop()
            changed = [pid for pid, _, mine in step if pid in self._state.index and self._excerpt(pid).review != mine]
            if changed:  # someone decided it again since: undoing would erase their decision
                e = self._excerpt(changed[0])
                raise ReviewError(
                    409,
                    f"{changed[0]} was decided again meanwhile ({e.review.status} by {e.review.reviewer or 'someone'});"
                    " not undone",
                    current=e.review.model_dump(),
                )
            last = [(pid, old) for pid, old, _ in step if pid in self._state.index]
            try:
                self.file.record(last)
            except ReviewError:
                stack.append(step)
                raise
            for pid, old in last:
                if old.status == "pending" and pid in self._recent:
                    self._recent.remove(pid)
        if self.served.live is not None:  # an undone passage is pending again
            self.served.live.follow(self.snapshot, [pid for pid, _ in last])
        return {"ids": [pid for pid, _ in last]}

    def _bulk_targets(self, code: str, min_score: float) -> list[Excerpt]:
        if code not in self.served.codebook.code_ids:
            raise ReviewError(422, f"unknown code {code!r}")
        return [
            e
            for e in self._state.excerpts
            if e.review.status == "pending" and any(s.code == code and s.score >= min_score for s in e.suggestions)
        ]

    def bulk_preview(self, code: str, min_score: float) -> dict:
        self.refreshed()
        targets = self._bulk_targets(code, min_score)
        return {
            "code": code,
            "min_score": min_score,
            "count": len(targets),
            "sample": [e.text[:120] for e in targets[:3]],
        }

    def bulk_accept(self, code: str, min_score: float, expected: int, tab: str = "") -> dict:
        """Accept `code` on every pending passage that suggests it with at least
        `min_score` (the machine's other codes kept); refused unless `expected` is the count
        the reviewer confirmed."""
        with self._mutex, locked(self.served.path):
            self.sync()
            targets = self._bulk_targets(code, min_score)
            if len(targets) != expected:
                raise ReviewError(
                    409, f"{len(targets)} passages match now, not the {expected} confirmed; preview again"
                )
            changes = []
            for e in targets:
                selection = [c for c in self.served.codebook.code_ids if c in e.codes or c == code]
                changes.append(
                    (
                        e.id,
                        make_review(
                            e,
                            action="accept",
                            codes=selection,
                            reviewer=self.served.reviewer,
                            codebook=self.served.codebook,
                            note=f"bulk: {code} score >= {min_score:g}",
                        ),
                    )
                )
            if changes:
                self.file.record(changes)
                self._undo.setdefault(tab, []).append(
                    [(e.id, e.review, review) for e, (_, review) in zip(targets, changes)]
                )
                self._remember([pid for pid, _ in changes])
        self._learn([pid for pid, _ in changes])
        return {"accepted": len(changes)}

    def close(self) -> None:
        if self.served.live is not None:
            self.served.live.close()
        self.file.close()
