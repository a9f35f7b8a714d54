from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline import InputError, load_codebook
from pipeline.cli import app
from pipeline.codebook import codebook_problems, default_codebook_path

from .conftest import REPO, write

EXPECTED = {
    "practice": [
        "safe_environment",
        "healthy_relationships",
        "shared_purpose",
        "power_dynamics",
        "conflict",
        "shared_decisions",
    ],
    "barrier": ["barrier_conflicting_goals", "barrier_institutional_norms", "barrier_loss_of_power"],
}
runner = CliRunner()


def minimal(**code):
    return {"name": "t", "version": "1", "codes": [{"id": "a", "name": "A", "definition": "d", **code}]}


def test_default_codebook_has_exactly_the_kings_fund_codes():
    cb = load_codebook()
    assert [t.id for t in cb.themes] == ["practice", "barrier"]
    for theme, ids in EXPECTED.items():
        assert [c.id for c in cb.codes if c.theme == theme] == ids
    assert len(cb.codes) == 9


def test_default_codebook_is_rich_enough():
    for c in load_codebook().codes:
        assert len(c.examples) >= 8, c.id
        assert c.counterexamples and c.include and c.exclude, c.id
        assert len(set(c.examples)) == len(c.examples), c.id


def test_repository_copy_is_the_packaged_file():
    assert (REPO / "codebook" / "kings_fund_2023.yaml").read_bytes() == default_codebook_path().read_bytes()


def test_unknown_key_is_reported_with_its_location():
    data = minimal(exampels=["x"])
    assert codebook_problems(data) == ["codes[0].exampels: unknown key"]


def test_every_problem_is_reported():
    data = {
        "name": "t",
        "version": "1",
        "themes": [{"id": "p", "name": "P"}],
        "codes": [
            {"id": "Bad Id", "name": "A", "definition": "d"},
            {"id": "b", "name": "B"},
            {"id": "c", "name": "C", "definition": "d", "examples": ["ok", "  "]},
        ],
    }
    problems = codebook_problems(data)
    assert any(p.startswith("codes[0].id:") for p in problems)
    assert "codes[1].definition: required field missing" in problems
    assert any(p.startswith("codes[2].examples:") for p in problems)


def test_duplicate_ids_and_unknown_theme():
    data = minimal(theme="nope")
    data["codes"].append({"id": "a", "name": "again", "definition": "d"})
    problems = codebook_problems(data)
    assert "codes[1].id: duplicate code id 'a'" in problems
    assert any(p.startswith("codes[0].theme:") for p in problems)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "cb.yaml", "name: x\nversion: 1\ncodes:\n  - id: a\n    name: [unclosed\n")
    with pytest.raises(InputError) as err:
        load_codebook(path)
    assert str(err.value).startswith(f"{path}:")
    assert err.value.line is not None


def test_version_number_is_kept_as_text(tmp_path):
    path = write(tmp_path / "cb.yaml", yaml.safe_dump(minimal()).replace("version: '1'", "version: 2.0"))
    assert load_codebook(path).version == "2.0"


def test_cli_check_ok_and_bad(tmp_path):
    ok = runner.invoke(app, ["codebook", "check", str(default_codebook_path())])
    assert ok.exit_code == 0 and "9 codes" in ok.stdout
    bad = write(tmp_path / "bad.yaml", yaml.safe_dump(minimal(colour="red")))
    res = runner.invoke(app, ["codebook", "check", str(bad)])
    assert res.exit_code == 1
    assert "codes[0].colour: unknown key" in res.stderr
    missing = runner.invoke(app, ["codebook", "check", str(Path(tmp_path / "none.yaml"))])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr


def test_cli_usage_errors_exit_2():
    assert runner.invoke(app, ["codebook", "check"]).exit_code == 2
    assert runner.invoke(app, ["code", "--no-such-option", "x"]).exit_code == 2
