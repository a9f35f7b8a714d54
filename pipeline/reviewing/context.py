"""Suggestions that follow the transcript between relearns.

Where the page's relearn chose the model of whole decisions that reads what each
passage's transcript has received (`document`, relearn.py), the codes decided since then
say more about the rest of their transcripts than the model was shown: a relearn comes
only every 20 decisions, and takes seconds. A `Context` keeps that fitted model and the
passages' own features, and rescores the pending passages from every decision so far, in
milliseconds, after each decision (live.py). The model is not refitted: only its
transcript features (document_rates, neighbour_decisions) are brought up to date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..decision import DOCUMENT_RATIONALE, DecisionModel, transcript_features

Row = tuple[list[dict], list[str], float]  # (suggestions, codes, uncertainty), as LiveModel keeps them


@dataclass(frozen=True)
class Context:
    """A `document` model and what it rescores with. `ids`: the page's passages, in the
    snapshot's order; `features`: their own features (without the transcript's);
    `known`: the labels of the prior coding (an import) for every passage, the page's
    first, then the prior's others (None where it has none); `groups`: every passage's
    document, in the same order."""

    model: DecisionModel
    ids: list[str]
    features: np.ndarray
    known: list
    groups: list
    code_ids: list[str]
    shown: int

    def suggestions(self, labels: list[list[str] | None], changed: list[str] | None = None) -> dict[str, Row]:
        """id -> suggestion row for every page passage still pending (only those in the
        transcripts of the `changed` passages, unless None), given the page's labels now,
        in `ids` order (None where pending). Rescoring only the transcripts a decision
        touched keeps a follow within milliseconds on a page of 10,000 passages; the
        others' rows would move only with the study-wide rates, a little."""
        documents = self._documents(changed)
        known = list(self.known)
        for i, label in enumerate(labels):
            if label is not None:
                known[i] = list(label)  # the page's decision wins, as in training_set
        pending = [
            i for i, label in enumerate(labels) if label is None and (documents is None or self.groups[i] in documents)
        ]
        if not pending:
            return {}
        transcript = transcript_features(known, self.groups, self.code_ids)[pending]
        X = np.hstack([self.features[pending], transcript])
        rows = self.model.suggestions(X, self.code_ids, self.shown, DOCUMENT_RATIONALE)
        return {self.ids[i]: row for i, row in zip(pending, rows)}

    def _documents(self, changed: list[str] | None) -> set | None:
        """The transcripts of the `changed` passages (None: every transcript)."""
        if changed is None:
            return None
        where = set(changed)
        return {g for pid, g in zip(self.ids, self.groups) if pid in where and g is not None}
