"""The review page's session logic, without HTTP: decisions, undo, bulk, order, stats, and
staying in step with other processes (a second page, a `qcode code` rerun)."""

import pytest
from sklearn.metrics import cohen_kappa_score

from pipeline import Config, code_corpus, load_codebook
from pipeline.reviewing.reviews import merge_reviews, review_queue
from pipeline.reviewing.serve import resolve_target
from pipeline.reviewing.session import ReviewError, ReviewSession, Served, rev
from pipeline.schemas import final_codes
from pipeline.store import journal_path, read_excerpts

from .conftest import FakeEmbedder, write
from .test_review import INTERVIEW, load, make_output

CB = load_codebook()
IDS = CB.code_ids


def session(out_dir, path=None, reviewer="ana", order="queue", compact_after=60.0):
    path = path or out_dir / "excerpts.jsonl"
    return ReviewSession(Served(out_dir, path, reviewer, CB, 0.5, order), compact_after=compact_after)


def test_decisions_follow_the_selection(tmp_path):
    _, path = make_output(tmp_path, config=Config(threshold=0.75))
    s = session(tmp_path / "out")
    rows = load(path)
    coded = next(r for r in rows if r.codes)
    uncoded = next(r for r in rows if not r.codes)
    assert s.decide(coded.id, "accept", list(reversed(coded.codes)))["review"]["status"] == "accepted"
    other = [c for c in IDS if c not in coded.codes][:1]
    assert s.decide(coded.id, "accept", [*coded.codes, *other])["review"]["status"] == "corrected"
    assert s.decide(coded.id, "accept", [])["review"]["status"] == "rejected"
    assert s.decide(uncoded.id, "accept", [])["review"]["status"] == "accepted"  # the machine was right: no code
    assert s.decide(uncoded.id, "reject", ["conflict"])["review"]["codes"] == []
    with pytest.raises(ReviewError) as err:
        s.decide(coded.id, "accept", ["not_a_code"])
    assert err.value.status == 422 and "not_a_code" in str(err.value)
    with pytest.raises(ReviewError) as err:
        s.decide("nope", "accept", [])
    assert err.value.status == 404
    got = {e.id: e for e in read_excerpts(path)}  # what any reader sees now
    assert got[uncoded.id].review.status == "rejected" and got[uncoded.id].review.reviewer == "ana"
    assert got[coded.id].review.reviewed_at


def test_a_decision_made_meanwhile_is_never_overwritten(tmp_path):
    _, path = make_output(tmp_path)
    ana, ben = session(tmp_path / "out"), session(tmp_path / "out", reviewer="ben")
    pid = load(path)[0].id
    seen = ana.passage(pid)["rev"]
    ben.decide(pid, "accept", ["conflict"])
    with pytest.raises(ReviewError) as err:
        ana.decide(pid, "accept", ["shared_purpose"], base_rev=seen)
    assert err.value.status == 409 and err.value.extra["current"]["reviewer"] == "ben"
    assert ana.passage(pid)["review"]["reviewer"] == "ben"  # ana's page caught up (journal grew)
    ana.decide(pid, "accept", ["shared_purpose"], base_rev=ana.passage(pid)["rev"])  # after reloading it is allowed
    assert {e.id: e for e in read_excerpts(path)}[pid].review.reviewer == "ana"


def test_undo_restores_what_the_decision_replaced(tmp_path):
    _, path = make_output(tmp_path)
    s = session(tmp_path / "out")
    rows = load(path)
    s.decide(rows[0].id, "accept", ["conflict"], note="first")
    s.decide(rows[0].id, "reject", [])
    s.decide(rows[1].id, "accept", [])
    assert s.undo() == {"ids": [rows[1].id]}
    assert s.passage(rows[1].id)["review"]["status"] == "pending"
    assert s.undo() == {"ids": [rows[0].id]}
    assert s.passage(rows[0].id)["review"]["note"] == "first"
    s.undo()
    assert all(e.review.status == "pending" for e in read_excerpts(path))
    with pytest.raises(ReviewError) as err:
        s.undo()
    assert err.value.status == 404


def test_bulk_accept_needs_the_confirmed_count_and_undoes_as_one(tmp_path):
    _, path = make_output(tmp_path, n=4)
    s = session(tmp_path / "out")
    rows = load(path)
    code, score = rows[0].suggestions[0].code, rows[0].suggestions[0].score
    preview = s.bulk_preview(code, score)
    expected = [r for r in rows if any(x.code == code and x.score >= score for x in r.suggestions)]
    assert preview["count"] == len(expected) > 0
    with pytest.raises(ReviewError) as err:
        s.bulk_accept(code, score, preview["count"] + 1)
    assert err.value.status == 409
    assert s.bulk_accept(code, score, preview["count"]) == {"accepted": len(expected)}
    after = {e.id: e for e in read_excerpts(path)}
    for r in expected:
        assert code in final_codes(after[r.id]) and set(r.codes) <= set(final_codes(after[r.id]))
    assert s.bulk_preview(code, score)["count"] == 0  # decided passages are not pending any more
    assert len(s.undo()["ids"]) == len(expected)
    assert all(e.review.status == "pending" for e in read_excerpts(path))


def test_queue_order_filter_examples_and_stats(tmp_path):
    _, path = make_output(tmp_path, n=3)
    s = session(tmp_path / "out")
    rows = load(path)
    by_doubt = [e.id for _, e in review_queue(rows, len(rows), 0.5)]
    assert sorted(s.queue()) == sorted(by_doubt) and s.queue() != by_doubt  # first, a queue that meets every code
    assert s.stats()["kappa_on"]["queue_mode"].startswith("covering the codebook: 0 of")
    assert s.queue("file") == [r.id for r in rows]
    code = rows[0].suggestions[0].code
    assert s.queue("file", code) == [
        r.id for r in rows if code in r.codes or any(x.code == code for x in r.suggestions)
    ]
    decisions = {rows[0].id: [code], rows[1].id: [], rows[2].id: [code, "conflict"], rows[3].id: list(rows[3].codes)}
    for pid, codes in decisions.items():
        s.decide(pid, "accept", codes)
    assert rows[0].id not in s.queue()
    examples = s.examples(code)
    assert len(examples) == 2 and {x["id"] for x in examples} == {rows[0].id, rows[2].id}
    assert {x["id"] for x in s.examples(code, exclude=rows[0].id)} == {rows[2].id}
    stats = s.stats()
    assert stats["decided"] == 4 and stats["by_reviewer"] == {"ana": 4} and stats["total"] == len(rows)
    decided = [rows[i] for i in range(4)]
    for k, c in enumerate(IDS):
        machine = [int(c in r.codes) for r in decided]
        human = [int(c in decisions[r.id]) for r in decided]
        row = stats["per_code"][k]
        assert row["machine"] == sum(machine) and row["reviewers"] == sum(human)
        if machine != human:
            assert row["kappa"] == pytest.approx(cohen_kappa_score(machine, human), abs=1e-3)
    assert [x["id"] for x in s.recent()] == list(reversed(decisions))


def test_a_rerun_while_the_page_is_open_keeps_every_decision(tmp_path):
    folder, path = make_output(tmp_path)
    s = session(tmp_path / "out")
    rows = load(path)
    s.decide(rows[0].id, "accept", ["conflict"])  # still only in the journal
    assert journal_path(path).exists()
    write(folder / "t1.txt", INTERVIEW.replace("good friend", "close friend"))  # one passage changes
    result = code_corpus([folder], out_dir=tmp_path / "out", embedder=FakeEmbedder())
    assert result.kept_reviews == 1 and not journal_path(path).exists()
    s.decide(rows[1].id, "reject", [])  # the page goes on over the new file
    got = {e.id: e for e in read_excerpts(path)}
    assert final_codes(got[rows[0].id]) == ["conflict"] and got[rows[1].id].review.status == "rejected"
    gone = next(r for r in rows if r.id not in got)
    with pytest.raises(ReviewError) as err:
        s.decide(gone.id, "accept", [])
    assert err.value.status == 404 and "rerun" in str(err.value)


def test_own_copies_are_independent_refreshed_by_reruns_and_merge(tmp_path):
    folder, path = make_output(tmp_path)
    out = tmp_path / "out"
    rows = load(path)
    session(out).decide(rows[0].id, "accept", ["conflict"])  # a decision in the main file
    ana_t, ben_t = (
        resolve_target(out, reviewer="ana", own_copy=True),
        resolve_target(out, reviewer="ben", own_copy=True),
    )
    assert ana_t.created and ana_t.path == out / "reviews" / "ana.jsonl"
    assert all(e.review.status == "pending" for e in read_excerpts(ana_t.path))  # independent: no one's decisions
    session(out, ana_t.path, "ana").decide(rows[1].id, "accept", ["conflict"])
    session(out, ben_t.path, "ben").decide(rows[1].id, "accept", ["shared_purpose"])
    assert not resolve_target(out, reviewer="ana", own_copy=True).created  # kept, not remade
    code_corpus([folder], out_dir=out, embedder=FakeEmbedder())  # the rerun refreshes the copies too
    assert final_codes({e.id: e for e in read_excerpts(ana_t.path)}[rows[1].id]) == ["conflict"]
    merged = {m.id: m for m in merge_reviews([ana_t.path, ben_t.path])}
    assert merged[rows[1].id].disagreement and {r.reviewer for r in merged[rows[1].id].reviews} == {"ana", "ben"}


def test_rev_changes_with_any_part_of_a_decision(tmp_path):
    _, path = make_output(tmp_path)
    review = load(path)[0].review
    assert rev(review) != rev(review.model_copy(update={"note": "x"}))


def test_a_decision_made_on_a_merged_file_survives_the_next_merge(tmp_path):
    """Issue 24 #3: decide, merge F -o F, re-decide with a note, merge again."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    _, path = make_output(tmp_path)
    pid = load(path)[0].id
    s = session(tmp_path / "out")
    s.decide(pid, "accept", ["conflict"])
    s.compact()
    runner = CliRunner()
    assert runner.invoke(app, ["review", "merge", str(path), "-o", str(path)]).exit_code == 0
    s.decide(pid, "accept", ["shared_purpose"], note="changed my mind")
    s.compact()
    assert runner.invoke(app, ["review", "merge", str(path), "-o", str(path)]).exit_code == 0
    e = {x.id: x for x in read_excerpts(path)}[pid]
    assert final_codes(e) == ["shared_purpose"] and [r.codes for r in e.reviews] == [["shared_purpose"]]
    assert e.reviews[0].note == "changed my mind"


def test_merge_into_a_served_file_keeps_decisions_made_while_it_reads(tmp_path, monkeypatch):
    """Issue 24 #2: a page decides while `review merge F -o F` is between reading F and
    writing it; the merge now reads under F's lock, so the decision waits and is kept."""
    import threading

    import pipeline.reviewing.reviews as review_mod
    from pipeline.cli.review import merge_cli

    _, path = make_output(tmp_path)
    rows = load(path)
    page = session(tmp_path / "out")
    real_read = review_mod.read_excerpts
    landed = threading.Event()

    def slow_read(p):
        got = real_read(p)
        threading.Thread(
            target=lambda: (page.decide(rows[1].id, "accept", ["conflict"]), landed.set()), daemon=True
        ).start()
        landed.wait(1.0)  # with the lock held, the page's decision cannot land yet
        return got

    monkeypatch.setattr(review_mod, "read_excerpts", slow_read)
    merge_cli(files=[path], out=path)
    assert landed.wait(30)
    monkeypatch.setattr(review_mod, "read_excerpts", real_read)
    page.compact()
    assert final_codes({e.id: e for e in read_excerpts(path)}[rows[1].id]) == ["conflict"]


def test_undo_never_erases_a_decision_made_since(tmp_path):
    """Issue 24 #7: ana decides, ben re-decides the same passage, ana's Backspace: refused."""
    _, path = make_output(tmp_path)
    pid = load(path)[0].id
    ana, ben = session(tmp_path / "out"), session(tmp_path / "out", reviewer="ben")
    ana.decide(pid, "accept", ["conflict"])
    ben.decide(pid, "accept", ["shared_purpose"])
    with pytest.raises(ReviewError) as err:
        ana.undo()
    assert err.value.status == 409 and err.value.extra["current"]["reviewer"] == "ben"
    assert final_codes({e.id: e for e in read_excerpts(path)}[pid]) == ["shared_purpose"]
    other = load(path)[1].id
    ana.decide(other, "reject", [])
    assert ana.undo()["ids"] == [other]  # an undisturbed decision still undoes


def test_after_an_import_the_page_reviews_in_file_order_unless_asked_otherwise(tmp_path):
    from pipeline.reviewing.live import Learning
    from pipeline.reviewing.serve import default_order

    imported = tmp_path / "models" / "m" / "training.jsonl"  # what the batch run's model learned from
    assert default_order(imported, Learning()) == "file"
    assert default_order(None, Learning()) == "queue"  # a bare codebook: the queue meets every code first
    assert default_order(imported, None) == "queue"  # --no-learn: no suggestions follow the transcript
