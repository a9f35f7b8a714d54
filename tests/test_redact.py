"""Pseudonymisation: each detector, consistent pseudonyms, offsets after replacement, the key
kept apart, and no original string anywhere in what qcode writes."""

import csv
import json
import zipfile

import pytest
from typer.testing import CliRunner

from pipeline import Config, code_corpus
from pipeline.cli import app
from pipeline.errors import InputError
from pipeline.ingest import read_transcripts
from pipeline.redact import Pseudonymiser, is_name_label, rewrite
from pipeline.redact.corpus import check_key_path
from pipeline.redact.names import by_context, by_first_name, names_in_emails
from pipeline.redact.patterns import find_patterns, nhs_number_valid
from pipeline.store import read_excerpts

from .conftest import FakeEmbedder, write

runner = CliRunner()


def kinds(text):
    return sorted((f.kind, text[f.start : f.end]) for f in find_patterns(text))


def test_direct_identifiers_by_shape():
    text = (
        "Mobile 07700 900123, office (0113) 496 0991, from abroad +44 20 7946 0958. "
        "Email j.smith@example.nhs.uk, site https://www.example.org/a/b. "
        "NHS number 943 476 5919; a wrong check digit 943 476 5918 is not one. "
        "Postcode NG7 2UH. NI number AB 12 34 56 C. Born on 3 March 1975, DOB: 12/05/1980. "
        "The meeting on 3 March 2024 cost £12,000 and 4,000 people came in 2023."
    )
    found = kinds(text)
    assert (
        ("PHONE", "07700 900123") in found
        and ("PHONE", "(0113) 496 0991") in found
        and ("PHONE", "+44 20 7946 0958") in found
    )
    assert ("EMAIL", "j.smith@example.nhs.uk") in found and ("URL", "https://www.example.org/a/b") in found
    assert ("NHS_NUMBER", "943 476 5919") in found and not any(k == "NHS_NUMBER" and "5918" in s for k, s in found)
    assert ("REFERENCE", "943 476 5918") in found  # not an NHS number, but ten digits in groups still identify
    assert ("POSTCODE", "NG7 2UH") in found and ("NI_NUMBER", "AB 12 34 56 C") in found
    assert ("DATE_OF_BIRTH", "3 March 1975") in found and ("DATE_OF_BIRTH", "12/05/1980") in found
    assert not any(s in ("3 March 2024", "2023", "£12,000", "4,000") for _, s in found)  # dates and amounts stay


def test_references_and_dates_of_birth_as_people_say_them():
    text = (
        "Her case reference is CMX/2022/00731 and the claim number 5521 0098 7745. My staff number, 30177, "
        "and his hospital number RT 448 1920. Client ID C0044721. She was born on the fourth of June 1944; "
        "his birthday's the 2nd of January; date of birth as 09.10.1951. "
        "In 2022/23 we had 48 beds, 3,400 referrals, £2.5 million, Band 7 posts, COVID-19 and the M62 on 24/7."
    )
    found = kinds(text)
    for ref in ("CMX/2022/00731", "5521 0098 7745", "30177", "RT 448 1920", "C0044721"):
        assert ("REFERENCE", ref) in found
    for date in ("the fourth of June 1944", "the 2nd of January", "09.10.1951"):
        assert ("DATE_OF_BIRTH", date) in found
    counts = text.index("In 2022/23")  # years, counts, amounts, grades, COVID-19, roads, 24/7: none replaced
    assert not [f for f in find_patterns(text) if f.end > counts]


def test_short_names_after_role_words():
    from pipeline.redact.names import by_cue

    text = (
        "My colleague Tash ran it, with Nurse Jas and her grandson Kit. The manager said twice that the worker There..."
    )
    assert [text[f.start : f.end] for f in by_cue(text)] == ["Tash", "Jas", "Kit"]


def test_nhs_number_check_digit():
    assert nhs_number_valid("9434765919") and not nhs_number_valid("9434765918")
    assert not nhs_number_valid("1234567890")  # check digit 10: never valid
    assert not nhs_number_valid("943476591")


def test_names_from_context_first_names_and_email_addresses():
    text = (
        "I met Dr Okafor and Cllr Ahmed at Northfield Community Trust on 14 Mill Lane, Westfield ward. The Trust"
        " agreed, so did the Integrated Care Board. Later Sarah said yes. Will it last?"
    )
    found = {(f.kind, text[f.start : f.end]) for f in by_context(text) + by_first_name(text)}
    assert {
        ("PERSON", "Okafor"),
        ("PERSON", "Ahmed"),
        ("ORG", "Northfield Community Trust"),
        ("PLACE", "14 Mill Lane"),
        ("PLACE", "Westfield ward"),
        ("PERSON", "Sarah"),
    } <= found
    assert not any(s in ("Trust", "the Integrated Care Board", "Integrated Care Board", "Will") for _, s in found)
    (email,) = [f for f in find_patterns("write to tomasz.dobrowolski2@nhs.net or info@x.org") if f.kind == "EMAIL"][:1]
    assert names_in_emails("write to tomasz.dobrowolski2@nhs.net", [email]) == [
        "Tomasz",
        "Dobrowolski",
        "Tomasz Dobrowolski",
    ]


def transcripts(tmp_path, texts):
    out = []
    for name, text in texts.items():
        (t,) = read_transcripts(write(tmp_path / name, text), config=Config())
        out.append(t)
    return out


def pseudonymise(ts, **kw):
    p = Pseudonymiser(**kw)
    for t in ts:
        p.detect(t)
    p.finish()
    return p, [p.apply(t) for t in ts]


TWO = {
    "a.txt": (
        "Interviewer: Who helps?\nPhilippa Quennell: Dr James Okafor from Thistlewood Community Trust, every week."
        " James is great. Okafor's team too. NHS England pays.\nInterviewer: And?\nPhilippa Quennell: Call me on 07700"
        " 900123.\n"
    ),
    "b.txt": (
        "Interviewer: Anyone else?\nP02: Philippa from the council, and Dr Okafor of the Thistlewood Community Trust."
        " Better Care Fund money.\n"
    ),
}


def test_the_same_person_gets_the_same_pseudonym_everywhere(tmp_path):
    p, (a, b) = pseudonymise(transcripts(tmp_path, TWO))
    key = {row[2]: row[0] for row in p.key_rows()}
    assert key["Philippa Quennell"] == key["Philippa"] and key["James Okafor"] == key["James"] == key["Okafor"]
    assert key["Thistlewood Community Trust"].startswith("[ORG")
    person, okafor, org = key["Philippa Quennell"], key["Okafor"], key["Thistlewood Community Trust"]
    assert f"{okafor} from {org}" in a.text and f"{okafor}'s team" in a.text
    assert b.text.count(person) == 1 and f"Dr {okafor} of the {org}" in b.text  # later, and in another transcript
    assert "NHS England" in a.text and "Better Care Fund" in b.text and "P02" in b.text  # kept
    assert [t.speaker for t in a.turns] == ["Interviewer", person.strip("[]"), "Interviewer", person.strip("[]")]
    for original in ("Philippa", "Quennell", "James", "Okafor", "Thistlewood", "07700"):
        assert original not in a.text + b.text


def test_offsets_index_the_pseudonymised_text(tmp_path):
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Interviewer>Who is your contact?\n\n00:00:05.000 -->"
        " 00:00:09.000\n<v Ana>Dr Helen Marsh at Greenbank General, on 0161 496 0784.\n\n00:00:10.000 -->"
        " 00:00:12.000\n<v Ana>Helen is kind.\n"
    )
    (t,) = read_transcripts(write(tmp_path / "v.vtt", vtt), config=Config())
    _, (r,) = pseudonymise([t])
    assert "Helen" not in r.text and "0161" not in r.text
    for turn in r.turns:
        assert r.text[turn.start : turn.end].strip() == r.text[turn.start : turn.end]
    bodies = [r.text[c.start : c.end] for c in r.cues]
    assert bodies[1].startswith("Dr [PERSON") and bodies[2].endswith("is kind.")
    new, remap = rewrite("ab XYZ cd", [(3, 6, "[P 1]")])
    assert new == "ab [P 1] cd" and remap(0) == 0 and remap(3) == 3 and remap(7) == 9


def test_names_and_keep_files_and_determinism(tmp_path):
    ts = transcripts(
        tmp_path,
        {
            "c.txt": (
                "Interviewer: Who?\nP03: Zebedee runs the Kettle Club with Fernhill Carers. Fernhill Carers are"
                " great.\n"
            )
        },
    )
    _, (plain,) = pseudonymise(ts)
    _, (named,) = pseudonymise(ts, names=["Zebedee"], keep=["Fernhill Carers"])
    assert "Zebedee" not in named.text and named.text.count("Fernhill Carers") == 2
    assert pseudonymise(ts, names=["Zebedee"])[1][0].text == pseudonymise(ts, names=["Zebedee"])[1][0].text


def test_the_key_never_goes_into_the_folder_to_share(tmp_path):
    with pytest.raises(InputError, match="keep it outside"):
        check_key_path(tmp_path / "share" / "key.csv", tmp_path / "share")
    assert check_key_path(tmp_path / "key.csv", tmp_path / "share") == (tmp_path / "key.csv").resolve()


def test_redact_writes_text_qcode_codes_back(tmp_path):
    folder = tmp_path / "in"
    for name, text in TWO.items():
        write(folder / name, text)
    write(folder / "participants.csv", "file,name,sector\na.txt,Philippa Quennell,icb\nb.txt,,vcse\n")
    res = runner.invoke(app, ["redact", str(folder), "-o", str(tmp_path / "share")])
    assert res.exit_code == 0, res.stderr
    key = tmp_path / "share.pseudonym_key.csv"  # one key per output folder, owner-only
    assert "keep it apart" in res.stderr and key.is_file() and key.stat().st_mode & 0o777 == 0o600
    shared = tmp_path / "share"
    text = (shared / "a.txt").read_text()
    assert "Philippa" not in text and text.startswith("Interviewer: Who helps?\n\nPERSON 1: Dr [PERSON 2]")
    (again,) = read_transcripts(shared / "a.txt", config=Config())
    assert [t.speaker for t in again.turns] == ["Interviewer", "PERSON 1", "Interviewer", "PERSON 1"]
    rows = list(csv.DictReader(open(shared / "participants.csv")))
    assert rows[0] == {"file": "a.txt", "name": "[PERSON 1]", "sector": "icb"}
    first = (shared / "a.txt").read_bytes()
    runner.invoke(app, ["redact", str(folder), "-o", str(shared)])
    assert (shared / "a.txt").read_bytes() == first  # same inputs, same bytes


@pytest.mark.slow
def test_code_pseudonymise_leaves_no_original_in_any_output(tmp_path):
    folder = tmp_path / "in"
    for name, text in TWO.items():
        write(folder / name, text)
    out = tmp_path / "share" / "study"
    result = code_corpus(
        [folder], out_dir=out, embedder=FakeEmbedder(), config=Config(pseudonymise=True, threshold=0.0)
    )
    assert result.key == (tmp_path / "share" / "study.pseudonym_key.csv").resolve()
    for step in (
        ["export", "refi", str(out), "-o", str(tmp_path / "share" / "s.qdpx")],
        ["export", "table", str(out), "-o", str(tmp_path / "share" / "t.xlsx")],
        ["report", str(out)],
    ):
        assert runner.invoke(app, step).exit_code == 0
    for e in read_excerpts(out / "excerpts.jsonl"):  # offsets index the pseudonymised sources
        assert (out / "sources" / f"{e.transcript}.txt").read_text()[e.start : e.end] == e.text
    originals = ["Philippa", "Quennell", "James", "Okafor", "Thistlewood", "07700 900123"]
    for f in (tmp_path / "share").rglob("*"):
        if f.is_file() and f.name != "study.pseudonym_key.csv":
            data = f.read_bytes()
            if zipfile.is_zipfile(f):
                with zipfile.ZipFile(f) as z:
                    data = b"".join(z.read(n) for n in z.namelist())
            for s in originals:
                assert s.encode() not in data, f"{s} in {f}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["pseudonymise"] is True and "redaction" in manifest


def test_names_the_recogniser_misses_accents_lowercase_postcodes_and_bare_addresses():
    from pipeline.redact.names import by_rarity

    text = "We met Ciarán and Siobhán O'Neill in Trefonen, then the Reablement team came, and so did Megan."
    rare = {text[f.start : f.end] for f in by_rarity(text)}
    assert (
        {"Ciarán", "Trefonen"} <= rare and "Reablement" not in rare and "Megan" not in rare
    )  # a common name: NER's job
    found = kinds("post it to sy21 0jb or see lakesiderecovery.org.uk/dropin, thanks")
    assert ("POSTCODE", "sy21 0jb") in found and ("URL", "lakesiderecovery.org.uk/dropin") in found
    assert not any(
        k == "URL" for k, _ in kinds("email ciaran@lakesiderecovery.org.uk please")
    )  # an email, not a web address


@pytest.mark.slow
def test_a_pseudonymised_run_reproduces_with_its_recorded_names_list(tmp_path, cache_dir):
    folder = tmp_path / "in"
    for name, text in TWO.items():
        write(folder / name, text)
    names = write(tmp_path / "names.txt", "Thistlewood\n")
    out = tmp_path / "share" / "study"
    args = [
        "code",
        str(folder),
        "-o",
        str(out),
        "-e",
        "minilm",
        "--pseudonymise",
        "--names",
        str(names),
        "--cache-dir",
        str(cache_dir),
        "-q",
    ]
    assert runner.invoke(app, args).exit_code == 0
    recorded = json.loads((out / "manifest.json").read_text())["redaction"]["names"]
    assert recorded["path"] == str(names) and len(recorded["sha256"]) == 64
    res = runner.invoke(app, ["reproduce", str(out / "manifest.json"), "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0 and res.stdout.strip() == "reproduced", res.stdout + res.stderr
    names.write_text("Thistlewood\nPhilippa\n")  # a changed list is named
    res = runner.invoke(app, ["reproduce", str(out / "manifest.json"), "--cache-dir", str(cache_dir)])
    assert "note: --names list changed" in res.stderr


def test_output_inside_the_input_folder_is_never_read_back(tmp_path):
    """Issue 24 #5: `qcode code in -o in/coded --pseudonymise`, twice: the second run reads
    the same transcripts, writes the same outputs and the same key."""
    folder = tmp_path / "in"
    for name, text in TWO.items():
        write(folder / name, text)
    out = folder / "coded"
    first = code_corpus([folder], out_dir=out, embedder=FakeEmbedder(), config=Config(pseudonymise=True))
    assert not first.errors
    key_before = first.key.read_bytes()
    excerpts_before = (out / "excerpts.jsonl").read_bytes()
    again = code_corpus([folder], out_dir=out, embedder=FakeEmbedder(), config=Config(pseudonymise=True))
    assert not again.errors and again.transcripts == first.transcripts
    assert again.key.read_bytes() == key_before and (out / "excerpts.jsonl").read_bytes() == excerpts_before


def test_transcripts_with_one_id_in_two_folders_keep_their_own_findings(tmp_path):
    """Issue 24 #4: site_a/p01.txt and site_b/p01.txt: each is redacted with its own
    findings (the duplicate id is still reported, naming the other file)."""
    write(
        tmp_path / "site_a" / "p01.txt",
        "Interviewer: How do we reach you?\n\nParticipant: Ring me on 07700 900123 any morning.\n",
    )
    write(
        tmp_path / "site_b" / "p01.txt",
        "Interviewer: Anything else?\n\nParticipant: Nothing else really, it was a long and quiet week at the site for"
        " all of us.\n",
    )
    res = runner.invoke(
        app, ["redact", str(tmp_path / "site_a"), str(tmp_path / "site_b"), "-o", str(tmp_path / "share")]
    )
    assert "duplicate transcript id 'p01'" in res.stderr
    text = (tmp_path / "share" / "p01.txt").read_text()
    assert "07700 900123" not in text and "[PHONE 1]" in text


def test_an_interviewer_named_by_interviewer_is_pseudonymised_and_a_role_label_is_not(tmp_path):
    text = (
        "Marguerite Oyelaran: How do you work with the council?\n\nP04: Marguerite asked me that last year too.\n\n"
        "Marguerite Oyelaran: And now?\n\nP04: Better.\n"
    )
    config = Config(interviewer_labels=("Marguerite Oyelaran", "Chair"))
    (t,) = read_transcripts(write(tmp_path / "i.txt", text), config=config)
    assert [x.is_interviewer for x in t.turns] == [True, False, True, False]
    p = Pseudonymiser(interviewer_labels=config.interviewer_labels)
    p.detect(t)
    p.finish()
    r = p.apply(t)
    assert [x.speaker for x in r.turns] == ["Interviewer", "P04", "Interviewer", "P04"]
    assert "Marguerite" not in r.text and "Oyelaran" not in r.text
    assert not is_name_label(
        "Chair", ["Chair"]
    )  # a name goes, a role stays and is_name_label("Dr Ahmed", ["Dr Ahmed"]) and is_name_label("Sarah", ["Sarah"])


def test_redact_report_lists_what_might_still_identify_someone(tmp_path):
    from pipeline.redact.report import risks
    from pipeline.schemas import Transcript, Turn

    text = (
        "[PERSON 1] moved to Trefonen after the flood; her membership 88123 lapsed on Tuesdays, says NHS England, in"
        " 2021, £14,500."
    )
    t = Transcript(
        id="t1",
        source="t1.txt",
        source_sha256="0" * 64,
        text=text,
        turns=[Turn(index=0, speaker="P01", is_interviewer=False, start=0, end=len(text))],
    )
    found = {r.term: r for r in risks([t])}
    assert "Trefonen" in found and "88123" in found and "[[Trefonen]]" in found["Trefonen"].context
    assert not {"Tuesdays", "NHS England", "2021", "14,500", "[PERSON 1]", "PERSON"} & set(found)
    write(
        tmp_path / "in" / "a.txt",
        "Interviewer: Where?\n\nP01: Mostly around Llanfyllin Road, and my account 4471 0923 5566 with the council.\n",
    )
    res = runner.invoke(app, ["redact", str(tmp_path / "in"), "-o", str(tmp_path / "share"), "--report"])
    assert res.exit_code == 0, res.stderr
    report = tmp_path / "share.redaction_report.csv"  # beside the folder to share, as the key is
    assert report.is_file() and not list((tmp_path / "share").glob("*report*"))
    assert "4471" not in (tmp_path / "share" / "a.txt").read_text() and "to check by hand" in res.stderr
