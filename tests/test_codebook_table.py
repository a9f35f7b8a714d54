"""Codebooks kept as tables: CSV and XLSX, headers recognised, errors naming row and column."""

import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline import InputError, load_codebook
from pipeline.cli import app
from pipeline.codebook.table import table_codebook

from .conftest import write

runner = CliRunner()


def test_tag_description_csv_loads_as_a_codebook(tmp_path):
    path = write(
        tmp_path / "codes.csv",
        'tag,description\nTrust,"Partners trusting each other, or not"\nMoney,Budgets and who pays\n',
    )
    cb = load_codebook(path)
    assert cb.code_ids == ["trust", "money"]
    assert cb.codes[0].definition == "Partners trusting each other, or not"
    assert cb.name == "codes"


def test_headers_any_case_lists_split_by_line_and_other_columns_kept_as_notes(tmp_path):
    text = (
        'Code Name;Meaning;Inclusion criteria;EXAMPLES;Category;Keywords;Memo\nTrust;Trusting partners;"when partners'
        ' rely on each other\nwhen trust is lost";"We just rang them.\nThey kept their word.";Relations;trust,'
        " rely;pilot only\n"
    )
    book = table_codebook(write(tmp_path / "book.csv", text))
    code = book["codes"][0]
    assert code["include"] == ["when partners rely on each other", "when trust is lost"]
    assert code["examples"] == ["We just rang them.", "They kept their word."]
    assert code["keywords"] == ["trust", "rely"]
    assert code["theme"] == "relations" and book["themes"] == [{"id": "relations", "name": "Relations"}]
    assert code["notes"] == ["Memo: pilot only"]


def test_one_example_per_row_continues_the_code(tmp_path):
    text = "code,definition,example\nTrust,Trusting partners,We rang them.\nTrust,,They kept their word.\nMoney,,\n"
    book = table_codebook(write(tmp_path / "b.csv", text))
    assert [c["id"] for c in book["codes"]] == ["trust", "money"]
    assert book["codes"][0]["examples"] == ["We rang them.", "They kept their word."]
    assert book["codes"][1]["definition"] == "Money"  # no definition: the name stands in


def test_xlsx_with_a_named_column(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["Label", "What it means"])
    wb.active.append(["Power", "Who holds sway over decisions"])
    wb.save(tmp_path / "codes.xlsx")
    book = table_codebook(tmp_path / "codes.xlsx", columns={"definition": "What it means"})
    assert book["codes"] == [{"id": "power", "name": "Power", "definition": "Who holds sway over decisions"}]


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("definition\nsomething\n", ":1", "no code name column"),
        ("tag,description\nTrust,a\n,b\n", ":3", "column 'tag': no code name"),
        ("tag,description\nTrust,a\nTrust,b\n", ":3", "another definition (first on row 2)"),
    ],
)
def test_errors_name_the_row_and_column(tmp_path, text, where, message):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(InputError) as err:
        load_codebook(path)
    assert f"{path}{where}: " in str(err.value) and message in str(err.value)


def test_cli_import_check_and_exit_codes(tmp_path):
    path = write(
        tmp_path / "codes.csv", "Tag,Description,Examples\nTrust,Trusting partners,We rang them.\nMoney,Budgets,\n"
    )
    out = tmp_path / "codes.yaml"
    result = runner.invoke(app, ["import", "codebook", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_codebook(out).code_ids == ["trust", "money"]
    check = runner.invoke(app, ["codebook", "check", str(path)])
    assert check.exit_code == 0 and "1 of 2 code(s) are thin" in check.output and "money" in check.output
    unknown = runner.invoke(app, ["import", "codebook", str(path), "-o", str(out), "--column", "definition=Nope"])
    assert unknown.exit_code == 1 and "no such column" in unknown.output
    usage = runner.invoke(app, ["import", "codebook", str(path), "-o", str(out), "--column", "definition"])
    assert usage.exit_code == 2


def test_a_csv_codebook_codes_with_no_other_step(tmp_path, fake_embedder):
    from pipeline import Config
    from pipeline.tag import CodebookTagger

    cb = load_codebook(
        write(
            tmp_path / "codes.csv",
            "tag,description\nParking,Finding a space to park the car\nFood,Meals and drinks on the ward\n",
        )
    )
    tagger = CodebookTagger(cb, config=Config()).fit(fake_embedder)
    scores = tagger.score(
        fake_embedder.embed(["there was no space to park the car", "the meals on the ward were cold"])
    )
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
