"""The learner's choices averaged over several cross-validation splits (pipeline/choices.py)."""

import pytest

import pipeline.learn as learn
from pipeline import Config
from pipeline.choices import SPLITS, averaged_choices, averaged_head, code_mode, most_often, pick_head
from pipeline.learn import HEADS, LearnedTagger

from .test_learn import synthetic


def head(kappa: dict, se: dict) -> dict:
    chosen, gains = pick_head(kappa, se, HEADS)
    return {"mean_kappa_out_of_fold": kappa, "se": se, "gains": gains, "chosen": chosen, "passages": 9}


def test_a_way_of_deciding_replaces_the_one_before_only_by_more_than_its_standard_error():
    se = {"decisions/codes": 0.03, "context/codes": 0.03, "context/decisions": 0.01}
    assert pick_head({"codes": 0.50, "decisions": 0.52, "context": 0.525}, se, HEADS)[0] == "codes"
    assert pick_head({"codes": 0.50, "decisions": 0.54, "context": 0.545}, se, HEADS)[0] == "decisions"
    chosen, gains = pick_head({"codes": 0.50, "decisions": 0.54, "context": 0.56}, se, HEADS)
    assert chosen == "context" and gains["context"] == {"over": "decisions", "gain": 0.02, "se": 0.01}


def test_splits_are_averaged_where_one_split_alone_would_decide_by_chance():
    se = {"decisions/codes": 0.03}
    splits = [head({"codes": 0.55, "decisions": 0.55 + g}, se) for g in (0.018, 0.069, 0.020, 0.055)]
    assert [s["chosen"] for s in splits] == ["codes", "decisions", "codes", "decisions"]  # as measured: a coin
    both = averaged_head(splits, HEADS)
    assert both["chosen"] == "decisions" and both["splits"] == 4 and both["gains"]["decisions"]["gain"] == 0.0405
    assert averaged_head([splits[0], None], HEADS) is None
    assert averaged_head([splits[0], splits[2]], HEADS)["chosen"] == "codes"


def test_trust_goes_by_votes_and_each_codes_mode_by_its_mean_check():
    assert most_often([(0.3, 2.0), (1.0, 5.0), (1.0, 5.0)]) == (1.0, 5.0)
    assert most_often([(0.3, 2.0), (1.0, 5.0)]) == (0.3, 2.0)  # a tie: the seed's own split
    harm = {"codebook_f1": 0.8, "learned_f1": 0.5, "gain": -0.3, "gain_se": 0.1}
    noise = {"codebook_f1": 0.8, "learned_f1": 0.79, "gain": -0.01, "gain_se": 0.1}
    assert (
        code_mode(harm, False) == "codebook"
        and code_mode(noise, False) == "learned"
        and code_mode(None, True) == "learned"
    )
    words = {**noise, "lexical_gain": 0.2, "lexical_gain_se": 0.05}
    assert code_mode(words, True) == "lexical" and code_mode(words, False) == "learned"
    se = {"decisions/codes": 0.03}

    def run(trust, check, mode):
        return {"trust": trust, "modes": {"a": mode, "b": "codebook"}, "head": head({"codes": 0.5, "decisions": 0.5}, se),
                "report": {"a": {"positives": 5, "cv": check}, "b": {"positives": 0}}}  # fmt: skip

    got = averaged_choices([run([0.3, 2.0], harm, "codebook"), run([1.0, 5.0], noise, "learned"),
                            run([1.0, 5.0], noise, "learned")], HEADS)  # fmt: skip
    assert got["trust"] == [1.0, 5.0] and got["splits"] == 3
    assert got["report"]["a"]["cv"]["gain"] == pytest.approx(-0.1067, abs=1e-4)
    assert got["modes"] == {"a": "codebook", "b": "codebook"}  # mean gain -0.107 < -0.1: clearly worse
    assert got["head"]["chosen"] == "codes"


def test_the_learner_makes_its_choices_over_splits_and_records_them(fake_embedder, monkeypatch):
    cb, data = synthetic(per_code=30)  # 120 passages: between MIN_TRUST and LARGE
    seeds = []
    fit_from = LearnedTagger._fit_from
    monkeypatch.setattr(
        LearnedTagger, "_fit_from", lambda self, *a: (seeds.append(self.config.seed), fit_from(self, *a))[1]
    )
    tagger = LearnedTagger(cb, config=Config(seed=7)).fit(fake_embedder, data)
    assert seeds == [7 + r for r in range(SPLITS)] + [7]  # each split, then the fit that applies their choices
    assert tagger.head_check_["splits"] == SPLITS and len(tagger.oof_codes_) == len(data.texts)
    assert set(tagger.head_check_["se"]) == {"decisions/codes"}  # no documents: no neighbours to weigh
    kept = LearnedTagger(cb, config=Config(seed=7))
    kept.fixed = tagger.choices()  # as a tuned encoder's fit keeps them: no splits again
    seeds.clear()
    kept.fit(fake_embedder, data)
    assert seeds == [7] and kept.modes_ == tagger.modes_ and kept.head_check_["encoder"] == "before tuning"
    monkeypatch.setattr(learn, "SPLITS", 1)
    seeds.clear()
    one = LearnedTagger(cb, config=Config(seed=7)).fit(fake_embedder, data)
    assert seeds == [7] and "splits" not in one.head_check_
