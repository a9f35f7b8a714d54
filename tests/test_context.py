"""Suggestions that follow the transcript between relearns (reviewing/context.py): the
page rescores its pending passages after each decision where its model reads what each
transcript has received."""

import pickle

import numpy as np

from pipeline.decision import DecisionModel, transcript_features
from pipeline.reviewing.context import Context
from pipeline.reviewing.live import LiveLearner
from pipeline.reviewing.relearn import LiveModel, Snapshot

CODES = ["a", "b", "c"]
GROUPS = [f"t{i // 10}" for i in range(80)]  # eight transcripts of ten passages
DECISIONS = [["a"] if int(g[1:]) % 2 == 0 else [] for g in GROUPS]  # even transcripts are all 'a'


def document_model(n_known: int = 60):
    """A model of whole decisions fitted where the passages' own vectors say nothing and
    their transcripts' decisions say everything; the passages' own features."""
    X = np.random.default_rng(1).normal(size=(80, 8)) * 0.1
    labels = DECISIONS[:n_known] + [None] * (80 - n_known)
    features = np.hstack([X, transcript_features(labels, GROUPS, CODES)])
    model = DecisionModel(0).fit(features[:n_known], [tuple(d) for d in DECISIONS[:n_known]])
    return model, X


def context(model, X, known=None) -> Context:
    return Context(model, [f"p{i}" for i in range(80)], X, known or [None] * 80, GROUPS, CODES, 1)


def test_a_transcripts_new_decisions_change_the_suggestions_for_the_rest_of_it():
    model, X = document_model()
    ctx = context(model, X)
    labels = DECISIONS[:60] + [None] * 20  # t6 (all 'a') and t7 (no code) pending
    before = ctx.suggestions(labels)
    assert set(before) == {f"p{i}" for i in range(60, 80)}
    labels[60:65] = [["a"]] * 5  # half of t6 decided 'a'
    labels[70:75] = [[]] * 5  # half of t7 decided: no code
    after = ctx.suggestions(labels)
    assert set(after) == {f"p{i}" for i in [*range(65, 70), *range(75, 80)]}
    assert all(after[f"p{i}"][1] == ["a"] for i in range(65, 70))
    assert all(after[f"p{i}"][1] == [] for i in range(75, 80))
    assert after["p66"][2] < before["p66"][2]  # surer of t6 now
    only_t6 = ctx.suggestions(labels, ["p60"])
    assert set(only_t6) == {f"p{i}" for i in range(65, 70)} and only_t6["p66"] == after["p66"]
    # the same as the model's own suggestions on features recomputed from scratch
    fresh = np.hstack([X, transcript_features(labels, GROUPS, CODES)])[[66]]
    assert after["p66"] == model.suggestions(fresh, CODES, 1, after["p66"][0][0]["rationale"])[0]


def test_a_prior_codings_labels_count_until_the_page_decides_the_passage():
    model, X = document_model()
    labels = DECISIONS[:60] + [None] * 20
    imported = [None] * 70 + [["a"]] * 10  # an import said t7 is all 'a'
    with_import = context(model, X, imported).suggestions(labels)
    assert with_import["p75"][1] == ["a"]
    labels[70:80] = [[]] * 10  # the page decides t7 otherwise: its decisions win
    labels[75] = None
    assert context(model, X, imported).suggestions(labels)["p75"][1] == []


def test_the_page_swaps_in_the_rescored_suggestions_only_over_the_model_they_came_from(tmp_path):
    model, X = document_model()
    ids = [f"p{i}" for i in range(80)]
    labels = DECISIONS[:60] + [None] * 20
    ctx = context(model, X)
    live = pickle.loads(pickle.dumps(LiveModel(1, 60, 0.1, ctx.suggestions(labels), {"chosen": "document"}, ctx)))
    # (as it comes back from the relearn's worker process)
    learner = LiveLearner(tmp_path, tmp_path / "codebook.yaml", config=None)
    learner._model = live
    labels[60:65] = [["a"]] * 5
    snap = Snapshot(ids, [""] * 80, labels)
    assert learner.follow(lambda: snap, ["p60"])  # t6's pending passages rescored, t7's kept
    shown = learner.model()
    assert shown.name == live.name and shown.suggestions["p66"][1] == ["a"]
    assert shown.suggestions["p75"] == live.suggestions["p75"]
    assert learner.follow(lambda: snap) and "p60" not in learner.model().suggestions  # all rescored
    assert not learner.follow(lambda: Snapshot(ids[:-1], [""] * 79, labels[:-1]))  # other passages: left alone
    plain = LiveModel(2, 60, 0.1, {"p70": ([], [], 0.5)}, {"chosen": "decisions"})
    learner._model = plain
    assert not learner.follow(lambda: snap) and learner.model() is plain  # no transcript model: nothing to do
