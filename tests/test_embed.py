import shutil

import numpy as np
import pytest

from pipeline import InputError
from pipeline.embed import MINILM_SHA256, CachedEmbedder, EmbeddingCache, SentenceTransformerEmbedder, model_path


def test_cache_embeds_each_text_once(tmp_path, fake_embedder):
    cached = CachedEmbedder(fake_embedder, EmbeddingCache(tmp_path / "c.sqlite"))
    a = cached.embed(["one", "two", "one"])
    assert fake_embedder.calls == [2]  # duplicates embedded once
    b = cached.embed(["two", "three"])
    assert fake_embedder.calls == [2, 1]
    assert np.array_equal(a[1], b[0])
    assert (cached.hits, cached.misses) == (2, 3)


def test_cache_persists_and_is_keyed_by_model(tmp_path, fake_embedder):
    path = tmp_path / "c.sqlite"
    CachedEmbedder(fake_embedder, EmbeddingCache(path)).embed(["alpha beta"])
    again = CachedEmbedder(fake_embedder, EmbeddingCache(path))
    again.embed(["alpha beta"])
    assert fake_embedder.calls == [1]
    fake_embedder.fingerprint = "another-model@2"
    CachedEmbedder(fake_embedder, EmbeddingCache(path)).embed(["alpha beta"])
    assert fake_embedder.calls == [1, 1]


def test_cache_stores_no_text(tmp_path, fake_embedder):
    path = tmp_path / "c.sqlite"
    cache = EmbeddingCache(path)
    CachedEmbedder(fake_embedder, cache).embed(["Mrs Jones was discharged on Tuesday"])
    cache.close()
    assert b"Mrs Jones" not in path.read_bytes()


@pytest.mark.slow
def test_packaged_model_is_the_published_all_minilm_l6_v2():
    emb = SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")
    assert emb.weights_sha256 == MINILM_SHA256["model.safetensors"]
    v = emb.embed(["A man is eating food.", "A man is eating a piece of bread."])
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # the value the original model gives for this pair (sentence-transformers docs)
    assert float(v[0] @ v[1]) == pytest.approx(0.7553, abs=2e-3)


def test_tampered_model_is_refused(tmp_path):
    path, _ = model_path("sentence-transformers/all-MiniLM-L6-v2")
    copy = tmp_path / "model"
    shutil.copytree(path, copy)
    with open(copy / "vocab.txt", "a") as f:
        f.write("extra\n")
    from pipeline.embed import verify_model

    with pytest.raises(InputError, match="vocab.txt: sha256"):
        verify_model(copy, MINILM_SHA256)


def test_unknown_model_id_is_an_error():
    with pytest.raises(InputError, match="not a packaged model"):
        SentenceTransformerEmbedder("someone/not-installed")
