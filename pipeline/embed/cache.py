"""The embedding cache: vectors keyed by sha256(model fingerprint + text), never the text,
so a rerun or a codebook edit embeds only what it has not seen."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..cache import BlobCache
from .base import Embedder


def default_cache_dir() -> Path:
    """QCODE_CACHE_DIR, else $XDG_CACHE_HOME/qcode, else ~/.cache/qcode."""
    env = os.environ.get("QCODE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qcode"


class EmbeddingCache:
    """Vectors keyed by sha256(model fingerprint + text). No text is stored."""

    def __init__(self, path: Path):
        self.path = path
        self.store = BlobCache(path, "vectors", value="vec")

    @staticmethod
    def key(fingerprint: str, text: str) -> bytes:
        return hashlib.sha256(f"{fingerprint}\x00{text}".encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in self.store.get_many(keys).items()}

    def put_many(self, items: Sequence[tuple[bytes, np.ndarray]]) -> None:
        self.store.put_many([(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items])

    def __len__(self) -> int:
        return len(self.store)

    def close(self) -> None:
        self.store.close()


class CachedEmbedder:
    """Wraps an embedder: texts already seen (same model, same text) are not embedded again."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache):
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id
        self.fingerprint = inner.fingerprint
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [EmbeddingCache.key(self.fingerprint, t) for t in texts]
        found = self.cache.get_many(keys)
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vectors = self.inner.embed(missing)
            new = [(EmbeddingCache.key(self.fingerprint, t), v) for t, v in zip(missing, vectors)]
            self.cache.put_many(new)
            found.update(new)
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys])
