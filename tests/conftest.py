"""Shared fixtures: a fake embedder for fast logic tests, the real model once per session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "transcripts_sample"
DEV_GOLD = REPO / "eval" / "dev_gold.jsonl"


class FakeEmbedder:
    """Bag-of-words hashing into 64 dims: similar wording -> similar vectors. Counts its
    calls so batching and caching can be tested without the real model."""

    model_id = "fake/bag-of-words"
    fingerprint = "fake/bag-of-words@1"
    weights_sha256 = "0" * 64

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.calls: list[int] = []

    def embed(self, texts):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.md5(word.strip(".,!?'\"").encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            out[i, 0] += 1e-3  # no all-zero rows
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def real_embedder(cache_dir):
    """The packaged all-MiniLM-L6-v2 behind an on-disk cache, loaded once."""
    from pipeline import Config
    from pipeline.embed import build_embedder

    return build_embedder(
        Config(model="sentence-transformers/all-MiniLM-L6-v2", batch_size=32, seed=42), cache_dir=cache_dir
    )


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def coded_folder(tmp_path: Path, embedder, transcripts: dict[str, str], sectors: dict[str, str], config=None) -> Path:
    """Write `transcripts` (file name -> text) and a participants.csv of their `sectors`
    under tmp_path/in, code them into tmp_path/out, and return that folder."""
    from pipeline import code_corpus

    folder = tmp_path / "in"
    for name, text in transcripts.items():
        write(folder / name, text)
    write(folder / "participants.csv", "file,sector\n" + "".join(f"{n},{s}\n" for n, s in sectors.items()))
    out = tmp_path / "out"
    code_corpus([folder], out_dir=out, embedder=embedder, config=config)
    return out
