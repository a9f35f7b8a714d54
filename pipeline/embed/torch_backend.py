"""The torch backends: the published fp32 weights, or cast to bfloat16 (about twice as
fast on CPUs with native bf16, same agreement; see docs/performance.md)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from .models import verified

TORCH_BACKENDS = ("torch", "torch-bf16")


class SentenceTransformerEmbedder:
    """The real model, on the CPU, loaded offline from a package or a local folder.

    backend "torch" runs the published fp32 weights; "torch-bf16" casts them to bfloat16,
    about 1.9x faster on CPUs with native bf16 (see README, Performance)."""

    def __init__(self, model_id: str, *, batch_size: int = 32, seed: int = 42, backend: str = "torch"):
        if backend not in TORCH_BACKENDS:
            raise InputError(backend, f"not a torch backend (known: {', '.join(TORCH_BACKENDS)})")
        self.model_id, self.path, self.weights_sha256 = verified(model_id)
        self.backend = backend
        suffix = "" if backend == "torch" else f"+{backend}"
        self.fingerprint = f"{self.model_id}@{self.weights_sha256}{suffix}"
        self.batch_size = batch_size
        self.seed = seed
        self._model = None

    @property
    def model(self):
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.manual_seed(self.seed)
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            if self.backend == "torch-bf16":
                self._model.to(torch.bfloat16)
            self._model.eval()
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)
