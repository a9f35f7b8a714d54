"""Whether `qcode learn` tunes the encoder: the held-back split, the floor, and a real
(small) out-of-fold check with the packaged MiniLM."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pipeline.finetune
from pipeline import load_codebook
from pipeline import tune_choice as tc
from pipeline.cli import app
from pipeline.codebook import default_codebook_path
from pipeline.config import Config
from pipeline.learn import Labelled

from .conftest import REPO, write

runner = CliRunner()


def gold_passages(n: int, per_document: int = 4) -> Labelled:
    rows = [json.loads(line) for line in (REPO / "eval" / "dev_gold.jsonl").read_text().splitlines()[:n]]
    return Labelled(
        [r["id"] for r in rows],
        [r["text"] for r in rows],
        [r["labels"] for r in rows],
        groups=[f"doc{i // per_document}" for i in range(len(rows))],
    )


def test_each_passage_is_held_back_once_with_its_whole_document():
    data = gold_passages(60)
    folds = tc.check_folds(data, seed=42)
    assert len(folds) == tc.FOLDS
    assert sorted(i for _, check in folds for i in check) == list(range(60))
    for train, check in folds:
        assert not {data.groups[i] for i in check} & {data.groups[i] for i in train}
    data.groups = None  # no documents known: passages
    assert sorted(i for _, check in tc.check_folds(data, seed=42) for i in check) == list(range(60))


def test_below_the_floor_nothing_is_checked_or_tuned():
    choice = tc.choose(load_codebook(default_codebook_path()), gold_passages(30), config=Config())
    assert not choice.tune and f"fewer than {tc.MIN_PASSAGES}" in choice.why
    assert choice.frozen_kappa is None and "seconds" not in choice.record()


@pytest.mark.slow
def test_the_check_tunes_on_the_rest_and_scores_the_held_back_documents(monkeypatch):
    monkeypatch.setattr(tc, "MIN_PASSAGES", 40)
    monkeypatch.setattr(tc, "PAIRS", 1)
    monkeypatch.setattr(tc, "MOST_PAIRS", 30)
    drawn, draw = [], pipeline.finetune.training_pairs
    monkeypatch.setattr(pipeline.finetune, "training_pairs", lambda *a, **k: drawn.append(draw(*a, **k)) or drawn[-1])
    config = Config(model="sentence-transformers/all-MiniLM-L6-v2", batch_size=32, seed=42)
    left_before = set(Path(tempfile.gettempdir()).glob("qcode-tune-check-*"))
    fixed, embedders, fit = [], [], tc.held_back_codes

    def spy(*args, **kwargs):
        fixed.append(args[6] if len(args) > 6 else kwargs.get("fixed"))
        embedders.append(type(args[5]).__name__)
        return fit(*args, **kwargs)

    monkeypatch.setattr(tc, "held_back_codes", spy)
    choice = tc.choose(load_codebook(default_codebook_path()), gold_passages(60), config=config, device="cpu")
    # per fold: the learner as it is, then the tuned one keeping the choices the first made
    assert len(fixed) == 2 * tc.FOLDS and fixed[0::2] == [None] * tc.FOLDS
    assert all({"trust", "modes", "head"} <= set(f) for f in fixed[1::2])
    # the tuned encoders run only their top layers, on the frozen layers' states kept between folds
    assert embedders[1::2] == ["KeptStatesEmbedder"] * tc.FOLDS
    assert choice.seconds > 0
    assert [len(pairs) for pairs in drawn] == [30] * tc.FOLDS  # each fold's tuning stops at the cap
    assert -1 <= choice.frozen_kappa <= 1 and -1 <= choice.tuned_kappa <= 1 and choice.se >= 0
    assert choice.frozen_kappa != choice.tuned_kappa  # the tuned encoder really coded the held-back part
    assert choice.tune == (choice.tuned_kappa - choice.frozen_kappa > choice.se)
    assert f"tuning {'pays' if choice.tune else 'does not pay'} out of fold ({tc.FOLDS} folds)" in choice.why
    assert set(Path(tempfile.gettempdir()).glob("qcode-tune-check-*")) == left_before  # its encoder is gone


def test_learn_records_why_the_encoder_was_or_was_not_tuned(tmp_path, cache_dir):
    gold = write(
        tmp_path / "labelled.jsonl",
        "".join((REPO / "eval" / "dev_gold.jsonl").read_text().splitlines(keepends=True)[:20]),
    )
    cache = ["--cache-dir", str(cache_dir)]
    said = {}
    for flag, why in (([], f"fewer than {tc.MIN_PASSAGES}"), (["--no-finetune"], "forced")):
        out = tmp_path / f"model{len(flag)}"
        res = runner.invoke(app, ["learn", str(gold), "--out", str(out), "-e", "minilm", *flag, *cache])
        assert res.exit_code == 0, res.stdout + res.stderr
        tuning = json.loads((out / "model.json").read_text())["encoder_tuning"]
        assert tuning["tune"] is False and why in tuning["why"]
        assert not (out / "encoder").exists()
        said[bool(flag)] = res.stderr
    assert f"encoder: as it is: 20 labelled passages, fewer than {tc.MIN_PASSAGES}" in said[False]
    assert "encoder:" not in said[True]


def test_where_the_check_says_tuning_pays_learn_tunes_as_it_checked_and_records_the_layers(
    tmp_path, cache_dir, monkeypatch
):
    import pipeline.cli.learn as cli_learn

    gold = write(
        tmp_path / "labelled.jsonl",
        "".join((REPO / "eval" / "dev_gold.jsonl").read_text().splitlines(keepends=True)[:20]),
    )
    verdict = tc.TuneChoice(True, "tuning pays out of fold (3 folds): a stand-in verdict", 0.4, 0.5, 0.01)
    monkeypatch.setattr(cli_learn, "choose_tuning", lambda *args, **kwargs: verdict)
    tuned = []

    def fake_tune(codebook, data, config, out, device, pairs, top_layers, lower=None, most=None):
        tuned.append((pairs, top_layers, most))
        return config  # the encoder as it is: this test is about what learn asks for

    monkeypatch.setattr(cli_learn, "tune", fake_tune)
    out = tmp_path / "model"
    res = runner.invoke(app, ["learn", str(gold), "--out", str(out), "-e", "minilm", "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert tuned == [(tc.PAIRS, tc.TOP_LAYERS, tc.MOST_PAIRS)]  # the layers and pairs the check judged
    tuning = json.loads((out / "model.json").read_text())["encoder_tuning"]
    assert tuning["tune"] is True and tuning["top_layers"] == tc.TOP_LAYERS and "stand-in" in tuning["why"]
