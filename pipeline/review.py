"""Reviewer decisions: find them in a previous run's outputs so a rerun never loses one."""

from __future__ import annotations

from pathlib import Path

from .io import read_jsonl
from .schemas import Excerpt, Review

EXCERPTS = "excerpts.jsonl"
ORPHANS = "orphaned_reviews.jsonl"


def is_reviewed(review: Review) -> bool:
    """Anything a person has written: a decision, a name or a note."""
    return review != Review()


def previous_reviews(out_dir: Path) -> dict[str, Excerpt]:
    """Excerpts carrying a reviewer's work in `out_dir` (current and orphaned), by id.

    A corrupt file raises `InputError`, so a rerun stops before it could overwrite it.
    """
    found: dict[str, Excerpt] = {}
    for name in (ORPHANS, EXCERPTS):  # current excerpts win over older orphans
        path = out_dir / name
        if path.exists():
            for _, excerpt in read_jsonl(path, Excerpt):
                if is_reviewed(excerpt.review):
                    found[excerpt.id] = excerpt
    return found
