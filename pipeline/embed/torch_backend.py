"""The torch backends: the published fp32 weights, or cast to bfloat16 (about twice as
fast on CPUs with native bf16, same agreement; see docs/performance.md) or, on a GPU, to
float16. On a GPU the texts go in batches sized by their length (`length_batches`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from .models import verified

TORCH_BACKENDS = ("torch", "torch-bf16", "torch-fp16")
GPU_TOKENS = 16384  # on a GPU: a batch holds about this many characters' worth of tokens
CHARS_PER_TOKEN = 4


def length_batches(texts: Sequence[str], budget: int = GPU_TOKENS, most: int = 512) -> list[list[int]]:
    """Indices of `texts` grouped longest first, each group's padded size (count x longest,
    in tokens estimated from characters) within `budget`: short texts go in large batches,
    long ones in small. Depends on the texts alone, so the same texts batch the same way."""
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    groups: list[list[int]] = []
    for i in order:
        size = max(1, len(texts[i]) // CHARS_PER_TOKEN)
        if groups and len(groups[-1]) < most and (len(groups[-1]) + 1) * groups[-1][0][1] <= budget:
            groups[-1].append((i, size))
        else:
            groups.append([(i, size)])
    return [[i for i, _ in g] for g in groups]


class SentenceTransformerEmbedder:
    """The real model, on the CPU or a GPU, loaded offline from a package or a local folder.

    backend "torch" runs the published fp32 weights; "torch-bf16" casts them to bfloat16,
    about 1.9x faster on CPUs with native bf16 (see docs/performance.md); "torch-fp16"
    casts them to float16 on a GPU."""

    def __init__(
        self, model_id: str, *, batch_size: int = 32, seed: int = 42, backend: str = "torch", device: str = "cpu"
    ):
        if backend not in TORCH_BACKENDS:
            raise InputError(backend, f"not a torch backend (known: {', '.join(TORCH_BACKENDS)})")
        self.model_id, self.path, self.weights_sha256 = verified(model_id)
        self.backend, self.device = backend, device
        suffix = "" if backend == "torch" else f"+{backend}"
        # a GPU's vectors differ from the CPU's in the last bits: kept apart in the cache
        self.fingerprint = f"{self.model_id}@{self.weights_sha256}{suffix}" + ("" if device == "cpu" else f"+{device}")
        self.batch_size = batch_size
        self.seed = seed
        self._model = None

    @property
    def model(self):
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.manual_seed(self.seed)
            try:
                self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
            except Exception as err:  # a damaged or hostile folder: pickles refused, unreadable weights, ...
                first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
                raise InputError(
                    self.path, f"cannot load this embedding model: {type(err).__name__}: {first}"
                ) from None
            if self.backend == "torch-bf16":
                self._model.to(torch.bfloat16)
            elif self.backend == "torch-fp16":
                self._model.to(torch.float16)
            self._model.eval()
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension()), dtype=np.float32)
        if self.device != "cpu":
            return self._embed_by_length(texts)
        return self._encode(list(texts), self.batch_size)

    def _embed_by_length(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.model.get_embedding_dimension()), dtype=np.float32)
        for group in length_batches(texts):
            out[group] = self._encode([texts[i] for i in group], len(group))
        return out

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)
