"""`qcode import project`: coded projects from other tools. Taguette's real export code
(run in its own venv), qcode's own REFI-QDA export round trip on the sample transcripts,
and hand-made projects in the shapes other tools write, for the overlap rule and for
every problem the importer must name."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.importing import read_project, write_import
from pipeline.store import read_excerpts

from .conftest import REPO, SAMPLE, FakeEmbedder, write

runner = CliRunner()
TAGUETTE = REPO / ".venv-taguette" / "bin" / "python"


def taguette_exports(out: Path) -> Path:
    """Taguette's own highlights and codebook exports of a project made in its database."""
    if not TAGUETTE.exists():
        if os.environ.get("CI"):
            pytest.fail("Taguette's venv is missing in CI (`make test` installs it)")
        pytest.skip("Taguette is not installed (`make test` installs it into .venv-taguette)")
    subprocess.run(
        [str(TAGUETTE), str(REPO / "tests" / "tools" / "taguette_export.py"), str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.mark.slow
def test_taguette_highlights_import_and_learn(tmp_path, cache_dir):
    exports = taguette_exports(tmp_path / "taguette")
    res = runner.invoke(
        app,
        [
            "import",
            "project",
            str(exports / "all_tags.csv"),
            "--codebook",
            str(exports / "codebook.csv"),
            "-o",
            str(tmp_path / "imp"),
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert "5 codes" in res.stderr and "8 coded selections" in res.stderr
    labelled = [json.loads(x) for x in (tmp_path / "imp" / "labelled.jsonl").read_text().splitlines()]
    assert len(labelled) == 6 and {"money", "conflict"} == set(
        next(r["labels"] for r in labelled if r["text"].startswith("The hard part"))
    )
    # a table is imported as a project is: its documents made from its highlights, in order, and coded
    sources = [r["source"] for r in labelled]
    assert sources[0].startswith("ICB_director") and sources == [sources[0]] * 3 + [sources[3]] * 3, sources
    study = read_excerpts(tmp_path / "imp" / "study" / "excerpts.jsonl")
    assert [e.text for e in study] == [r["text"] for r in labelled] and all(e.review.status != "pending" for e in study)
    book = (tmp_path / "imp" / "codebook.yaml").read_text()
    assert "People feel safe to speak openly" in book  # Taguette's tag descriptions became definitions
    res = runner.invoke(app, ["learn", str(tmp_path / "imp"), "-e", "minilm", "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0, res.stderr
    assert (
        "cross-validated F1" in res.stdout
        and "purpose" in res.stdout
        and (tmp_path / "imp" / "learned" / "model.json").is_file()
    )
    qdc = runner.invoke(app, ["import", "codebook", str(exports / "codebook.qdc"), "-o", str(tmp_path / "cb.yaml")])
    assert qdc.exit_code == 0 and "5 codes" in qdc.stderr  # Taguette's REFI-QDA codebook too
    # the newcomer's next step: code new sessions with --model alone (the model knows its codebook)
    new = tmp_path / "new"
    new.mkdir()
    (new / "s6.txt").write_text((SAMPLE / "icb_01.txt").read_text())
    model = tmp_path / "imp" / "learned"
    res = runner.invoke(
        app,
        [
            "code",
            str(new),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(model),
            "-e",
            "minilm",
            "-q",
            "--cache-dir",
            str(cache_dir),
        ],
    )
    assert res.exit_code == 0, res.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["learned_model"] is not None and manifest["codebook"]["name"] == yaml.safe_load(book)["name"]


@pytest.mark.slow
def test_export_refi_then_import_project_is_exact_on_the_sample(tmp_path, cache_dir):
    from pipeline import load_codebook
    from pipeline.reviewing.decision import make_review
    from pipeline.store import record

    cache = ["--cache-dir", str(cache_dir)]
    assert (
        runner.invoke(app, ["code", str(SAMPLE), "-o", str(tmp_path / "study"), "-e", "minilm", "-q", *cache]).exit_code
        == 0
    )
    path, cb = tmp_path / "study" / "excerpts.jsonl", load_codebook()
    decided = {}
    for i, e in enumerate(read_excerpts(path)[::7]):
        action, codes = [("accept", list(e.codes)), ("accept", [cb.code_ids[i % 9]]), ("reject", [])][i % 3]
        decided[e.id] = make_review(
            e, action=action, codes=codes, reviewer=["ana", "ben"][i % 2], note=f"n{i}" if i % 2 else None, codebook=cb
        )
    record(path, decided)
    assert (
        runner.invoke(app, ["export", "refi", str(tmp_path / "study"), "-o", str(tmp_path / "s.qdpx")]).exit_code == 0
    )
    res = runner.invoke(
        app, ["import", "project", str(tmp_path / "s.qdpx"), "-o", str(tmp_path / "imp"), "-e", "minilm", *cache]
    )
    assert res.exit_code == 0, res.stderr
    before = {e.id: e for e in read_excerpts(path)}
    after = {e.id: e for e in read_excerpts(tmp_path / "imp" / "study" / "excerpts.jsonl")}
    assert set(before) == set(after)  # the same passages
    assert all(
        before[i].text == after[i].text and before[i].codes == after[i].codes for i in before
    )  # and machine codes
    assert {i: e.review for i, e in after.items() if e.review.status != "pending"} == decided  # and decisions, exactly
    assert all(before[i].attributes == after[i].attributes for i in before)


QDE = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Foreign" origin="SomeTool 9">
 <Users><User guid="u1" name="Ana"/><User guid="u2" name="Ben"/></Users>
 <CodeBook><Codes>
  <Code guid="t1" name="Practices" isCodable="false">
   <Code guid="c1" name="Trust" isCodable="true"><Description>People speak openly.</Description></Code>
   <Code guid="c2" name="Money" isCodable="true"><Description>Budgets and posts.</Description></Code>
  </Code>
 </Codes></CodeBook>
 <Sources>
  <TextSource guid="s1" name="int01" plainTextPath="internal://s1.txt">
   <PlainTextSelection guid="p1" startPosition="{a0}" endPosition="{a1}" creatingUser="u1"><Coding guid="k1" creatingUser="u1"><CodeRef targetGUID="c1"/></Coding></PlainTextSelection>
   <PlainTextSelection guid="p2" startPosition="{a0}" endPosition="{a1}" creatingUser="u2"><Coding guid="k2" creatingUser="u2"><CodeRef targetGUID="c2"/></Coding></PlainTextSelection>
   <PlainTextSelection guid="p3" startPosition="{b0}" endPosition="{b1}" creatingUser="u1"><Coding guid="k3" creatingUser="u1"><CodeRef targetGUID="c2"/></Coding><Coding guid="k4" creatingUser="u1"><CodeRef targetGUID="nope"/></Coding></PlainTextSelection>
   <PlainTextSelection guid="p4" startPosition="5" endPosition="99999" creatingUser="u1"><Coding guid="k5" creatingUser="u1"><CodeRef targetGUID="c1"/></Coding></PlainTextSelection>
  </TextSource>
  <TextSource guid="s2" name="int02" plainTextPath="internal://missing.txt"/>
  <TextSource guid="s3" name="int03" plainTextPath="internal://s3.txt"/>
  <TextSource guid="s1" name="dup" plainTextPath="internal://s1.txt"/>
 </Sources>
</Project>
"""
TEXT = (
    "Interviewer: How do you work together?\n\n"
    "P01: We trust each other and say what we think at the board, which took years of meetings to get to.\n\n"
    "Interviewer: And money?\n\n"
    "P01: The council lost two posts when the budget moved, and the trust kept its beds, which still rankles here.\n"
)


def foreign_qdpx(tmp_path: Path) -> Path:
    a = TEXT.index("We trust")
    b = TEXT.index("The council lost")
    xml = QDE.format(a0=a + 3, a1=a + 60, b0=b, b1=b + 40)  # selections that do not match passage bounds
    path = tmp_path / "foreign.qdpx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.qde", xml)
        z.writestr("sources/s1.txt", TEXT)
        z.writestr("sources/s3.txt", "P02: Caf\xe9 talk about budgets.\n".encode("cp1252"))
    return path


def test_every_problem_is_named_and_the_rest_imported(tmp_path):
    project = read_project(foreign_qdpx(tmp_path))
    problems = "\n".join(project.problems)
    assert "GUID s1 is used 2 times" in problems
    assert "codes nope, which is not a code" in problems
    assert "[5, 99999) lies outside its text" in problems
    assert "source 'int02': its text internal://missing.txt is missing" in problems
    assert "source 'int03': not UTF-8" in problems
    assert [c["id"] for c in project.codebook["codes"]] == ["trust", "money"] and project.codebook["themes"][0][
        "name"
    ] == "Practices"
    assert {(s.coder, tuple(s.codes)) for s in project.selections if s.document == "int01"} == {
        ("Ana", ("trust",)),
        ("Ben", ("money",)),
        ("Ana", ("money",)),
    }


def test_two_coders_on_one_passage_and_the_overlap_rule(tmp_path):
    project = read_project(foreign_qdpx(tmp_path))
    result = write_import(project, tmp_path / "foreign.qdpx", tmp_path / "imp", embedder=FakeEmbedder())
    passages = {e.text[:12]: e for e in read_excerpts(tmp_path / "imp" / "study" / "excerpts.jsonl")}
    board, council = passages["We trust eac"], passages["The council "]
    assert {(d.reviewer, tuple(d.codes)) for d in board.reviews} == {
        ("Ana", ("trust",)),
        ("Ben", ("money",)),
    } and board.disagreement
    assert council.review.reviewer == "Ana" and council.review.codes == [
        "money"
    ]  # 40 of its characters: under half of it, all of the selection
    assert result.decided == 2 and json.loads((tmp_path / "imp" / "import.json").read_text())["rule"]["overlap"] == 0.5
    assert len((tmp_path / "imp" / "selections.jsonl").read_text().splitlines()) == len(project.selections)


@pytest.mark.slow
def test_the_cli_names_each_problem_and_exits_1_having_imported_the_rest(tmp_path, cache_dir):
    res = runner.invoke(
        app,
        [
            "import",
            "project",
            str(foreign_qdpx(tmp_path)),
            "-o",
            str(tmp_path / "cli"),
            "-e",
            "minilm",
            "--cache-dir",
            str(cache_dir),
        ],
    )
    assert res.exit_code == 1
    problems = [line for line in res.stderr.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 5 and "2 passages decided" in res.stderr
    assert (tmp_path / "cli" / "study" / "excerpts.jsonl").is_file() and (tmp_path / "cli" / "labelled.jsonl").is_file()


def test_a_segments_table_in_other_tools_layouts(tmp_path):
    maxqda = write(
        tmp_path / "coded_segments.csv",
        "Document name,Code,Segment,Created by\nint01,Barriers\\Money,The budget moved.,ana\nint01,Practices > Trust,We"
        " say what we think.,ben\nint02,,No code here.,ana\n",
    )
    project = read_project(maxqda)
    assert [(c["id"], c.get("theme")) for c in project.codebook["codes"]] == [
        ("money", "barriers"),
        ("trust", "practices"),
    ]
    assert [s.coder for s in project.selections] == ["ana", "ben"] and any(":4: no code" in p for p in project.problems)
    # documents made from the segments, in order, one participant turn each; each selection on its turn
    assert [d.name for d in project.documents] == ["int01"]
    text = project.documents[0].text
    assert text == "P: The budget moved.\n\nP: We say what we think.\n"
    assert [text[s.start : s.end] for s in project.selections] == ["The budget moved.", "We say what we think."]
    with pytest.raises(Exception, match="no text column"):
        read_project(write(tmp_path / "bad.csv", "document,tag\na,b\n"))
