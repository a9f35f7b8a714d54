"""Speaker turns -> passages of whole sentences, and each passage's scoring units, from
one pass of spaCy's sentence recogniser.

Turns are split before spaCy sees them (its sentence model glues speaker labels onto
neighbouring sentences). Sentences are packed into passages of about `target_words`,
never crossing a turn, never past `max_words` unless one sentence is longer; the same
sentences, grouped into runs of at least `unit_words` words, are the passage's units
(see units.py).

A `SegmentCache` remembers each transcript's passages and units (offsets only, never
text), keyed by the transcript's text and turns, the settings and the spaCy model, so a
rerun or a re-tag after a codebook edit does not run spaCy again.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import BlobCache
from .config import Config
from .schemas import Cue, Passage, Transcript
from .sentences import SPACY_MODEL, Span, pack, sentence_pipeline, sentence_spans
from .units import group_sentences

__all__ = ["Segment", "SegmentCache", "find_segments", "pack_sentences", "segment"]
SEGMENTER_VERSION = 2  # bump when the way spans are found or packed changes (2: units from the same pass)
CONTEXT_CHARS = 400


@dataclass(frozen=True)
class Segment:
    """A passage and its scoring units: (start, end) offsets into `passage.text`."""

    passage: Passage
    units: list[tuple[int, int]]


def passage_id(transcript: str, text: str, occurrence: int) -> str:
    """Stable id from content, so editing one part of a transcript keeps the other ids."""
    digest = hashlib.sha256(f"{transcript}\x00{text}\x00{occurrence}".encode()).hexdigest()
    return f"{transcript}:{digest[:12]}"


def pack_sentences(spans: list[Span], target_words: int, max_words: int) -> list[tuple[int, int]]:
    """Group (start, end, words) sentence spans into passages; returns (start, end) pairs."""
    return [(g[0][0], g[-1][1]) for g in pack_groups(spans, target_words, max_words)]


def pack_groups(spans: list[Span], target_words: int, max_words: int) -> list[list[Span]]:
    """The sentences of each passage: a short tail (under a third of the target) joins the
    previous passage if it fits."""
    return pack(spans, target_words, max_words, tail_share=1 / 3)


def passage_units(group: list[Span], unit_words: int) -> list[tuple[int, int]]:
    """A passage's units from its own sentences, as offsets into the passage text; a
    passage shorter than two units is one unit, its whole text."""
    start, end = group[0][0], group[-1][1]
    units = group_sentences([(s - start, e - start, w) for s, e, w in group], unit_words)
    return units if len(units) > 1 else [(0, end - start)]


def _cues_within(cues: list[Cue], ends: list[int], start: int, end: int) -> list[Cue]:
    """Cues overlapping text[start:end]; cues are in text order, so bisect to the first."""
    out = []
    for cue in cues[bisect.bisect_right(ends, start) :]:
        if cue.start >= end:
            break
        out.append(cue)
    return out


Found = tuple[int, int, int, list[tuple[int, int]]]  # turn, start, end, units


class SegmentCache:
    """Each transcript's passages and units (offsets, never text), by a key of its text,
    turns and the settings."""

    def __init__(self, path: Path):
        self.store = BlobCache(path, "segments")

    @property
    def hits(self) -> int:
        return self.store.hits

    @staticmethod
    def key(transcript: Transcript, config: Config) -> bytes:
        import spacy

        h = hashlib.sha256()
        settings = [
            SEGMENTER_VERSION,
            SPACY_MODEL,
            spacy.__version__,
            config.target_words,
            config.max_words,
            config.unit_words,
            config.code_interviewer,
            transcript.whole_turns,
        ]
        turns = [(t.start, t.end, t.is_interviewer) for t in transcript.turns]
        h.update(json.dumps([settings, turns]).encode())
        h.update(transcript.text.encode())
        return h.digest()

    def get(self, key: bytes) -> list[Found] | None:
        blob = self.store.get(key)
        if blob is None:
            return None
        flat, found, i = np.frombuffer(blob, dtype=np.int64).tolist(), [], 0
        while i < len(flat):
            turn, start, end, n = flat[i : i + 4]
            units = [(flat[i + 4 + 2 * j], flat[i + 5 + 2 * j]) for j in range(n)]
            found.append((turn, start, end, units))
            i += 4 + 2 * n
        return found

    def put(self, key: bytes, found: list[Found]) -> None:
        flat = [
            x
            for turn, start, end, units in found
            for x in (turn, start, end, len(units), *(v for u in units for v in u))
        ]
        self.store.put_many([(key, np.asarray(flat, dtype=np.int64).tobytes())])

    def close(self) -> None:
        self.store.close()


def find_segments(transcript: Transcript, config: Config) -> list[Found]:
    """(turn index, start, end, units) of every passage, in text order: one spaCy pass
    over each coded turn finds the sentences both are made of."""
    nlp = sentence_pipeline()
    text = transcript.text
    coded = [t for t in transcript.turns if config.code_interviewer or not t.is_interviewer]
    found = []
    for turn, doc in zip(coded, nlp.pipe(text[t.start : t.end] for t in coded)):
        spans = sentence_spans(doc)
        groups = (
            ([spans] if spans else [])
            if transcript.whole_turns
            else pack_groups(spans, config.target_words, config.max_words)
        )
        for group in groups:
            found.append(
                (
                    turn.index,
                    turn.start + group[0][0],
                    turn.start + group[-1][1],
                    passage_units(group, config.unit_words),
                )
            )
    return found


def segment(transcripts: Iterable[Transcript], config: Config, cache: SegmentCache | None = None) -> Iterator[Segment]:
    """Yield the passages of each transcript in order, with their units (interviewer turns
    skipped unless `config.code_interviewer`), each keeping the question that prompted it
    as context."""
    for transcript in transcripts:
        key = SegmentCache.key(transcript, config) if cache else b""
        found = cache.get(key) if cache else None
        if found is None:
            found = find_segments(transcript, config)
            if cache:
                cache.put(key, found)
        passages = _passages(transcript, [(turn, s, e) for turn, s, e, _ in found])
        for passage, (_, _, _, units) in zip(passages, found):
            yield Segment(passage, units)


def _passages(transcript: Transcript, spans: list[tuple[int, int, int]]) -> Iterator[Passage]:
    text = transcript.text
    turns = {t.index: t for t in transcript.turns}
    question_for: dict[int, str | None] = {}
    last_question = None
    for turn in transcript.turns:
        if turn.is_interviewer:
            last_question = text[turn.start : turn.end]
        question_for[turn.index] = last_question
    seen: Counter[str] = Counter()
    cue_ends = [c.end for c in transcript.cues]
    for index, s, e in spans:
        turn = turns[index]
        context = question_for[turn.index] if not turn.is_interviewer else None
        if context and len(context) > CONTEXT_CHARS:
            context = context[: CONTEXT_CHARS - 1].rstrip() + "\u2026"
        body = text[s:e]
        timed = _cues_within(transcript.cues, cue_ends, s, e)
        yield Passage(
            time_start=min(c.t_start for c in timed) if timed else None,
            time_end=max(c.t_end for c in timed) if timed else None,
            id=passage_id(transcript.id, body, seen[body]),
            transcript=transcript.id,
            speaker=turn.speaker,
            turn=turn.index,
            start=s,
            end=e,
            text=body,
            context=context,
        )
        seen[body] += 1
