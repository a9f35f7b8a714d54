"""The layout of a `qcode code` output folder, in one place.

OUT/excerpts.jsonl            coded passages, one JSON line each (reviewers' decisions too)
OUT/excerpts.jsonl.journal    decisions not yet folded into it (see store.py)
OUT/orphaned_reviews.jsonl    reviewed passages that a rerun no longer produced
OUT/counts.csv                passages per code per transcript
OUT/manifest.json             what made these files (see manifest.py)
OUT/sources/                  each transcript's normalised text: offsets index these
OUT/reviews/NAME.jsonl        a reviewer's own copy (`qcode review serve --own-copy`)
OUT/reviews/orphaned/NAME.jsonl  its orphaned reviews
OUT/models/SHA12/             a copy of the learned model the run tagged with (study.py)
OUT/learned/                  where `qcode learn OUT` writes by default
OUT/live/                     models the review page learned (reviewing/live.py)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

EXCERPTS = "excerpts.jsonl"
ORPHANS = "orphaned_reviews.jsonl"
COUNTS = "counts.csv"
MANIFEST = "manifest.json"
SOURCES = "sources"
LIVE = "live"  # models the review page learned while reviewers worked (reviewing/live.py)
LIVE_INDEX = "index.jsonl"  # one line per live model, in live/
REVIEWS = "reviews"
MODELS = "models"  # copies of the learned models runs tagged with, by sha256 prefix
LEARNED = "learned"  # `qcode learn STUDY` writes here unless told --out
REVIEWER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def reviewer_copy(out_dir: Path, reviewer: str) -> Path:
    """A reviewer's own copy of the excerpts, for independent double coding."""
    if not REVIEWER_NAME.match(reviewer):
        raise ValueError(f"reviewer name {reviewer!r}: use letters, digits, '.', '_' or '-' (up to 64)")
    return out_dir / REVIEWS / f"{reviewer}.jsonl"


def reviewer_copies(out_dir: Path) -> list[Path]:
    folder = out_dir / REVIEWS
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def orphans_for(excerpts_file: Path) -> Path:
    """Where a file's orphaned reviews go."""
    if excerpts_file.name == EXCERPTS:
        return excerpts_file.with_name(ORPHANS)
    return excerpts_file.parent / "orphaned" / excerpts_file.name


MAX_NAME = 120  # characters of a transcript id kept in a file name (file systems allow 255 bytes)


def text_file_name(transcript_id: str) -> str:
    """A safe, unique file name for a transcript's normalised text in sources/."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", transcript_id)
    if safe != transcript_id or safe.startswith(".") or len(safe) > MAX_NAME:
        safe = f"{safe.lstrip('.')[:MAX_NAME]}-{hashlib.sha256(transcript_id.encode()).hexdigest()[:8]}"
    return f"{safe}.txt"


def source_text_path(out_dir: Path, transcript_id: str) -> Path:
    return out_dir / SOURCES / text_file_name(transcript_id)
