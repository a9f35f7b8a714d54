"""Which suggestions the page shows after a relearn (reviewing/choice.py), and fine-tuning
in the background (reviewing/retune.py)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline import Config, code_corpus
from pipeline.decision import (
    DOCUMENT_PRIOR,
    DOCUMENT_WEIGHT,
    NEIGHBOUR_WEIGHT,
    DecisionModel,
    codebook_logits,
    document_rates,
    form_features,
    neighbour_decisions,
    passage_features,
    transcript_features,
)
from pipeline.reviewing import retune
from pipeline.reviewing.choice import _fewest_then_agreeing, choose
from pipeline.reviewing.relearn import RelearnJob, Snapshot, relearn
from pipeline.store import read_excerpts
from pipeline.units import UnitVectors

from .conftest import SAMPLE
from .test_study import CODEBOOK

CODES = ["a", "b", "c"]


class FixedTagger:
    """Stands in for a fitted LearnedTagger: fixed out-of-fold scores, decided at 0.5."""

    def __init__(self, oof: np.ndarray, checked: int = 1):
        self.oof_scores_ = oof
        self.codebook = SimpleNamespace(code_ids=CODES)
        self.config = Config()
        self.cv_ = {"checked_codes": checked}
        self.oof_codes_ = [[CODES[k] for k in row] for row in self.decide(oof)]

    def decide(self, proba):
        return [[k for k in range(len(CODES)) if p[k] >= 0.5] for p in proba]


def two_kinds(n: int = 60, seed: int = 0):
    """Passages of two kinds (far apart); reviewers give kind 0 'a' and kind 1 no code."""
    rng = np.random.default_rng(seed)
    kind = np.arange(n) % 2
    X = rng.normal(size=(n, 8)) + 4 * kind[:, None]
    return X, [("a",) if k == 0 else () for k in kind]


def test_the_decision_model_is_chosen_where_it_is_right_and_the_others_are_not():
    X, decisions = two_kinds()
    wrong_scores = np.full((len(X), 3), 0.9)  # the per-code model gives every code everywhere
    chosen, wrong, model, _ = choose(FixedTagger(wrong_scores), X, decisions, batch_codes=[["b"]] * len(X))
    assert chosen == "decisions" and wrong["decisions"] == 0 and wrong["batch"] == len(X) == wrong["codes"]
    rows = model.suggestions(X[:2], CODES, shown=2)
    (sugg0, codes0, unsure0), (_, codes1, _) = rows
    assert codes0 == ["a"] and codes1 == [] and 0 <= unsure0 < 0.5
    assert [s["code"] for s in sugg0][0] == "a" and sugg0[0]["score"] == pytest.approx(1 - unsure0, abs=1e-3)


def test_in_the_first_hour_a_model_that_misses_fewer_by_coding_none_is_not_taken_over_one_that_agrees():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 8))  # the vectors say nothing: a learned model can only guess the commonest
    decisions = [("a",)] * 10 + [("b",)] * 10 + [()] * 40
    batch = [["a"]] * 10 + [["b"]] * 10 + [["c"]] * 40  # right on every coded passage, wrong on the rest
    many = FixedTagger(np.zeros((60, 3)))
    many.codebook = SimpleNamespace(code_ids=CODES + [f"x{i}" for i in range(22)])  # 60 < 3 x 25 codes
    chosen, wrong, _, kappa = choose(many, X, decisions, batch)
    assert wrong["decisions"] <= wrong["batch"] - 10 and wrong["codes"] == 20 and wrong["batch"] == 40
    assert kappa["batch"] == pytest.approx(1.0) and kappa["decisions"] < 0.3 and kappa["codes"] == 0
    assert chosen == "batch"
    later, _, _, _ = choose(FixedTagger(np.zeros((60, 3))), X, decisions, batch)  # 60 >= 3 x 3 codes
    assert later == "codes"  # fewest wrong (it codes nothing: 20), agreeing or not


def test_in_the_first_hour_agreement_is_judged_against_the_best_on_offer_not_only_the_batch_runs():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 8))
    decisions = [("a",)] * 10 + [("b",)] * 10 + [()] * 40
    batch = [["c"]] * 40 + [[]] * 20  # agrees with no code the reviewer gave (kappa 0), 40 wrong
    per_code = np.array([[0.9, 0, 0]] * 10 + [[0, 0.9, 0]] * 10 + [[0, 0, 0.9]] * 40)  # every code right, 40 wrong
    many = FixedTagger(per_code)
    many.codebook = SimpleNamespace(code_ids=CODES + [f"x{i}" for i in range(22)])
    chosen, wrong, _, kappa = choose(many, X, decisions, batch)
    assert wrong["decisions"] <= wrong["batch"] - 10 and wrong["codes"] == wrong["batch"] == 40
    assert kappa["codes"] == pytest.approx(1.0) and kappa["decisions"] < 0.3 and kappa["batch"] <= 0
    assert chosen == "batch"  # whole decisions miss fewer but agree far worse than the per-code model


def test_the_batch_run_stays_when_it_is_right_on_the_decided_passages_and_ties_go_to_it():
    X, decisions = two_kinds()
    batch = [list(d) for d in decisions]
    oof = np.array([[0.9, 0, 0] if d else [0, 0, 0] for d in decisions])  # as right as the batch run
    chosen, wrong, _, _ = choose(FixedTagger(oof), X, decisions, batch)
    assert chosen == "batch" and wrong == {"batch": 0, "codes": 0, "decisions": 0}


def test_before_any_code_is_checked_a_tie_goes_to_the_learned_codes():
    X, decisions = two_kinds(4)
    oof = np.array([[0.9, 0, 0] if d else [0, 0, 0] for d in decisions])
    chosen, wrong, _, _ = choose(FixedTagger(oof, checked=0), X, decisions, [list(d) for d in decisions])
    assert chosen == "codes" and "decisions" not in wrong  # too few decisions to cross-validate it


def test_a_documents_rates_leave_the_passage_out_and_start_from_the_study_wide_rate():
    labels = [["a"], ["a", "b"], [], None, ["c"], None]
    groups = ["d1", "d1", "d1", "d1", "d2", None]
    R = np.exp(document_rates(labels, groups, CODES) / DOCUMENT_WEIGHT) - 1e-3
    overall = np.array([2, 1, 1, 1]) / 4  # a, b, c, none over the four decided passages
    shrunk = lambda given, n: (np.array(given, dtype=float) + DOCUMENT_PRIOR * overall) / (n + DOCUMENT_PRIOR)  # noqa: E731
    np.testing.assert_allclose(R[0], shrunk([1, 1, 0, 1], 2))  # its two decided neighbours, not itself
    np.testing.assert_allclose(R[3], shrunk([2, 1, 0, 1], 3))  # pending: every decided passage of d1
    np.testing.assert_allclose(R[4], overall)  # alone in d2: nothing but the study's rate
    np.testing.assert_allclose(R[5], overall)  # no document
    assert np.allclose(np.exp(document_rates(labels, None, CODES) / DOCUMENT_WEIGHT) - 1e-3, overall)


def test_a_passage_sees_its_decided_neighbours_codes_within_its_transcript_only():
    labels = [["a"], None, ["b", "c"], [], ["a"]]
    groups = ["d1", "d1", "d1", "d1", "d2"]
    N = neighbour_decisions(labels, groups, CODES) / NEIGHBOUR_WEIGHT  # (before: a b c none | after: a b c none)
    np.testing.assert_array_equal(N[1], [1, 0, 0, 0, 0, 1, 1, 0])  # between 'a' and 'b, c'
    np.testing.assert_array_equal(N[0], [0] * 8)  # its next passage is pending; nothing before
    np.testing.assert_array_equal(N[3], [0, 1, 1, 0, 0, 0, 0, 0])  # no code after: d2 is another transcript
    np.testing.assert_array_equal(N[2, 4:], [0, 0, 0, 1])  # "no code" is a decision too
    assert transcript_features(labels, groups, CODES).shape == (5, 12)


def test_the_document_model_is_chosen_where_a_transcripts_decisions_say_what_its_vectors_cannot():
    rng = np.random.default_rng(1)
    groups = [f"t{i // 10}" for i in range(80)]  # eight transcripts of ten passages
    decisions = [("a",) if int(g[1:]) % 2 == 0 else () for g in groups]  # even transcripts are all 'a'
    labels: list = [list(d) for d in decisions[:70]] + [None] * 10  # the last transcript is pending
    X = rng.normal(size=(80, 8))  # the passages' own vectors say nothing
    document = np.hstack([X, document_rates(labels, groups, CODES)])
    noise = np.full((70, 3), 0.0)
    chosen, wrong, model, _ = choose(
        FixedTagger(noise), X[:70], decisions[:70], [[] for _ in range(70)], document=document[:70]
    )
    assert chosen == "document" and wrong["document"] < wrong["decisions"] and wrong["document"] <= 5
    half = [list(d) for d in decisions[:70]] + [["a"]] * 5 + [None] * 5  # half of t7 decided: all 'a'
    pending = np.hstack([X, document_rates(half, groups, CODES)])[75:]
    assert all(codes == ["a"] for _, codes, _ in model.suggestions(pending, CODES, shown=1))


def test_passage_features_average_each_passages_units_beside_codebook_logits_and_form():
    units = UnitVectors(np.array([[1.0, 0], [3.0, 0], [0, 2.0]]), np.array([0, 2, 3]))
    got = passage_features(units, np.array([[0.5], [0.9]]), ["So you walk? Every day.", "How far do you walk?"])
    assert np.allclose(got[:, :2], [[2.0, 0], [0, 2.0]]) and got[0, 2] == pytest.approx(0) and got[1, 2] > 0
    assert np.mean(got[:, 2] ** 2) == pytest.approx(1)  # logits scaled to a root-mean-square norm of 1
    assert got[:, 3:5].tolist() == [[0, 1], [1, 1]]  # ends with a question mark, holds one
    assert got[0, 5] == pytest.approx(np.log(6) / 5) and got[1, 5] == pytest.approx(np.log(6) / 5)
    assert form_features([]).shape == (0, 3)


def test_the_codebook_logits_weigh_as_much_with_many_codes_as_with_few():
    rng = np.random.default_rng(0)
    for n_codes in (2, 27):
        scaled, scale = codebook_logits(rng.uniform(0.001, 0.6, (50, n_codes)))
        assert np.sqrt((scaled**2).sum(1).mean()) == pytest.approx(1) and scale > 1
    assert codebook_logits(np.zeros((0, 3)))[0].shape == (0, 3)


def test_the_decision_model_tells_questions_from_statements_where_the_vectors_cannot():
    rng = np.random.default_rng(0)
    texts = [f"you walk to work on day {i}" + ("?" if i % 2 else ".") for i in range(60)]
    X = np.hstack([rng.normal(size=(60, 8)), form_features(texts)])
    decisions = [("question",) if t.endswith("?") else ("reflection",) for t in texts]
    assert DecisionModel(42).out_of_fold_misses(X, decisions).sum() == 0
    assert DecisionModel(42).out_of_fold_misses(X[:, :8], decisions).sum() > 10


def test_a_decision_model_of_one_kind_of_decision_predicts_it_with_certainty():
    model = DecisionModel(42).fit(np.zeros((3, 2)), [("a",)] * 3)
    assert model.suggestions(np.zeros((1, 2)), CODES, shown=1)[0][1:] == (["a"], 0.0)


def test_fine_tunes_are_due_after_the_first_fifty_then_every_hundred():
    assert not retune.due(49, None) and retune.due(50, None) and not retune.due(149, 50) and retune.due(150, 50)
    learn, held = retune.split(50, 42)
    assert len(held) == 10 and set(learn) | set(held) == set(range(50)) and not set(learn) & set(held)
    assert np.array_equal(retune.split(50, 42)[1], held)


@pytest.mark.slow
def test_a_fine_tune_is_kept_only_when_it_wins_and_later_relearns_embed_with_it(tmp_path, real_embedder, monkeypatch):
    """Real MiniLM tuned on the sample's decisions: judged on held-out ones; a winner is kept
    with the study's vectors and named in live/index.jsonl, a loser leaves nothing; a relearn
    after it learns on those vectors and keeps the encoder with its model."""
    out, codebook = tmp_path / "out", tmp_path / "codebook.yaml"
    codebook.write_text(CODEBOOK)  # definitions only: the pairs come from the decisions (a short tune)
    config = Config(model="sentence-transformers/all-MiniLM-L6-v2", seed=42)
    code_corpus(
        [SAMPLE / "icb_01.txt", SAMPLE / "vcse_02.txt"],
        out_dir=out,
        codebook_path=codebook,
        embedder=real_embedder,
        config=config,
    )
    rows = read_excerpts(out / "excerpts.jsonl")
    labels = [list(r.codes) if i % 3 else [] for i, r in enumerate(rows)]  # a reviewer who drops every third
    imported = tmp_path / "training.jsonl"  # a coding imported before: three passages not on the page
    imported.write_text(
        "".join(
            json.dumps({"id": f"imp-{i}", "text": r.text + " Again.", "labels": list(r.codes)}) + "\n"
            for i, r in enumerate(rows[:3])
        )
    )
    job = retune.RetuneJob(
        str(out),
        str(codebook),
        config,
        1,
        [r.id for r in rows],
        [r.text for r in rows],
        labels,
        top_layers=2,
        prior=str(imported),
    )
    done = retune.retune(job)  # real check
    assert done.check["prior"] == 3 and done.check["held_out"] + done.check["learned_from"] == len(rows) + 3
    assert (out / "live" / "ft1").is_dir() == done.check["better"] == (done.encoder is not None)
    assert not list((out / "live").glob(".ft*"))
    calls = iter([np.ones(8, bool), np.zeros(8, bool)])  # the encoder in use misses all, the tuned one none
    kept = []  # the choices each encoder's learner keeps: made with the run's own encoder
    monkeypatch.setattr(retune, "held_out_misses", lambda *a, **k: (kept.append(a[5]), next(calls))[1])
    won = retune.retune(job.__class__(**{**job.__dict__, "version": 2}))
    assert len(kept) == 2 and kept[0] is kept[1] and {"trust", "modes", "head"} <= set(kept[0])
    assert won.encoder is not None and (out / "live" / "ft2" / "encoder" / "modules.json").is_file()
    kept = retune.study_vectors(won.encoder, job.texts, config)
    assert (
        kept is not None and len(kept) == len(rows) and retune.study_vectors(won.encoder, job.texts[1:], config) is None
    )
    index = [json.loads(line) for line in (out / "live" / "index.jsonl").read_text().splitlines()]
    assert index[-1]["model"] == "ft-2" and index[-1]["check"]["better"]
    half = [None if i % 2 else lab for i, lab in enumerate(labels)]
    snap = Snapshot(job.ids, job.texts, half, groups=[r.transcript for r in rows])
    model = relearn(RelearnJob(str(out), job.codebook_path, config, 1, snap, encoder=won.encoder))
    folder = out / "live" / "v1"
    assert (folder / "encoder" / "modules.json").is_file() and (folder / "choice.json").is_file()
    assert (folder / "encoder" / "model.safetensors").stat().st_ino == (
        out / "live" / "ft2" / "encoder" / "model.safetensors"
    ).stat().st_ino  # linked, not copied
    embedded_with = json.loads((folder / "model.json").read_text())["embedding_model"]
    assert embedded_with.startswith("local-model@") and "MiniLM" not in embedded_with  # the tuned encoder's
    assert json.loads((out / "live" / "index.jsonl").read_text().splitlines()[-1])["encoder"] == "live/ft2/encoder"
    assert model.check["chosen"] in ("batch", "codes", "decisions", "document")
    assert "document" in model.check["wrong"]  # the transcripts are known: their decisions were weighed
    # its choices were made on the run's own vectors, which never learned from the decisions
    assert model.check["chosen_with"] == "the encoder before it was tuned"
    assert (
        json.loads((folder / "model.json").read_text())["learned"]["chosen"] == "with the encoder before it was tuned"
    )
    from pipeline.manifest import Manifest

    named = {m.model: m for m in Manifest.read(out / "manifest.json").with_live_models(out).live_models}
    assert named["ft-2"].path == "live/ft2/encoder" and named["live-1"].encoder == "live/ft2/encoder"


def test_the_page_starts_a_fine_tune_when_due_and_takes_snapshots_only_then(tmp_path, monkeypatch):
    from pipeline.reviewing.live import LiveLearner

    learner = LiveLearner(tmp_path, tmp_path / "codebook.yaml", Config(), every=1000, finetune=True)
    started, taken = [], []
    monkeypatch.setattr(learner, "_start_tune", lambda snap: started.append(snap.decided))
    decided = [10]  # decisions already in the file when the page opened

    def snapshot():
        taken.append(decided[0])
        return Snapshot(["p"] * decided[0], ["t"] * decided[0], [["a"]] * decided[0])

    for _ in range(60):
        decided[0] += 1
        learner.notice(1, snapshot)
    assert started == [50] and taken == [11, 50]  # the first, and the one the fine-tune learns from
    for _ in range(100):
        decided[0] += 1
        learner.notice(1, snapshot)
    assert started == [50, 150] and taken[-1] == 150 and len(taken) == 3


def test_by_default_the_page_tunes_from_as_many_decisions_as_learn_checks(tmp_path):
    from pipeline import tune_choice
    from pipeline.reviewing.live import Learning
    from pipeline.reviewing.serve import live_learner
    from pipeline.study import Settings

    assert retune.FIRST_BY_DEFAULT == tune_choice.MIN_PASSAGES > retune.FIRST
    first = retune.FIRST_BY_DEFAULT
    assert not retune.due(first - 1, None, first) and retune.due(first, None, first)
    assert retune.due(first + retune.EVERY, first, first) and not retune.due(first + retune.EVERY - 1, first, first)
    settings = Settings(codebook=tmp_path / "codebook.yaml", config=Config())
    made = {flag: live_learner(tmp_path, settings, Learning(finetune=flag)) for flag in (None, True, False)}
    assert (made[None].finetune, made[None].tune_from) == (True, first)
    assert (made[True].finetune, made[True].tune_from) == (True, retune.FIRST)
    assert made[False].finetune is False
    assert made[None].finetune_state()["first"] == first


def test_after_an_import_the_first_fine_tune_counts_the_imported_passages_but_waits_for_fifty_decisions(tmp_path):
    from pipeline.reviewing.live import LiveLearner

    first = retune.FIRST_BY_DEFAULT
    assert not retune.due(retune.FIRST - 1, None, first, prior=1000)  # too few decisions to judge it on
    assert retune.due(retune.FIRST, None, first, prior=first - retune.FIRST)
    assert not retune.due(retune.FIRST, None, first, prior=first - retune.FIRST - 1)
    assert retune.due(retune.FIRST + retune.EVERY, retune.FIRST, first, prior=1000)
    assert not retune.due(retune.FIRST + retune.EVERY - 1, retune.FIRST, first, prior=1000)
    prior = tmp_path / "training.jsonl"
    prior.write_text("".join(json.dumps({"id": f"p{i}", "text": "t", "labels": []}) + "\n" for i in range(300)))
    learner = LiveLearner(tmp_path, tmp_path / "codebook.yaml", Config(), finetune=True, tune_from=first, prior=prior)
    assert learner.prior_passages == 300 and learner.first_tune_at == first - 300
    assert learner.finetune_state()["first"] == first - 300


def test_a_fine_tune_learns_from_the_import_and_the_decisions_and_holds_out_a_fifth_of_both(tmp_path):
    prior = tmp_path / "training.jsonl"
    rows = [("i1", ["a"]), ("i2", []), ("p3", ["b"]), ("p4", ["a"]), ("i5", ["zz"])]  # p3: decided on the page
    prior.write_text("".join(json.dumps({"id": i, "text": f"{i} text", "labels": lab}) + "\n" for i, lab in rows))
    ids = [f"p{i}" for i in range(60)]
    labels = [["c"] if i < 50 else None for i in range(60)]  # p0..p49 decided; p50.. pending
    labels[4] = None  # p4 is pending: its imported label stands until the page decides it
    job = retune.RetuneJob(str(tmp_path), "cb", Config(), 1, ids, [f"{i} page" for i in ids], labels, prior=str(prior))
    learn, held = retune.tuning_sets(job, {"a", "b", "c"})
    decided = {f"p{i}" for i in range(50)} - {"p4"}
    assert len(held.ids) == 10 and not set(held.ids) & set(learn.ids)
    assert set(held.ids) | set(learn.ids) == decided | {"i1", "i2", "p4"}  # i5 names a code the codebook lacks
    both = dict(zip(learn.ids + held.ids, learn.labels + held.labels))
    texts = dict(zip(learn.ids + held.ids, learn.texts + held.texts))
    assert both["p3"] == ["c"] and both["p4"] == ["a"] and texts["p4"] == "p4 text" and texts["p3"] == "p3 page"
    assert retune.tuning_sets(job, {"a", "b", "c"}) == (learn, held)  # the seed's split
    alone = retune.tuning_sets(job.__class__(**{**job.__dict__, "prior": None}), {"a", "b", "c"})
    assert set(alone[0].ids) | set(alone[1].ids) == decided and len(alone[1].ids) == 10


def test_an_index_line_after_one_cut_short_starts_on_its_own_line(tmp_path):
    (tmp_path / "index.jsonl").write_text('{"model": "live-1", "pa')  # a worker killed mid-write
    retune.append_index(tmp_path, {"model": "live-2"})
    lines = (tmp_path / "index.jsonl").read_text().splitlines()
    assert lines[-1] == '{"model": "live-2"}' and len(lines) == 2


def test_closing_the_page_stops_a_running_fine_tune_at_once(tmp_path):
    import time
    from multiprocessing.connection import wait

    from pipeline.reviewing.live import LiveLearner, _worker_pool

    learner = LiveLearner(tmp_path, tmp_path / "codebook.yaml", Config(), finetune=True)
    learner._tune_pool = _worker_pool()
    learner._tuning = learner._tune_pool.submit(time.sleep, 120)  # stands in for a long fine-tune
    while not learner._tune_pool._processes:
        time.sleep(0.05)
    running = {w.sentinel for w in learner._tune_pool._processes.values()}
    started = time.perf_counter()
    learner.close()
    # A process's sentinel is ready once it has ended. (Process.is_alive() races with the
    # executor's own thread reaping the same child: it can say "alive" of one just reaped.)
    while running and time.perf_counter() - started < 10:
        running -= set(wait(list(running), timeout=10 - (time.perf_counter() - started)))
    assert not running, "a fine-tune worker was still running 10 s after close()"


def test_a_learned_model_replaces_the_batch_run_only_beyond_noise():
    from pipeline.reviewing.choice import beats

    batch = np.array([True] * 10 + [False] * 10)
    shuffled = np.array([False] * 9 + [True] * 11)  # 11 misses against 10
    assert not beats(shuffled, batch)  # more misses
    one_fewer = np.array([False] * 10 + [True] * 9 + [False])  # 9 misses, all on other passages: 19 differ
    assert not beats(one_fewer, batch)
    clearly = np.array([False] * 20)
    assert beats(clearly, batch)  # 10 fewer, 10 differ: 10 > sqrt(10)


def test_the_pages_tuning_process_frees_each_rounds_models_even_when_a_round_fails(monkeypatch):
    import pipeline.finetune_top

    freed = []
    monkeypatch.setattr(pipeline.finetune_top, "release_memory", lambda: freed.append(1))
    monkeypatch.setattr(retune, "retune", lambda job: ("done", job))
    assert retune.in_worker("job") == ("done", "job") and freed == [1]

    def fails(job):
        raise RuntimeError("round failed")

    monkeypatch.setattr(retune, "retune", fails)
    with pytest.raises(RuntimeError):
        retune.in_worker("job")
    assert freed == [1, 1]


def test_between_learned_models_within_noise_of_the_fewest_wrong_the_better_agreeing_wins():
    fewer = np.zeros(60, dtype=bool)
    fewer[:10] = True  # 10 wrong
    one_more = np.zeros(60, dtype=bool)
    one_more[:11] = True  # 11 wrong, the same 10 and one more: within noise
    kappa = {"codes": 0.5, "decisions": 0.1}
    assert _fewest_then_agreeing(["codes", "decisions"], {"codes": one_more, "decisions": fewer}, kappa) == "codes"
    many_more = np.zeros(60, dtype=bool)
    many_more[:40] = True  # 30 more wrong: beyond noise, so agreement does not decide
    assert _fewest_then_agreeing(["codes", "decisions"], {"codes": many_more, "decisions": fewer}, kappa) == "decisions"
