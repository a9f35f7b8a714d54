"""One rule for turning a reviewer's selection into a `Review`, shared by the review page,
its bulk action and spreadsheet import, so the same choice is recorded the same way."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ..errors import InputError
from ..schemas import Codebook, Excerpt, Review, decision_status

Action = Literal["accept", "reject"]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def checked_codes(codes: list[str], codebook: Codebook, where: str = "codes") -> list[str]:
    """The codes in codebook order; an unknown code is an error naming it."""
    known = codebook.code_ids
    unknown = sorted(set(codes) - set(known))
    if unknown:
        raise InputError(where, f"unknown code(s) {unknown}; the codebook has {known}")
    return [c for c in known if c in set(codes)]


def make_review(
    excerpt: Excerpt,
    *,
    action: Action,
    codes: list[str],
    reviewer: str,
    note: str | None = None,
    codebook: Codebook,
    at: str | None = None,
    shown: tuple[str, list[str]] | None = None,
) -> Review:
    """accept: `accepted` when the selection is the machine's codes, `rejected` when it is
    empty, else `corrected`; reject: `rejected` (no code applies). `shown` is (model, codes)
    of the suggestion the reviewer saw; the status always compares with the batch run's
    codes, so `accepted` keeps meaning "the codes in `codes`"."""
    selected = checked_codes(codes, codebook) if action == "accept" else []
    status = "rejected" if action == "reject" else decision_status(selected, list(excerpt.codes))
    suggested_by, suggested = (shown[0], checked_codes(shown[1], codebook, "suggested")) if shown else (None, None)
    return Review(
        status=status,
        codes=selected,
        reviewer=reviewer,
        note=note or None,
        reviewed_at=at or now(),
        suggested_by=suggested_by,
        suggested=suggested,
    )
