"""Thematic counts, the HTML report, reproduce and the notebook."""

import csv
import io
import json
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from pipeline import Config, Review, load_codebook
from pipeline.cli import app
from pipeline.counts import collect, tables
from pipeline.reproduce import diff_csv
from pipeline.schemas import Excerpt

from .browser import CHROMIUM, QUIET_FLAGS
from .conftest import REPO, SAMPLE, coded_folder

runner = CliRunner()


def ex(pid, transcript, codes, attrs, review=None):
    return Excerpt(
        id=pid,
        transcript=transcript,
        source=f"{transcript}.txt",
        source_sha256="0" * 64,
        speaker="P",
        turn=0,
        start=0,
        end=1,
        text="x",
        context=None,
        attributes=attrs,
        suggestions=[],
        codes=codes,
        review=review or Review(),
    )


def rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_tables_by_hand():
    cb = load_codebook()
    excerpts = [
        ex("a1", "a", ["conflict", "shared_purpose"], {"sector": "icb"}),
        ex("a2", "a", ["conflict"], {"sector": "icb"}, Review(status="corrected", codes=["power_dynamics"])),
        ex("b1", "b", [], {"sector": "vcse"}),
        ex("c1", "c", ["conflict"], {"sector": "vcse"}, Review(status="rejected")),
    ]
    final = tables(collect(excerpts, "final"), cb, ["sector"])
    assert rows(final["passages_by_transcript.csv"])[1][:2] == ["a", "2"]
    by_code = {r[0]: r for r in rows(final["participants_by_code.csv"])}
    assert by_code["conflict"] == ["conflict", "practice", "1", "33.3", "1"]
    assert by_code["power_dynamics"][2:] == ["1", "33.3", "1"]
    sector = {r[0]: r for r in rows(final["by_sector.csv"])}
    assert sector["(participants)"][2:] == ["1", "100.0", "2", "100.0"]
    assert sector["conflict"][2:] == ["1", "100.0", "0", "0.0"]
    co = {r[0]: r for r in rows(final["cooccurrence_passages.csv"])}
    header = rows(final["cooccurrence_passages.csv"])[0]
    assert co["conflict"][header.index("shared_purpose")] == "1" and co["conflict"][header.index("conflict")] == "1"
    machine = tables(collect(excerpts, "machine"), cb, [])
    assert {r[0]: r for r in rows(machine["participants_by_code.csv"])}["conflict"][2] == "2"
    reviewed = tables(collect(excerpts, "reviewed"), cb, [])
    assert rows(reviewed["passages_by_transcript.csv"])[1][:2] == ["a", "1"]  # a1 is pending: not counted


def test_counts_cli_is_byte_identical_and_checks_attributes(tmp_path, fake_embedder):
    texts = {"t1.txt": "Participant: Budget cuts and funding.\n", "t2.txt": "Participant: Friends and colleagues.\n"}
    coded_folder(tmp_path, fake_embedder, texts, {"t1.txt": "icb", "t2.txt": "vcse"})
    args = ["counts", str(tmp_path / "out"), "--by", "sector"]
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "c1")]).exit_code == 0
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "c2")]).exit_code == 0
    names = sorted(p.name for p in (tmp_path / "c1").iterdir())
    assert "by_sector.csv" in names and "counts_manifest.json" in names
    for name in names:
        assert (tmp_path / "c1" / name).read_bytes() == (tmp_path / "c2" / name).read_bytes(), name
    for name in names:
        text = (tmp_path / "c1" / name).read_text()
        assert str(tmp_path) not in text or name == "counts_manifest.json"
    bad = runner.invoke(app, ["counts", str(tmp_path / "out"), "--by", "colour"])
    assert bad.exit_code == 1 and "no attribute 'colour'" in bad.stderr
    res = runner.invoke(app, ["reproduce", str(tmp_path / "c1" / "counts_manifest.json")])
    assert res.exit_code == 0 and res.stdout.strip() == "reproduced"
    table = tmp_path / "c1" / "by_sector.csv"
    table.write_text(table.read_text().replace("100.0", "99.0", 1))
    res = runner.invoke(app, ["reproduce", str(tmp_path / "c1" / "counts_manifest.json")])
    assert res.exit_code == 1 and "by_sector.csv: (participants) x icb pct: 99.0 -> 100.0" in res.stdout


def test_diff_csv_names_cells_rows_and_columns():
    a = "t,x,y\nr1,1,2\nr2,3,4\n"
    b = "t,x,z\nr1,1,5\nr3,0,0\n"
    d = diff_csv("f.csv", a, b)
    assert "f.csv: column 'y' only in the original" in d and "f.csv: column 'z' only in the rerun" in d
    assert "f.csv: row 'r2' only in the original" in d and "f.csv: row 'r3' only in the rerun" in d
    assert diff_csv("f.csv", a, a) == []


def test_a_half_precision_run_reruns_in_fp32_only_where_no_gpu_is_used(monkeypatch):
    from types import SimpleNamespace

    from pipeline.embed import device
    from pipeline.reproduce import _rerun_config

    fp16 = SimpleNamespace(config=Config(backend="torch-fp16"))
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    notes: list[str] = []
    assert _rerun_config(fp16, "auto", notes).backend == "torch"
    assert notes == ["torch-fp16 runs on a GPU only: rerun with --backend torch (fp32); codes and counts compared"]
    assert _rerun_config(SimpleNamespace(config=Config(backend="torch-bf16")), "cpu", []).backend == "torch-bf16"
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    assert _rerun_config(fp16, "auto", []).backend == "torch-fp16"  # a GPU here: rerun as it was
    assert _rerun_config(fp16, "cuda", []).backend == "torch-fp16"
    assert _rerun_config(fp16, "cpu", []).backend == "torch"  # --device cpu asked for


@pytest.mark.slow
def test_reproduce_demo_output_then_fail_after_an_edit(tmp_path, cache_dir):
    inputs = tmp_path / "inputs"
    shutil.copytree(SAMPLE, inputs)
    out = tmp_path / "out"
    assert runner.invoke(app, ["code", str(inputs), "-o", str(out), "--cache-dir", str(cache_dir), "-q"]).exit_code == 0
    res = runner.invoke(app, ["reproduce", str(out / "manifest.json"), "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0 and res.stdout.strip() == "reproduced", res.stdout + res.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["device"] == "cpu"
    manifest["model"]["device"] = "cuda"  # as if coded on a GPU: the codes and counts decide
    (out / "manifest.json").write_text(json.dumps(manifest))
    res = runner.invoke(
        app, ["reproduce", str(out / "manifest.json"), "--cache-dir", str(cache_dir), "--device", "cpu"]
    )
    assert res.exit_code == 0 and res.stdout.strip() == "reproduced", res.stdout + res.stderr
    assert "embedded on cpu, the original on cuda" in res.stderr
    manifest["config"]["backend"] = "torch-fp16"  # half precision runs on a GPU only: reruns in fp32
    (out / "manifest.json").write_text(json.dumps(manifest))
    res = runner.invoke(
        app, ["reproduce", str(out / "manifest.json"), "--cache-dir", str(cache_dir), "--device", "cpu"]
    )
    assert res.exit_code == 0 and res.stdout.strip() == "reproduced", res.stdout + res.stderr
    assert "torch-fp16 runs on a GPU only: rerun with --backend torch (fp32)" in res.stderr
    victim = inputs / "icb_01.txt"
    victim.write_text(
        victim.read_text().replace(
            "In the end I put it on the agenda",
            "In the end I put the beds on the agenda and we sorted it. In the end I put it on the agenda",
        )
    )
    res = runner.invoke(app, ["reproduce", str(out / "manifest.json"), "--cache-dir", str(cache_dir)])
    assert res.exit_code == 1
    assert "note: input changed: " in res.stderr and "icb_01.txt" in res.stderr
    assert "excerpts.jsonl:" in res.stdout or "counts.csv: icb_01" in res.stdout
    assert "not reproduced" in res.stdout


def test_report_is_self_contained(tmp_path, fake_embedder):
    texts = {"t1.txt": "Interviewer: And?\nParticipant: Budget cuts <b>and</b> funding.\n"}
    coded_folder(tmp_path, fake_embedder, texts, {"t1.txt": "icb"}, Config(threshold=0.0))
    res = runner.invoke(app, ["report", str(tmp_path / "out")])
    assert res.exit_code == 0, res.stderr
    page = (tmp_path / "out" / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.replace("http-equiv", "")
    assert "&lt;b&gt;and&lt;/b&gt;" in page  # transcript text is escaped
    assert "Q: And?" in page
    for png in ("frequency_by_sector.png", "cooccurrence.png", "review_progress.png"):
        assert (tmp_path / "out" / "report" / png).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path, cache_dir):
    out = tmp_path / "out"
    assert runner.invoke(app, ["code", str(SAMPLE), "-o", str(out), "--cache-dir", str(cache_dir), "-q"]).exit_code == 0
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    page = out / "report" / "report.html"
    shot = tmp_path / "shot.png"
    flags = ["--headless", *QUIET_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 20_000  # a blank page is a few KB
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert dom.count("<img") == 3 and "Top excerpts per code" in dom


@pytest.mark.slow
def test_notebook_runs(tmp_path, cache_dir):
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "out"
    assert runner.invoke(app, ["code", str(SAMPLE), "-o", str(out), "--cache-dir", str(cache_dir), "-q"]).exit_code == 0
    nb = nbformat.read(REPO / "notebooks" / "thematic_counts.ipynb", as_version=4)
    import os

    os.environ["QCODE_OUT"] = str(out)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    finally:
        del os.environ["QCODE_OUT"]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert (out / "counts" / "by_sector.csv").exists()
    text = json.dumps(outputs)
    assert "transcripts" in text and "image/png" in text


def test_report_figures_speak_the_codebook_s_words(tmp_path, fake_embedder):
    from pipeline.report import LABEL_CHARS, cooccurrence_figure, frequency_figure
    from pipeline.store import read_excerpts

    texts = {
        "t1.txt": "Interviewer: And?\nParticipant: Budget cuts and funding. We trust each other.\n",
        "t2.txt": "Interviewer: And?\nParticipant: The council and the trust disagree about money.\n",
    }
    out = coded_folder(tmp_path, fake_embedder, texts, {"t1.txt": "icb", "t2.txt": "vcse"}, Config(threshold=0.0))
    cb = load_codebook()
    excerpts = read_excerpts(out / "excerpts.jsonl")
    fig = frequency_figure(excerpts, cb, "sector", "machine")
    ax = fig.axes[0]
    ticks = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    headings = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert headings == [t.name for t in cb.themes]  # codes grouped under their themes
    assert [t for t in ticks if t not in headings] == [c.name for c in cb.codes]  # names, not ids
    assert not any(c.id in ticks for c in cb.codes)
    assert all(len(line) <= LABEL_CHARS for t in ax.get_yticklabels() for line in t.get_text().splitlines())
    fig.canvas.draw()
    legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes.x1  # beside the bars, never over them
    co = cooccurrence_figure(excerpts, cb, "machine").axes[0]
    assert [t.get_text().replace("\n", " ") for t in co.get_xticklabels()] == [c.name for c in cb.codes]


def test_the_report_says_why_a_figure_is_missing(tmp_path, fake_embedder):
    texts = {"t1.txt": "Interviewer: And?\nParticipant: Budget cuts and funding.\n"}
    coded_folder(tmp_path, fake_embedder, texts, {}, Config(threshold=0.0))
    res = runner.invoke(app, ["report", str(tmp_path / "out")])
    assert res.exit_code == 0, res.stderr
    page = (tmp_path / "out" / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "No figure by sector: the transcripts have no attributes" in page
