import pytest

from pipeline import Config, InputError
from pipeline.ingest import discover_inputs, load_attributes, read_transcripts
from pipeline.ingest.text import find_turns

from .conftest import SAMPLE, write

INTERVIEWERS = Config().interviewer_labels


def speakers(text):
    return [(t.speaker, t.is_interviewer, text[t.start : t.end]) for t in find_turns(text, INTERVIEWERS)]


def test_roles_and_continuation_lines():
    text = "Interviewer: Why?\nParticipant: Because.\nAnd then more.\n\nI: Next?\nR: Fine."
    assert speakers(text) == [
        ("Interviewer", True, "Why?"),
        ("Participant", False, "Because.\nAnd then more."),
        ("I", True, "Next?"),
        ("R", False, "Fine."),
    ]


def test_names_timestamps_and_codes():
    text = (
        "[00:00:05] Interviewer: Hello?\n[00:00:09] Dr Ahmed: Hi there.\n"
        "Interviewer: Again.\nDr Ahmed: Yes: really.\nP01: Me too.\n"
    )
    got = speakers(text)
    assert [s for s, _, _ in got] == ["Interviewer", "Dr Ahmed", "Interviewer", "Dr Ahmed", "P01"]
    assert got[3][2] == "Yes: really."


def test_a_one_off_capitalised_word_with_colon_is_not_a_speaker():
    text = "Participant: We tried.\nHonestly: it failed.\nInterviewer: Why?"
    got = speakers(text)
    assert [s for s, _, _ in got] == ["Participant", "Interviewer"]
    assert got[0][2] == "We tried.\nHonestly: it failed."


def test_header_before_first_label_is_not_a_turn_and_no_labels_means_one_turn():
    assert speakers("# note\nInterviewer: Q?\nParticipant: A.")[0][0] == "Interviewer"
    assert speakers("Just some text\nwith no labels.") == [("participant", False, "Just some text\nwith no labels.")]


def test_numbered_interviewer_labels_and_custom_interviewers():
    text = "Interviewer 2: Q?\nJANE SMITH: A.\nJANE SMITH: B."
    assert speakers(text)[0][1] is True
    turns = find_turns(text, ("jane smith",))
    assert [t.is_interviewer for t in turns] == [False, True, True]


def test_reader_normalises_newlines_and_bom(tmp_path):
    path = write(tmp_path / "t.txt", "\ufeffInterviewer: Q?\r\nParticipant: A one.\rA two.\r\n")
    (tr,) = read_transcripts(path, config=Config())
    assert "\r" not in tr.text and not tr.text.startswith("\ufeff")
    turn = tr.turns[1]
    assert tr.text[turn.start : turn.end] == "A one.\nA two."


def test_utf16_with_bom(tmp_path):
    path = write(tmp_path / "t.txt", "Interviewer: Q?\nParticipant: Café é.", encoding="utf-16")
    (tr,) = read_transcripts(path, config=Config())
    assert tr.text.endswith("Café é.")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"  \n\t\n", "whitespace only"),
        (b"\x89PNG\x00\x00\x01", "binary"),
        (b"\xff\xfe\x00", "UTF-16"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_transcripts(path, config=Config())
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_discover_inputs(tmp_path):
    write(tmp_path / "b.txt", "x")
    write(tmp_path / "a.md", "x")
    write(tmp_path / "participants.csv", "file\n")
    write(tmp_path / ".hidden" / "c.txt", "x")
    write(tmp_path / "notes.pdf", "x")
    files, errors = discover_inputs([tmp_path, tmp_path / "missing.txt", tmp_path / "notes.pdf"])
    assert [f.name for f in files] == ["a.md", "b.txt"]
    assert [e.path for e in errors] == [str(tmp_path / "missing.txt"), str(tmp_path / "notes.pdf")]


def test_sample_participants_cover_every_sample_transcript():
    table = load_attributes(SAMPLE / "participants.csv")
    files, errors = discover_inputs([SAMPLE])
    assert not errors
    interviews = sorted(f.stem for f in files if f.suffix != ".csv")
    assert sorted(table.rows) == interviews
    assert {row["sector"] for row in table.rows.values()} == {"icb", "nhs_provider", "local_government", "vcse"}


def test_attributes_errors_name_the_line(tmp_path):
    path = write(tmp_path / "p.csv", "file,sector\na.txt,icb\na.txt,vcse\n")
    with pytest.raises(InputError, match=r"p.csv:3: transcript 'a' listed twice"):
        load_attributes(path)
    path = write(tmp_path / "q.csv", "name,sector\n")
    with pytest.raises(InputError, match="q.csv:1"):
        load_attributes(path)
