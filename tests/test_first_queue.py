"""The review queue's first phase: it meets every code, then hands over to most
uncertain first."""

from collections import Counter

from pipeline.reviewing.first_queue import COVER, ROUNDS, UNCERTAIN, codes_met, review_order

CODES = ["a", "b", "c", "d"]


def study(n=40):
    """Passages 0-29 suggest a (the most uncertain of all), 30-35 b, 36-39 c; d nowhere."""
    scores, doubt = [], []
    for i in range(n):
        code = "a" if i < 30 else "b" if i < 36 else "c"
        scores.append({code: 0.5 + 0.01 * (i % 7)})
        doubt.append(0.9 if code == "a" else 0.2 + 0.01 * i)
    return scores, doubt


def test_the_first_decisions_meet_every_code_that_is_suggested():
    scores, doubt = study()
    pending, met, decided = list(range(40)), Counter(), []
    plain = sorted(pending, key=lambda i: -doubt[i])[:6]
    assert {next(iter(scores[i])) for i in plain} == {"a"}  # uncertain first meets one code only
    while True:
        order, mode = review_order(pending, scores, doubt, CODES, met, len(decided))
        if mode == UNCERTAIN:
            break
        assert mode.startswith("covering the codebook")
        decided.append(order[0])
        pending.remove(order[0])
        met = codes_met([(list(scores[i]), []) for i in decided])
    assert {c for c in CODES if met[c]} == {"a", "b", "c"}  # d is suggested nowhere: it cannot be offered
    assert len(decided) <= 2 * 3 and scores[decided[0]] == {"a": scores[decided[0]]["a"]}  # the uncertain one first


def test_each_code_s_pick_is_its_likeliest_passage_and_uncertain_ones_are_mixed_in():
    scores, doubt = study()
    order, _ = review_order(list(range(40)), scores, doubt, CODES, Counter(), 0)
    best_b = max(range(30, 36), key=lambda i: (scores[i]["b"], -i))
    assert order[0] == max(range(30), key=lambda i: (doubt[i], -i)) and order[1] in range(30)  # doubt, then a's pick
    assert order[3] == best_b and len(order) == len(set(order)) == 40


def test_most_uncertain_first_once_every_code_is_met_or_the_phase_is_over():
    scores, doubt = study()
    met = Counter({c: COVER for c in CODES})
    order, mode = review_order(list(range(40)), scores, doubt, CODES, met, 12)
    assert mode == UNCERTAIN and order == sorted(range(40), key=lambda i: (-doubt[i], i))
    order, mode = review_order(list(range(40)), scores, doubt, CODES, Counter(), ROUNDS * len(CODES))
    assert mode == UNCERTAIN


def test_review_queue_lists_the_page_s_order_and_says_which(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    from .test_review import load, make_output

    _, path = make_output(tmp_path, n=3)
    res = CliRunner().invoke(app, ["review", "queue", str(tmp_path / "out"), "--n", "5"])
    assert res.exit_code == 0, res.output
    assert "queue: covering the codebook: 0 of 9 codes met" in res.stderr
    listed = [line.split("\t")[1] for line in res.stdout.splitlines()[1:]]
    assert len(listed) == 5 and set(listed) <= {e.id for e in load(path)}


def test_a_live_model_s_suggestions_keep_the_batch_run_s_likeliest_passage_for_a_code_it_lacks():
    from pipeline.reviewing.first_queue import with_likeliest
    from pipeline.schemas import Suggestion
    from pipeline.tag import LIKELIEST

    live = [{"code": "a", "score": 0.8, "rationale": "live"}]
    batch = [
        Suggestion(code="a", score=0.6, rationale="nearest definition" + LIKELIEST),  # the live model has a
        Suggestion(code="b", score=0.4, rationale="nearest example"),  # suggested, not marked likeliest
        Suggestion(code="d", score=0.1, rationale="nearest definition" + LIKELIEST),
    ]
    rows = with_likeliest(live, batch)
    assert [r["code"] for r in rows] == ["a", "d"] and rows[0] == live[0] and rows[1]["score"] == 0.1
    scores, doubt = study()
    scores[5] = {r["code"]: r["score"] for r in rows}  # d is now offered on passage 5
    order, _ = review_order(list(range(40)), scores, doubt, CODES, Counter({"a": 1, "b": 1, "c": 1}), 3)
    assert order[:2] == [5, max(range(30), key=lambda i: (doubt[i], -i))]  # d's pick comes first (decided is odd)
