"""Devices and the cluster engine: device choice, length-sized GPU batches, transcript
batches, and a real two-worker Dask cluster writing byte for byte what one process writes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline import engine
from pipeline.cli import app
from pipeline.embed.device import cuda_available, resolve_device, vector_space
from pipeline.embed.torch_backend import length_batches
from pipeline.engine import batches, local_cluster_size
from pipeline.errors import InputError
from pipeline.run import code_corpus
from pipeline.schemas import Transcript

from .conftest import SAMPLE

runner = CliRunner()
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def yes():
    return True


def no():
    return False


def test_auto_takes_a_gpu_when_torch_sees_one_and_the_cpu_otherwise():
    assert resolve_device("auto", "torch", has_cuda=yes) == "cuda"
    assert resolve_device("auto", "torch", has_cuda=no) == "cpu"
    assert resolve_device("auto", "onnx-int8", has_cuda=yes) == "cpu"  # onnxruntime here is the CPU build
    assert resolve_device("cpu", "torch", has_cuda=yes) == "cpu"


@pytest.mark.parametrize(
    ("device", "backend", "has_cuda", "says"),
    [
        ("cuda", "torch", no, "no CUDA device"),
        ("cuda", "onnx", yes, "run on the CPU"),
        ("cpu", "torch-fp16", yes, "half precision runs on a GPU"),
        ("auto", "torch-fp16", no, "half precision runs on a GPU"),
        ("tpu", "torch", yes, "not a device"),
    ],
)
def test_a_device_that_cannot_run_the_backend_is_refused(device, backend, has_cuda, says):
    with pytest.raises(InputError, match=says):
        resolve_device(device, backend, has_cuda=has_cuda)


def test_a_learned_model_matches_across_devices_but_not_precisions():
    cpu = "m@abc"
    assert vector_space(cpu + "+cuda") == vector_space(cpu)
    assert vector_space("m@abc+torch-fp16+cuda") != vector_space(cpu)


@pytest.mark.skipif(cuda_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_one_is_a_one_line_error(tmp_path):
    res = runner.invoke(app, ["code", str(SAMPLE), "-o", str(tmp_path / "out"), "--device", "cuda", "-q"])
    assert res.exit_code == 1
    assert res.stderr.strip() == "error: cuda: torch sees no CUDA device here (use --device cpu or auto)"
    assert not (tmp_path / "out").exists()


def test_length_batches_hold_every_text_once_longest_first_within_budget():
    texts = ["x" * n for n in (5, 4000, 40, 400, 40, 12000, 8, 400)]
    groups = length_batches(texts, budget=2000)
    assert sorted(i for g in groups for i in g) == list(range(len(texts)))
    flat = [len(texts[i]) for g in groups for i in g]
    assert flat == sorted(flat, reverse=True)
    for g in groups:  # one over-long text alone, else count x longest within the budget
        assert len(g) == 1 or len(g) * (len(texts[g[0]]) // 4) <= 2000
    assert length_batches(texts, budget=2000) == groups


def _transcripts(sizes):
    return [
        Transcript(id=f"t{i}", source=f"t{i}.txt", source_sha256="0" * 64, text="a" * n, turns=[])
        for i, n in enumerate(sizes)
    ]


def test_transcript_batches_close_past_the_limit_and_keep_order():
    ts = _transcripts([30, 30, 50, 10, 200, 5])
    got = [[t.id for t in b] for b in batches(ts, limit=100)]
    assert got == [["t0", "t1", "t2"], ["t3", "t4"], ["t5"]]
    assert [[t.id for t in b] for b in batches([], limit=100)] == []


def test_local_cluster_addresses():
    assert local_cluster_size("local:2") == 2
    assert local_cluster_size("tcp://10.0.0.5:8786") is None
    with pytest.raises(InputError, match="local:N"):
        local_cluster_size("local:0")


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_two_worker_cluster_writes_what_one_process_writes(tmp_path, monkeypatch):
    """Real Dask workers (two processes), each loading the real model: same bytes."""
    monkeypatch.setattr(engine, "BATCH_CHARS", 6000)  # several batches in flight, out of order
    from pipeline.config import Config

    config = Config(model=MINILM)
    alone = code_corpus(
        [SAMPLE], out_dir=tmp_path / "alone", config=config, cache_dir=tmp_path / "cache1", device="cpu"
    )
    spread = code_corpus(
        [SAMPLE],
        out_dir=tmp_path / "spread",
        config=config,
        cache_dir=tmp_path / "cache2",
        device="cpu",
        cluster="local:2",
    )
    a, b = _files(tmp_path / "alone"), _files(tmp_path / "spread")
    assert a.keys() == b.keys() and len([k for k in a if k.startswith("sources/")]) > 5
    manifest_a, manifest_b = (json.loads(x.pop("manifest.json")) for x in (a, b))
    assert a == b  # excerpts.jsonl, counts.csv, sources/ byte for byte
    assert (manifest_a.pop("engine"), manifest_b.pop("engine")) == ("local", "dask local:2")
    assert manifest_a == manifest_b and manifest_a["model"]["device"] == "cpu"
    assert spread.passages == alone.passages > 100 and spread.embedded > 0
