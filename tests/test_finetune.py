"""`qcode learn --finetune`: the pairs it trains on, and a real (small) fine-tuning run
whose encoder `evaluate` and `code` then embed with."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline import load_codebook
from pipeline.cli import app
from pipeline.codebook import default_codebook_path
from pipeline.config import Config
from pipeline.embed import vector_space
from pipeline.finetune import labelled_texts, training_pairs
from pipeline.learn import Labelled
from pipeline.model_folder import with_encoder

from .conftest import REPO, SAMPLE, write

runner = CliRunner()


def test_pairs_share_a_code_or_share_none_and_are_deterministic():
    texts = ["a1", "a2", "b1", "b2", "ab", "none"]
    labels = [frozenset(x) for x in (["a"], ["a"], ["b"], ["b"], ["a", "b"], [])]
    pairs = training_pairs(texts, labels, seed=7, per_text=3)
    code = dict(zip(texts, labels))
    assert len(pairs) == 5 * 3 * 2  # five texts with a code, three of each kind
    for a, b, target in pairs:
        assert a != b and target == float(bool(code[a] & code[b]))
    assert pairs == training_pairs(texts, labels, seed=7, per_text=3)
    assert pairs != training_pairs(texts, labels, seed=8, per_text=3)


def test_a_cap_on_pairs_draws_fewer_per_text_first_and_never_passes_the_cap():
    texts = [f"t{i}" for i in range(60)]
    labels = [frozenset(["a" if i % 3 else "b"]) for i in range(60)]
    assert len(training_pairs(texts, labels, seed=7, per_text=4)) == 60 * 4 * 2
    assert training_pairs(texts, labels, seed=7, per_text=4, most=480) == training_pairs(
        texts, labels, seed=7, per_text=4
    )  # a cap above what is drawn changes nothing
    fewer = training_pairs(texts, labels, seed=7, per_text=4, most=250)
    assert len(fewer) == 250  # three of each kind per text (360), then cut to the cap
    assert {a for a, _, _ in fewer} == set(texts)
    tight = training_pairs(texts, labels, seed=7, per_text=4, most=50)
    assert len(tight) == 50 and sum(t for *_, t in tight) in range(15, 36)  # one of each kind, then cut


def test_codebook_positives_carry_their_code_and_background_none():
    cb = load_codebook(default_codebook_path())
    texts, labels = labelled_texts(cb, Labelled(["p1"], ["We never agreed."], [["conflict"]]))
    assert texts[-1] == "We never agreed." and labels[-1] == {"conflict"}
    assert {c for ls in labels for c in ls} == set(cb.code_ids)
    assert frozenset() in labels  # background talk: the far side of pairs only
    assert cb.codes[0].definition in texts[0]


def test_a_model_folder_without_an_encoder_keeps_the_config(tmp_path):
    config = Config()
    assert with_encoder(config, tmp_path) is config and with_encoder(config, None) is config
    assert vector_space("models/v1/encoder@abc") == vector_space("/elsewhere/encoder@abc") == "local-model@abc"


@pytest.mark.slow
def test_learn_finetune_writes_an_encoder_that_evaluate_and_code_use(tmp_path, cache_dir):
    gold = write(
        tmp_path / "labelled.jsonl",
        "".join((REPO / "eval" / "dev_gold.jsonl").read_text().splitlines(keepends=True)[:12]),
    )
    out = tmp_path / "model"
    cache = ["--cache-dir", str(cache_dir)]
    res = runner.invoke(
        app, ["learn", str(gold), "--out", str(out), "-e", "minilm", "--finetune", "--finetune-pairs", "1", *cache]
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "fine-tuned sentence-transformers/all-MiniLM-L6-v2 on" in res.stderr
    assert (out / "encoder" / "modules.json").is_file() and (out / "encoder" / "model.safetensors").is_file()
    meta = json.loads((out / "model.json").read_text())
    assert meta["embedding_model"].startswith("local-model@") and meta["config"]["model"].endswith("encoder")
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--model", str(out), "--json", *cache])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert 0.0 <= json.loads(res.stdout)["macro_f1"] <= 1.0
    coded = tmp_path / "coded"
    res = runner.invoke(app, ["code", str(SAMPLE / "icb_01.txt"), "-o", str(coded), "--model", str(out), "-q", *cache])
    assert res.exit_code == 0, res.stdout + res.stderr
    manifest = json.loads((coded / "manifest.json").read_text())
    assert manifest["config"]["model"] == str(out / "encoder")
    # learning again without --finetune removes the encoder that no longer belongs
    assert runner.invoke(app, ["learn", str(gold), "--out", str(out), "-e", "minilm", *cache]).exit_code == 0
    assert not (out / "encoder").exists()


@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["minilm", "mpnet"])
def test_top_layers_on_cached_states_embed_as_the_whole_model_then_learn(model_id):
    """Before training, the cached lower layers plus the top ones give the model's own
    embeddings (BERT- and MPNet-style masks and position bias); training moves only the
    top layers."""
    import numpy as np
    import torch

    from pipeline.embed import SentenceTransformerEmbedder
    from pipeline.finetune_top import GROUP, KeptStatesEmbedder, _embed, embed_grouped, lower_states, train_top

    model = SentenceTransformerEmbedder(model_id, seed=42, device="cpu").model
    texts = ["We trust each other at the board now.", "Money moved, and the council lost two posts this year."]
    texts += [f"Item {n}: " + "the partnership met again " * n for n in range(GROUP + 1)]  # more lengths than a group
    whole = model.encode(texts, normalize_embeddings=True)
    layers = model[0].auto_model.encoder.layer
    cache = lower_states(model, texts, len(layers) - 2, "cpu")
    asked = texts[::-1] + texts[:3]  # out of length order, with repeats
    with torch.no_grad():
        split = _embed(model, cache, texts, len(layers) - 2).numpy()
        grouped = embed_grouped(model, cache, asked, len(layers) - 2).numpy()
    assert np.allclose(whole, split, atol=1e-5)
    assert np.allclose(model.encode(asked, normalize_embeddings=True), grouped, atol=1e-5)
    lower = {len(layers) - 2: dict(cache)}
    kept = KeptStatesEmbedder(model, lower, 2, "cpu", "tuned@test").embed(asked + ["A passage not kept before."])
    assert np.allclose(model.encode(asked + ["A passage not kept before."], normalize_embeddings=True), kept, atol=1e-5)
    assert "A passage not kept before." in lower[len(layers) - 2]
    bottom_before = [p.detach().clone() for p in layers[0].parameters()]
    top_before = [p.detach().clone() for p in layers[-1].parameters()]
    train_top(model, [(texts[0], texts[1], 0.0)] * 4, "cpu", 1, top_layers=2)
    assert all(torch.equal(a, b) for a, b in zip(bottom_before, layers[0].parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(top_before, layers[-1].parameters()))


@pytest.mark.slow
def test_tunings_in_one_run_send_each_text_through_the_frozen_layers_once(monkeypatch):
    """`qcode learn`'s check tunes the same untuned model once per fold and then on every
    passage: the frozen layers' states are kept between tunings, and a tuning on kept
    states learns what one computing its own does."""
    import torch

    from pipeline import finetune_top
    from pipeline.embed import SentenceTransformerEmbedder

    seen: list[str] = []
    real = finetune_top.lower_states
    monkeypatch.setattr(finetune_top, "lower_states", lambda m, t, b, d: seen.extend(t) or real(m, t, b, d))
    texts = ["We trust each other at the board now.", "Money moved, and the council lost two posts.", "Fine."]
    texts += ["The partnership met again and again, " * n + "with everyone there." for n in range(1, 5)]
    folds = [[(texts[i], texts[i + 1], float(i % 2)) for i in range(k, k + 4)] for k in (0, 2)]

    def top_after(pairs, lower):
        torch.manual_seed(42)
        model = SentenceTransformerEmbedder("minilm", seed=42, device="cpu").model
        train_top(model, pairs, "cpu", 1, top_layers=2, lower=lower)
        return [p.detach().clone() for p in model[0].auto_model.encoder.layer[-1].parameters()]

    from pipeline.finetune_top import train_top

    lower: dict = {}
    top_after(folds[0], lower)
    kept = top_after(folds[1], lower)
    assert sorted(seen) == sorted(set(texts[:7])) and len(seen) == len(set(seen))
    own = top_after(folds[1], None)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(kept, own))


@pytest.mark.slow
def test_top_layers_in_bf16_keep_fp32_weights_and_learn_as_fp32_does():
    """Under bf16 autocast the trained layers stay fp32, and the pair moves as it does in
    fp32 (it runs on any CPU: autocast emulates bf16 where the hardware lacks it)."""
    import torch

    from pipeline.embed import SentenceTransformerEmbedder
    from pipeline.finetune_top import train_top

    texts = ["We trust each other at the board now.", "We trust each other on the board these days."]
    after = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(42)
        model = SentenceTransformerEmbedder("minilm", seed=42, device="cpu").model
        before = float(model.encode(texts, normalize_embeddings=True).prod(0).sum())
        train_top(model, [(texts[0], texts[1], 0.0)] * 8, "cpu", 1, top_layers=2, precision=precision)
        after[precision] = float(model.encode(texts, normalize_embeddings=True).prod(0).sum())
        assert all(p.dtype == torch.float32 for p in model.parameters())
    assert after["fp32"] < before - 0.02 and after["bf16"] < before - 0.02, (before, after)
    assert abs(after["bf16"] - after["fp32"]) < 0.02, after


def test_precision_auto_is_bf16_only_where_native(monkeypatch):
    from pipeline import finetune_top

    monkeypatch.setattr(finetune_top, "native_bf16", lambda device: device == "cuda")
    assert finetune_top.resolve_precision("auto", "cuda") == "bf16"
    assert finetune_top.resolve_precision("auto", "cpu") == "fp32"
    assert finetune_top.resolve_precision("fp32", "cuda") == "fp32"
    assert finetune_top.resolve_precision("bf16", "cpu") == "bf16"
