"""Live learning on the review page: suggestions from a model relearned in the background,
provenance of every decision, and nothing written to the excerpts file by learning."""

import pytest

from pipeline import Config, code_corpus, load_codebook
from pipeline.codebook import default_codebook_path
from pipeline.reviewing.live import LiveLearner
from pipeline.reviewing.relearn import BATCH, LiveModel, Snapshot, next_version
from pipeline.reviewing.session import ReviewSession, Served
from pipeline.schemas import Suggestion
from pipeline.store import read_excerpts

from .conftest import SAMPLE
from .test_review import load, make_output

CB = load_codebook()
IDS = CB.code_ids


class StubLearner:
    """Stands in for LiveLearner: a fixed model, and a count of what it was told."""

    every = 2
    busy = False
    error = None
    latest = None

    def __init__(self, model=None):
        self._model, self.told, self.history, self.followed = model, [], [], 0

    def model(self):
        return self._model

    def notice(self, n, snapshot):
        self.told.append((n, snapshot()))

    def follow(self, snapshot, changed=None):
        self.followed += 1
        return False

    def close(self):
        pass

    def finetune_state(self):
        return None


def live_model(pids, code="conflict"):
    rows = [Suggestion(code=code, score=0.9, rationale="live").model_dump()]
    return LiveModel(3, 10, 0.1, {pid: (rows, [code], 1 - 0.001 * i) for i, pid in enumerate(pids)})


def test_pending_passages_show_the_live_models_suggestions_and_decisions_record_them(tmp_path, monkeypatch):
    import pipeline.reviewing.first_queue as first_queue

    monkeypatch.setattr(first_queue, "ROUNDS", 0)  # past the queue that meets every code: most uncertain first
    _, path = make_output(tmp_path)
    rows = load(path)
    pids = [r.id for r in rows[:3]]
    learner = StubLearner(live_model(pids + [r.id for r in rows[3:-1]]))
    s = ReviewSession(Served(tmp_path / "out", path, "ana", CB, 0.5, "queue", learner), compact_after=60.0)
    shown = s.passage(pids[0])
    assert shown["model"] == "live-3" and shown["codes"] == ["conflict"] and shown["batch_codes"] == list(rows[0].codes)
    assert s.queue()[:3] == pids  # ordered by the live model's uncertainty
    other = s.passage(rows[-1].id)  # pending, but not scored by the live model (say, added by a rerun)
    assert other["model"] == BATCH and other["codes"] == list(rows[-1].codes)
    s.decide(pids[0], "accept", ["conflict"], shown=("live-3", ["conflict"]))
    s.decide(rows[-1].id, "accept", list(rows[-1].codes), shown=(BATCH, list(rows[-1].codes)))
    review = {e.id: e for e in read_excerpts(path)}[pids[0]].review
    assert review.suggested_by == "live-3" and review.suggested == ["conflict"]
    assert review.status == ("accepted" if rows[0].codes == ["conflict"] else "corrected") and review.codes == [
        "conflict"
    ]
    assert s.passage(pids[0])["model"] == BATCH  # decided: no longer the live model's to suggest
    n, snap = learner.told[-1]
    assert n == 1 and snap.decided == 2 and len(snap.ids) == len(rows)
    assert learner.followed == 2  # after each decision the page asks for suggestions that follow the transcript
    models = {m["model"]: m for m in s.stats()["models"]}
    assert (
        models["live-3"] == {"model": "live-3", "decisions": 1, "changed": 0, "kappa": None}
        and models[BATCH]["decisions"] == 1
    )


@pytest.mark.slow
def test_a_live_relearn_writes_a_model_and_no_excerpt(tmp_path, real_embedder, cache_dir):
    """Real learner, real MiniLM, in a worker process: decide until a relearn happens."""
    out = tmp_path / "out"
    config = Config(model="minilm")
    code_corpus([SAMPLE / "icb_01.txt", SAMPLE / "vcse_02.txt"], out_dir=out, embedder=real_embedder, config=config)
    path = out / "excerpts.jsonl"
    learner = LiveLearner(out, default_codebook_path(), config, every=4, cache_dir=cache_dir)
    s = ReviewSession(Served(out, path, "ana", CB, 0.5, "queue", learner), compact_after=60.0)
    try:
        queue = s.queue()
        decided = {}
        for i, pid in enumerate(queue[:4]):
            codes = [IDS[i], IDS[i + 4]]  # one passage per code: nothing to cross-check yet, so the model is used
            s.decide(pid, "accept", codes, shown=(BATCH, s.passage(pid)["codes"]))
            decided[pid] = codes
        assert learner.busy or learner.model() is not None
        model = learner.wait(300)
        assert model is not None and model.name == f"live-{next_version(out) - 1}" and model.decisions == 4, (
            learner.error
        )
        pending = [pid for pid in s.queue() if pid not in decided]
        for pid in pending:  # the live model's suggestion where it is surer than the batch run's (relearn.keeps_batch)
            assert s.passage(pid)["model"] == (model.name if pid in model.suggestions else BATCH)
        assert (out / "live" / f"v{model.version}" / "model.json").is_file()
        assert '"decisions": 4' in (out / "live" / "index.jsonl").read_text()
        from pipeline.manifest import Manifest

        named = Manifest.read(out / "manifest.json").live_models
        assert [m.model for m in named] == [model.name] and named[0].path == f"live/v{model.version}"
        s.compact()
        on_disk = {e.id: e for e in read_excerpts(path)}
        assert {pid: on_disk[pid].review.codes for pid in decided} == {
            pid: [c for c in IDS if c in codes] for pid, codes in decided.items()
        }
        assert all(on_disk[pid].review.status == "pending" for pid in pending)
    finally:
        s.close()


def test_snapshot_counts_decisions():
    assert Snapshot(["a", "b"], ["x", "y"], [None, ["c"]]).decided == 1


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_agreement_per_suggesting_model(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    _, path = make_output(tmp_path)
    rows = load(path)
    s = ReviewSession(Served(tmp_path / "out", path, "ana", CB, 0.5, "queue", None), compact_after=60.0)
    for r in rows[:2]:
        s.decide(r.id, "accept", ["conflict"], shown=(BATCH, ["shared_purpose"]))
    for r in rows[2:4]:
        s.decide(r.id, "accept", ["conflict"], shown=("live-1", ["conflict"]))
    s.compact()
    result = CliRunner().invoke(app, ["agreement", str(path), "--by-model", "--json"])
    assert result.exit_code == 0, result.output
    import json

    got = json.loads(result.stdout)
    assert list(got) == ["batch", "live-1"] and got["live-1"]["units"] == 2 and got["batch"]["units"] == 2
    conflict = {c["code"]: c for c in got["live-1"]["per_code"]}["conflict"]
    assert conflict["percent"] == 1.0
    assert {c["code"]: c for c in got["batch"]["per_code"]}["conflict"]["percent"] == 0.0
    usage = CliRunner().invoke(app, ["agreement", str(path), str(path), "--by-model"])
    assert usage.exit_code == 2


def test_a_relearn_embeds_on_the_device_the_page_was_started_with(tmp_path):
    from concurrent.futures import Future

    from pipeline import Config
    from pipeline.reviewing.live import LiveLearner
    from pipeline.reviewing.relearn import Snapshot

    class Pool:
        def submit(self, fn, job):
            self.job = job
            return Future()

    learner = LiveLearner(tmp_path, tmp_path / "codebook.yaml", Config(), device="cuda")
    learner._pool = Pool()
    learner._start(Snapshot(["a"], ["some text"], [["conflict"]]))
    assert learner._pool.job.device == "cuda"  # was always "cpu": the worker embedded on the CPU


def test_a_live_model_s_suggestions_keep_the_batch_run_s_offer_of_a_code_it_lacks(tmp_path):
    from pipeline.tag import is_likeliest

    _, path = make_output(tmp_path, n=3)
    rows = load(path)
    marked = [(r, s) for r in rows for s in r.suggestions if is_likeliest(s.rationale)]
    assert marked  # a codebook-only run offers some code on its likeliest passage beyond the usual suggestions
    row, offer = marked[0]
    lacking = next(c for c in IDS if c != offer.code)
    learner = StubLearner(live_model([r.id for r in rows], code=lacking))
    s = ReviewSession(Served(tmp_path / "out", path, "ana", CB, 0.5, "queue", learner), compact_after=60.0)
    shown = s.passage(row.id)
    assert shown["model"] == "live-3" and [x["code"] for x in shown["suggestions"]] == [lacking, offer.code]
    assert shown["codes"] == [lacking]  # offered, not pre-selected
    others = [r for r in rows if r.id != row.id and not any(is_likeliest(x.rationale) for x in r.suggestions)]
    assert others and [x["code"] for x in s.passage(others[0].id)["suggestions"]] == [lacking]
