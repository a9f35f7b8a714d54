"""Learning from reviewers: data loading, per-code models, persistence, the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline import Codebook, Config, InputError, Review, load_codebook
from pipeline.cli import app
from pipeline.codebook import default_codebook_path
from pipeline.io import file_sha256
from pipeline.labelled import load_labelled
from pipeline.learn import N0, TRUST, Labelled, LearnedTagger, blend_weight, learn
from pipeline.store import JournalEntry, append_decisions
from pipeline.tag import CodebookTagger
from pipeline.units import UnitVectors, embed_units

from .conftest import DEV_GOLD, SAMPLE, FakeEmbedder, write
from .test_agreement import excerpt_line


def test_load_labelled_reads_reviews_and_gold(tmp_path):
    cb = load_codebook()
    lines = [
        excerpt_line("a", ["conflict"], Review(status="accepted")),
        excerpt_line("b", ["conflict"], Review(status="corrected", codes=["shared_purpose"])),
        excerpt_line("c", ["conflict"], Review(status="rejected")),
        excerpt_line("d", ["conflict"]),  # pending: not training data
    ]
    reviewed = write(tmp_path / "r.jsonl", "\n".join(lines) + "\n")
    gold = write(tmp_path / "g.jsonl", json.dumps({"id": "e", "text": "t", "labels": ["conflict"]}) + "\n")
    data = load_labelled([reviewed, gold], cb)
    assert data.ids == ["a", "b", "c", "e"]
    assert data.labels == [["conflict"], ["shared_purpose"], [], ["conflict"]]
    bad = write(tmp_path / "bad.jsonl", excerpt_line("z", [], Review(status="corrected", codes=["nope"])) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl: passage z: unknown code"):
        load_labelled([bad], cb)
    # a decision still in the journal (the review page's) is training data too
    append_decisions(reviewed, [JournalEntry(id="d", review=Review(status="rejected", reviewer="ana"))])
    assert load_labelled([reviewed], cb).ids == ["a", "b", "c", "d"]


def synthetic(n_codes=4, per_code=30, seed=0, cue="z"):
    """Passages carry the token `{cue}{k}` for code k; the codebook only knows `w{k}`, so
    with cue="z" the codebook alone cannot find the codes and learning must."""
    codes = [
        {"id": f"c{i}", "name": f"C{i}", "definition": f"about w{i}", "examples": [f"w{i} v{j}" for j in range(3)]}
        for i in range(n_codes)
    ]
    cb = Codebook.model_validate({"name": "syn", "version": "1", "codes": codes})
    rng = np.random.default_rng(seed)
    ids, texts, labels = [], [], []
    for i in range(n_codes * per_code):
        k = i % n_codes
        words = [f"{cue}{k}", f"x{rng.integers(50)}", f"y{rng.integers(50)}"]
        label = [f"c{k}"] if k < n_codes - 1 else []  # the last code never appears: stays codebook
        ids.append(f"p{i}")
        texts.append(" ".join(words))
        labels.append(label)
    return cb, Labelled(ids, texts, labels)


def passages(embedder, texts):
    """Texts as embedded one-unit passages that carry their words."""
    return UnitVectors.of_passages(embedder.embed(texts), texts)


def test_learned_and_fallback_codes(fake_embedder):
    cb, data = synthetic(per_code=8)  # under 10 each way: no word features yet
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert tagger.modes_ == ["learned", "learned", "learned", "codebook"]  # c3 was never seen both ways
    assert tagger.report_["c0"]["weight"] == pytest.approx(8 / (8 + N0), abs=1e-4)
    for code in ("c0", "c1", "c2"):
        assert tagger.report_[code]["cv"]["learned_f1"] >= tagger.report_[code]["cv"]["codebook_f1"]
    assert tagger.report_["c3"] == {"positives": 0, "negatives": 32, "mode": "codebook", "weight": 0.0}
    probe = fake_embedder.embed(["z1 x3 y4", "z0 x1"])
    proba = tagger.predict_proba(probe)
    before = CodebookTagger(cb, config=Config()).fit(fake_embedder).predict_proba(probe)
    assert ((proba >= 0) & (proba <= 1)).all() and proba[0, 1] > before[0, 1] + 0.2 and proba[1, 0] > before[1, 0] + 0.2
    strong = LearnedTagger(cb, config=Config()).fit(fake_embedder, synthetic(per_code=30)[1])
    assert strong.predict_proba(probe, ["z1 x3 y4", "z0 x1"])[[0, 1], [1, 0]].min() > 0.5  # with 30 each, decided
    base = tagger.predict_proba(fake_embedder.embed(["w3 v1"]))  # c3 scores exactly as the codebook does
    study = embed_units(fake_embedder, data.texts, Config())  # (adapted to the same study: the reviewed passages)
    cb_only = (
        CodebookTagger(cb, config=Config()).fit(fake_embedder, study).predict_proba(fake_embedder.embed(["w3 v1"]))
    )
    assert base[0, 3] == pytest.approx(cb_only[0, 3])
    again = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert np.array_equal(again.coef_, tagger.coef_) and np.array_equal(again.weight_, tagger.weight_)


def test_the_first_reviews_move_scores_and_the_weight_grows_with_evidence(fake_embedder):
    assert blend_weight(0, 40) == 0 and blend_weight(1, 40) == pytest.approx(1 / (1 + N0))
    assert blend_weight(N0, N0) == pytest.approx(0.5) and blend_weight(9 * N0, 200) == pytest.approx(0.9)
    cb, data = synthetic()
    probe = fake_embedder.embed(["z0 x7 y9"])  # in reviewers' words, not the codebook's
    before = CodebookTagger(cb, config=Config()).fit(fake_embedder).predict_proba(probe)[0, 0]
    scores = []
    for n in (4, 12, 120):  # the first 4 reviewed passages hold one positive for c0
        tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data.subset(range(n)))
        scores.append(tagger.predict_proba(probe, ["z0 x7 y9"])[0, 0])
    assert before < scores[0] < scores[1] < scores[2] and scores[2] > 0.5 > before


def test_a_code_learning_clearly_hurts_keeps_codebook_scoring(fake_embedder, monkeypatch):
    cb, data = synthetic(per_code=8)
    harm = {"codebook_f1": 0.8, "learned_f1": 0.5, "gain": -0.3, "gain_se": 0.1}
    noise = {"codebook_f1": 0.8, "learned_f1": 0.75, "gain": -0.05, "gain_se": 0.1}
    checks = iter([harm, noise, None])
    monkeypatch.setattr(LearnedTagger, "_cross_check", lambda self, *a: next(checks))
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert tagger.modes_ == ["codebook", "learned", "learned", "codebook"]  # -0.05 is within its noise
    assert tagger.weight_[0] == 0 and tagger.report_["c0"]["cv"] == harm


def test_the_threshold_of_the_run_applies_to_a_learned_model(fake_embedder):
    cb, data = synthetic()
    v = passages(fake_embedder, ["z1 x3 y4", "z0 x1", "z2 y1", "x4 y4"])
    low = LearnedTagger(cb, config=Config(threshold=0.3)).fit(fake_embedder, data)
    high = LearnedTagger(cb, config=Config(threshold=0.95)).fit(fake_embedder, data)
    assert sum(len(c) for _, c in high.suggest(v)) < sum(len(c) for _, c in low.suggest(v))


def test_save_load_roundtrip_and_checks(tmp_path, fake_embedder):
    cb, data = synthetic()
    cb_path = write(tmp_path / "cb.yaml", json.dumps(cb.model_dump()))
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    tagger.save(tmp_path / "m", codebook_sha256=file_sha256(cb_path), embedder=fake_embedder, training=[])
    loaded = LearnedTagger.load(
        tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=fake_embedder
    )
    v = passages(fake_embedder, ["z2 x1", "nothing here"])
    assert np.allclose(loaded.score(v), tagger.score(v), atol=1e-6)  # word weights are saved as float32
    assert [c for _, c in loaded.suggest(v)] == [c for _, c in tagger.suggest(v)]
    with pytest.raises(InputError, match="another codebook"):
        LearnedTagger.load(
            tmp_path / "m", codebook=cb, codebook_sha256="f" * 64, config=Config(), embedder=fake_embedder
        )
    other = FakeEmbedder()
    other.fingerprint = "different@2"  # another model's weights (a folder's path alone does not count)
    with pytest.raises(InputError, match="trained on embeddings"):
        LearnedTagger.load(
            tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=other
        )
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    (tmp_path / "m" / "model.json").write_text(json.dumps({**meta, "strategy": "learned-logreg-v2"}))
    with pytest.raises(InputError, match="older learner"):
        LearnedTagger.load(
            tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=fake_embedder
        )
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with open(tmp_path / "m" / "weights.npz", "ab") as f:
        f.write(b"x")
    with pytest.raises(InputError, match="does not match the sha256"):
        LearnedTagger.load(
            tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=fake_embedder
        )


def test_many_codes_and_thousands_of_passages(fake_embedder):
    cb, data = synthetic(n_codes=35, per_code=90)
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert len(data.texts) == 3150 and len(tagger.modes_) - tagger.modes_.count("codebook") >= 30


@pytest.mark.slow
def test_learn_then_code_and_evaluate_with_the_model(tmp_path, cache_dir):
    runner = CliRunner()
    res = runner.invoke(app, ["learn", str(DEV_GOLD), "--out", str(tmp_path / "m"), "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0, res.stderr
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["codebook"]["sha256"] == file_sha256(default_codebook_path())
    assert meta["training"]["passages"] >= 150
    learned = [c for c, m in meta["modes"].items() if m != "codebook"]
    assert len(learned) >= 7  # every code seen both ways, unless learning clearly hurt it
    for _code, entry in meta["cross_validated"].items():  # cross-validation on these passages decided each
        cv = entry["cv"]
        if entry["mode"] == "lexical":
            assert cv["lexical_gain"] > cv["lexical_gain_se"] and entry["weight"] == 1.0
        elif entry["mode"] == "learned":
            assert cv["gain"] >= -cv["gain_se"] and cv.get("lexical_gain", 0) <= cv.get("lexical_gain_se", 0)
            assert entry["weight"] == pytest.approx(blend_weight(entry["positives"], entry["negatives"]), abs=1e-4)
        else:
            assert cv["gain"] < -cv["gain_se"]
    res = runner.invoke(
        app,
        [
            "code",
            str(SAMPLE),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(tmp_path / "m"),
            "--cache-dir",
            str(cache_dir),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["tagger"]["strategy"] == "learned-blend-v10" and sorted(
        manifest["tagger"]["learned_codes"]
    ) == sorted(learned)
    res = runner.invoke(
        app,
        ["evaluate", "--gold", str(DEV_GOLD), "--model", str(tmp_path / "m"), "--json", "--cache-dir", str(cache_dir)],
    )
    assert res.exit_code == 0 and json.loads(res.stdout)["macro_f1"] > 0.6  # training data: a sanity check only
    res = runner.invoke(app, ["code", str(SAMPLE), "-o", str(tmp_path / "o2"), "--model", str(tmp_path / "nope"), "-q"])
    assert res.exit_code == 1 and "not a qcode model" in res.stderr


def test_learn_function_refuses_empty_training_data(tmp_path, fake_embedder):
    empty = write(tmp_path / "r.jsonl", excerpt_line("a", []) + "\n")
    with pytest.raises(InputError, match="no reviewed or labelled passages"):
        learn([empty], out_dir=tmp_path / "m", codebook_path=None, config=Config(), embedder=fake_embedder)


def test_word_features_take_over_a_code_only_where_they_beat_the_blend(tmp_path, fake_embedder, monkeypatch):
    """The bag-of-words fake embedder cannot tell "very good" from "good very"; word
    pairs can. With enough reviewed passages, c0 switches to word features; c1, which the
    embedding already separates, keeps the blend. Below enough, words are not tried."""
    import pipeline.learn.tagger

    cb = Codebook.model_validate(
        {
            "name": "syn",
            "version": "1",
            "codes": [
                {"id": "c0", "name": "Praise", "definition": "very good"},
                {"id": "c1", "name": "Food", "definition": "food"},
            ],
        }
    )
    rng = np.random.default_rng(0)
    ids, texts, labels = [], [], []
    for i in range(160):
        praise, food = i % 2 == 0, i % 4 < 2
        words = ["very good" if praise else "good very", "food" if food else "ward", f"x{rng.integers(40)}"]
        ids.append(f"p{i}")
        texts.append(" ".join(words))
        labels.append([c for c, on in (("c0", praise), ("c1", food)) if on])
    data = Labelled(ids, texts, labels)
    few = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)  # 160 < LEXICAL_PASSAGES
    assert "lexical" not in few.modes_ and few.lexical_ is None and "lexical_f1" not in few.report_["c0"]["cv"]
    monkeypatch.setattr(pipeline.learn.tagger, "LEXICAL_PASSAGES", 100)
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert tagger.modes_ == ["lexical", "learned"]
    assert tagger.report_["c0"]["cv"]["lexical_f1"] > 0.9 > tagger.report_["c0"]["cv"]["learned_f1"]
    probe = ["very good food x1", "good very food x2"]
    codes = [c for _, c in tagger.suggest(UnitVectors.of_passages(fake_embedder.embed(probe), probe))]
    assert codes == [["c0", "c1"], ["c1"]]
    with pytest.raises(ValueError, match="reads words"):
        tagger.predict_proba(fake_embedder.embed(probe))
    cb_path = write(tmp_path / "cb.yaml", json.dumps(cb.model_dump()))
    tagger.save(tmp_path / "m", codebook_sha256=file_sha256(cb_path), embedder=fake_embedder, training=[])
    loaded = LearnedTagger.load(
        tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=fake_embedder
    )
    v = fake_embedder.embed(probe)
    assert np.allclose(loaded.predict_proba(v, probe), tagger.predict_proba(v, probe))
    assert b"very" not in (tmp_path / "m" / "weights.npz").read_bytes()  # hashed: no words on disk


def test_decision_shape_follows_the_reviewers():
    from pipeline.learn import MIN_CHOICE, decision_shape

    n = MIN_CHOICE
    assert decision_shape([["a"]] * (n - 2) + [[]], 3) == (0, 3)  # too few reviews: the defaults
    assert decision_shape([["a"]] * (n - 1) + [["a", "b"]], 3) == (1, 1)  # every passage coded, one code each
    assert decision_shape([["a", "b"]] * n + [[]] * n, 3) == (0, 2)  # half uncoded, two codes each
    assert decision_shape([["a", "b", "c", "d"]] * n, 3) == (1, 3)  # never above --max-codes


def test_a_few_passages_that_all_carry_a_code_leave_no_passage_uncoded():
    """A highlights export holds coded passages only: from MIN_CODED_ONLY of them the shape
    is learned, as `learn`'s warning says (every passage gets at least one code)."""
    from pipeline.learn import MIN_CHOICE, MIN_CODED_ONLY, decision_shape

    assert MIN_CODED_ONLY < MIN_CHOICE
    assert decision_shape([["a"]] * MIN_CODED_ONLY, 3) == (1, 1)
    assert decision_shape([["a"]] * (MIN_CODED_ONLY - 1) + [["a", "b"]] * 3, 3) == (1, 2)
    assert decision_shape([["a"]] * (MIN_CODED_ONLY - 1), 3) == (0, 3)  # fewer: the defaults
    assert decision_shape([["a"]] * MIN_CODED_ONLY + [[]], 3) == (0, 3)  # one uncoded: the defaults until MIN_CHOICE


def test_a_second_code_is_allowed_from_one_coded_passage_in_twenty():
    """The 90th percentile says one code where fewer than one passage in ten carries two;
    from one in twenty (SECOND_CODE_SHARE) a passage may take two, so that a code coders
    give beside another can be given at all. Three stay by the percentile alone."""
    from pipeline.learn import SECOND_CODE_SHARE, decision_shape

    assert SECOND_CODE_SHARE == 0.05
    assert decision_shape([["a"]] * 96 + [["a", "b"]] * 4, 3) == (1, 1)  # 4%
    assert decision_shape([["a"]] * 95 + [["a", "b"]] * 5, 3) == (1, 2)  # 5%
    assert decision_shape([["a"]] * 91 + [["a", "b"]] * 9, 3) == (1, 2)  # 9%: the percentile alone said 1
    assert decision_shape([["a"]] * 95 + [["a", "b", "c"]] * 5, 3) == (1, 2)  # two, not three
    assert decision_shape([["a"]] * 95 + [["a", "b"]] * 5, 1) == (1, 1)  # never above --max-codes
    assert decision_shape([["a", "b"]] * 80 + [["a", "b", "c"]] * 8 + [["a"]] * 12, 3) == (1, 2)  # 8% three: two


def test_every_coded_study_gets_its_best_code(fake_embedder):
    cb, data = synthetic(per_code=16)
    keep = [n for n, label in enumerate(data.labels) if label]
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data.subset(keep))
    assert tagger.decision_shape()[0] == 1
    decided = tagger.decide(np.array([[0.1, 0.2, 0.05, 0.0], [0.9, 0.8, 0.1, 0.0]]))
    assert decided[0] == [1] and decided[1] == [0]  # nothing at 0.5: the best code; one code at most
    assert (tagger.codebook_weight_, tagger.n0_) in TRUST


def test_with_few_reviews_a_codebook_of_bare_definitions_is_trusted_less(fake_embedder):
    rich, data = synthetic(per_code=8)  # 32 reviewed passages: too few to choose the trust on
    bare = Codebook.model_validate(
        {**rich.model_dump(mode="json"), "codes": [{**c.model_dump(mode="json"), "examples": []} for c in rich.codes]}
    )
    kept = LearnedTagger(rich, config=Config()).fit(fake_embedder, data)
    doubted = LearnedTagger(bare, config=Config()).fit(fake_embedder, data)
    assert (kept.codebook_weight_, kept.n0_) == TRUST[0] and (doubted.codebook_weight_, doubted.n0_) == TRUST[1]
