"""The study's embedded passages, kept on disk between reading them and tagging them.

Codebook-only tagging adapts to the whole study before it codes any of it (adapt.py,
`CodebookTagger.adapt`), so `qcode code` reads and embeds every batch first, keeping its
passages (JSON lines) and unit vectors (raw float32) in a temporary folder inside the
output folder, then adapts the tagger on the vectors (memory-mapped: memory stays flat
whatever the study's size) and tags the batches back in order. The folder is removed when
the run ends, whatever happens.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .schemas import Passage
from .units import UnitVectors


@dataclass(frozen=True)
class StoredBatch:
    passages: int
    bounds: np.ndarray  # unit rows of each passage, relative to the batch's first unit
    first_unit: int


class UnitStore:
    """Append batches of (passages, unit vectors); read them back in order.

    >>> with UnitStore(out_dir) as store:  # doctest: +SKIP
    ...     store.add(passages, units)
    ...     tagger.adapt(store.vectors(), store.texts())
    ...     for passages, units in store.batches(): ...
    """

    def __init__(self, parent: Path):
        self.dir = Path(tempfile.mkdtemp(prefix=".study.", dir=parent))
        self._passages = open(self.dir / "passages.jsonl", "w", encoding="utf-8")
        self._vectors = open(self.dir / "units.f32", "wb")
        self._batches: list[StoredBatch] = []
        self.units = 0
        self.dim = 0

    def __enter__(self) -> UnitStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, passages: list[Passage], units: UnitVectors) -> None:
        vectors = np.ascontiguousarray(units.vectors, dtype=np.float32)
        self.dim = self.dim or (vectors.shape[1] if vectors.ndim == 2 else 0)
        for p in passages:
            self._passages.write(p.model_dump_json() + "\n")
        self._vectors.write(vectors.tobytes())
        self._batches.append(StoredBatch(len(passages), np.asarray(units.bounds, dtype=np.int64), self.units))
        self.units += len(vectors)

    def vectors(self) -> np.ndarray:
        """Every unit vector of the study, memory-mapped (read-only)."""
        self._passages.flush()
        self._vectors.flush()
        if self.units == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.memmap(self.dir / "units.f32", dtype=np.float32, mode="r", shape=(self.units, self.dim))

    def texts(self) -> Iterator[str]:
        """Every passage's text, in order (read back from disk; what adapting reads for
        examples quoted from the study)."""
        self._passages.flush()
        with open(self.dir / "passages.jsonl", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]

    def batches(self) -> Iterator[tuple[list[Passage], UnitVectors]]:
        """The batches as they were added: their passages and unit vectors (not the units'
        texts, which only a learned model with word features reads; it never adapts)."""
        vectors = self.vectors()
        with open(self.dir / "passages.jsonl", encoding="utf-8") as f:
            for batch in self._batches:
                passages = [Passage.model_validate_json(next(f)) for _ in range(batch.passages)]
                n = int(batch.bounds[-1]) if len(batch.bounds) else 0
                rows = np.array(vectors[batch.first_unit : batch.first_unit + n])
                yield passages, UnitVectors(rows, batch.bounds)

    def close(self) -> None:
        for f in (self._passages, self._vectors):
            if not f.closed:
                f.close()
        shutil.rmtree(self.dir, ignore_errors=True)
