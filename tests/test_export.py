"""REFI-QDA and spreadsheet exports, validated against the published schemas."""

import io
import json
import zipfile
from xml.etree import ElementTree as ET

import openpyxl
import pytest
import xmlschema
import yaml
from typer.testing import CliRunner

from pipeline import Review, load_codebook
from pipeline.cli import app
from pipeline.codebook import default_codebook_path
from pipeline.codebook.qdc import import_qdc
from pipeline.export.refi import PROJECT_NS, codebook_qdc
from pipeline.schemas import Excerpt

from .conftest import REPO, coded_folder, write

SCHEMAS = REPO / "tests" / "refi_qda"
CODEBOOK_XSD = xmlschema.XMLSchema(SCHEMAS / "Codebook.xsd")
PROJECT_XSD = xmlschema.XMLSchema(SCHEMAS / "Project.xsd")
runner = CliRunner()
NS = {"p": PROJECT_NS}


def test_default_codebook_qdc_is_valid_and_deterministic(tmp_path):
    data = codebook_qdc(load_codebook())
    CODEBOOK_XSD.validate(io.BytesIO(data))
    assert data == codebook_qdc(load_codebook())
    root = ET.fromstring(data)
    ns = {"c": "urn:QDA-XML:codebook:1.0"}
    themes = root.findall("c:Codes/c:Code", ns)
    assert [t.get("isCodable") for t in themes] == ["false", "false"]
    assert [len(t.findall("c:Code", ns)) for t in themes] == [6, 3]
    assert root.find("c:Sets", ns) is None  # an empty <Sets/> would be invalid


def test_codebook_round_trip(tmp_path):
    res = runner.invoke(app, ["export", "codebook", str(default_codebook_path()), "-o", str(tmp_path / "k.qdc")])
    assert res.exit_code == 0
    res = runner.invoke(app, ["import", "codebook", str(tmp_path / "k.qdc"), "-o", str(tmp_path / "k.yaml")])
    assert res.exit_code == 0
    assert runner.invoke(app, ["codebook", "check", str(tmp_path / "k.yaml")]).exit_code == 0
    original, back = load_codebook(), load_codebook(tmp_path / "k.yaml")
    assert [(c.id, c.name, c.theme, c.definition.split()) for c in back.codes] == [
        (c.id, c.name, c.theme, c.definition.split()) for c in original.codes
    ]
    assert [c.examples for c in back.codes] == [[" ".join(e.split()) for e in c.examples] for c in original.codes]
    assert [t.name for t in back.themes] == [t.name for t in original.themes]


def test_import_foreign_qdc_with_nesting_and_duplicate_names(tmp_path):
    qdc = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo">
  <Codes>
    <Code guid="11111111-1111-1111-1111-111111111111" name="Barriers" isCodable="false">
      <Code guid="22222222-2222-2222-2222-222222222222" name="Money worries!" isCodable="true">
        <Description>Fear of losing budget.</Description>
        <Code guid="33333333-3333-3333-3333-333333333333" name="Money worries" isCodable="true"/>
      </Code>
    </Code>
    <Code guid="44444444-4444-4444-4444-444444444444" name="Trust" isCodable="true"/>
  </Codes>
</CodeBook>"""
    path = write(tmp_path / "n.qdc", qdc)
    CODEBOOK_XSD.validate(str(path))
    book = import_qdc(path)
    assert [(c["id"], c.get("theme"), c["definition"]) for c in book["codes"]] == [
        ("money_worries", "barriers", "Fear of losing budget."),
        ("money_worries_2", "barriers", "Money worries"),
        ("trust", None, "Trust"),
    ]
    out = write(tmp_path / "n.yaml", yaml.safe_dump(book))
    assert load_codebook(out).code_ids == load_codebook(path).code_ids  # the one reader takes a .qdc as it is
    bad = write(tmp_path / "bad.qdc", "<nope/>")
    assert runner.invoke(app, ["import", "codebook", str(bad), "-o", str(tmp_path / "x.yaml")]).exit_code == 1


@pytest.fixture
def coded(tmp_path, fake_embedder):
    from pipeline import Config

    texts = {
        "a.txt": "Interviewer: Q?\r\nParticipant: Caf\u00e9 budgets \u2013 funding was cut.\r\nAnd costs rose.\r\n",
        "b.vtt": "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Sam>We trust each other now.\n",
    }
    out = coded_folder(
        tmp_path, fake_embedder, texts, {"a.txt": "icb", "b.vtt": "vcse"}, Config(threshold=0.0, max_codes=2)
    )
    rows = [Excerpt.model_validate_json(x) for x in (out / "excerpts.jsonl").read_text().splitlines()]
    rows[0] = rows[0].model_copy(update={"review": Review(status="corrected", codes=["conflict"], reviewer="ana")})
    (out / "excerpts.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    return out, rows


def test_qdpx_is_valid_with_exact_offsets_users_and_cases(tmp_path, coded):
    out, rows = coded
    res = runner.invoke(app, ["export", "refi", str(out), "-o", str(tmp_path / "p.qdpx")])
    assert res.exit_code == 0, res.stderr
    with zipfile.ZipFile(tmp_path / "p.qdpx") as z:
        names = z.namelist()
        project = z.read("project.qde")
        texts = {n: z.read(n).decode("utf-8") for n in names if n.startswith("sources/")}
    assert names[0] == "project.qde" or "project.qde" in names
    PROJECT_XSD.validate(io.BytesIO(project))
    root = ET.fromstring(project)
    users = {u.get("guid"): u.get("name") for u in root.findall("p:Users/p:User", NS)}
    assert sorted(users.values()) == ["ana", "qcode (machine)"]
    by_id = {r.id: r for r in rows}
    seen = 0
    for src in root.findall("p:Sources/p:TextSource", NS):
        text = texts["sources/" + src.get("plainTextPath").removeprefix("internal://")]
        assert "\r" not in text
        for sel in src.findall("p:PlainTextSelection", NS):
            e = by_id[sel.get("name")]
            assert text[int(sel.get("startPosition")) : int(sel.get("endPosition"))] == e.text
            coders = {users[c.get("creatingUser")] for c in sel.findall("p:Coding", NS)}
            assert coders == ({"ana"} if e.id == rows[0].id else {"qcode (machine)"})
            seen += 1
    assert seen == len(rows)
    cases = root.findall("p:Cases/p:Case", NS)
    assert sorted(c.get("name") for c in cases) == ["a", "b"]
    assert {c.findtext("p:VariableValue/p:TextValue", namespaces=NS) for c in cases} == {"icb", "vcse"}
    again = tmp_path / "again.qdpx"
    runner.invoke(app, ["export", "refi", str(out), "-o", str(again)])
    assert again.read_bytes() == (tmp_path / "p.qdpx").read_bytes()


def test_qdpx_sources_machine_and_reviewed(tmp_path, coded):
    out, rows = coded
    for source, expected_users in (("machine", {"qcode (machine)"}), ("reviewed", {"ana"})):
        target = tmp_path / f"{source}.qdpx"
        assert runner.invoke(app, ["export", "refi", str(out), "-o", str(target), "--source", source]).exit_code == 0
        with zipfile.ZipFile(target) as z:
            root = ET.fromstring(z.read("project.qde"))
        PROJECT_XSD.validate(io.BytesIO(ET.tostring(root)))
        users = {u.get("guid"): u.get("name") for u in root.findall("p:Users/p:User", NS)}
        coders = {users[c.get("creatingUser")] for c in root.iter(f"{{{PROJECT_NS}}}Coding")}
        assert coders == expected_users
    assert (
        runner.invoke(app, ["export", "refi", str(out), "-o", str(tmp_path / "x.qdpx"), "--source", "nope"]).exit_code
        == 2
    )


def test_table_exports(tmp_path, coded):
    out, rows = coded
    assert runner.invoke(app, ["export", "table", str(out), "-o", str(tmp_path / "t.xlsx")]).exit_code == 0
    first = (tmp_path / "t.xlsx").read_bytes()
    runner.invoke(app, ["export", "table", str(out), "-o", str(tmp_path / "t.xlsx")])
    assert (tmp_path / "t.xlsx").read_bytes() == first
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["excerpts", "participants"]
    header = [c.value for c in book["excerpts"][1]]
    assert {"text", "context", "attribute: sector", "codes", "scores", "review status"} <= set(header)
    first_row = dict(zip(header, [c.value for c in book["excerpts"][2]]))
    assert first_row["codes"] == "practice/conflict" and first_row["reviewer"] == "ana"
    people = [[c.value for c in r] for r in book["participants"].iter_rows()]
    assert people[0][0] == "transcript" and {r[0] for r in people[1:]} == {"a", "b"}
    assert all(v in (0, 1) for r in people[1:] for v in r[1:])
    assert runner.invoke(app, ["export", "table", str(out), "-o", str(tmp_path / "t.csv")]).exit_code == 0
    assert (tmp_path / "t.participants.csv").read_text().startswith("transcript,safe_environment")


@pytest.mark.slow
def test_sample_output_exports_validate(tmp_path, cache_dir):
    from .conftest import SAMPLE

    assert (
        runner.invoke(
            app, ["code", str(SAMPLE), "-o", str(tmp_path / "out"), "--cache-dir", str(cache_dir), "-q"]
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["export", "refi", str(tmp_path / "out"), "-o", str(tmp_path / "s.qdpx")]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "s.qdpx") as z:
        PROJECT_XSD.validate(io.BytesIO(z.read("project.qde")))
        assert (
            len([n for n in z.namelist() if n.startswith("sources/")])
            == json.loads((tmp_path / "out" / "manifest.json").read_text())["totals"]["transcripts"]
        )
