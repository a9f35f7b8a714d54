"""Learning from reviewers: data loading, per-code models, persistence, the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline import Codebook, Config, InputError, Review, load_codebook
from pipeline.cli import app
from pipeline.codebook import default_codebook_path, file_sha256
from pipeline.learn import Labelled, LearnedTagger, learn, load_labelled

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
    with pytest.raises(InputError, match=r"bad.jsonl:1: unknown code"):
        load_labelled([bad], cb)


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


def test_learned_and_fallback_codes(fake_embedder):
    cb, data = synthetic()
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert tagger.modes_ == ["learned", "learned", "learned", "codebook"]
    assert tagger.report_["c0"]["cv"]["f1"] > 0.9 and tagger.report_["c3"]["mode"] == "codebook"
    proba = tagger.predict_proba(fake_embedder.embed(["z1 x3 y4", "z0 x1"]))
    assert ((proba >= 0) & (proba <= 1)).all() and proba[0, 1] > 0.5 and proba[1, 0] > 0.5
    again = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert np.array_equal(again.coef_, tagger.coef_) and np.array_equal(again.thresholds_, tagger.thresholds_)


def test_a_code_is_learned_only_when_it_beats_the_codebook(fake_embedder):
    for cue in ("w", "z"):  # passages in the codebook's words, and in other words
        cb, data = synthetic(cue=cue)
        tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
        for code, entry in tagger.report_.items():
            if "cv" not in entry:
                assert entry["mode"] == "codebook"
            elif entry["mode"] == "learned":
                assert entry["cv"]["f1"] > entry["codebook_f1"], code
            else:
                assert entry["cv"]["f1"] <= entry["codebook_f1"], code
    assert "learned" in tagger.modes_  # with cue "z" the codebook cannot find the codes


def test_save_load_roundtrip_and_checks(tmp_path, fake_embedder):
    cb, data = synthetic()
    cb_path = write(tmp_path / "cb.yaml", json.dumps(cb.model_dump()))
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    tagger.save(tmp_path / "m", codebook_sha256=file_sha256(cb_path), embedder=fake_embedder, training=[])
    loaded = LearnedTagger.load(tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=fake_embedder)
    v = fake_embedder.embed(["z2 x1", "nothing here"])
    assert np.array_equal(loaded.predict_proba(v), tagger.predict_proba(v))
    assert [c for _, c in loaded.suggest(v)] == [c for _, c in tagger.suggest(v)]
    with pytest.raises(InputError, match="another codebook"):
        LearnedTagger.load(tmp_path / "m", codebook=cb, codebook_sha256="f" * 64, config=Config(), embedder=fake_embedder)
    other = FakeEmbedder()
    other.fingerprint = "different@1"
    with pytest.raises(InputError, match="trained on embeddings"):
        LearnedTagger.load(tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=other)
    with open(tmp_path / "m" / "weights.npz", "ab") as f:
        f.write(b"x")
    with pytest.raises(InputError, match="does not match the sha256"):
        LearnedTagger.load(tmp_path / "m", codebook=cb, codebook_sha256=file_sha256(cb_path), config=Config(), embedder=fake_embedder)


def test_many_codes_and_thousands_of_passages(fake_embedder):
    cb, data = synthetic(n_codes=35, per_code=90)
    tagger = LearnedTagger(cb, config=Config()).fit(fake_embedder, data)
    assert len(data.texts) == 3150 and tagger.modes_.count("learned") >= 30


@pytest.mark.slow
def test_learn_then_code_and_evaluate_with_the_model(tmp_path, cache_dir):
    runner = CliRunner()
    res = runner.invoke(app, ["learn", str(DEV_GOLD), "--out", str(tmp_path / "m"), "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0, res.stderr
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["codebook"]["sha256"] == file_sha256(default_codebook_path())
    assert meta["training"]["passages"] >= 150
    learned = [c for c, m in meta["modes"].items() if m == "learned"]
    assert len(learned) >= 5  # most codes gain clearly from 301 labelled passages
    for code, entry in meta["cross_validated"].items():  # the one-standard-error rule decided each
        assert (entry["gain"] > entry["gain_se"]) == (code in learned)
    res = runner.invoke(app, ["code", str(SAMPLE), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "m"), "--cache-dir", str(cache_dir), "-q"])
    assert res.exit_code == 0, res.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["tagger"]["strategy"] == "learned-logreg-v2" and sorted(manifest["tagger"]["learned_codes"]) == sorted(learned)
    res = runner.invoke(app, ["evaluate", "--gold", str(DEV_GOLD), "--model", str(tmp_path / "m"), "--json", "--cache-dir", str(cache_dir)])
    assert res.exit_code == 0 and json.loads(res.stdout)["macro_f1"] > 0.6  # training data: a sanity check only
    res = runner.invoke(app, ["code", str(SAMPLE), "-o", str(tmp_path / "o2"), "--model", str(tmp_path / "nope"), "-q"])
    assert res.exit_code == 1 and "not a qcode model" in res.stderr


def test_learn_function_refuses_empty_training_data(tmp_path, fake_embedder):
    empty = write(tmp_path / "r.jsonl", excerpt_line("a", []) + "\n")
    with pytest.raises(InputError, match="no reviewed or labelled passages"):
        learn([empty], out_dir=tmp_path / "m", codebook_path=None, config=Config(), embedder=fake_embedder)
