"""Spreadsheet round trip: `export table`, reviewers fill the review columns, `review import`."""

import csv

import openpyxl
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.schemas import final_codes
from pipeline.store import read_excerpts

from .test_review import make_output

runner = CliRunner()


def export(tmp_path, suffix):
    _, path = make_output(tmp_path)
    table = tmp_path / f"coded{suffix}"
    res = runner.invoke(app, ["export", "table", str(tmp_path / "out"), "-o", str(table)])
    assert res.exit_code == 0, res.stderr
    return path, table


def edit_xlsx(table, edits):
    """edits: {row index (0 = first excerpt): {column: value}}"""
    book = openpyxl.load_workbook(table)
    sheet = book["excerpts"]
    header = [c.value for c in sheet[1]]
    for i, cells in edits.items():
        for column, value in cells.items():
            sheet.cell(row=i + 2, column=header.index(column) + 1, value=value)
    book.save(table)


def test_xlsx_decisions_are_recorded_as_the_page_would(tmp_path):
    path, table = export(tmp_path, ".xlsx")
    rows = read_excerpts(path)
    edit_xlsx(
        table,
        {
            0: {"review status": "accepted"},  # the machine's codes as exported
            1: {
                "review status": "corrected",
                "codes": "practice/conflict; shared_decisions",
                "review note": "two things",
            },
            2: {"review status": "rejected", "reviewer": "ben"},
            3: {"review status": "corrected", "codes": "; ".join(rows[3].codes)},  # same as the machine: accepted
        },
    )
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(tmp_path / "out"), "--reviewer", "ana"])
    assert res.exit_code == 0, res.stderr
    assert "recorded 4 decision(s)" in res.stderr
    got = read_excerpts(path)
    assert (
        got[0].review.status == "accepted" and final_codes(got[0]) == rows[0].codes and got[0].review.reviewer == "ana"
    )
    assert got[1].review.status == "corrected" and final_codes(got[1]) == ["conflict", "shared_decisions"]
    assert got[1].review.note == "two things"
    assert got[2].review.status == "rejected" and got[2].review.reviewer == "ben"
    assert got[3].review.status == "accepted"
    again = runner.invoke(app, ["review", "import", str(table), "--into", str(tmp_path / "out"), "--reviewer", "ana"])
    assert "recorded 0 decision(s)" in again.stderr and "4 already there" in again.stderr
    assert [e.review for e in read_excerpts(path)] == [e.review for e in got]  # reviewed_at not bumped


def test_every_bad_row_is_reported_and_nothing_is_written(tmp_path):
    path, table = export(tmp_path, ".xlsx")
    rows = read_excerpts(path)
    edit_xlsx(
        table,
        {
            0: {"review status": "accepted"},
            1: {"review status": "corrected", "codes": "practice/not_a_code"},
            2: {"review status": "maybe"},
            3: {"id": "nope:123", "review status": "accepted"},
        },
    )
    before = path.read_bytes()
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(tmp_path / "out")])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert f"error: {table}:2: no reviewer: fill the reviewer column or pass --reviewer" in lines
    assert any(line.startswith(f"error: {table}:3: unknown code(s) ['not_a_code']") for line in lines)
    assert any(line.startswith(f"error: {table}:4: review status 'maybe'") for line in lines)
    assert f"error: {table}:5: unknown id 'nope:123' (not in the excerpts file)" in lines
    assert lines[-1] == "nothing written: 4 problem(s)"
    assert path.read_bytes() == before
    edit_xlsx(
        table,
        {
            1: {"review status": "", "codes": "conflict"},
            2: {"review status": ""},
            3: {"id": rows[3].id, "review status": ""},
        },
    )
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(tmp_path / "out"), "--reviewer", "ana"])
    assert res.exit_code == 1 and f"{table}:3: codes changed but the review status is pending" in res.stderr


def test_csv_round_trip_and_pending_rows_never_erase_a_decision(tmp_path):
    path, table = export(tmp_path, ".csv")
    rows = read_excerpts(path)
    with open(table, encoding="utf-8", newline="") as f:
        grid = list(csv.reader(f))
    status = grid[0].index("review status")
    grid[1][status] = "rejected"
    with open(table, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(grid)
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(path), "-r", "ana"])
    assert res.exit_code == 0 and read_excerpts(path)[0].review.status == "rejected"
    grid[1][status] = "pending"  # an old sheet: the decision stays
    with open(table, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(grid)
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(path), "-r", "ana"])
    assert res.exit_code == 0 and read_excerpts(path)[0].review.status == "rejected"
    assert len(read_excerpts(path)) == len(rows)
    bad = runner.invoke(app, ["review", "import", str(tmp_path / "x.ods"), "--into", str(path)])
    assert bad.exit_code == 1 and "read .xlsx or .csv" in bad.stderr


def test_an_older_sheet_never_overwrites_a_newer_decision(tmp_path):
    from pipeline.schemas import Review
    from pipeline.store import record

    path, _ = export(tmp_path, ".xlsx")
    rows = read_excerpts(path)
    first = Review(status="accepted", codes=None, reviewer="ana", reviewed_at="2026-11-01T10:00:00+00:00")
    record(path, {rows[0].id: first, rows[1].id: first})
    table = tmp_path / "later.xlsx"  # the sheet sees both decisions
    assert runner.invoke(app, ["export", "table", str(tmp_path / "out"), "-o", str(table)]).exit_code == 0
    newer = Review(
        status="rejected", codes=None, reviewer="ben", note="not this", reviewed_at="2026-11-02T09:00:00+00:00"
    )
    record(path, {rows[0].id: newer})  # decided again on the page after the export
    edit_xlsx(table, {0: {"review status": "corrected", "codes": "conflict"}, 1: {"review status": "rejected"}})
    res = runner.invoke(app, ["review", "import", str(table), "--into", str(tmp_path / "out"), "-r", "ana"])
    assert res.exit_code == 1
    assert (
        f"kept: {table}:2: id {rows[0].id!r} was decided after this sheet was exported (rejected by ben" in res.stderr
    )
    got = {e.id: e.review for e in read_excerpts(path)}
    assert got[rows[0].id] == newer  # the page's newer decision, note and all
    assert got[rows[1].id].status == "rejected"  # unchanged since the export: the sheet's edit lands
    res = runner.invoke(
        app, ["review", "import", str(table), "--into", str(tmp_path / "out"), "-r", "ana", "--overwrite"]
    )
    assert res.exit_code == 0 and final_codes(read_excerpts(path)[0]) == ["conflict"]
