"""The converters of public coded corpora (benchmarks/corpora.py), on small files written
here in each corpus's column layout (the corpora themselves are not in the repository)."""

import csv
import json

import pytest

from benchmarks.corpora import annomi_agreement, annomi_gold, part, px_codebook, px_gold, slug
from pipeline import Codebook
from pipeline.evaluate import read_gold

ANNOMI_COLUMNS = [
    "mi_quality", "transcript_id", "video_title", "video_url", "topic", "utterance_id", "interlocutor", "timestamp",
    "utterance_text", "annotator_id", "therapist_input_exists", "therapist_input_subtype", "reflection_exists",
    "reflection_subtype", "question_exists", "question_subtype", "main_therapist_behaviour", "client_talk_type",
]


def annomi_row(tid, uid, who, text, annotator=0, talk="n/a", reflection="False", question="False", info="False"):
    row = dict.fromkeys(ANNOMI_COLUMNS, "n/a")
    row.update(mi_quality="high", transcript_id=str(tid), topic="smoking cessation", utterance_id=str(uid), interlocutor=who,
               utterance_text=text, annotator_id=str(annotator), client_talk_type=talk if who == "client" else "n/a")
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
        annomi_row(7, 2, "therapist", "You want to be smoke free for the baby, and you wonder how.", reflection="True", question="True"),
        annomi_row(7, 3, "client", "Honestly it's the only thing that calms me down.", talk="sustain"),
        annomi_row(7, 3, "client", "Honestly it's the only thing that calms me down.", annotator=3, talk="neutral"),
        annomi_row(9, 0, "client", "   ", talk="neutral"),  # blank: skipped
        annomi_row(9, 1, "client", "We moved here in the spring.", talk="neutral"),
        annomi_row(9, 2, "therapist", "Mm-hmm.", info="False"),
    ]
    path = write_csv(tmp_path / "AnnoMI-full.csv", rows, ANNOMI_COLUMNS)
    gold = annomi_gold(path)
    assert [(g["id"], g["labels"]) for g in gold["client"]] == [
        ("annomi-7-1", ["change_talk"]), ("annomi-7-3", ["sustain_talk"]), ("annomi-9-1", []),
    ]  # utterance 7-3: the lowest-numbered annotator's code
    assert [g["labels"] for g in gold["therapist"]] == [["question"], ["reflection", "question"], []]
    assert {g["split"] for g in gold["client"] if g["transcript"] == "7"} == {part("annomi", "7", 0.5)}
    lines = tmp_path / "client.jsonl"
    lines.write_text("".join(json.dumps(g) + "\n" for g in gold["client"]))
    cb = Codebook.model_validate({"name": "mi", "version": "1", "codes": [
        {"id": "change_talk", "name": "Change", "definition": "d"}, {"id": "sustain_talk", "name": "Sustain", "definition": "d"}]})
    assert [i.id for i in read_gold(lines, cb)] == ["annomi-7-1", "annomi-7-3", "annomi-9-1"]  # extra keys are fine


def test_annomi_agreement_on_utterances_coded_twice(tmp_path):
    rows = []
    for uid, (a, b) in enumerate([("change", "change"), ("change", "neutral"), ("neutral", "neutral"), ("sustain", "sustain")]):
        rows += [annomi_row(5, uid, "client", f"u{uid}", annotator=1, talk=a), annomi_row(5, uid, "client", f"u{uid}", annotator=2, talk=b)]
    rows.append(annomi_row(5, 9, "client", "once only", annotator=1, talk="change"))
    report = annomi_agreement(write_csv(tmp_path / "a.csv", rows, ANNOMI_COLUMNS))
    assert report["utterances"] == 4 and report["sessions"] == 1
    change = report["codes"]["change_talk"]  # pairs (1,1) (1,0) (0,0) (0,0): po 0.75, pe 0.5
    assert change["pairs"] == 4 and change["kappa"] == pytest.approx(0.5)
    assert report["codes"]["sustain_talk"]["kappa"] == pytest.approx(1.0)


def test_px_comments_keep_frequent_categories_and_no_code_labels(tmp_path):
    columns = ["Comment ID", "Trust", "FFT answer", "FFT question", "Comment sentiment", "Staff manner & personal attributes", "Parking", "Labelling not possible"]
    rows = []
    for i in range(12):
        rows.append({"Comment ID": str(i), "Trust": "T", "FFT answer": f"The nurses were lovely {i}", "FFT question": "What was good?",
                     "Comment sentiment": "1", "Staff manner & personal attributes": "1", "Parking": "1" if i == 0 else "0", "Labelling not possible": "0"})
    rows.append({"Comment ID": "12", "Trust": "T", "FFT answer": "ok", "FFT question": "Why?", "Comment sentiment": "3",
                 "Staff manner & personal attributes": "0", "Parking": "0", "Labelling not possible": "1"})
    rows.append({"Comment ID": "13", "Trust": "T", "FFT answer": "", "FFT question": "Why?", "Comment sentiment": "3",
                 "Staff manner & personal attributes": "0", "Parking": "0", "Labelling not possible": "1"})
    items, kept = px_gold(write_csv(tmp_path / "px.csv", rows, columns))
    assert kept == ["Staff manner & personal attributes"]  # Parking is too rare; no-code columns are not codes
    assert len(items) == 13 and items[-1]["labels"] == [] and items[0]["labels"] == [slug(kept[0])]
    Codebook.model_validate(px_codebook(kept))
