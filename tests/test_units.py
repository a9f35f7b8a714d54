import numpy as np
import pytest

from pipeline import Config, load_codebook
from pipeline.ingest import read_transcripts
from pipeline.segment import SegmentCache, segment
from pipeline.tag import CodebookTagger
from pipeline.units import UnitVectors, embed_units, group_sentences, split_units

from .conftest import write
from .test_tag import BACKGROUND, TINY

LONG = (
    "Yes. So the first thing to say is that the budget was cut again this spring, and the costs of care rose. "
    "We talked about it for ages. "
    "My colleague is a friend now and we have good relationships with colleagues across the patch these days."
)


def test_sentences_are_grouped_into_runs_of_at_least_min_words():
    spans = [(0, 10, 5), (11, 40, 12), (41, 50, 3), (51, 90, 20), (91, 99, 4)]
    # 5+12 closes a unit; 3+20 closes the next; the 4-word tail joins it
    assert group_sentences(spans, 15) == [(0, 40), (41, 99)]
    assert group_sentences(spans, 1) == [(s, e) for s, e, _ in spans]
    assert group_sentences(spans, 1000) == [(0, 99)]  # one unit: everything
    assert group_sentences([], 15) == []


def test_units_cover_whole_sentences_and_a_short_text_is_one_unit():
    config = Config(unit_words=15)
    (long_units, short_units) = split_units([LONG, "The budget was cut."], config)
    assert short_units == [(0, len("The budget was cut."))]
    assert len(long_units) == 2
    pieces = [LONG[s:e] for s, e in long_units]
    assert pieces[0].startswith("Yes.") and pieces[1].startswith("We talked")  # "Yes." is never alone
    assert all(len(p.split()) >= 15 for p in pieces[:-1])
    assert " ".join(pieces) == LONG.strip()


def transcript_of(tmp_path, body):
    (t,) = read_transcripts(
        write(tmp_path / "t.txt", f"Interviewer: How is it going?\nParticipant: {body}\n"), config=Config()
    )
    return t


def test_passages_and_units_come_from_one_pass_and_are_cached(tmp_path, monkeypatch):
    t = transcript_of(tmp_path, LONG)
    cache = SegmentCache(tmp_path / "segments.sqlite")
    (first,) = list(segment([t], Config(), cache))
    assert first.units == split_units([first.passage.text], Config())[0]  # same units as from the text alone
    cache.close()

    import pipeline.segment

    monkeypatch.setattr(pipeline.segment, "sentence_pipeline", lambda: pytest.fail("spaCy ran on a cached transcript"))
    cache = SegmentCache(tmp_path / "segments.sqlite")
    (again,) = list(segment([t], Config(), cache))
    assert again == first and cache.hits == 1
    monkeypatch.undo()
    (whole,) = list(segment([t], Config(unit_words=1000), cache))  # another unit size is another key
    assert whole.units == [(0, len(whole.passage.text))]
    cache.close()


def test_take_selects_passages_units_in_order():
    units = UnitVectors(np.arange(12, dtype=np.float32).reshape(6, 2), np.array([0, 1, 4, 6]))
    picked = units.take([2, 0])
    assert picked.bounds.tolist() == [0, 2, 3]
    assert picked.vectors[:, 0].tolist() == [8.0, 10.0, 0.0]
    assert len(picked) == 2


def test_a_passage_scores_its_best_unit(fake_embedder):
    tagger = CodebookTagger(TINY, config=Config(), background=BACKGROUND).fit(fake_embedder)
    units = embed_units(fake_embedder, [LONG, "the weather was awful"], Config())
    assert units.bounds.tolist() == [0, 2, 3]
    per_unit = tagger.predict_proba(units.vectors)
    passage = tagger.score(units)
    assert np.array_equal(passage[0], per_unit[:2].max(axis=0)) and np.array_equal(passage[1], per_unit[2])
    (suggestions, codes), _ = tagger.suggest(units)
    assert set(codes) == {"money", "people"}  # one unit each: whole-passage scoring blurs them
    # each code's rationale quotes the codebook sentence nearest to its own unit
    by_code = {s.code: s.rationale for s in suggestions}
    assert "budget" in by_code["money"] and "colleague" in by_code["people"]


def test_plain_vectors_are_one_unit_per_passage(fake_embedder):
    tagger = CodebookTagger(TINY, config=Config(), background=BACKGROUND).fit(fake_embedder)
    v = fake_embedder.embed(["the budget was cut", "friendships at work"])
    assert np.array_equal(tagger.score(v), tagger.predict_proba(v))
    assert tagger.suggest(v) == tagger.suggest(UnitVectors.of_passages(v))


@pytest.mark.slow
def test_a_coded_sentence_is_found_inside_a_long_passage(real_embedder):
    """The reason units exist: the same coded sentence, padded with talk about nothing in
    particular, is still coded (whole-passage scoring loses it among the padding)."""
    cb = load_codebook()
    tagger = CodebookTagger(cb, config=Config()).fit(real_embedder)
    coded = (
        "Once the trust said openly that it would lose beds and income under the new model, "
        "and we put that on the table rather than pretending, the whole thing got unstuck."
    )
    padding = (
        "I've been in post about four years now, before that I was in a different county. "
        "The building we're in is being refurbished so we're all hot-desking at the moment. "
        "Anyway, it's been a busy winter, like everywhere, and the team have been brilliant. "
    )
    alone = tagger.suggest(embed_units(real_embedder, [coded], tagger.config))[0][1]
    assert alone, "the sentence alone should be coded"
    padded = embed_units(real_embedder, [padding + coded], tagger.config)
    assert len(padded.bounds) - 1 == 1 and padded.bounds[-1] >= 3
    assert tagger.suggest(padded)[0][1][0] == alone[0]
    whole = tagger.suggest(real_embedder.embed([padding + coded]))[0][1]
    assert alone[0] not in whole[:1], (
        "whole-passage scoring lost it (if not, this test no longer shows why units exist)"
    )


def test_the_segment_cache_holds_offsets_not_text(tmp_path):
    cache = SegmentCache(tmp_path / "segments.sqlite")
    list(segment([transcript_of(tmp_path, LONG)], Config(), cache))
    cache.close()
    raw = (tmp_path / "segments.sqlite").read_bytes()
    for wal in tmp_path.glob("segments.sqlite-*"):
        raw += wal.read_bytes()
    assert b"budget" not in raw and b"colleague" not in raw
