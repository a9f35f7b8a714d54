"""Passages -> scoring units: runs of whole sentences of at least `unit_words` words.

A code is often carried by one or two sentences of a passage; scored as a whole, the other
sentences dilute it, and the longer the passage the worse (on dev passages joined in
pairs, whole-passage scoring fell from mean kappa 0.68 to 0.37). So the tagger scores
each unit and a passage takes each code's best unit score. A unit is a run of whole
sentences of at least `unit_words` words (a short tail joins the unit before it), so a
fragment such as "Yes, absolutely." is never judged alone; a passage shorter than two
units is one unit, its whole text, scored exactly as before.

`qcode code` finds a passage's units from the same sentences it packed the passage from
(segment.py: one spaCy pass, cached with the passages); `evaluate` and `learn`, given texts
without their transcript, find the sentences of each text (`split_units`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import Config
from .embed import Embedder
from .sentences import Span, pack, sentence_pipeline, sentence_spans


def group_sentences(spans: Sequence[Span], min_words: int) -> list[tuple[int, int]]:
    """Partition (start, end, words) sentence spans into runs of >= `min_words` words;
    a tail shorter than that joins the run before it. Returns (start, end) pairs."""
    return [(g[0][0], g[-1][1]) for g in pack(spans, min_words)]


def unit_offsets(text: str, doc, min_words: int) -> list[tuple[int, int]]:
    """Unit (start, end) offsets in `text`; one unit is the whole text."""
    spans = group_sentences(sentence_spans(doc), min_words)
    return spans if len(spans) > 1 else [(0, len(text))]


def split_units(texts: Sequence[str], config: Config) -> list[list[tuple[int, int]]]:
    """Each text's unit offsets, its sentences found with spaCy."""
    nlp = sentence_pipeline()
    return [unit_offsets(text, doc, config.unit_words) for text, doc in zip(texts, nlp.pipe(texts))]


@dataclass(frozen=True)
class UnitVectors:
    """The embedded units of a list of passages: passage i owns rows bounds[i]:bounds[i+1]
    (and `texts`, the units' texts, where the caller has them: a learned model with word
    features needs them)."""

    vectors: np.ndarray
    bounds: np.ndarray
    texts: list[str] | None = None

    @classmethod
    def of_passages(cls, vectors: np.ndarray, texts: Sequence[str] | None = None) -> UnitVectors:
        """One unit per passage (each row its own passage)."""
        return cls(np.asarray(vectors), np.arange(len(vectors) + 1), None if texts is None else list(texts))

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def passage_texts(self) -> list[str] | None:
        """Each passage's text from its units' texts (as the units cut it), or None."""
        if self.texts is None:
            return None
        return [" ".join(self.texts[a:b]) for a, b in zip(self.bounds[:-1], self.bounds[1:])]

    def take(self, passages: Sequence[int]) -> UnitVectors:
        """The units of these passages, in this order."""
        rows = [np.arange(self.bounds[i], self.bounds[i + 1]) for i in passages]
        sizes = [len(r) for r in rows]
        index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        texts = None if self.texts is None else [self.texts[i] for i in index]
        return UnitVectors(self.vectors[index], np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), texts)


def embed_units(
    embedder: Embedder,
    texts: Sequence[str],
    config: Config,
    offsets: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> UnitVectors:
    """Split each text into units (or take their `offsets`) and embed every unit (through
    the embedder's cache)."""
    offsets = split_units(texts, config) if offsets is None else offsets
    bounds = np.concatenate([[0], np.cumsum([len(o) for o in offsets])]).astype(np.int64)
    pieces = unit_texts(texts, offsets)
    return UnitVectors(embedder.embed(pieces), bounds, pieces)


def unit_texts(texts: Sequence[str], offsets: Sequence[Sequence[tuple[int, int]]]) -> list[str]:
    """Every unit's text, passage by passage."""
    return [t[s:e] for t, spans in zip(texts, offsets) for s, e in spans]
