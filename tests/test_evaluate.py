import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from pipeline import InputError, load_codebook
from pipeline.evaluate import read_gold, score

from .conftest import DEV_GOLD, write

CODES = ["a", "b", "c", "d"]


def random_labels(rng, n):
    return [[c for c in CODES if rng.random() < 0.3] for _ in range(n)]


def test_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    gold, pred = random_labels(rng, 400), random_labels(rng, 400)
    report = score(gold, pred, CODES)
    for k, c in enumerate(CODES):
        y = [int(c in g) for g in gold]
        p = [int(c in q) for q in pred]
        assert report.per_code[k].kappa == pytest.approx(cohen_kappa_score(y, p), abs=1e-4)
        assert report.per_code[k].f1 == pytest.approx(f1_score(y, p), abs=1e-4)
    assert report.macro_f1 == pytest.approx(np.mean([s.f1 for s in report.per_code]), abs=1e-4)


def test_macro_and_kappa_average_only_codes_in_gold():
    gold = [["a"], ["a"], [], ["b"]]
    pred = [["a"], ["a"], ["c"], ["b"]]  # c never in gold: a false positive, not averaged
    report = score(gold, pred, CODES)
    assert report.macro_f1 == 1.0 and report.mean_kappa == 1.0
    assert report.micro_f1 == 1.0
    assert report.per_code[2].predicted == 1 and report.per_code[2].support == 0


def test_perfect_and_empty_predictions():
    gold = [["a"], ["b"], []]
    assert score(gold, gold, CODES).mean_kappa == 1.0
    empty = score(gold, [[], [], []], CODES)
    assert empty.macro_f1 == 0.0 and empty.mean_kappa == 0.0


def test_dev_set_is_valid_and_shaped_as_promised():
    items = read_gold(DEV_GOLD, load_codebook())
    n = len(items)
    assert n >= 150
    none = sum(1 for i in items if not i.labels) / n
    two = sum(1 for i in items if len(i.labels) == 2) / n
    assert 0.05 <= none <= 0.2 and 0.2 <= two <= 0.4
    assert {c for i in items for c in i.labels} == set(load_codebook().code_ids)
    examples = {e for c in load_codebook().codes for e in c.examples}
    assert not examples & {i.text for i in items}


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "1", "text": "x", "labels": ["nope"]}', "unknown code"),
        ('{"id": "1", "text": "x"}', "labels: required field missing"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_gold_lines_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "g.jsonl", json.dumps({"id": "0", "text": "ok", "labels": []}) + "\n" + line + "\n")
    with pytest.raises(InputError) as err:
        read_gold(path, load_codebook())
    assert str(err.value).startswith(f"{path}:2: ") and message in str(err.value)


def test_duplicate_gold_ids(tmp_path):
    line = json.dumps({"id": "same", "text": "x", "labels": []})
    path = write(tmp_path / "g.jsonl", line + "\n" + line + "\n")
    with pytest.raises(InputError, match="duplicate id"):
        read_gold(path, load_codebook())


def test_thousands_of_lines_and_many_codes():
    rng = np.random.default_rng(1)
    codes = [f"c{i}" for i in range(35)]
    gold = [[c for c in codes if rng.random() < 0.05] for _ in range(5000)]
    report = score(gold, gold, codes)
    assert report.n == 5000 and report.macro_f1 == 1.0 and len(report.per_code) == 35
