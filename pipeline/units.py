"""Passages -> scoring units: runs of whole sentences of at least `unit_words` words.

A code is often carried by one or two sentences of a passage; scored as a whole, the other
sentences dilute it, and the longer the passage the worse (on dev passages joined in
pairs, whole-passage scoring fell from mean kappa 0.68 to 0.37). So the tagger scores
each unit and a passage takes each code's best unit score. A unit is a run of whole
sentences of at least `unit_words` words (a short tail joins the unit before it), so a
fragment such as "Yes, absolutely." is never judged alone; a passage shorter than two
units is one unit, its whole text, scored exactly as before.

Units are a function of the passage text alone, so `code`, `evaluate` and `learn` score
the same text the same way. A `UnitCache` remembers each text's unit offsets (never
text) beside the passage spans, so warm reruns do not run spaCy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .embed import Embedder
from .io import open_table

UNITS_VERSION = 1  # bump when the way units are found changes


def group_sentences(spans: Sequence[tuple[int, int, int]], min_words: int) -> list[tuple[int, int]]:
    """Partition (start, end, words) sentence spans into runs of >= `min_words` words;
    a tail shorter than that joins the run before it. Returns (start, end) pairs."""
    units: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    words = 0
    for span in spans:
        current.append(span)
        words += span[2]
        if words >= min_words:
            units.append(current)
            current, words = [], 0
    if current:
        if units:
            units[-1].extend(current)
        else:
            units.append(current)
    return [(u[0][0], u[-1][1]) for u in units]


def unit_offsets(text: str, doc, min_words: int) -> list[tuple[int, int]]:
    """Unit (start, end) offsets in `text`; one unit is the whole text."""
    from .segment import _sentence_spans

    spans = group_sentences(_sentence_spans(doc), min_words)
    return spans if len(spans) > 1 else [(0, len(text))]


class UnitCache:
    """sqlite table beside the passage spans: text + settings -> unit offsets."""

    def __init__(self, path: Path):
        self.db = open_table(path, "units", "offsets")
        self.hits = 0

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, list[tuple[int, int]]]:
        found = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            rows = self.db.execute(f"SELECT key, offsets FROM units WHERE key IN ({','.join('?' * len(part))})", part)
            for key, blob in rows:
                found[key] = [tuple(r) for r in np.frombuffer(blob, dtype=np.int64).reshape(-1, 2).tolist()]
        self.hits += sum(1 for k in keys if k in found)
        return found

    def put_many(self, items: Sequence[tuple[bytes, list[tuple[int, int]]]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO units VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.int64).reshape(-1, 2).tobytes()) for k, v in items],
            )

    def close(self) -> None:
        self.db.close()


def _key(text: str, settings: bytes) -> bytes:
    return hashlib.sha256(settings + text.encode()).digest()


def split_units(texts: Sequence[str], config: Config, cache: UnitCache | None = None) -> list[list[tuple[int, int]]]:
    """Each text's unit offsets, from the cache or found with spaCy."""
    import spacy

    from .segment import SPACY_MODEL, sentence_pipeline

    settings = json.dumps([UNITS_VERSION, SPACY_MODEL, spacy.__version__, config.unit_words]).encode()
    keys = [_key(t, settings) for t in texts]
    found = cache.get_many(keys) if cache else {}
    missing = [i for i, k in enumerate(keys) if k not in found]
    if missing:
        nlp = sentence_pipeline()
        new = []
        for i, doc in zip(missing, nlp.pipe(texts[i] for i in missing)):
            found[keys[i]] = unit_offsets(texts[i], doc, config.unit_words)
            new.append((keys[i], found[keys[i]]))
        if cache:
            cache.put_many(new)
    return [found[k] for k in keys]


@dataclass(frozen=True)
class UnitVectors:
    """The embedded units of a list of passages: passage i owns rows bounds[i]:bounds[i+1]."""

    vectors: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of_passages(cls, vectors: np.ndarray) -> UnitVectors:
        """One unit per passage (each row its own passage)."""
        return cls(np.asarray(vectors), np.arange(len(vectors) + 1))

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def take(self, passages: Sequence[int]) -> UnitVectors:
        """The units of these passages, in this order."""
        rows = [np.arange(self.bounds[i], self.bounds[i + 1]) for i in passages]
        sizes = [len(r) for r in rows]
        index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return UnitVectors(self.vectors[index], np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))


def embed_units(
    embedder: Embedder,
    texts: Sequence[str],
    config: Config,
    cache: UnitCache | None = None,
    offsets: list[list[tuple[int, int]]] | None = None,
) -> UnitVectors:
    """Split each text into units (or take `offsets` from `split_units`) and embed every
    unit (through the embedder's cache)."""
    offsets = split_units(texts, config, cache) if offsets is None else offsets
    bounds = np.concatenate([[0], np.cumsum([len(o) for o in offsets])]).astype(np.int64)
    return UnitVectors(embedder.embed(unit_texts(texts, offsets)), bounds)


def unit_texts(texts: Sequence[str], offsets: Sequence[Sequence[tuple[int, int]]]) -> list[str]:
    """Every unit's text, passage by passage."""
    return [t[s:e] for t, spans in zip(texts, offsets) for s, e in spans]
