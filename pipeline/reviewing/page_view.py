"""What the review page shows of a passage: its text with the transcript around it (read
only from inside the served folder), the suggestions of the model that made them, the
reviewer's recent decisions and earlier passages decided with a code (a part of
`ReviewSession`, session.py)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from ..outputs import source_text_path
from ..schemas import Excerpt, Review, final_codes
from .reviewed_file import ReviewError

AROUND_CHARS = 600  # transcript shown before and after a passage


def rev(review: Review) -> str:
    """A short version tag of a decision, so a page never overwrites one it has not seen."""
    return hashlib.sha256(review.model_dump_json().encode()).hexdigest()[:12]


class PassageView:
    """The page's view of passages (a part of `ReviewSession`)."""

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
