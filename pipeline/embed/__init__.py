"""Sentence embeddings: one tiny contract (`embed(texts) -> float32 rows`), the packaged
models (`models.py`), a backend each (`torch_backend.py`, `onnx_backend.py`) and the cache
(`cache.py`) that every backend runs behind."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from .base import Embedder
from .cache import CachedEmbedder, EmbeddingCache, default_cache_dir
from .device import DEVICES, resolve_device, vector_space
from .models import (
    MINILM,
    MINILM_SHA256,
    MPNET,
    MPNET_SHA256,
    PACKAGED_MODELS,
    SPLIT_PACKAGED_MODELS,
    default_models_dir,
    model_path,
    resolve_model_id,
    verify_model,
)
from .onnx_backend import ONNX_BACKENDS, OnnxEmbedder
from .torch_backend import TORCH_BACKENDS, SentenceTransformerEmbedder

BACKENDS = TORCH_BACKENDS + ONNX_BACKENDS

__all__ = [
    "BACKENDS",
    "DEVICES",
    "MINILM",
    "MINILM_SHA256",
    "MPNET",
    "MPNET_SHA256",
    "ONNX_BACKENDS",
    "PACKAGED_MODELS",
    "SPLIT_PACKAGED_MODELS",
    "TORCH_BACKENDS",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "default_cache_dir",
    "default_models_dir",
    "make_embedder",
    "model_path",
    "resolve_device",
    "resolve_model_id",
    "vector_space",
    "verify_model",
]


def make_embedder(
    model_id: str,
    *,
    backend: str = "torch",
    batch_size: int = 32,
    seed: int = 42,
    cache_dir: Path | None = None,
    device: str = "cpu",
) -> Embedder:
    """The backend's own encoder for a model, without the embedding cache. `device` is
    auto, cpu or cuda (see device.py)."""
    device = resolve_device(device, backend)
    if backend in ONNX_BACKENDS:
        return OnnxEmbedder(
            model_id, cache_dir=cache_dir or default_cache_dir(), batch_size=batch_size, seed=seed, backend=backend
        )
    return SentenceTransformerEmbedder(model_id, batch_size=batch_size, seed=seed, backend=backend, device=device)


def build_embedder(config: Config, *, cache_dir: Path | None = None, device: str = "cpu") -> CachedEmbedder:
    """The real model of `config` (its model, backend, batch size and seed) behind the
    on-disk cache: what `qcode code`, `evaluate` and `learn` use."""
    cache_dir = cache_dir or default_cache_dir()
    inner = make_embedder(
        config.model,
        backend=config.backend,
        batch_size=config.batch_size,
        seed=config.seed,
        cache_dir=cache_dir,
        device=device,
    )
    return CachedEmbedder(inner, EmbeddingCache(cache_dir / "embeddings.sqlite"))
