"""The gold set and codebook a benchmark runs on: a seeded sample of `limit` passages,
and the codebook as it is or stripped to names and definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import load_codebook
from pipeline.codebook import definitions_only as strip
from pipeline.evaluate import read_gold


def load_gold(
    gold: Path, codebook_path: Path | None, *, definitions_only: bool = False, limit: int | None = None, seed: int = 42
):
    """(codebook, gold items), the same sample for every benchmark given the same seed."""
    codebook = load_codebook(codebook_path)
    items = read_gold(Path(gold), codebook)
    if definitions_only:
        codebook = strip(codebook)
    if limit and len(items) > limit:
        items = [items[i] for i in sorted(np.random.default_rng(seed).permutation(len(items))[:limit])]
    return codebook, items
