"""How far a reviewer's decision and a codebook travel through the code (issue 37),
traced while the real commands run (tests/walks.py). A room is a module of `pipeline/`,
a sub-package (`cli/`, `codebook/`, `reviewing/`, ...) counting as one; the settings a
command runs with are resolved in one of them, `study.py`."""

from __future__ import annotations

import ast

from typer.testing import CliRunner

from pipeline import code_corpus
from pipeline.cli import app
from pipeline.codebook import load_codebook
from pipeline.reviewing.decision import make_review
from pipeline.schemas import Codebook, Excerpt, Review
from pipeline.store import read_excerpts

from .conftest import REPO, SAMPLE
from .walks import rooms_of, same_path, walk

RESOLVERS = {"Study", "for_reading", "for_files", "for_run", "for_learning", "run_folder", "make_config"}


def test_a_walk_counts_the_modules_handed_the_thing_and_stops(tmp_path):
    from pipeline import study

    seen = same_path(tmp_path)
    assert walk(lambda: study.excerpt_files([tmp_path]), seen, ("pipeline.study", "excerpt_files")) == [
        "pipeline.study"
    ]
    assert walk(lambda: study.excerpt_files([tmp_path / "x"]), seen, ("pipeline.study", "excerpt_files")) == []
    assert rooms_of(["pipeline.cli.learn", "pipeline.cli.common", "pipeline.study"]) == ["cli", "study"]


def test_a_decision_reaches_the_training_set_through_at_most_six_rooms(tmp_path, monkeypatch, fake_embedder):
    import pipeline.cli.learn as learn_cli

    out = tmp_path / "study"
    code_corpus([SAMPLE], out_dir=out, embedder=fake_embedder)
    excerpts = read_excerpts(out / "excerpts.jsonl")
    first = excerpts[0]
    review = make_review(first, action="accept", codes=[], reviewer="ana", codebook=load_codebook(None))
    lines = [first.model_copy(update={"review": review}), *excerpts[1:]]
    (out / "excerpts.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in lines))
    monkeypatch.setattr(learn_cli, "build_embedder", lambda *a, **k: fake_embedder)
    folder, file = same_path(out), same_path(out / "excerpts.jsonl")

    def tracked(v) -> bool:
        return folder(v) or file(v) or isinstance(v, Review) or (isinstance(v, Excerpt) and v.id == first.id)

    def learn():
        CliRunner().invoke(app, ["learn", str(out)], catch_exceptions=False)

    rooms = rooms_of(walk(learn, tracked, ("pipeline.labelled", "load_labelled")))
    assert rooms[0] == "cli" and "study" in rooms and "labelled" in rooms, rooms  # learn's training set
    assert len(rooms) <= 6, rooms


def test_a_codebook_table_reaches_the_tagger_through_at_most_five_rooms(tmp_path, monkeypatch, fake_embedder):
    import pipeline.run.setup as run

    table = tmp_path / "codes.csv"
    table.write_text("name,definition\nTrust,People say they trust each other\nMoney,Budgets and who pays for what\n")
    monkeypatch.setattr(run, "build_embedder", lambda *a, **k: fake_embedder)
    path = same_path(table)

    def code():
        args = ["code", str(SAMPLE), "--codebook", str(table), "-o", str(tmp_path / "out"), "-q"]
        CliRunner().invoke(app, args, catch_exceptions=False)

    rooms = rooms_of(walk(code, lambda v: path(v) or isinstance(v, Codebook), ("pipeline.run.setup", "build_tagger")))
    assert rooms[0] == "cli" and "study" in rooms and "codebook" in rooms and rooms[-1] == "tag", rooms
    assert len(rooms) <= 5, rooms


def test_settings_are_resolved_in_study_only():
    """No module but study.py builds a Config from a study's record or reads a manifest
    to find a codebook or model; the commands call study.py's resolvers."""
    found = []
    for path in (REPO / "pipeline").rglob("*.py"):
        if path.name == "study.py":
            continue
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name in ("codebook", "learned_model") and ast.unparse(node.func.value).endswith("study"):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} study.{name}()")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Config":
                if any(isinstance(k.value, ast.Dict) or k.arg is None for k in node.keywords):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} Config(**...)")
    assert not found, "settings resolved outside study.py:\n" + "\n".join(found)
    commands = {p.stem: p.read_text() for p in (REPO / "pipeline" / "cli").glob("*.py")}
    for name in ("code", "learn", "evaluate", "agreement", "review", "export", "counts"):
        assert any(r in commands[name] for r in RESOLVERS | {"study_codebook"}), name
