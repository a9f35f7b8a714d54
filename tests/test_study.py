"""A study folder remembers: reruns, learn, agreement and reproduce take its settings, and
a run with a learned model reproduces from the copy kept in the folder (real model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.manifest import Manifest
from pipeline.study import Study, keep_learned_model

from .conftest import SAMPLE, write

runner = CliRunner()

CODEBOOK = """\
name: Three practices (definitions only)
version: "1"
codes:
  - id: trust
    name: Trust and safety
    definition: People feel safe to speak openly, trust each other and are included.
  - id: purpose
    name: Shared purpose
    definition: Partners share a common goal or identity for their population.
  - id: money
    name: Money and resources
    definition: Budgets, funding, money or staff are lost, protected or fought over.
"""


def _decide(out: Path, n: int) -> list[str]:
    """Reviewer decisions on the first `n` passages: the best-scoring code, or none."""
    lines = (out / "excerpts.jsonl").read_text().splitlines()
    decided = []
    for i, line in enumerate(lines[:n]):
        e = json.loads(line)
        best = e["suggestions"][0]["code"] if i % 3 and e["suggestions"] else None
        e["review"] = {"status": "corrected", "codes": [best] if best else [], "reviewer": "ana"}
        lines[i] = json.dumps(e)
        decided.append(e["id"])
    (out / "excerpts.jsonl").write_text("\n".join(lines) + "\n")
    return decided


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("icb_01.txt", "nhs_provider_01.txt", "local_government_01.txt"):
        shutil.copy(SAMPLE / name, folder / name)
    return folder


@pytest.mark.slow
def test_code_review_learn_recode_reproduce(tmp_path, cache_dir):
    inputs, out, cb = _inputs(tmp_path), tmp_path / "study", write(tmp_path / "cb.yaml", CODEBOOK)
    cache = ["--cache-dir", str(cache_dir)]
    res = runner.invoke(
        app, ["code", str(inputs), "-o", str(out), "-c", str(cb), "-e", "minilm", "--target-words", "40", "-q", *cache]
    )
    assert res.exit_code == 0, res.stderr
    decided = _decide(out, 24)

    res = runner.invoke(app, ["learn", str(out), *cache])  # the study's codebook and model, no option
    assert res.exit_code == 0, res.stderr
    assert f"settings from {out / 'manifest.json'}: codebook {cb}" in res.stderr
    assert "cross-validated F1" in res.stdout and (out / "learned" / "model.json").is_file()

    res = runner.invoke(app, ["code", str(inputs), "-o", str(out), "--model", str(out / "learned"), "-q", *cache])
    assert res.exit_code == 0, res.stderr
    assert "target_words 40" in res.stderr and "MiniLM" in res.stderr  # said in one line
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.config.target_words == 40 and "MiniLM" in manifest.model.id
    record = manifest.learned_model
    assert record is not None and (out / record.path / "weights.npz").is_file()
    assert "reviews kept: 24" in res.stderr  # same passages: no review orphaned

    shutil.rmtree(out / "learned")  # the study's own copy is what reproduce uses
    res = runner.invoke(app, ["reproduce", str(out), *cache])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("reproduced")

    res = runner.invoke(app, ["agreement", str(out)])
    assert res.exit_code == 0, res.stderr
    assert (
        "codebook" in res.stderr
        and "trust" in res.stdout
        and "24 the run's learned model was trained on left out" in res.stderr
    )
    gold = write(
        tmp_path / "coder_b.jsonl",
        "".join(json.dumps({"id": i, "text": "t", "labels": ["trust"]}) + "\n" for i in decided),
    )
    machine = json.loads(runner.invoke(app, ["agreement", str(out), str(gold), "--source", "machine", "--json"]).stdout)
    reviewed = json.loads(
        runner.invoke(app, ["agreement", str(out), str(gold), "--source", "reviewed", "--json"]).stdout
    )
    assert machine["coders"][0].startswith("machine") and reviewed["coders"][0].startswith("reviewers")
    assert machine["per_code"] != reviewed["per_code"]

    weights = out / record.path / "weights.npz"  # a changed model is named first
    with np.load(weights) as w:
        arrays = {k: w[k] for k in w.files}
    arrays["coef"] = arrays["coef"] + 0.5
    np.savez(weights, **arrays)
    res = runner.invoke(app, ["reproduce", str(out / "manifest.json"), *cache])
    assert res.exit_code == 1
    first = res.stderr.splitlines()[0]
    assert first.startswith("note: learned model changed") and record.path in first
    shutil.rmtree(out / record.path)
    res = runner.invoke(app, ["reproduce", str(out), *cache])
    assert res.exit_code == 1 and "learned model" in res.stderr and "is missing" in res.stderr


def test_a_learned_model_is_kept_once_by_its_hash(tmp_path):
    model = tmp_path / "m"
    write(model / "model.json", '{"a": 1}\n')
    (model / "weights.npz").write_bytes(b"weights")
    first = keep_learned_model(model, tmp_path / "out")
    again = keep_learned_model(model, tmp_path / "out")
    assert first == again and (tmp_path / "out" / first.path / "weights.npz").read_bytes() == b"weights"
    assert first.path == f"models/{first.sha256[:12]}" and first.given == str(model)
    (model / "weights.npz").write_bytes(b"other")
    assert keep_learned_model(model, tmp_path / "out").path != first.path


def test_a_folder_without_a_manifest_is_no_study(tmp_path):
    assert Study.of(tmp_path) is None
    write(tmp_path / "manifest.json", "{}")
    with pytest.raises(Exception, match="manifest"):
        Study.of(tmp_path)


def test_learning_a_study_brings_what_its_model_learned_from(tmp_path, monkeypatch, fake_embedder):
    """An imported coding (here a gold file) taught the model a study was coded with:
    `qcode learn STUDY` learns from it too, before the study's own decisions (which win)."""
    import pipeline.cli.learn as learn_cli
    import pipeline.run.setup as run
    from pipeline.study import for_learning

    for module in (learn_cli, run):
        monkeypatch.setattr(module, "build_embedder", lambda *a, **k: fake_embedder)
    codebook = write(tmp_path / "cb.yaml", CODEBOOK)
    texts = ["We trust each other in that room.", "The budget was cut again.", "Our shared aim is the estate."]
    rows = [
        {"id": f"old:{i}", "text": t, "labels": [c], "source": "old"}
        for i, (t, c) in enumerate(zip(texts * 10, ["trust", "money", "purpose"] * 10))
    ]  # noqa: E501
    gold = write(
        tmp_path / "imported.jsonl",
        "".join(json.dumps({**r, "id": f"{r['id']}-{n}"}) + "\n" for n, r in enumerate(rows)),
    )  # noqa: E501
    assert runner.invoke(app, ["learn", str(gold), "-o", str(tmp_path / "m"), "-c", str(codebook)]).exit_code == 0
    study = tmp_path / "study"
    res = runner.invoke(app, ["code", str(SAMPLE), "-o", str(study), "--model", str(tmp_path / "m"), "-q"])
    assert res.exit_code == 0, res.stderr
    decided = _decide(study, 4)
    settings = for_learning([study], {}, None, None)
    prior = Study.of(study).prior()
    assert prior is not None and settings.files == (prior, study / "excerpts.jsonl"), settings.files
    assert "learned model learned from" in settings.said
    res = runner.invoke(app, ["learn", str(study)])
    assert res.exit_code == 0, res.stderr
    learned = json.loads((study / "learned" / "model.json").read_text())["training"]
    assert [f["passages"] for f in learned["files"]] == [len(rows), len(decided)]
    assert set(learned["ids"]) == {f"{r['id']}-{n}" for n, r in enumerate(rows)} | set(decided)
