"""Every reader and every kind of bad input, with fixtures made here."""

import json
from pathlib import Path

import docx
import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline import Config, InputError, code_corpus
from pipeline.cli import app
from pipeline.ingest import read_transcripts
from pipeline.ingest.text import find_turns
from pipeline.segment import segment

from .conftest import write


def read(path, **config):
    return read_transcripts(path, config=Config(**config))


def turns(tr):
    return [(t.speaker, t.is_interviewer, tr.text[t.start : t.end]) for t in tr.turns]


# --- plain text -------------------------------------------------------------------------


def test_name_then_timestamp_heading_style():
    text = (
        "Jane Smith  00:01:23\nWe started in March.\nIt was hard.\n\nInterviewer  00:02:01\nWhy?\n\nJane Smith "
        " 00:02:05\nMoney."
    )
    got = [(t.speaker, text[t.start : t.end]) for t in find_turns(text, Config().interviewer_labels)]
    assert got == [
        ("Jane Smith", "We started in March.\nIt was hard."),
        ("Interviewer", "Why?"),
        ("Jane Smith", "Money."),
    ]


def test_cp1252_fallback_warns(tmp_path):
    path = write(
        tmp_path / "t.txt", "Interviewer: Q?\nParticipant: It cost \u00a3300 \u2013 too much.", encoding="cp1252"
    )
    (tr,) = read(path)
    assert tr.text.endswith("\u00a3300 \u2013 too much.")
    assert tr.warnings and "Windows-1252" in tr.warnings[0]


def test_unreadable_file(tmp_path, monkeypatch):
    path = write(tmp_path / "t.txt", "Participant: hello")
    real = Path.read_bytes

    def deny(self):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(InputError, match=r"t.txt: cannot read: Permission denied"):
        read(path)


# --- docx -------------------------------------------------------------------------------


def make_docx(path, paragraphs, table=False):
    d = docx.Document()
    for label, bold, words in paragraphs:
        p = d.add_paragraph()
        if label:
            p.add_run(label).bold = bold
        p.add_run(words)
    if table:
        d.add_table(rows=1, cols=2).cell(0, 0).text = "ignored cell"
    d.save(path)
    return path


def test_docx_bold_and_plain_labels(tmp_path):
    path = make_docx(
        tmp_path / "i.docx",
        [
            ("Interviewer", True, " How did it start?"),
            ("Ruth", True, " Slowly. We met monthly."),
            ("", False, "Then weekly."),
            ("Interviewer: ", False, "And now?"),
            ("Ruth:", True, " Better."),
        ],
        table=True,
    )
    (tr,) = read(path)
    assert turns(tr) == [
        ("Interviewer", True, "How did it start?"),
        ("Ruth", False, "Slowly. We met monthly.\nThen weekly."),
        ("Interviewer", True, "And now?"),
        ("Ruth", False, "Better."),
    ]
    assert tr.warnings == ["1 table(s) ignored"]


def test_corrupt_docx(tmp_path):
    path = write(tmp_path / "bad.docx", "this is not a zip file")
    with pytest.raises(InputError, match=r"bad.docx: not a readable .docx"):
        read(path)


# --- subtitles --------------------------------------------------------------------------

VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
<v Interviewer>How did the partnership begin?

00:00:04.500 --> 00:00:09.250
<v Sam Patel>It began with a crisis, honestly.

00:00:09.500 --> 00:00:15.000
<v Sam Patel>We had no choice but to sit down together.

00:00:15.500 --> 00:00:18.000
Interviewer: And then?

00:00:18.500 --> 00:00:22.000
Sam Patel: Then it stuck.
"""


def test_vtt_voices_prefixes_merged_turns_and_times(tmp_path):
    (tr,) = read(write(tmp_path / "m.vtt", VTT))
    assert turns(tr) == [
        ("Interviewer", True, "How did the partnership begin?"),
        ("Sam Patel", False, "It began with a crisis, honestly. We had no choice but to sit down together."),
        ("Interviewer", True, "And then?"),
        ("Sam Patel", False, "Then it stuck."),
    ]
    passages = [s.passage for s in segment([tr], Config())]
    assert [(p.time_start, p.time_end) for p in passages] == [(4.5, 15.0), (18.5, 22.0)]
    assert passages[0].context == "How did the partnership begin?"


def test_srt(tmp_path):
    srt = (
        "1\n00:00:01,000 --> 00:00:03,000\nI: Why?\n\n2\n00:01:02,500 --> 00:01:05,000\nR: Because of money.\nAnd"
        " time.\n"
    )
    (tr,) = read(write(tmp_path / "m.srt", srt))
    assert turns(tr) == [("I", True, "Why?"), ("R", False, "Because of money. And time.")]
    (p,) = [s.passage for s in segment([tr], Config())]
    assert (p.time_start, p.time_end) == (62.5, 65.0)


def test_vtt_malformed_timestamp_names_the_line(tmp_path):
    bad = VTT.replace("00:00:09.500 --> 00:00:15.000", "00:00:09.5 --> 00:00:1x.000")
    with pytest.raises(InputError) as err:
        read(write(tmp_path / "bad.vtt", bad))
    assert str(err.value).startswith(f"{tmp_path / 'bad.vtt'}:9: malformed cue timing")


def test_vtt_without_header(tmp_path):
    with pytest.raises(InputError, match=r"nohead.vtt:1: a WebVTT file must start with 'WEBVTT'"):
        read(write(tmp_path / "nohead.vtt", VTT.replace("WEBVTT\n", "")))


# --- surveys ----------------------------------------------------------------------------


def test_survey_csv_rows_become_transcripts(tmp_path):
    csv_text = (
        'respondent_id,sector,Q7 free text\nr1,icb,We share a budget now.\nr2,vcse,\nr3,vcse,"Trust, mostly.\nAnd'
        ' time."\n'
    )
    path = write(tmp_path / "s.csv", csv_text)
    with pytest.raises(InputError, match=r"s.csv:1: no text column"):
        read(path)
    found = read(path, text_column="q7 FREE TEXT")
    answers = [(t.id, t.text[t.turns[-1].start : t.turns[-1].end], t.attributes) for t in found]
    assert answers == [
        ("r1", "We share a budget now.", {"sector": "icb"}),
        ("r3", "Trust, mostly.\nAnd time.", {"sector": "vcse"}),
    ]
    question = found[0].turns[0]  # the column's header: the question each answer replies to
    assert question.is_interviewer and found[0].text[question.start : question.end] == "Q7 free text"
    assert found[0].warnings == ["1 row(s) with no answer skipped"]
    with pytest.raises(InputError, match=r"no text column 'missing'"):
        read(path, text_column="missing")


def test_survey_xlsx_and_row_number_ids(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["answer", "age band"])
    sheet.append(["The council listened.", "45-54"])
    sheet.append([None, None])
    sheet.append(["More money please.", 30])
    book.save(tmp_path / "s.xlsx")
    found = read(tmp_path / "s.xlsx")
    assert [(t.id, t.text, t.attributes) for t in found] == [
        ("s-2", "The council listened.", {"age band": "45-54"}),
        ("s-4", "More money please.", {"age band": "30"}),
    ]


QUALTRICS = (
    "StartDate,ResponseId,Q2,Q3\nStart Date,Response ID,Which sector do you work in?,How do partners build trust in"
    " your"
    ' area?\n"{""ImportId"":""startDate""}","{""ImportId"":""_recordId""}","{""ImportId"":""QID2""}","{""ImportId"":""QID3""}"\n2026-01-04,R_1a,vcse,We'
    " meet every week and we are honest about money.\n2026-01-05,R_2b,icb,Mostly by doing what we said we would"
    " do.\n2026-01-05,R_1a,icb,Shared budgets helped.\n"
)


def test_a_qualtrics_export_keeps_ids_questions_and_every_row(tmp_path):
    found = read(write(tmp_path / "q.csv", QUALTRICS), text_column="Q3")
    assert [t.id for t in found] == ["R_1a", "R_2b", "R_1a-row6"]  # the repeated id kept, named by row
    assert any("row 6: id 'R_1a' also on row 4" in w for t in found for w in t.warnings)
    first = found[0]
    assert first.text[: first.turns[0].end] == "How do partners build trust in your area?"
    assert first.attributes == {"StartDate": "2026-01-04", "Q2": "vcse"} and first.whole_turns
    survey_monkey = "Respondent ID,Comment\n1001,Good.\n1002,Fine.\n"
    assert [t.id for t in read(write(tmp_path / "sm.csv", survey_monkey))] == ["1001", "1002"]


def test_xlsx_with_no_rows(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["text", "sector"])
    book.save(tmp_path / "empty.xlsx")
    with pytest.raises(InputError, match=r"empty.xlsx: no rows of answers"):
        read(tmp_path / "empty.xlsx")


def test_corrupt_xlsx(tmp_path):
    with pytest.raises(InputError, match=r"bad.xlsx: not a readable .xlsx"):
        read(write(tmp_path / "bad.xlsx", "PK not really"))


# --- a batch with bad inputs ------------------------------------------------------------


def test_coding_one_file_of_a_folder_keeps_the_folders_participants_table_quiet(tmp_path, fake_embedder):
    folder = tmp_path / "in"
    write(folder / "a.txt", "Interviewer: Q?\nParticipant: We share a budget and meet often.\n")
    write(folder / "b.txt", "Interviewer: Q?\nParticipant: We trust each other.\n")
    write(folder / "participants.csv", "file,sector\na.txt,icb\nb.txt,vcse\nghost.txt,vcse\n")
    result = code_corpus([folder / "a.txt"], out_dir=tmp_path / "out", embedder=fake_embedder)
    assert result.transcripts == 1
    # b.txt exists beside the table, so only the row naming no file at all is reported
    assert [str(e) for e in result.errors] == [
        f"{folder / 'participants.csv'}:4: names transcript 'ghost', which is not among the inputs"
    ]


def test_batch_with_every_kind_of_bad_input(tmp_path, fake_embedder):
    folder = tmp_path / "in"
    good = "Interviewer: Q?\nParticipant: We share a budget and meet often.\n"
    write(folder / "good1.txt", good)
    write(folder / "good2.txt", good.replace("often", "weekly"))
    make_docx(folder / "good3.docx", [("Participant", True, " We trust each other.")])
    write(folder / "empty.txt", "")
    write(folder / "blank.md", "  \n \n")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02\x03")
    write(folder / "corrupt.docx", "nope")
    write(folder / "bad.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nhi\n")
    write(folder / "survey.csv", "id,comment\n")
    write(folder / "dup" / "good1.srt", "1\n00:00:01,000 --> 00:00:02,000\nR: again\n")
    write(folder / "participants.csv", "file,sector\ngood1.txt,icb\nghost.txt,vcse\n")
    write(folder / "notes.pdf", "%PDF")
    result = code_corpus([folder, folder / "notes.pdf"], out_dir=tmp_path / "out", embedder=fake_embedder)
    assert result.transcripts == 3
    failed = sorted(Path(e.path).name for e in result.errors)
    assert failed == sorted(
        [
            "empty.txt",
            "blank.md",
            "binary.txt",
            "corrupt.docx",
            "bad.vtt",
            "survey.csv",
            "good1.txt",
            "participants.csv",
            "notes.pdf",
        ]
    )
    ghost = next(e for e in result.errors if e.path.endswith("participants.csv"))
    assert str(ghost) == f"{folder / 'participants.csv'}:3: names transcript 'ghost', which is not among the inputs"
    assert all("\n" not in str(e) for e in result.errors)
    rows = [json.loads(x) for x in (tmp_path / "out" / "excerpts.jsonl").read_text().splitlines()]
    assert {r["transcript"] for r in rows} == {"good1", "good2", "good3"}
    for r in rows:  # offsets index the stored normalised text
        stored = (tmp_path / "out" / "sources" / f"{r['transcript']}.txt").read_text()
        assert stored[r["start"] : r["end"]] == r["text"]


def test_cli_reports_bad_inputs_one_line_each_and_exits_1(tmp_path, monkeypatch, fake_embedder):
    import pipeline.run.setup as run_module

    monkeypatch.setattr(run_module, "build_embedder", lambda *a, **k: fake_embedder)
    write(tmp_path / "in" / "ok.txt", "Participant: We met.\n")
    write(tmp_path / "in" / "empty.txt", "")
    res = CliRunner().invoke(app, ["code", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 1
    assert f"error: {tmp_path / 'in' / 'empty.txt'}: empty file\n" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().endswith(f"1 input(s) failed: {tmp_path / 'in' / 'empty.txt'}")


def test_cli_bad_codebook_exits_1(tmp_path):
    cb = write(tmp_path / "cb.yaml", "name: [unclosed\n")
    res = CliRunner().invoke(app, ["code", str(tmp_path), "--codebook", str(cb), "-q"])
    assert res.exit_code == 1 and res.stderr.startswith(f"error: {cb}:") and "not valid YAML" in res.stderr


def test_attributes_yaml(tmp_path, fake_embedder):
    write(tmp_path / "in" / "a.txt", "Participant: We met.\n")
    write(tmp_path / "in" / "participants.yaml", "a:\n  sector: icb\n  band: 3\n")
    code_corpus([tmp_path / "in"], out_dir=tmp_path / "out", embedder=fake_embedder)
    row = json.loads((tmp_path / "out" / "excerpts.jsonl").read_text().splitlines()[0])
    assert row["attributes"] == {"sector": "icb", "band": "3"}


def test_survey_answers_code_as_one_passage_each_with_their_question(tmp_path, fake_embedder):
    long_answer = " ".join(["We pooled the budget for falls prevention and it took a year to agree."] * 12)
    path = write(tmp_path / "in" / "q.csv", QUALTRICS.replace("Shared budgets helped.", long_answer))
    result = code_corpus([path], out_dir=tmp_path / "out", embedder=fake_embedder, config=Config(text_column="Q3"))
    assert result.noun == "respondent" and result.transcripts == 3
    assert f"{path}: row 6: id 'R_1a' also on row 4: both kept, this one as 'R_1a-row6'" in result.warnings
    rows = [json.loads(x) for x in (tmp_path / "out" / "excerpts.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {r["context"] for r in rows} == {"How do partners build trust in your area?"}
    assert next(r for r in rows if r["transcript"] == "R_1a-row6")["text"] == long_answer
    split = code_corpus(
        [path], out_dir=tmp_path / "split", embedder=fake_embedder, config=Config(text_column="Q3", split_answers=True)
    )
    assert split.passages > 3


def test_every_passage_coded_is_kept_by_the_study_and_codes_every_passage(tmp_path, monkeypatch, fake_embedder):
    """Off-topic talk gets no code by default; told that every passage carries one, `code`
    gives each passage a code, the manifest records it and a rerun into the study keeps it."""
    import pipeline.run.setup as run_module
    from pipeline.manifest import Manifest

    monkeypatch.setattr(run_module, "build_embedder", lambda *a, **k: fake_embedder)
    codes = [
        {
            "id": "money",
            "name": "Money",
            "definition": "budgets funding cash and costs",
            "examples": ["the budget was cut"],
        },
        {"id": "people", "name": "People", "definition": "friendships and colleagues", "examples": ["my colleague"]},
    ]
    cb = write(tmp_path / "cb.yaml", json.dumps({"name": "tiny", "version": "1", "codes": codes}))
    turns = ["The budget and funding costs were cut again.", "Sorry, the line dropped; the weather was awful."]
    write(tmp_path / "in" / "a.txt", "".join(f"Participant: {turn}\n\nInterviewer: And then?\n\n" for turn in turns))

    def coded(*flags):
        args = ["code", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-c", str(cb), "-q", *flags]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.stderr
        rows = [json.loads(x) for x in (tmp_path / "out" / "excerpts.jsonl").read_text().splitlines()]
        return [r["codes"] for r in rows], Manifest.read(tmp_path / "out" / "manifest.json").config

    free, config = coded("--fresh")
    assert not config.every_passage_coded and any(not codes for codes in free)
    told, config = coded("--every-passage-coded")
    assert config.every_passage_coded and all(told) and len(told) == len(free)
    again, config = coded()  # the study's setting
    assert config.every_passage_coded and again == told
