"""The converters of public coded corpora (benchmarks/corpora.py), on small files written
here in each corpus's column layout (the corpora themselves are not in the repository)."""

import csv
import json

import pytest
import yaml

from benchmarks.corpora import annomi_agreement, annomi_gold, part, px_codebook, px_gold, slug
from pipeline import Codebook
from pipeline.evaluate import read_gold

ANNOMI_COLUMNS = [
    "mi_quality",
    "transcript_id",
    "video_title",
    "video_url",
    "topic",
    "utterance_id",
    "interlocutor",
    "timestamp",
    "utterance_text",
    "annotator_id",
    "therapist_input_exists",
    "therapist_input_subtype",
    "reflection_exists",
    "reflection_subtype",
    "question_exists",
    "question_subtype",
    "main_therapist_behaviour",
    "client_talk_type",
]


def annomi_row(tid, uid, who, text, annotator=0, talk="n/a", reflection="False", question="False", info="False"):
    row = dict.fromkeys(ANNOMI_COLUMNS, "n/a")
    row.update(
        mi_quality="high",
        transcript_id=str(tid),
        topic="smoking cessation",
        utterance_id=str(uid),
        interlocutor=who,
        utterance_text=text,
        annotator_id=str(annotator),
        client_talk_type=talk if who == "client" else "n/a",
    )
    if who == "therapist":
        row.update(reflection_exists=reflection, question_exists=question, therapist_input_exists=info)
    return row


def write_csv(path, rows, columns):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def test_annomi_utterances_become_gold_by_role_split_by_session(tmp_path):
    rows = [
        annomi_row(7, 0, "therapist", "So what brings you here today?", question="True"),
        annomi_row(7, 1, "client", "I want to stop smoking before the baby comes.", talk="change"),
        annomi_row(
            7,
            2,
            "therapist",
            "You want to be smoke free for the baby, and you wonder how.",
            reflection="True",
            question="True",
        ),
        annomi_row(7, 3, "client", "Honestly it's the only thing that calms me down.", talk="sustain"),
        annomi_row(7, 3, "client", "Honestly it's the only thing that calms me down.", annotator=3, talk="neutral"),
        annomi_row(9, 0, "client", "   ", talk="neutral"),  # blank: skipped
        annomi_row(9, 1, "client", "We moved here in the spring.", talk="neutral"),
        annomi_row(9, 2, "therapist", "Mm-hmm.", info="False"),
    ]
    path = write_csv(tmp_path / "AnnoMI-full.csv", rows, ANNOMI_COLUMNS)
    gold = annomi_gold(path)
    assert [(g["id"], g["labels"]) for g in gold["client"]] == [
        ("annomi-7-1", ["change_talk"]),
        ("annomi-7-3", ["sustain_talk"]),
        ("annomi-9-1", []),
    ]  # utterance 7-3: the lowest-numbered annotator's code
    assert [g["labels"] for g in gold["therapist"]] == [["question"], ["reflection", "question"], []]
    assert {g["split"] for g in gold["client"] if g["transcript"] == "7"} == {part("annomi", "7", 0.5)}
    lines = tmp_path / "client.jsonl"
    lines.write_text("".join(json.dumps(g) + "\n" for g in gold["client"]))
    cb = Codebook.model_validate(
        {
            "name": "mi",
            "version": "1",
            "codes": [
                {"id": "change_talk", "name": "Change", "definition": "d"},
                {"id": "sustain_talk", "name": "Sustain", "definition": "d"},
            ],
        }
    )
    assert [i.id for i in read_gold(lines, cb)] == ["annomi-7-1", "annomi-7-3", "annomi-9-1"]  # extra keys are fine


def test_annomi_agreement_on_utterances_coded_twice(tmp_path):
    rows = []
    for uid, (a, b) in enumerate(
        [("change", "change"), ("change", "neutral"), ("neutral", "neutral"), ("sustain", "sustain")]
    ):
        rows += [
            annomi_row(5, uid, "client", f"u{uid}", annotator=1, talk=a),
            annomi_row(5, uid, "client", f"u{uid}", annotator=2, talk=b),
        ]
    rows.append(annomi_row(5, 9, "client", "once only", annotator=1, talk="change"))
    report = annomi_agreement(write_csv(tmp_path / "a.csv", rows, ANNOMI_COLUMNS))
    assert report["utterances"] == 4 and report["sessions"] == 1
    change = report["codes"]["change_talk"]  # pairs (1,1) (1,0) (0,0) (0,0): po 0.75, pe 0.5
    assert change["pairs"] == 4 and change["kappa"] == pytest.approx(0.5)
    assert report["codes"]["sustain_talk"]["kappa"] == pytest.approx(1.0)
    assert report["sets_differ"] == {"client": 0.25}  # one pair of four: change against neutral (no code)


def test_px_comments_keep_frequent_categories_and_no_code_labels(tmp_path):
    columns = [
        "Comment ID",
        "Trust",
        "FFT answer",
        "FFT question",
        "Comment sentiment",
        "Staff manner & personal attributes",
        "Parking",
        "Labelling not possible",
    ]
    rows = []
    for i in range(12):
        rows.append(
            {
                "Comment ID": str(i),
                "Trust": "T",
                "FFT answer": f"The nurses were lovely {i}",
                "FFT question": "What was good?",
                "Comment sentiment": "1",
                "Staff manner & personal attributes": "1",
                "Parking": "1" if i == 0 else "0",
                "Labelling not possible": "0",
            }
        )
    rows.append(
        {
            "Comment ID": "12",
            "Trust": "T",
            "FFT answer": "ok",
            "FFT question": "Why?",
            "Comment sentiment": "3",
            "Staff manner & personal attributes": "0",
            "Parking": "0",
            "Labelling not possible": "1",
        }
    )
    rows.append(
        {
            "Comment ID": "13",
            "Trust": "T",
            "FFT answer": "",
            "FFT question": "Why?",
            "Comment sentiment": "3",
            "Staff manner & personal attributes": "0",
            "Parking": "0",
            "Labelling not possible": "1",
        }
    )
    items, kept = px_gold(write_csv(tmp_path / "px.csv", rows, columns))
    assert kept == ["Staff manner & personal attributes"]  # Parking is too rare; no-code columns are not codes
    assert len(items) == 13 and items[-1]["labels"] == [] and items[0]["labels"] == [slug(kept[0])]
    Codebook.model_validate(px_codebook(kept))


FRAMEWORK_QMD = """---
title: "Framework details"
---

## General

::: {.callout-note icon=false title="Parking" collapse=true}

### Parking

Comments about finding a space to park and what it costs.

Examples:

Positive: 'Easy to park.', 'Plenty of spaces.'

Negative: 'The car park was full again.'

:::

### Food & drink provision & facilities

Includes food quality, choice and temperature.

:::
"""


def test_qdc_framework_codebooks_keep_the_authors_descriptions(tmp_path):
    from benchmarks.corpora import px_framework_codebooks, qdc_framework

    (tmp_path / "framework3.qmd").write_text(FRAMEWORK_QMD)
    framework = qdc_framework(tmp_path / "framework3.qmd")
    assert framework["Parking"]["definition"] == "Comments about finding a space to park and what it costs."
    assert framework["Parking"]["examples"] == ["Easy to park.", "Plenty of spaces.", "The car park was full again."]
    thin, full, shared = px_framework_codebooks(
        framework, ["Parking", "Food & drink provision & facilities", "Staff"], {"Easy to park."}
    )
    assert shared == [
        "Parking",
        "Food & drink provision & facilities",
    ]  # a category the framework does not describe is left out
    assert all(set(c) == {"id", "name", "definition"} for c in thin["codes"])
    assert full["codes"][0]["examples"] == [
        "Plenty of spaces.",
        "The car park was full again.",
    ]  # a gold text is never its own example
    Codebook.model_validate(thin)
    Codebook.model_validate(full)


MANUAL = """1 Teacher Talk Moves Coding Manual
      Keeping Everyone Together
      Teacher prompts for students to be active listeners.
         ■ Go ahead.
         ■ Shelly?
      Restating
      The teacher repeating what a student says word for word.
         ■ S: An exponent
            T: Exponent. (Restating)
"""


def test_talkmoves_manual_examples_and_lessons(tmp_path):
    import openpyxl

    from benchmarks.corpora import manual_examples, talkmoves_gold

    examples = manual_examples(MANUAL)
    assert examples["keeping_everyone_together"] == ["Go ahead.", "Shelly?"]
    assert examples["restating"] == ["Exponent."]  # the coded teacher turn of a dialogue example
    lessons = tmp_path / "data" / "Subset 1"
    lessons.mkdir(parents=True)
    for n in range(6):
        wb = openpyxl.Workbook()
        wb.active.append([None, "TimeStamp", "Turn", "Speaker", "Sentence", "Teacher Tag", "Student Tag"])
        wb.active.append([0, None, 1, "T", "Can you all look at the board now?", "2 - Keeping Everyone Together", None])
        wb.active.append(
            [
                1,
                None,
                2,
                "S",
                "I think it is twelve because six and six make twelve.",
                None,
                "5 - Providing Evidence / Explaining Reasoning",
            ]
        )
        wb.active.append([2, None, 3, "T", "Let us think about this together today.", "7 - Context", None])
        wb.active.append([3, None, 4, "T", "Okay.", "1 - None", None])  # under three words: left out
        wb.save(lessons / f"lesson {n}.xlsx")
    gold = talkmoves_gold(tmp_path, per_part=100)
    teacher = [i for k, v in gold.items() if k.startswith("teacher") for i in v]
    student = [i for k, v in gold.items() if k.startswith("student") for i in v]
    assert len(teacher) == 12 and len(student) == 6
    assert sorted({tuple(i["labels"]) for i in teacher}) == [
        (),
        ("keeping_everyone_together",),
    ]  # "Context" is no talk move
    assert all(i["labels"] == ["providing_evidence"] for i in student)
    assert {i["split"] for i in teacher} <= {"dev", "test"}


SURVEY_ANSWERS = {
    "R_1": "It films them.",
    "R_2": "No idea.",
    "R_3": "Locks the browser and films.",
    "R_4": "Not sure at all.",
    "R_5": "yes",
    "R_6": "",
}


def write_survey_csv(path, codes_by_answer):
    """One coder's CSV in the survey's layout: id, answer, Code 1..3 ("code->sub" allowed)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["ResponseId", "How do the tools work?", "Code 1", "Code 2", "Code 3"])
        for rid, codes in codes_by_answer.items():
            out.writerow([rid, SURVEY_ANSWERS[rid], *codes, *[""] * (3 - len(codes))])


def test_survey_answers_keep_top_level_codes_given_twice_and_the_coders_kappa(tmp_path):
    from benchmarks.edu_survey import survey_gold

    primary = {
        "R_1": ["monitor_students", "monitor_students->webcam"],
        "R_2": ["don't_know"],
        "R_3": ["restrict_activities", "monitor_students"],
        "R_4": ["don't_know"],
        "R_5": ["NA"],
        "R_6": [],
    }
    secondary = {"R_1": ["monitor_students"], "R_2": ["don't_know"], "R_3": ["restrict_activities"], "R_4": []}
    write_survey_csv(tmp_path / "Qualitative Responses Yes and No - Q5 (primary).csv", primary)
    write_survey_csv(tmp_path / "Qualitative Responses Yes and No - Q5 (secondary).csv", secondary)
    gold, kept, kappas = survey_gold(tmp_path, "Q5")
    assert kept == {"dont_know": 2, "monitor_students": 2}  # restrict_activities given once; NA is no code
    assert [g["id"] for g in gold["primary"]] == ["R_1", "R_2", "R_3", "R_4", "R_5"]  # R_6 has no code at all
    assert [g["labels"] for g in gold["primary"]] == [
        ["monitor_students"],
        ["dont_know"],
        ["monitor_students"],
        ["dont_know"],
        [],
    ]
    assert [g["id"] for g in gold["secondary"]] == ["R_1", "R_2", "R_3"]  # only the answers the second coder coded
    assert kappas["dont_know"] == 1.0
    assert kappas["monitor_students"] == pytest.approx(0.4)  # primary: R_1, R_3; secondary: R_1


def test_a_quoted_codebook_takes_each_codes_first_answers_one_fewer_than_given():
    from benchmarks.edu_survey import quoted_codebook

    book = {"name": "b", "version": "1", "codes": [{"id": "a", "name": "A", "definition": "d", "examples": ["mine"]}]}
    rows = [{"text": f"answer {i}", "labels": ["a"] if i % 2 else []} for i in range(12)]
    out = quoted_codebook(book, rows)
    assert out["codes"][0]["examples"] == ["answer 1", "answer 3", "answer 5"]  # six given: at most three
    assert quoted_codebook(book, rows[:4])["codes"][0]["examples"] == ["answer 1"]  # two given: one
    assert Codebook.model_validate(out).codes[0].definition == "d" and book["codes"][0]["examples"] == ["mine"]


def write_session(folder, name, segments):
    """One think-aloud session file in the corpus's layout: a list of segments, each with
    its transcription, its verbalization category and whether it shows a problem."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"transcription": t, "category": c, "problem": p, "index": n} for n, (t, c, p) in enumerate(segments)]
    (folder / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")


def test_thinkaloud_sessions_become_gold_in_participant_order_split_by_participant(tmp_path):
    from benchmarks.corpora import thinkaloud_gold

    website, device = tmp_path / "digital-website", tmp_path / "physical-device"
    write_session(device, "p1-remote", [("Press the red button.", "Procedure", 0)])
    write_session(
        website,
        "p1-history-t1",
        [("Tickets, visits, learn.", "Reading", 0), ("  ", "Observation", 0), ("Where is the date?", "Observation", 1)],
    )
    write_session(website, "p10-science-t1", [("Because I want a class trip.", "Explanation", 0)])
    write_session(website, "p5-history-t1", [("I will click on search.", "Procedure", 0)])
    gold = thinkaloud_gold(tmp_path)
    assert [i["source"] for i in gold["dev"]] == ["p1-history-t1", "p1-history-t1", "p1-remote"]
    assert [i["labels"] for i in gold["dev"]] == [["reading"], ["observation", "usability_problem"], ["procedure"]]
    assert [i["source"] for i in gold["test"]] == ["p5-history-t1", "p10-science-t1"]  # by number, not by name
    codebook = Codebook.model_validate(yaml.safe_load(open("codebook/thinkaloud_usability.yaml", encoding="utf-8")))
    assert {c for part in gold.values() for i in part for c in i["labels"]} <= set(codebook.code_ids)
