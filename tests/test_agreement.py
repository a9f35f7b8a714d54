"""Agreement statistics, checked against scikit-learn and a published worked example."""

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from pipeline import Review
from pipeline.agreement import agreement, coder_from_file, nominal_alpha
from pipeline.cli import app

from .conftest import write
from .test_counts import ex

NAN = np.nan


def test_alpha_matches_krippendorffs_worked_example():
    """Krippendorff (2011), 'Computing Krippendorff's Alpha-Reliability', section C:
    nominal data, 4 coders, 12 units with missing values: alpha = 0.743."""
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
            [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
        ]
    )
    assert nominal_alpha(data) == pytest.approx(0.743, abs=5e-4)


def random_coders(seed, n=300, codes=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    first = {f"p{i}": {c for c in codes if rng.random() < 0.3} for i in range(n)}
    second = {}
    for pid, labels in first.items():
        flipped = {c for c in codes if (c in labels) != (rng.random() < 0.2)}
        second[pid] = flipped
    return first, second


def test_kappa_matches_scikit_learn_and_alpha_is_close_to_it():
    first, second = random_coders(0)
    report = agreement([("ana", first), ("ben", second)], ["a", "b", "c"])
    for row in report.per_code:
        y1 = [int(row.code in first[p]) for p in sorted(first)]
        y2 = [int(row.code in second[p]) for p in sorted(first)]
        assert row.kappa == pytest.approx(cohen_kappa_score(y1, y2), abs=1e-4)
        assert row.alpha == pytest.approx(row.kappa, abs=0.01)  # two coders, large n
        assert row.percent == pytest.approx(np.mean(np.array(y1) == np.array(y2)), abs=1e-4)
    assert report.units == 300 and report.coders == ["ana", "ben"]


def test_without_uncoded_passages_and_missing_values():
    ana = {"p1": {"a"}, "p2": set(), "p3": {"b"}, "p4": set()}
    ben = {"p1": {"a"}, "p2": set(), "p3": {"a"}}  # p4 not coded by ben
    cy = {"p4": {"a"}}
    report = agreement([("ana", ana), ("ben", ben), ("cy", cy)], ["a", "b"])
    assert report.units == 4 and report.units_coded == 3  # p2: nobody coded anything
    a = report.per_code[0]
    assert a.percent == pytest.approx(2 / 4, abs=1e-4) and a.percent_coded == pytest.approx(1 / 3, abs=1e-4)


def test_undefined_statistics_are_none_not_numbers():
    same = {"p1": set(), "p2": set()}
    report = agreement([("x", same), ("y", dict(same))], ["a"])
    assert report.per_code[0].kappa is None and report.per_code[0].alpha is None
    assert report.per_code[0].percent == 1.0


def excerpt_line(pid, codes, review=None):
    return ex(pid, "t", codes, {}, review).model_dump_json()


def test_files_are_coders_reviewers_or_machine(tmp_path):
    machine = write(
        tmp_path / "machine.jsonl",
        "\n".join(excerpt_line(f"p{i}", ["conflict"] if i % 2 else []) for i in range(6)) + "\n",
    )
    reviewed = write(
        tmp_path / "ana.jsonl",
        "\n".join(
            excerpt_line(
                f"p{i}", ["conflict"] if i % 2 else [], Review(status="accepted", reviewer="ana") if i < 4 else None
            )
            for i in range(6)
        )
        + "\n",
    )
    name, labels = coder_from_file(reviewed)
    assert name == "ana" and sorted(labels) == ["p0", "p1", "p2", "p3"]
    assert coder_from_file(machine)[0] == "machine (machine)"
    res = CliRunner().invoke(app, ["agreement", str(machine), str(reviewed), "--json"])
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["units"] == 4 and out["mean_kappa"] == 1.0
    table = CliRunner().invoke(app, ["agreement", str(machine), str(reviewed)])
    assert "conflict" in table.stdout and "shared passages: 4" in table.stdout
    alone = CliRunner().invoke(app, ["agreement", str(machine)])  # one file with no decision: nothing to compare
    assert alone.exit_code == 1 and "no reviewer decisions" in alone.stderr
    one = CliRunner().invoke(
        app, ["agreement", str(reviewed), "--json"]
    )  # one file: its machine codes vs its reviewers
    assert one.exit_code == 0 and json.loads(one.stdout)["units"] == 4 and "machine vs reviewers on 4" in one.stderr
    bad = CliRunner().invoke(app, ["agreement", str(machine), str(reviewed), "--source", "nope"])
    assert bad.exit_code == 2


def test_agreement_takes_the_study_s_codebook_whichever_place_the_folder_has(tmp_path, fake_embedder):
    from pipeline import code_corpus

    from .conftest import REPO

    write(tmp_path / "in" / "t1.txt", "Interviewer: How was it?\nParticipant: The nurse was kind and quick.\n")
    out = tmp_path / "out"
    code_corpus(
        [tmp_path / "in"],
        out_dir=out,
        codebook_path=REPO / "codebook" / "patient_feedback.yaml",
        embedder=fake_embedder,
    )
    (passage,) = [json.loads(x) for x in (out / "excerpts.jsonl").read_text().splitlines()]
    gold = write(tmp_path / "gold.jsonl", json.dumps({"id": passage["id"], "text": "t", "labels": ["staff_attitude"]}))
    for order in ([str(gold), str(out)], [str(out), str(gold)]):
        res = CliRunner().invoke(app, ["agreement", *order, "--source", "machine", "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["units"] == 1
