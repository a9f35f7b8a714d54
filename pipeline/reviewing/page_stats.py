"""The review page's statistics: progress by reviewer and status, per code Cohen's kappa
between the batch run's codes and reviewers' final codes (on passages its model did not
learn from), each model's record on the suggestions reviewers saw, and the live learner's
state (a part of `ReviewSession`, session.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..kappa import cohen_kappa
from ..schemas import Excerpt, final_codes
from .relearn import BATCH


def model_order(name: str) -> tuple[int, int, str]:
    """The batch run first, then live-1, live-2, ... by number; any other name (a
    hand-edited file's) after them, by name."""
    if name == BATCH:
        return 0, 0, ""
    number = name.rpartition("-")[2]
    return (1, int(number), "") if number.isdigit() else (2, 0, name)


def _rounded(k: float | None) -> float | None:
    return None if k is None else round(k, 3)


class PageStats:
    """The page's statistics (a part of `ReviewSession`)."""

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
