"""A reviewer's session over one excerpts file: what the review page shows and records
(the queue, a passage with its transcript around it, statistics, recent decisions, undo,
bulk accept, live learning). The file itself, kept in step with the disk, is a
`ReviewedFile` (reviewed_file.py).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import InputError
from ..kappa import cohen_kappa
from ..outputs import source_text_path
from ..schemas import Codebook, Excerpt, Review, final_codes
from ..store import (
    locked,
)
from . import first_queue
from .decision import Action, make_review
from .first_queue import codes_met, queue_mode, review_order, with_likeliest
from .live import LiveLearner
from .relearn import BATCH, Snapshot
from .reviewed_file import ReviewedFile, ReviewError

Order = Literal["queue", "file"]
AROUND_CHARS = 600  # transcript shown before and after a passage
RECENT = 12


def rev(review: Review) -> str:
    """A short version tag of a decision, so a page never overwrites one it has not seen."""
    return hashlib.sha256(review.model_dump_json().encode()).hexdigest()[:12]


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


def model_order(name: str) -> tuple[int, int, str]:
    """The batch run first, then live-1, live-2, ... by number; any other name (a
    hand-edited file's) after them, by name."""
    if name == BATCH:
        return 0, 0, ""
    number = name.rpartition("-")[2]
    return (1, int(number), "") if number.isdigit() else (2, 0, name)


class ReviewSession:
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

    def passage(self, pid: str) -> dict:
        """A passage as the page shows it: text, the transcript around it, the question,
        suggestions, the machine's codes and the current decision."""
        self.refreshed()
        e = self._excerpt(pid)
        before, after = self._around(e)
        model, suggestions, codes = self.shown(e)
        return {
            "id": e.id,
            "transcript": e.transcript,
            "speaker": e.speaker,
            "text": e.text,
            "context": e.context,
            "before": before,
            "after": after,
            "time_start": e.time_start,
            "time_end": e.time_end,
            "attributes": e.attributes,
            "suggestions": suggestions,
            "codes": codes,
            "model": model,
            "batch_codes": list(e.codes),
            "review": e.review.model_dump(),
            "final": final_codes(e),
            "rev": rev(e.review),
        }

    def _around(self, e: Excerpt) -> tuple[str, str]:
        text = _source_text(source_text_path(self.served.root, e.transcript), self.served.root)
        if text is None or text[e.start : e.end] != e.text:
            return "", ""
        return _clip_start(text[max(0, e.start - AROUND_CHARS) : e.start]), _clip_end(
            text[e.end : e.end + AROUND_CHARS]
        )

    def examples(self, code: str, exclude: str | None = None, n: int = 3) -> list[dict]:
        """Passages reviewers already decided with `code` among their final codes."""
        self.refreshed()
        if code not in self.served.codebook.code_ids:
            raise ReviewError(422, f"unknown code {code!r}")
        found = [e for e in self._state.excerpts if e.id != exclude and code in (final_codes(e) or [])]
        found.sort(key=lambda e: (e.review.reviewed_at or "", e.id), reverse=True)
        return [{"id": e.id, "text": e.text, "reviewer": e.review.reviewer} for e in found[:n]]

    def recent(self) -> list[dict]:
        self.refreshed()
        out = []
        for pid in reversed(self._recent):
            i = self._state.index.get(pid)
            if i is None:
                continue
            e = self._state.excerpts[i]
            out.append(
                {
                    "id": e.id,
                    "transcript": e.transcript,
                    "status": e.review.status,
                    "final": final_codes(e),
                    "note": e.review.note,
                    "text": e.text,
                }
            )
        return out

    def stats(self) -> dict:
        """Progress (decided / total, by reviewer) and, per code, Cohen's kappa between the
        machine's codes and reviewers' final codes on the decided passages."""
        self.refreshed()
        decided = [e for e in self._state.excerpts if e.review.status != "pending"]
        by_reviewer = Counter(e.review.reviewer or "(unnamed)" for e in decided)
        held_out = [e for e in decided if e.id not in self.served.learned_from]
        per_code = []
        for code in self.served.codebook.code_ids:
            machine = np.array([code in e.codes for e in held_out], dtype=int)
            human = np.array([code in (final_codes(e) or []) for e in held_out], dtype=int)
            per_code.append(
                {
                    "code": code,
                    "kappa": _rounded(cohen_kappa(machine, human)),
                    "machine": int(machine.sum()),
                    "reviewers": int(human.sum()),
                    "agree": int((machine == human).sum()),
                }
            )
        return {
            "total": len(self._state.excerpts),
            "decided": len(decided),
            "by_reviewer": dict(sorted(by_reviewer.items())),
            "by_status": dict(Counter(e.review.status for e in self._state.excerpts)),
            "per_code": per_code,
            "kappa_on": {
                "decided": len(held_out),
                "left_out": len(decided) - len(held_out),
                "order": self.served.order,
                "queue_mode": self._queue_now(),
            },
            "models": self._by_model(decided),
            "live": self._live_state(),
        }

    def _by_model(self, decided: list[Excerpt]) -> list[dict]:
        """Per model that made the suggestions reviewers saw: decisions, how many of its
        suggestions reviewers changed, and mean Cohen's kappa (over codes) between its
        pre-selection and their final codes; each measured only on passages it had not
        learned from."""
        groups: dict[str, list[Excerpt]] = {}
        for e in decided:
            if e.review.suggested_by is not None and e.review.suggested is not None:
                groups.setdefault(e.review.suggested_by, []).append(e)
        out = []
        for model, items in sorted(groups.items(), key=lambda kv: model_order(kv[0])):
            changed = sum(sorted(e.review.suggested) != sorted(final_codes(e) or []) for e in items)
            kappas = [
                cohen_kappa(
                    np.array([c in e.review.suggested for e in items], dtype=int),
                    np.array([c in (final_codes(e) or []) for e in items], dtype=int),
                )
                for c in self.served.codebook.code_ids
            ]
            kappas = [k for k in kappas if k is not None]
            out.append(
                {
                    "model": model,
                    "decisions": len(items),
                    "changed": changed,
                    "kappa": round(float(np.mean(kappas)), 3) if kappas else None,
                }
            )
        return out

    def _live_state(self) -> dict | None:
        live = self.served.live
        if live is None:
            return None
        model, latest = live.model(), live.latest
        held_back = latest is not None and latest is not model
        return {
            "model": model.name if model else None,
            "learned_from": model.decisions if model else 0,
            "every": live.every,
            "relearning": live.busy,
            "history": live.history[-10:],
            "error": live.error,
            "finetune": live.finetune_state(),
            "held_back": (
                {"model": latest.name, "learned_from": latest.decisions, "check": latest.check} if held_back else None
            ),
        }

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


def _source_text(path: Path, root: Path) -> str | None:
    """A transcript's normalised text, only from inside the served folder."""
    path, root = path.resolve(), root.resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return _read_text(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _read_text(path: str, mtime_ns: int) -> str:
    return Path(path).read_text(encoding="utf-8")


def _clip_start(text: str) -> str:
    """Start the shown context at a line (or word) boundary."""
    cut = text.find("\n") if len(text) >= AROUND_CHARS else -1
    if cut < 0 and len(text) >= AROUND_CHARS:
        cut = text.find(" ")
    return (text[cut + 1 :] if cut >= 0 else text).lstrip("\n")


def _clip_end(text: str) -> str:
    cut = text.rfind("\n") if len(text) >= AROUND_CHARS else -1
    if cut < 0 and len(text) >= AROUND_CHARS:
        cut = text.rfind(" ")
    return (text[:cut] if cut > 0 else text).rstrip("\n")


def _rounded(k: float | None) -> float | None:
    return None if k is None else round(k, 3)
