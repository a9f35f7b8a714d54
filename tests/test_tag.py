import numpy as np
import pytest

from pipeline import Codebook, Config, load_codebook
from pipeline.evaluate import evaluate_file
from pipeline.tag import CodebookTagger, build_prototypes

from .conftest import DEV_GOLD

TINY = Codebook.model_validate(
    {
        "name": "tiny",
        "version": "1",
        "codes": [
            {
                "id": "money",
                "name": "Money",
                "definition": "budgets funding cash and costs",
                "examples": ["the budget was cut again", "funding for the cash pot", "costs of care rose"],
                "counterexamples": ["we met for coffee"],
            },
            {
                "id": "people",
                "name": "People",
                "definition": "friendships relationships colleagues",
                "examples": ["my colleague is a friend", "good relationships with colleagues", "friendships at work"],
            },
        ],
    }
)
BACKGROUND = ["the weather was awful", "my train was late", "sorry the line dropped"]


def fitted(embedder, **config):
    return CodebookTagger(TINY, config=Config(**config), background=BACKGROUND).fit(embedder)


def test_scores_are_probabilities_in_codebook_order(fake_embedder):
    tagger = fitted(fake_embedder)
    proba = tagger.predict_proba(fake_embedder.embed(["the budget and funding costs", "friendships with colleagues"]))
    assert proba.shape == (2, 2) and ((proba >= 0) & (proba <= 1)).all()
    assert proba[0, 0] > proba[0, 1] and proba[1, 1] > proba[1, 0]


def test_threshold_and_max_codes_are_respected(fake_embedder):
    vectors = fake_embedder.embed(["budget friendships colleagues funding", "weather"])
    everything = fitted(fake_embedder, threshold=0.0, max_codes=2).suggest(vectors)
    assert [len(codes) for _, codes in everything] == [2, 2]
    capped = fitted(fake_embedder, threshold=0.0, max_codes=1).suggest(vectors)
    assert [len(codes) for _, codes in capped] == [1, 1]
    nothing = fitted(fake_embedder, threshold=1.0).suggest(vectors)
    assert [codes for _, codes in nothing] == [[], []]


def test_suggestions_are_sorted_and_explain_themselves(fake_embedder):
    tagger = fitted(fake_embedder, top_suggestions=2)
    ((suggestions, codes),) = tagger.suggest(fake_embedder.embed(["the budget was cut"]))
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True) and len(suggestions) == 2
    assert set(codes) <= {s.code for s in suggestions}
    assert suggestions[0].code == "money"
    assert "the budget was cut again" in suggestions[0].rationale


def test_fit_uses_every_part_of_the_entry_and_is_deterministic(fake_embedder):
    protos = build_prototypes(TINY, BACKGROUND)
    assert {"definition", "example", "counterexample", "background"} <= set(protos.kind)
    v = fake_embedder.embed(["costs of care", "colleague"])
    a = fitted(fake_embedder).predict_proba(v)
    b = fitted(fake_embedder).predict_proba(v)
    assert np.array_equal(a, b)


def test_scales_to_a_large_codebook(fake_embedder):
    codes = [
        {
            "id": f"c{i}",
            "name": f"C{i}",
            "definition": f"topic {i} words w{i}",
            "examples": [f"w{i} x{j} y{i}" for j in range(8)],
        }
        for i in range(40)
    ]
    cb = Codebook.model_validate({"name": "big", "version": "1", "codes": codes})
    tagger = CodebookTagger(cb, config=Config(), background=BACKGROUND).fit(fake_embedder)
    results = tagger.suggest(fake_embedder.embed([f"w{i % 40} y{i % 40}" for i in range(3000)]))
    assert len(results) == 3000
    assert sum(1 for i, (_, codes) in enumerate(results) if codes and codes[0] == f"c{i % 40}") > 2400


@pytest.mark.slow
def test_real_tagger_agrees_with_the_dev_set(real_embedder):
    """A floor, not a target: the dev set is written apart from the codebook examples."""
    cb = load_codebook()
    tagger = CodebookTagger(cb, config=Config()).fit(real_embedder)
    report = evaluate_file(DEV_GOLD, codebook=cb, tagger=tagger, embedder=real_embedder)
    assert report.n >= 150
    assert report.macro_f1 >= 0.45 and report.mean_kappa >= 0.40, report


def test_keywords_are_evidence_but_never_the_rationale(fake_embedder):
    with_keywords = TINY.model_copy(
        update={"codes": [TINY.codes[0].model_copy(update={"keywords": ["overspend"]}), TINY.codes[1]]}
    )
    tagger = CodebookTagger(with_keywords, config=Config(), background=BACKGROUND).fit(fake_embedder)
    without = fitted(fake_embedder)
    v = fake_embedder.embed(["the overspend"])
    assert tagger.predict_proba(v)[0, 0] > without.predict_proba(v)[0, 0]  # the keyword counts for money
    ((suggestions, _),) = tagger.suggest(v)
    assert all("keyword" not in s.rationale for s in suggestions)


def test_a_codes_exclusions_are_not_evidence_against_other_codes():
    protos = build_prototypes(TINY, BACKGROUND)
    counter = protos.texts.index("we met for coffee")  # a counterexample of money
    rows, y = protos.training_set(0)
    assert rows[counter] and y[np.flatnonzero(rows).tolist().index(counter)] == 0  # against money
    rows, _ = protos.training_set(1)
    assert not rows[counter]  # says nothing about people
    rows, _ = protos.training_set(1, others_negatives=True)
    assert rows[counter]
    background = protos.texts.index(BACKGROUND[0])
    assert all(protos.training_set(k)[0][background] for k in range(2))  # "no code" talk counts against every code


def test_each_code_is_offered_on_the_study_s_likeliest_passage_even_where_it_ranks_low(fake_embedder):
    from pipeline.tag import is_likeliest

    texts = ["the budget was cut", "funding and costs rose", "my colleague helped", "cash for costs", "the weather"]
    vectors = fake_embedder.embed(texts)
    bare = dict(top_suggestions=0, threshold=1.0)  # nothing applied, no next best: only the likeliest are offered
    assert all(s == [] for s, _ in fitted(fake_embedder, **bare).suggest(vectors))  # not adapted to a study: none
    tagger = fitted(fake_embedder, **bare).adapt(vectors)
    proba = tagger.score(vectors)
    tagged = tagger.suggest(vectors)
    offered = {(i, x.code) for i, (s, _) in enumerate(tagged) for x in s if is_likeliest(x.rationale)}
    assert offered == {(int(np.argmax(proba[:, k])), c) for k, c in enumerate(TINY.code_ids)}
    assert all(c == [] for _, c in tagged)  # offered, never applied
    again = fitted(fake_embedder, top_suggestions=1).adapt(vectors)
    for s, codes in again.suggest(vectors):  # a code already shown is not offered twice
        assert len({x.code for x in s}) == len(s) and set(codes) <= {x.code for x in s}


def test_where_every_passage_is_coded_each_gets_at_least_its_best_code_and_nothing_else_moves(fake_embedder):
    texts = ["the budget and funding costs", "friendships with colleagues", "the weather was awful", "a train"]
    vectors = fake_embedder.embed(texts)
    free = fitted(fake_embedder)
    quotes = fitted(fake_embedder, every_passage_coded=True)
    proba = free.predict_proba(vectors)
    as_free, as_quotes = free.decide(proba), quotes.decide(proba)
    assert any(not codes for codes in as_free)  # off-topic talk gets no code by default
    for codes, coded, row in zip(as_free, as_quotes, proba):
        assert coded == (codes if codes else [int(np.argmax(row))])
    assert quotes.decision_shape() == (1, 3) and free.decision_shape() == (0, 3)
