"""The one contract every embedder keeps (below the backends and the cache)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows."""

    model_id: str
    fingerprint: str  # changes whenever the vectors would

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
