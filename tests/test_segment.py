from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import Config, InputError
from pipeline.ingest import discover_inputs, read_transcripts
from pipeline.segment import pack_sentences, segment

from .conftest import SAMPLE


def test_pack_sentences_targets_and_limits():
    spans = [(i * 10, i * 10 + 9, 20) for i in range(7)]  # seven 20-word sentences
    groups = pack_sentences(spans, target_words=50, max_words=70)
    assert groups == [(0, 29), (30, 59), (60, 69)]  # 60, 60, then a 20-word tail (> 50/3)


def test_pack_sentences_short_tail_joins_previous_and_long_sentence_stands_alone():
    assert pack_sentences([(0, 5, 50), (6, 8, 5)], target_words=50, max_words=60) == [(0, 8)]
    assert pack_sentences([(0, 5, 10), (6, 9, 300), (10, 12, 10)], 50, 120) == [(0, 5), (6, 9), (10, 12)]


@given(
    st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=40), st.integers(5, 80), st.integers(0, 80)
)
def test_pack_sentences_covers_every_sentence_once_in_order(words, target, extra):
    spans, pos = [], 0
    for w in words:
        spans.append((pos, pos + 3, w))
        pos += 4
    groups = pack_sentences(spans, target, target + extra)
    starts = [s for s, _ in groups]
    assert starts == sorted(starts) and groups[0][0] == 0 and groups[-1][1] == spans[-1][1]
    covered = [sp for sp in spans if any(s <= sp[0] and sp[1] <= e for s, e in groups)]
    assert covered == spans


def sample_passages(config=Config()):
    files, _ = discover_inputs([SAMPLE])
    transcripts = [t for f in files if f.suffix == ".txt" for t in read_transcripts(f, config=config)]
    return transcripts, [s.passage for s in segment(transcripts, config)]


def test_offsets_cut_the_passage_from_the_source_text():
    transcripts, passages = sample_passages()
    text = {t.id: t.text for t in transcripts}
    raw = {t.id: open(t.source, encoding="utf-8").read() for t in transcripts}
    assert len(passages) > 100
    for p in passages:
        assert text[p.transcript][p.start : p.end] == p.text
        assert raw[p.transcript][p.start : p.end] == p.text  # sample files are UTF-8 with \n
        assert p.text == p.text.strip() and p.text


def test_interviewer_turns_are_context_not_passages():
    transcripts, passages = sample_passages()
    assert all(p.speaker.lower() not in ("interviewer", "i") for p in passages)
    assert all(p.context for p in passages)
    first = passages[0]
    assert first.context.startswith("Thanks for making the time")


def test_passage_sizes_follow_config():
    _, passages = sample_passages(Config(target_words=30, max_words=50))
    sizes = [len(p.text.split()) for p in passages]
    assert max(sizes) < 120 and sum(sizes) / len(sizes) < 45


def test_ids_are_stable_and_survive_edits_elsewhere(tmp_path):
    src = (
        "Interviewer: Q?\nParticipant: We met every week. It helped a lot.\nInterviewer: And?\nParticipant: Then money"
        " ran out.\n"
    )
    a = tmp_path / "a.txt"
    a.write_text(src)
    first = [s.passage for s in segment(read_transcripts(a, config=Config()), Config())]
    a.write_text("Interviewer: A new opening question?\nParticipant: An inserted answer here.\n" + src)
    second = [s.passage for s in segment(read_transcripts(a, config=Config()), Config())]
    assert {p.id for p in first} <= {p.id for p in second}
    assert len({p.id for p in second}) == len(second)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60),
        min_size=1,
        max_size=6,
    )
)
def test_offsets_hold_for_arbitrary_text(tmp_path_factory, bodies):
    path = tmp_path_factory.mktemp("h") / "t.txt"
    lines = []
    for i, body in enumerate(bodies):
        lines.append(("Interviewer: " if i % 2 else "Participant: ") + body.replace("\n", " "))
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        (tr,) = read_transcripts(path, config=Config())
    except InputError:
        return  # whitespace-only input is rejected, tested elsewhere
    for seg in segment([tr], Config()):
        p = seg.passage
        assert tr.text[p.start : p.end] == p.text
        assert seg.units[0][0] == 0 and seg.units[-1][1] == len(p.text)  # units cover the passage
        assert all(a[1] <= b[0] for a, b in zip(seg.units, seg.units[1:]))
