"""The whole pipeline through the CLI on transcripts_sample/, with the real spaCy model and
the real embedding model, against a checked-in golden summary.

If a deliberate change to segmentation or tagging changes the summary, regenerate it
with `make golden` and review the diff.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.ingest import discover_inputs
from pipeline.outputs import text_file_name

from .conftest import DEV_GOLD, REPO, SAMPLE

pytestmark = pytest.mark.slow
GOLDEN = REPO / "tests" / "golden" / "sample_summary.json"
runner = CliRunner()


def summary(out):
    rows = [json.loads(line) for line in (out / "excerpts.jsonl").read_text().splitlines()]
    per = {}
    for r in rows:
        per[r["transcript"]] = per.get(r["transcript"], 0) + 1
    return {
        "transcripts": len(per),
        "passages_per_transcript": per,
        "counts_csv": (out / "counts.csv").read_text().splitlines(),
    }


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("run1")
    res = runner.invoke(app, ["code", str(SAMPLE), "--out", str(out), "--cache-dir", str(cache_dir), "-q"])
    assert res.exit_code == 0, res.stderr
    return out, res


def test_sample_run_writes_the_three_outputs(first_run):
    out, res = first_run
    for name in ("excerpts.jsonl", "counts.csv", "manifest.json"):
        assert (out / name).stat().st_size > 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["model"]["weights_sha256"].startswith("78c0197b")  # all-mpnet-base-v2, the default
    files, _ = discover_inputs([SAMPLE])
    assert {Path(i["path"]).suffix for i in m["inputs"]} == {".txt", ".docx", ".vtt", ".srt", ".csv"}
    assert len(m["inputs"]) == len(files) and all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert m["totals"]["passages"] > 100 and m["totals"]["coded_passages"] > 0
    assert re.search(r"from cache; \d+\.\ds", res.stderr) and str(out / "excerpts.jsonl") in res.stderr


def test_every_excerpt_is_a_slice_of_its_stored_text_with_attributes(first_run):
    out, _ = first_run
    for line in (out / "excerpts.jsonl").read_text().splitlines():
        r = json.loads(line)
        stored = (out / "sources" / text_file_name(r["transcript"])).read_text(encoding="utf-8")
        assert stored[r["start"] : r["end"]] == r["text"]
        if r["source"].endswith(".txt"):  # plain UTF-8 sources are their own normalised text
            assert Path(r["source"]).read_text(encoding="utf-8") == stored
        if r["source"].endswith((".vtt", ".srt")):
            assert 0 <= r["time_start"] < r["time_end"]
        assert r["attributes"]["sector"] in ("icb", "nhs_provider", "local_government", "vcse")
        assert set(r["codes"]) <= {s["code"] for s in r["suggestions"]}
        assert all(0 <= s["score"] <= 1 and s["rationale"] for s in r["suggestions"])


def test_matches_golden_summary(first_run):
    out, _ = first_run
    assert summary(out) == json.loads(GOLDEN.read_text())


def test_rerun_is_byte_identical_and_embeds_nothing(first_run, tmp_path, cache_dir):
    out, _ = first_run
    res = runner.invoke(app, ["code", str(SAMPLE), "--out", str(tmp_path), "--cache-dir", str(cache_dir), "-q"])
    assert res.exit_code == 0
    assert "embedded 0," in res.stderr
    for name in ("excerpts.jsonl", "counts.csv", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_bad_file_among_sample_transcripts_exits_1_and_codes_the_rest(tmp_path, cache_dir):
    import shutil

    folder = tmp_path / "in"
    shutil.copytree(SAMPLE, folder)
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00")  # UTF-16 BOM with an odd byte
    (folder / "empty.txt").write_text("")
    res = runner.invoke(app, ["code", str(folder), "--out", str(tmp_path / "out"), "--cache-dir", str(cache_dir), "-q"])
    assert res.exit_code == 1
    assert f"error: {folder / 'empty.txt'}: empty file" in res.stderr
    assert "2 input(s) failed" in res.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["totals"]["transcripts"] == json.loads(GOLDEN.read_text())["transcripts"]


def test_evaluate_json(cache_dir):
    res = runner.invoke(app, ["evaluate", "--gold", str(DEV_GOLD), "--json", "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert set(report) == {"n", "macro_f1", "micro_f1", "mean_kappa", "per_code"}
    assert len(report["per_code"]) == 9 and report["n"] >= 150


def test_evaluate_on_coded_passages_only_says_so_and_every_passage_coded_gives_each_a_code(tmp_path, cache_dir):
    rows = [json.loads(line) for line in DEV_GOLD.read_text().splitlines() if line.strip()]
    gold = tmp_path / "quotes.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows if r["labels"]))
    args = ["evaluate", "--gold", str(gold), "--json", "--cache-dir", str(cache_dir)]
    free, coded = runner.invoke(app, args), runner.invoke(app, [*args, "--every-passage-coded"])
    assert free.exit_code == coded.exit_code == 0, free.stderr + coded.stderr
    assert "--every-passage-coded gives each at least its best code" in free.stderr
    assert "--every-passage-coded" not in coded.stderr
    free_report, coded_report = json.loads(free.stdout), json.loads(coded.stdout)
    applied = {
        name: sum(c["predicted"] for c in r["per_code"]) for name, r in (("free", free_report), ("coded", coded_report))
    }
    assert applied["coded"] >= coded_report["n"] and applied["coded"] > applied["free"]


def test_python_dash_m_and_version():
    res = subprocess.run([sys.executable, "-m", "pipeline", "--version"], capture_output=True, text=True, check=True)
    assert res.stdout.startswith("qcode ")
    res = subprocess.run([sys.executable, "-m", "pipeline"], capture_output=True, text=True)
    assert "Usage" in res.stdout + res.stderr


def test_onnx_int8_backend_end_to_end_records_its_exported_model(tmp_path):
    cache = tmp_path / "cache"
    args = [
        "code",
        str(SAMPLE / "icb_01.txt"),
        "-e",
        "minilm",
        "--backend",
        "onnx-int8",
        "--cache-dir",
        str(cache),
        "-q",
    ]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.stderr
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    exported = m["model"]["exported_model"]
    assert m["model"]["backend"] == "onnx-int8" and m["model"]["weights_sha256"].startswith("53aa5117")
    import hashlib

    assert hashlib.sha256((cache / "onnx" / exported["file"]).read_bytes()).hexdigest() == exported["sha256"]
    assert m["model"]["fingerprint"].endswith(exported["sha256"])
    # a cold rerun (fresh cache, so a fresh export) gives the same bytes
    res = runner.invoke(app, [*args[:-3], "--cache-dir", str(tmp_path / "cache2"), "-q", "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.stderr
    for name in ("excerpts.jsonl", "counts.csv", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
