"""Codebook-only tagging adapts to the study it codes: thin codes (a name and a one-line
definition) take the study's most typical units as examples; no label is read."""

from pathlib import Path

import numpy as np

from pipeline import Codebook, Config
from pipeline.adapt import ADAPT_MIN, robust_z, study_examples
from pipeline.schemas import Passage
from pipeline.tag import CodebookTagger
from pipeline.unit_store import UnitStore
from pipeline.units import UnitVectors

THIN = Codebook.model_validate(
    {
        "name": "thin",
        "version": "1",
        "codes": [
            {"id": "parking", "name": "Parking", "definition": "finding somewhere to leave a vehicle"},
            {"id": "food", "name": "Food", "definition": "meals and drinks served to patients"},
        ],
    }
)
BACKGROUND = ["thanks for having me", "shall we start", "that is all from me"]


def study(rng, n=40):
    """Passages in the study's own words: parking talk, food talk, and other talk."""
    park = ["car", "ticket", "barrier", "drove", "bay", "vehicle"]
    food = ["lunch", "tea", "cold", "menu", "soup", "meals"]
    other = ["nurse", "doctor", "letter", "phone", "waiting", "bed", "pain"]
    texts = []
    for words in (park, food, other):
        texts += [" ".join(rng.choice(words, size=6)) for _ in range(n)]
    return texts


def test_thin_codes_apply_once_adapted_to_the_study(fake_embedder):
    texts = study(np.random.default_rng(0))
    vectors = fake_embedder.embed(texts)
    plain = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder)
    adapted = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder, vectors)
    truth = np.repeat([0, 1, 2], 40)

    def applied(tagger):
        return np.array([[c in codes for c in ("parking", "food")] for _, codes in tagger.suggest(vectors)])

    before, after = applied(plain), applied(adapted)
    for k in (0, 1):  # a definition (said two ways) finds few of its passages; adapted, many more
        assert before[truth == k, k].mean() < 0.3 and after[truth == k, k].mean() > before[truth == k, k].mean() + 0.3
        assert after[truth != k, k].mean() < 0.3
    assert adapted.adapted_["per_code"] == 20 and set(adapted.adapted_["examples"]) == {"parking", "food"}
    assert adapted.settings()["adapted"]["units"] == len(texts)


def test_codes_the_codebook_already_finds_keep_their_scores(fake_embedder):
    rich = Codebook.model_validate(
        {
            "name": "rich",
            "version": "1",
            "codes": [
                {
                    **THIN.codes[0].model_dump(),
                    "examples": [
                        "drove round the car park for ages",
                        "no bay free for my vehicle",
                        "the barrier ate my ticket",
                    ],
                },
                THIN.codes[1].model_dump(),
            ],
        }
    )
    vectors = fake_embedder.embed(study(np.random.default_rng(4)))
    plain = CodebookTagger(rich, config=Config(), background=BACKGROUND).fit(fake_embedder)
    adapted = CodebookTagger(rich, config=Config(), background=BACKGROUND).fit(fake_embedder, vectors)
    assert list(adapted.adapted_["examples"]) == ["food"]  # parking is found already: not adapted
    assert np.array_equal(adapted.coef_[0], plain.coef_[0]) and not np.array_equal(adapted.coef_[1], plain.coef_[1])


def test_adaptation_is_deterministic_and_needs_a_big_enough_study(fake_embedder):
    texts = study(np.random.default_rng(1))
    vectors = fake_embedder.embed(texts)
    a = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder, vectors)
    b = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder, vectors)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    tiny = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder, vectors[: 4 * ADAPT_MIN - 1])
    plain = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder)
    assert tiny.adapted_["examples"] == {} and np.array_equal(tiny.coef_, plain.coef_)


def test_study_examples_rank_first_stand_out_and_are_nearest_their_own_code():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(200, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    coef, intercept = np.eye(8)[:2], np.zeros(2)
    positives = (np.eye(8)[:2], np.array([0, 1]))
    rows, codes = study_examples(vectors, vectors @ coef.T + intercept, positives, per_code=5)
    z = robust_z(vectors @ coef.T)
    for r, k in zip(rows, codes):
        assert z[r].argmax() == k and z[r, k] >= 1.0 and (vectors[r] @ positives[0].T).argmax() == k
    assert (codes == 0).sum() == 5 and (codes == 1).sum() == 5


def test_study_store_gives_back_batches_in_order(tmp_path):
    def passage(i):
        return Passage(id=f"p{i}", transcript="t", turn=i, speaker="P", text=f"text {i}", start=0, end=6)

    rng = np.random.default_rng(3)
    added = []
    with UnitStore(tmp_path) as store:
        for n in (2, 3):
            vecs = rng.normal(size=(n + 1, 4)).astype(np.float32)
            units = UnitVectors(vecs, np.array([0, *range(2, n + 2)]))
            ps = [passage(len(added) + i) for i in range(n)]
            store.add(ps, units)
            added.append((ps, units))
        assert store.vectors().shape == (7, 4)
        for (ps, units), (back_ps, back_units) in zip(added, store.batches()):
            assert (
                back_ps == ps
                and np.array_equal(back_units.vectors, units.vectors)
                and np.array_equal(back_units.bounds, units.bounds)
            )
        folder = store.dir
    assert not folder.exists()


def test_a_code_whose_example_is_quoted_from_the_study_is_not_adapted(fake_embedder):
    """A rare code with an example quoted from the study (its words in a passage, whatever
    the case and punctuation) speaks its language already: its low count says it is rare,
    so it keeps its codebook scores; the same code with an example that is not in the
    study is adapted as before."""
    rng = np.random.default_rng(5)
    texts = study(rng)
    texts = texts[:40] + [texts[40]] + texts[80:]  # parking talk, one food passage, other talk
    vectors = fake_embedder.embed(texts)

    def tagger(example):
        food = {**THIN.codes[1].model_dump(), "examples": [example.upper() + "!"]}
        book = Codebook.model_validate({"name": "b", "version": "1", "codes": [THIN.codes[0].model_dump(), food]})
        return CodebookTagger(book, config=Config(), background=BACKGROUND)

    quoted = tagger(texts[40]).fit(fake_embedder, vectors, texts)
    plain = tagger(texts[40]).fit(fake_embedder)
    assert quoted.adapted_["quoted"] == ["food"] and "food" not in quoted.adapted_["examples"]
    assert np.array_equal(quoted.coef_[1], plain.coef_[1])
    elsewhere = tagger("cold lunch").fit(fake_embedder, vectors, texts)
    assert elsewhere.adapted_["quoted"] == [] and "food" in elsewhere.adapted_["examples"]

    def food_applied(t):
        return int((t.predict_proba(vectors)[:, 1] >= 0.5).sum())

    # adapted, the one food passage's code spreads over the study; quoted, it stays rare
    assert food_applied(quoted) <= 2 < 10 < food_applied(elsewhere)
    unread = tagger(texts[40]).fit(fake_embedder, vectors)  # no texts given: nothing is known to be quoted
    assert unread.adapted_["quoted"] == [] and "food" in unread.adapted_["examples"]


def test_quoted_examples_are_found_in_any_chunk_of_passages_and_never_across_two(fake_embedder, monkeypatch):
    import pipeline.adapt as adapt

    monkeypatch.setattr(adapt, "CHUNK", 2)
    food = {**THIN.codes[1].model_dump(), "examples": ["the soup came cold every day", "tea was served far too late"]}
    parking = {**THIN.codes[0].model_dump(), "examples": ["I could not find a bay"]}
    book = Codebook.model_validate({"name": "b", "version": "1", "codes": [parking, food]})
    tagger = CodebookTagger(book, config=Config(), background=BACKGROUND)
    tagger.adapted_ = {}
    passages = [
        "hello",
        "nothing here",
        "fine",
        "Well, the soup came cold -- every day.",
        "tea was served",
        "far too late",
    ]
    assert tagger._quoted_codes(iter(passages)).tolist() == [False, True]
    assert tagger._quoted_codes(passages[4:]).tolist() == [False, False]  # split over two passages: not a quote


def test_a_thin_code_is_said_several_ways_and_adapted_even_where_the_codebook_finds_it(fake_embedder):
    """A code with a definition alone is also said as "someone talking about" it, a
    second positive sentence (never shown as a rationale), and takes the study's
    examples even where its definition already finds the study's talk; a code with
    examples does neither."""
    texts = study(np.random.default_rng(6))
    vectors = fake_embedder.embed(texts)
    found = {"id": "parking", "name": "Parking", "definition": "car ticket barrier drove bay vehicle"}
    rich = {**THIN.codes[1].model_dump(), "examples": ["the soup came cold", "tea at lunch was late"]}
    book = Codebook.model_validate({"name": "b", "version": "1", "codes": [found, rich]})
    plain = CodebookTagger(book, config=Config(), background=BACKGROUND).fit(fake_embedder)
    kinds = [(int(c), k) for c, k in zip(plain.prototypes_.code, plain.prototypes_.kind) if c >= 0]
    assert kinds.count((0, "phrasing")) == 1 and (1, "phrasing") not in kinds
    assert "Someone talking about parking: car ticket barrier drove bay vehicle" in plain.prototypes_.texts
    applied = (plain.predict_proba(vectors)[:, 0] >= 0.5).sum()
    assert applied >= 0.1 * len(vectors) / 2  # found: the share rule alone would leave it as it is
    adapted = CodebookTagger(book, config=Config(), background=BACKGROUND).fit(fake_embedder, vectors, texts)
    assert "parking" in adapted.adapted_["examples"]
    index, _ = adapted.nearest_positive(UnitVectors.of_passages(vectors))
    assert {adapted.prototypes_.kind[i] for i in index[:, 0]} == {"definition"}


def test_adapted_examples_heed_the_reviewers_decisions(fake_embedder):
    """A decided passage replaces adaptation's guess: examples of a code on passages
    decided without it go, each passage decided with it gives its best unit, and only
    adapted codes are fitted again."""
    texts = study(np.random.default_rng(5))
    units = UnitVectors.of_passages(fake_embedder.embed(texts))
    tagger = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder, units)
    parking = tagger.study_rows_[tagger.study_codes_ == 0]
    wrong, right = int(parking[0]), int(parking[1])  # reviewers: the first is food, the second parking
    missed = next(p for p in range(40) if p not in set(parking.tolist()))  # a parking passage adaptation missed
    before, on_other = tagger.coef_.copy(), int((tagger.study_rows_ == 100).sum())
    moved = tagger.heed(units, {wrong: ["food"], right: ["parking"], missed: ["parking"], 100: []})
    pairs = set(zip(tagger.study_rows_.tolist(), tagger.study_codes_.tolist()))
    assert (wrong, 0) not in pairs and (right, 0) in pairs and (missed, 0) in pairs and (wrong, 1) in pairs
    assert moved == {"decided_passages": 4, "dropped": 1 + on_other, "added": 2} and 100 not in tagger.study_rows_
    assert len(tagger.study_vectors_) == len(pairs) and not np.array_equal(before[0], tagger.coef_[0])


def test_heeding_leaves_a_codebook_that_was_not_adapted_alone(fake_embedder):
    units = UnitVectors.of_passages(fake_embedder.embed(study(np.random.default_rng(6))))
    tagger = CodebookTagger(THIN, config=Config(), background=BACKGROUND).fit(fake_embedder)  # no study: no adaptation
    before = tagger.coef_.copy()
    assert tagger.heed(units, {0: ["parking"]}) is None and np.array_equal(before, tagger.coef_)


def test_a_learned_model_blends_with_a_codebook_part_that_heeds_its_labels(fake_embedder, capsys):
    """The learner's checks are made on the codebook part as adapted; the part it then
    blends with heeds the labelled passages, while the base tagger (whose scores the
    page's decision models read) stays as adapted."""
    from pipeline.cli.learn import print_report
    from pipeline.learn import Labelled, LearnedTagger

    texts = study(np.random.default_rng(7))
    units = UnitVectors.of_passages(fake_embedder.embed(texts))
    labelled = [0, 1, 2, 45, 90, 91]
    labels = [["parking"], ["parking"], ["parking"], ["food"], [], []]
    data = Labelled([f"p{i}" for i in labelled], [texts[i] for i in labelled], labels, where=labelled)
    tagger = LearnedTagger(THIN, config=Config()).fit(fake_embedder, data, study=units)
    heeded = tagger.settings()["codebook_part_heeded"]
    assert heeded["decided_passages"] == len(labelled) and heeded["added"] + heeded["dropped"] > 0
    assert not np.allclose(tagger.base_coef_, tagger.base_.coef_)
    plain = CodebookTagger(THIN, config=Config(), background=tagger.base_.background).fit(fake_embedder, units)
    assert np.allclose(tagger.base_.coef_, plain.coef_)
    print_report(tagger, Path("learned"))  # `qcode learn` says what moved
    said = f"heeding the 6 labelled passages: {heeded['dropped']} of its examples dropped"
    assert said in capsys.readouterr().out
