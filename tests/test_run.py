"""`code_corpus` with a fake embedder: outputs, bad inputs, and reviewer decisions."""

import json

import pytest

from pipeline import Config, Excerpt, InputError, code_corpus
from pipeline.schemas import final_codes

from .conftest import write

INTERVIEW = """Interviewer: How is the partnership going?
Participant: The budget was cut again and the funding pot is empty. Costs of care keep rising.
Interviewer: And people?
Participant: My colleague is a good friend and we have good relationships at work.
"""


def corpus(tmp_path, n=3):
    folder = tmp_path / "in"
    for i in range(n):
        write(folder / f"t{i}.txt", INTERVIEW.replace("again", f"again ({i})"))
    write(folder / "participants.csv", "file,sector\n" + "".join(f"t{i}.txt,s{i % 2}\n" for i in range(n)))
    return folder


def run(tmp_path, fake_embedder, inputs, **kw):
    return code_corpus(inputs, out_dir=tmp_path / "out", embedder=fake_embedder, **kw)


def excerpts(out):
    return [Excerpt.model_validate_json(line) for line in (out / "excerpts.jsonl").read_text().splitlines()]


def test_outputs_and_manifest(tmp_path, fake_embedder):
    folder = corpus(tmp_path)
    result = run(tmp_path, fake_embedder, [folder])
    out = tmp_path / "out"
    rows = excerpts(out)
    assert result.transcripts == 3 and result.passages == len(rows) == 6 and not result.errors
    assert {r.attributes["sector"] for r in rows} == {"s0", "s1"}
    assert all(r.context for r in rows) and all(r.review.status == "pending" for r in rows)
    counts = (out / "counts.csv").read_text().splitlines()
    assert counts[0].startswith("transcript,passages,safe_environment") and len(counts) == 4
    m = json.loads((out / "manifest.json").read_text())
    assert m["model"]["id"] == "fake/bag-of-words" and len(m["codebook"]["sha256"]) == 64
    assert [i["path"] for i in m["inputs"]] == sorted(str(folder / f"t{i}.txt") for i in range(3))
    assert m["config"]["seed"] == 42 and m["tagger"]["strategy"]
    assert m["totals"]["passages"] == 6
    assert not list(out.glob(".*tmp")), "temporary files left behind"


def half_the_text(folder) -> int:
    return sum(len(p.read_text()) for p in folder.glob("*.txt")) // 2


def test_embedding_is_batched(tmp_path, fake_embedder, monkeypatch):
    import pipeline.engine

    folder = corpus(tmp_path, n=150)
    monkeypatch.setattr(pipeline.engine, "BATCH_CHARS", half_the_text(folder))
    run(tmp_path, fake_embedder, [folder])
    passages_calls = fake_embedder.calls[1:]  # the first call embeds the codebook
    assert sum(passages_calls) == 300 and max(passages_calls) < 300 and len(passages_calls) in (2, 3)


def test_bad_file_among_good_ones(tmp_path, fake_embedder):
    folder = corpus(tmp_path)
    write(folder / "empty.txt", "")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02")
    result = run(tmp_path, fake_embedder, [folder, tmp_path / "nope.txt"])
    assert result.transcripts == 3
    assert sorted(e.path.rsplit("/", 1)[-1] for e in result.errors) == ["binary.txt", "empty.txt", "nope.txt"]
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert len(m["errors"]) == 3


def test_duplicate_transcript_ids(tmp_path, fake_embedder):
    write(tmp_path / "a" / "x.txt", INTERVIEW)
    write(tmp_path / "b" / "x.md", INTERVIEW)
    result = run(tmp_path, fake_embedder, [tmp_path / "a", tmp_path / "b"])
    assert result.transcripts == 1 and "duplicate transcript id 'x'" in str(result.errors[0])


def test_reviews_survive_reruns_and_orphans_are_kept(tmp_path, fake_embedder):
    folder = corpus(tmp_path)
    run(tmp_path, fake_embedder, [folder])
    path = tmp_path / "out" / "excerpts.jsonl"
    rows = excerpts(tmp_path / "out")
    rows[0].review = rows[0].review.model_copy(update={"status": "corrected", "codes": [], "reviewer": "ana"})
    rows[5].review = rows[5].review.model_copy(update={"status": "accepted", "reviewer": "ben", "note": "fine"})
    path.write_text("".join(r.model_dump_json() + "\n" for r in rows))

    result = run(tmp_path, fake_embedder, [folder], config=Config(threshold=0.9))  # new suggestions
    again = {r.id: r for r in excerpts(tmp_path / "out")}
    assert again[rows[0].id].review == rows[0].review
    # ben accepted the machine's codes of that time: with the machine's codes changed, his
    # decision stands as a correction to exactly the codes he accepted
    assert again[rows[5].id].codes != rows[5].codes
    assert again[rows[5].id].review.status == "corrected" and again[rows[5].id].review.codes == rows[5].codes
    assert final_codes(again[rows[5].id]) == rows[5].codes and again[rows[5].id].review.note == "fine"
    assert result.kept_reviews == 2

    (folder / "t2.txt").write_text(INTERVIEW.replace("good friend", "close friend"))  # passage 5 changes
    result = run(tmp_path, fake_embedder, [folder])
    assert result.orphaned_reviews == 1
    orphans = [
        Excerpt.model_validate_json(x) for x in (tmp_path / "out" / "orphaned_reviews.jsonl").read_text().splitlines()
    ]
    assert [o.id for o in orphans] == [rows[5].id] and orphans[0].review.note == "fine"

    (folder / "t2.txt").write_text(INTERVIEW.replace("again", "again (2)"))  # edit undone
    result = run(tmp_path, fake_embedder, [folder])
    assert result.kept_reviews == 2 and result.orphaned_reviews == 0
    assert {r.id: r for r in excerpts(tmp_path / "out")}[rows[5].id].review.reviewer == "ben"


def test_corrupt_previous_output_stops_before_overwriting(tmp_path, fake_embedder):
    folder = corpus(tmp_path)
    out = tmp_path / "out"
    write(out / "excerpts.jsonl", '{"id": "x", broken\n')
    before = (out / "excerpts.jsonl").read_bytes()
    with pytest.raises(InputError, match=r"excerpts.jsonl:1: not valid JSON"):
        run(tmp_path, fake_embedder, [folder])
    assert (out / "excerpts.jsonl").read_bytes() == before


def test_bad_codebook_is_an_error(tmp_path, fake_embedder):
    cb = write(tmp_path / "cb.yaml", "name: x\nversion: 1\ncodes: []\n")
    with pytest.raises(InputError, match="cb.yaml: codes"):
        run(tmp_path, fake_embedder, [corpus(tmp_path)], codebook_path=cb)


def test_interrupted_run_leaves_the_previous_outputs_whole(tmp_path, fake_embedder, monkeypatch):
    import pipeline.engine

    folder = corpus(tmp_path, n=150)
    monkeypatch.setattr(pipeline.engine, "BATCH_CHARS", half_the_text(folder))
    run(tmp_path, fake_embedder, [folder])
    out = tmp_path / "out"
    before = {n: (out / n).read_bytes() for n in ("excerpts.jsonl", "counts.csv", "manifest.json")}

    class Crash(Exception):
        pass

    calls = {"n": 0}
    real = fake_embedder.embed

    def flaky(texts):
        calls["n"] += 1
        if calls["n"] == 3:  # codebook, first batch, then crash in the second batch
            raise Crash
        return real(texts)

    fake_embedder.embed = flaky
    write(folder / "t0.txt", INTERVIEW.replace("budget", "money"))
    with pytest.raises(Crash):
        run(tmp_path, fake_embedder, [folder])
    assert {n: (out / n).read_bytes() for n in before} == before
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".sources.*"))
    assert (out / "sources" / "t0.txt").read_text() == INTERVIEW.replace("again", "again (0)")


def test_rerun_takes_passage_boundaries_from_the_cache_without_spacy(tmp_path, fake_embedder, monkeypatch):
    folder = corpus(tmp_path)
    cache = tmp_path / "cache"
    first = code_corpus([folder], out_dir=tmp_path / "a", embedder=fake_embedder, cache_dir=cache)
    assert first.segmented_from_cache == 0
    before = {n: (tmp_path / "a" / n).read_bytes() for n in ("excerpts.jsonl", "counts.csv", "manifest.json")}
    assert b"budget" not in (cache / "segments.sqlite").read_bytes()  # offsets only, never text

    import pipeline.segment

    def no_spacy():
        raise AssertionError("spaCy ran although every transcript's spans were cached")

    monkeypatch.setattr(pipeline.segment, "sentence_pipeline", no_spacy)
    again = code_corpus([folder], out_dir=tmp_path / "b", embedder=fake_embedder, cache_dir=cache)
    assert again.segmented_from_cache == 3
    assert {n: (tmp_path / "b" / n).read_bytes() for n in before} == before

    # an edited transcript or other packing settings are segmented afresh
    write(folder / "t0.txt", INTERVIEW.replace("again", "once more"))
    with pytest.raises(AssertionError, match="spaCy ran"):
        code_corpus([folder], out_dir=tmp_path / "c", embedder=fake_embedder, cache_dir=cache)
    monkeypatch.undo()
    code_corpus([folder], out_dir=tmp_path / "c", embedder=fake_embedder, cache_dir=cache)
    monkeypatch.setattr(pipeline.segment, "sentence_pipeline", no_spacy)
    with pytest.raises(AssertionError, match="spaCy ran"):
        code_corpus(
            [folder], out_dir=tmp_path / "d", embedder=fake_embedder, cache_dir=cache, config=Config(target_words=5)
        )


def test_the_summary_gives_a_rate_only_where_it_means_something():
    from pipeline.cli.code import pace

    assert pace(3, 0.4) == "0.4s"  # not "8 passages/s", let alone "0 passages/s"
    assert pace(212, 1.2) == "1.2s"
    assert pace(212, 30.0) == "30.0s (7 passages/s)"
