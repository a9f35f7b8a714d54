"""Whole decisions and a passage's neighbours: the features, the folds, the learner's
choice between per-code models and a model of whole decisions, and persistence."""

import json

import numpy as np
from typer.testing import CliRunner

from pipeline import Codebook, Config
from pipeline.cli import app
from pipeline.decision import (
    POWERS,
    DecisionModel,
    balanced_logits,
    code_prior,
    combined_scores,
    folds,
    mean_kappa,
    neighbour_means,
    passage_texts,
)
from pipeline.labelled import load_labelled
from pipeline.learn import Labelled, LearnedTagger, moved_by_threshold
from pipeline.units import UnitVectors

from .conftest import write


def test_neighbours_stay_inside_their_document():
    means = np.arange(10, dtype=float).reshape(5, 2)
    got = neighbour_means(means, ["a", "a", "a", "b", "b"])
    before, after = got[:, :2], got[:, 2:]
    assert before[0].tolist() == [0, 0] and after[0].tolist() == [1.0, 1.5]  # 0.5 x passage 1
    assert before[3].tolist() == [0, 0]  # first of document b: nothing before it
    assert after[2].tolist() == [0, 0]  # last of document a: nothing after it
    assert before[4].tolist() == [3.0, 3.5]
    assert not neighbour_means(means, None).any()


def test_folds_keep_whole_documents_together():
    groups = [f"d{i // 7}" for i in range(70)]
    for train, test in folds(70, groups, seed=42):
        assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert len(folds(70, None, seed=42)) == 5


def test_a_saved_decision_model_scores_as_the_fitted_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    decisions = [("a",) if x[0] > 0.3 else ("b",) if x[1] > 0 else () for x in X]
    fitted = DecisionModel(42).fit(X, decisions)
    again = DecisionModel.from_arrays(42, fitted.classes_, fitted.arrays())
    assert np.allclose(fitted.proba(X), again.proba(X))
    assert fitted.marginals(X, ["a", "b"]).shape == (60, 2)


def rare_and_common(seed=0, n=400):
    """A common decision and a rare one (about 1 in 8) whose features overlap: the rare
    one is seldom the most probable, though often far likelier than its share."""
    rng = np.random.default_rng(seed)
    rare = rng.random(n) < 0.125
    X = rng.normal(size=(n, 3))
    X[rare, 0] += 1.5
    return X, [("b",) if r else ("a",) for r in rare]


def test_a_power_gives_rare_decisions_their_due():
    X, decisions = rare_and_common()
    model = DecisionModel(42).fit(X, decisions)
    plain, fair = model.best(X, 0.0), model.best(X, 1.0)
    assert model.best(X) == plain  # by default the most probable decision
    assert plain.count(("b",)) < decisions.count(("b",)) < fair.count(("b",))
    Y = np.array([[d == ("a",), d == ("b",)] for d in decisions])
    kappa = {p: mean_kappa(Y, np.array([[d == ("a",), d == ("b",)] for d in model.best(X, p)])) for p in POWERS}
    assert kappa[0.5] > kappa[0.0] + 0.05  # here halfway is best: all the way over-applies the rare one
    assert max(kappa, key=kappa.get) not in (0.0, 1.0)


def test_out_of_fold_decisions_at_each_power_come_from_the_same_folds():
    X, decisions = rare_and_common()
    model = DecisionModel(42)
    by_power = model.out_of_fold_by_power(X, decisions, None, POWERS)
    assert set(by_power) == set(POWERS)
    assert by_power[0.0] == model.out_of_fold(X, decisions)
    assert by_power[1.0] == DecisionModel(42, power=1.0).out_of_fold(X, decisions)
    assert by_power[1.0].count(("b",)) > by_power[0.0].count(("b",))


def test_a_saved_decision_model_keeps_its_power():
    X, decisions = rare_and_common()
    fitted = DecisionModel(42, power=0.75).fit(X, decisions)
    again = DecisionModel.from_arrays(42, fitted.classes_, fitted.arrays(), power=0.75)
    assert again.best(X) == fitted.best(X) != fitted.best(X, 0.0)
    assert "prior" not in DecisionModel(42).fit(X, decisions).arrays()  # power 0: saved as before


def test_the_threshold_moves_a_whole_decision_both_ways():
    marginals = np.array([0.45, 0.3, 0.7])
    assert moved_by_threshold({0}, marginals, 0.5) == {0}  # the decision as it is
    assert moved_by_threshold({0, 2}, marginals, 0.6) == {2}  # stricter: only its surer codes
    assert moved_by_threshold({0}, marginals, 0.25) == {0, 1, 2}  # looser: any likely code added


def context_study(documents=12, per_document=12, seed=0):
    """Passages whose code is set by the passage before them: a question `q{k}` is
    answered by a passage of neutral words that takes code k; a passage alone cannot
    show which code it has."""
    codes = [
        {"id": f"c{k}", "name": f"C{k}", "definition": f"about w{k}", "examples": [f"w{k} v{j}" for j in range(3)]}
        for k in range(3)
    ]
    cb = Codebook.model_validate({"name": "ctx", "version": "1", "codes": codes})
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(documents):
        k = None
        for i in range(per_document):
            if i % 2 == 0:
                k = int(rng.integers(3))
                rows.append({"id": f"d{d}-{i}", "text": f"q{k} r{rng.integers(40)}", "labels": [], "source": f"d{d}"})
            else:
                text = f"a{rng.integers(40)} b{rng.integers(40)}"
                rows.append({"id": f"d{d}-{i}", "text": text, "labels": [f"c{k}"], "source": f"d{d}"})
    return cb, rows


def labelled_of(rows) -> Labelled:
    return Labelled(
        [r["id"] for r in rows],
        [r["text"] for r in rows],
        [r["labels"] for r in rows],
        groups=[r["source"] for r in rows],
    )


def fit_rows(cb, rows, embedder):
    return LearnedTagger(cb, config=Config()).fit(embedder, labelled_of(rows))


def fit_told(cb, rows, embedder, head: dict):
    """A learner told how passages are decided (as if chosen before its encoder was tuned)."""
    tagger = LearnedTagger(cb, config=Config())
    tagger.fixed = {**fit_rows(cb, rows, embedder).choices(), "head": head}
    return tagger.fit(embedder, labelled_of(rows))


def units_of(embedder, rows):
    texts = [r["text"] for r in rows]
    return UnitVectors.of_passages(embedder.embed(texts), texts)


def test_the_learner_reads_neighbours_where_they_pay(fake_embedder):
    cb, rows = context_study()
    tagger = fit_rows(cb, rows, fake_embedder)
    kappa = tagger.head_check_["mean_kappa_out_of_fold"]
    assert tagger.head_mode_ == "context" and tagger.head_check_["folds"] == "documents"
    assert kappa["context"] > kappa["decisions"] + 0.3 and kappa["context"] > kappa["codes"] + 0.3
    _, new = context_study(documents=4, seed=1)
    got = [codes for _, codes in tagger.suggest(units_of(fake_embedder, new), [r["source"] for r in new])]
    right = sum(g == r["labels"] for g, r in zip(got, new))
    assert right >= 0.8 * len(new)
    blind = [codes for _, codes in tagger.suggest(units_of(fake_embedder, new))]  # no documents: no neighbours
    assert sum(g == r["labels"] for g, r in zip(blind, new)) < right


def test_a_head_chosen_before_tuning_is_kept_and_said(fake_embedder):
    """After the encoder is tuned on the labelled passages, how they are decided is the
    choice made with the encoder before (a check on vectors tuned on the very passages
    checked favours whatever fits them best)."""
    from pipeline.cli.learn import decided_by

    cb, rows = context_study()
    chosen_before = fit_rows(cb, rows, fake_embedder).head_check_
    assert chosen_before["chosen"] == "context"
    before = {**chosen_before, "chosen": "decisions"}  # as if the untuned encoder had chosen whole decisions
    tagger = fit_told(cb, rows, fake_embedder, before)
    assert tagger.head_mode_ == "decisions" and tagger.head_check_["encoder"] == "before tuning"
    assert tagger.head_.classes_ and "chosen with the encoder before it was tuned" in decided_by(tagger)
    assert "before it was tuned" not in decided_by(fit_rows(cb, rows, fake_embedder))


def test_trust_and_modes_chosen_before_tuning_are_kept(fake_embedder):
    """The codebook's trust and each code's mode are the choices made before tuning too,
    with the check that made them, whatever a check on the tuned vectors would say."""
    cb, rows = context_study()
    free = fit_rows(cb, rows, fake_embedder)
    assert free.modes_.count("codebook") < 3
    before = free.choices()
    other = [t for t in ((1.0, 5.0), (0.3, 2.0)) if t != (free.codebook_weight_, free.n0_)][0]
    report = {c: {**e, "cv": {**e.get("cv", {}), "note": "before"}} for c, e in before["report"].items()}
    modes = {"c0": "codebook", "c1": "learned", "c2": "learned"}
    tagger = LearnedTagger(cb, config=Config())
    tagger.fixed = {**before, "trust": list(other), "modes": modes, "report": report}
    ids, texts, labels = [r["id"] for r in rows], [r["text"] for r in rows], [r["labels"] for r in rows]
    tagger.fit(fake_embedder, Labelled(ids, texts, labels, groups=[r["source"] for r in rows]))
    assert (tagger.codebook_weight_, tagger.n0_) == other
    assert tagger.modes_ == ["codebook", "learned", "learned"]
    assert tagger.weight_[0] == 0 and tagger.weight_[1] > 0
    assert np.allclose(tagger.coef_[0], tagger.base_coef_[0]) and not np.allclose(tagger.coef_[1], tagger.base_coef_[1])
    assert tagger.report_["c1"]["cv"]["note"] == "before"
    assert tagger.head_check_["encoder"] == "before tuning"


def test_a_study_without_context_keeps_per_passage_decisions(fake_embedder):
    cb, rows = context_study()
    rng = np.random.default_rng(3)
    for row in rows:  # each passage names its own code; its neighbours say nothing of it
        k = int(rng.integers(3))
        row["text"], row["labels"] = f"z{k} a{rng.integers(40)} b{rng.integers(40)}", [f"c{k}"]
    tagger = fit_rows(cb, rows, fake_embedder)
    assert tagger.head_mode_ in ("codes", "decisions")
    assert tagger.head_check_["mean_kappa_out_of_fold"][tagger.head_mode_] > 0.9


def test_a_model_that_reads_neighbours_is_saved_and_read_back(tmp_path, fake_embedder):
    cb, rows = context_study()
    tagger = fit_rows(cb, rows, fake_embedder)
    tagger.save(tmp_path / "m", codebook_sha256="x", embedder=fake_embedder, training=[])
    again = LearnedTagger.load(
        tmp_path / "m", codebook=cb, codebook_sha256="x", config=Config(), embedder=fake_embedder
    )
    assert again.head_mode_ == "context"
    units, groups = units_of(fake_embedder, rows), [r["source"] for r in rows]
    assert tagger.suggest(units, groups) == again.suggest(units, groups)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["decisions"]["mode"] == "context" and meta["strategy"] == "learned-blend-v10"
    assert meta["decisions"]["power"] == tagger.head_check_["powers"]["context"]["chosen"] == tagger.head_.power


def test_the_learner_chooses_a_power_out_of_fold_and_a_saved_model_keeps_it(tmp_path, fake_embedder):
    cb, rows = context_study()
    tagger = fit_rows(cb, rows, fake_embedder)
    for mode in ("decisions", "context"):
        check = tagger.head_check_["powers"][mode]
        assert check["chosen"] in POWERS and set(check["mean_kappa"]) == {str(p) for p in POWERS}
        kappa = check["mean_kappa"]
        assert check["chosen"] == 0.0 or kappa[str(check["chosen"])] > kappa["0.0"]  # moved only by a gain
    from pipeline.cli.learn import decided_by

    tagger.head_.power = 1.0  # as if chosen: the saved model must decide as this one does
    assert "rarer decisions favoured at power 1" in decided_by(tagger)
    tagger.save(tmp_path / "m", codebook_sha256="x", embedder=fake_embedder, training=[])
    again = LearnedTagger.load(
        tmp_path / "m", codebook=cb, codebook_sha256="x", config=Config(), embedder=fake_embedder
    )
    assert again.head_.power == 1.0 and np.allclose(again.head_.prior_, tagger.head_.prior_)
    units, groups = units_of(fake_embedder, rows), [r["source"] for r in rows]
    assert tagger.suggest(units, groups) == again.suggest(units, groups)


def test_the_review_page_s_learner_takes_the_most_probable_decision(fake_embedder):
    from pipeline.reviewing.choice import page_learner

    cb, rows = context_study()
    ids, texts, labels = [r["id"] for r in rows], [r["text"] for r in rows], [r["labels"] for r in rows]
    tagger = page_learner(cb, Config()).fit(
        fake_embedder, Labelled(ids, texts, labels, groups=[r["source"] for r in rows])
    )
    assert {m: c["chosen"] for m, c in tagger.head_check_["powers"].items()} == {"decisions": 0.0, "context": 0.0}
    assert tagger.head_.power == 0.0


def test_gold_rows_keep_document_order_and_their_documents(tmp_path):
    cb, rows = context_study(documents=2, per_document=4)
    rows[0]["source"], rows[0]["transcript"] = None, "d0"  # `transcript` stands in for `source`
    gold = write(tmp_path / "g.jsonl", "".join(json.dumps(r) + "\n" for r in reversed(rows)))
    data = load_labelled([gold], cb)
    assert data.ids == [r["id"] for r in reversed(rows)]  # file order, not sorted ids
    assert data.groups[-1] == "d0" and data.origins == [str(gold)] * len(rows)


def test_learn_writes_its_training_set_and_says_how_it_decides(tmp_path, monkeypatch, fake_embedder):
    import pipeline.cli.learn as learn_cli

    cb, rows = context_study()
    codebook = write(tmp_path / "cb.yaml", json.dumps(cb.model_dump(mode="json")))
    gold = write(tmp_path / "g.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(learn_cli, "build_embedder", lambda *a, **k: fake_embedder)
    result = CliRunner().invoke(app, ["learn", str(gold), "--out", str(tmp_path / "m"), "--codebook", str(codebook)])
    assert result.exit_code == 0, result.output
    assert "passages decided by a model of whole decisions that also reads the passages before and after" in (
        result.output
    )
    training = [json.loads(line) for line in (tmp_path / "m" / "training.jsonl").read_text().splitlines()]
    assert [t["id"] for t in training] == [r["id"] for r in rows]
    assert {t["origin"] for t in training} == {str(gold)}
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["training"]["files"][0]["passages"] == len(rows)


def test_learn_warns_of_coded_passages_only_once_no_passage_is_left_uncoded(tmp_path, monkeypatch, fake_embedder):
    import pipeline.cli.learn as learn_cli
    from pipeline.learn import MIN_CODED_ONLY

    cb, rows = context_study()
    codebook = write(tmp_path / "cb.yaml", json.dumps(cb.model_dump(mode="json")))
    coded = [r for r in rows if r["labels"]]  # as a highlights export holds
    monkeypatch.setattr(learn_cli, "build_embedder", lambda *a, **k: fake_embedder)
    said = {}
    for n in (MIN_CODED_ONLY - 1, MIN_CODED_ONLY):
        gold = write(tmp_path / f"g{n}.jsonl", "".join(json.dumps(r) + "\n" for r in coded[:n]))
        res = CliRunner().invoke(app, ["learn", str(gold), "-o", str(tmp_path / f"m{n}"), "-c", str(codebook)])
        assert res.exit_code == 0, res.output
        said[n] = res.output
    assert (
        "codes per passage: at least 0" in said[MIN_CODED_ONLY - 1] and "carries a code" not in said[MIN_CODED_ONLY - 1]
    )
    assert "codes per passage: at least 1, at most 1" in said[MIN_CODED_ONLY]
    assert "warning: every labelled passage carries a code" in said[MIN_CODED_ONLY]


def test_passage_texts_join_their_units():
    units = UnitVectors(np.zeros((3, 2)), np.array([0, 2, 3]), ["One.", "Two?", "Three"])
    assert passage_texts(units) == ["One. Two?", "Three"]


def test_mean_kappa_is_evaluate_s_and_its_gain_has_an_error():
    from pipeline.decision import kappa_gain_se, mean_kappa
    from pipeline.evaluate import label_matrix, score

    rng = np.random.default_rng(5)
    ids = ["a", "b", "c"]
    gold = [[c for c in ids if rng.random() < 0.3] for _ in range(80)]
    guess = [[c for c in ids if rng.random() < 0.3] if rng.random() < 0.5 else g for g in gold]
    Y, P = label_matrix(gold, ids), label_matrix(guess, ids)
    assert round(mean_kappa(Y, P), 4) == score(gold, guess, ids).mean_kappa
    groups = [f"d{i // 8}" for i in range(80)]
    assert kappa_gain_se(Y, P, P, groups, seed=1) == 0.0
    assert kappa_gain_se(Y, Y, P, groups, seed=1) > 0.01


def test_a_model_carries_its_codebook_so_code_and_evaluate_need_no_codebook(tmp_path, monkeypatch, fake_embedder):
    import pipeline.cli.evaluate as evaluate_cli
    import pipeline.cli.learn as learn_cli
    from pipeline.study import for_run

    cb, rows = context_study()
    codebook = write(tmp_path / "cb.yaml", json.dumps(cb.model_dump(mode="json")))
    gold = write(tmp_path / "g.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    for module in (learn_cli, evaluate_cli):
        monkeypatch.setattr(module, "build_embedder", lambda *a, **k: fake_embedder)
    model = tmp_path / "m"
    assert CliRunner().invoke(app, ["learn", str(gold), "-o", str(model), "-c", str(codebook)]).exit_code == 0
    assert (model / "codebook.yaml").read_bytes() == codebook.read_bytes()
    res = CliRunner().invoke(app, ["evaluate", "--gold", str(gold), "--model", str(model), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["mean_kappa"] > 0.5  # the model's own codebook: no "another codebook" error
    found = for_run(None, {}, None, model).codebook  # `qcode code NEW --out NEW_DIR --model m`
    assert found == model / "codebook.yaml"


def test_a_power_replaces_the_most_probable_decision_only_beyond_its_standard_error(fake_embedder):
    cb, rows = context_study()
    tagger = fit_rows(cb, rows, fake_embedder)
    X, rare = rare_and_common(n=1500)
    decisions = [("c1",) if d == ("b",) else ("c0",) for d in rare]  # the study's codes
    labels = [list(d) for d in decisions]
    by_power = DecisionModel(42).out_of_fold_by_power(X, decisions, None, POWERS)
    tagger._groups = None  # these passages name no document
    check, chosen = tagger._best_power(labels, by_power)
    assert check["chosen"] == 0.5 and chosen == by_power[0.5]  # 0.25 gains within its error; 0.5 beyond
    same = {p: by_power[0.0] for p in POWERS}  # no power changes a decision: no gain, none chosen
    assert tagger._best_power(labels, same)[0]["chosen"] == 0.0


def test_a_model_of_whole_decisions_gives_every_passage_a_code_where_the_config_says_all_are_coded(fake_embedder):
    """Half the study's passages (the questions) carry no code, and the model of whole
    decisions learns to give them none; told that every passage to code carries one, it
    gives each of those its most probable code and leaves every other decision as it was."""
    import copy

    cb, rows = context_study()
    tagger = fit_rows(cb, rows, fake_embedder)
    assert tagger.head_mode_ != "codes"
    units = units_of(fake_embedder, rows)
    groups = [r["source"] for r in rows]
    proba, free = tagger.scores_and_codes(units, groups)
    told = copy.copy(tagger)
    told.config = Config(every_passage_coded=True)
    proba_told, coded = told.scores_and_codes(units, groups)
    assert sum(not codes for codes in free) >= len(rows) // 3
    assert np.array_equal(proba, proba_told)
    for before, after, row in zip(free, coded, proba):
        assert after == (before if before else [int(np.argmax(row))])
    assert told.decision_shape()[0] == 1 and tagger.decision_shape()[0] == 0


def test_combined_scores_average_the_two_as_log_odds():
    prior = code_prior([("a",), ("a", "b"), ()], ["a", "b", "c"])
    assert np.allclose(prior, [2.5 / 4, 1.5 / 4, 0.5 / 4])
    assert np.allclose(balanced_logits(prior[None, :], prior), 0)  # as common as any passage: even
    per_code = np.array([[0.5, 0.9, 0.2]])
    assert np.allclose(combined_scores(per_code, np.zeros((1, 3))), [[0.5, 0.75, 1 / 3]])  # half the log-odds
    assert np.allclose(
        combined_scores(np.full((1, 3), 0.5), np.log(np.array([[3.0, 1.0, 1 / 3]]))), [[0.634, 0.5, 0.366]], atol=1e-3
    )


def test_learn_weighs_deciding_by_both_together_and_the_page_does_not(fake_embedder):
    from pipeline.reviewing.choice import page_learner

    cb, rows = context_study()
    tagger = fit_rows(cb, rows, fake_embedder)
    assert set(tagger.head_check_["mean_kappa_out_of_fold"]) == {"codes", "decisions", "context", "combined"}
    assert tagger.head_check_["gains"]["combined"]["over"] == tagger.head_mode_ or tagger.head_mode_ == "combined"
    ids, texts, labels = [r["id"] for r in rows], [r["text"] for r in rows], [r["labels"] for r in rows]
    page = page_learner(cb, Config()).fit(
        fake_embedder, Labelled(ids, texts, labels, groups=[r["source"] for r in rows])
    )
    assert "combined" not in page.head_check_["mean_kappa_out_of_fold"]


def test_a_model_deciding_by_both_together_scores_so_and_is_saved_and_read_back(tmp_path, fake_embedder):
    """Forced to decide by both (as if its check had chosen so): each code's score is the
    per-code score and the whole decisions' balanced log-odds averaged, the decisions are
    the per-code rule's on it, and the saved model decides alike."""
    from pipeline.cli.learn import decided_by

    cb, rows = context_study()
    tagger = fit_told(cb, rows, fake_embedder, {**fit_rows(cb, rows, fake_embedder).head_check_, "chosen": "combined"})
    assert tagger.head_mode_ == "combined" and tagger.head_source_ == "context"
    assert "together" in decided_by(tagger)
    units, groups = units_of(fake_embedder, rows), [r["source"] for r in rows]
    proba, decided = tagger.scores_and_codes(units, groups)
    X = np.hstack(
        [
            passage_features_of(tagger, units),
            neighbour_means(np.asarray(units.vectors), groups),
        ]
    )
    marginals = tagger.head_.marginals(X, cb.code_ids)
    expected = combined_scores(tagger.score(units), balanced_logits(marginals, tagger.head_prior_))
    assert np.allclose(proba, expected, atol=1e-4) and decided == tagger.decide(proba)
    tagger.save(tmp_path / "m", codebook_sha256="x", embedder=fake_embedder, training=[])
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["decisions"]["mode"] == "combined" and meta["decisions"]["source"] == "context"
    assert np.allclose(meta["decisions"]["code_prior"], tagger.head_prior_)
    again = LearnedTagger.load(
        tmp_path / "m", codebook=cb, codebook_sha256="x", config=Config(), embedder=fake_embedder
    )
    assert again.suggest(units, groups) == tagger.suggest(units, groups)


def passage_features_of(tagger, units):
    from pipeline.decision import passage_features

    return passage_features(units, tagger.base_scores(units), passage_texts(units), scale=tagger.head_scale_)


def test_a_hand_edited_model_json_is_one_error_naming_it(tmp_path, fake_embedder):
    """A combined model whose model.json lost its codes' shares, or its learned settings,
    or whose shares do not match the codes, is refused with an InputError naming the
    file, not a traceback."""
    import pytest

    from pipeline.errors import InputError

    cb, rows = context_study()
    tagger = fit_told(cb, rows, fake_embedder, {**fit_rows(cb, rows, fake_embedder).head_check_, "chosen": "combined"})
    tagger.save(tmp_path / "m", codebook_sha256="x", embedder=fake_embedder, training=[])
    path = tmp_path / "m" / "model.json"
    meta = json.loads(path.read_text())
    without_shares = {**meta, "decisions": {k: v for k, v in meta["decisions"].items() if k != "code_prior"}}
    wrong_shares = {**meta, "decisions": {**meta["decisions"], "code_prior": [0.5]}}
    for edited in (without_shares, wrong_shares, {k: v for k, v in meta.items() if k != "learned"}):
        path.write_text(json.dumps(edited))
        with pytest.raises(InputError, match="incomplete or altered model.json") as caught:
            LearnedTagger.load(
                tmp_path / "m", codebook=cb, codebook_sha256="x", config=Config(), embedder=fake_embedder
            )
        assert str(path) in str(caught.value)
    path.write_text(json.dumps(meta))
    assert LearnedTagger.load(tmp_path / "m", codebook=cb, codebook_sha256="x", config=Config(), embedder=fake_embedder)
