"""Review files: check, merge, status, queue, and that no decision is ever lost."""

import json
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline import Excerpt, Review, code_corpus, load_codebook
from pipeline.cli import app
from pipeline.reviewing.reviews import check_file, merge_reviews, review_queue, status_counts

from .conftest import FakeEmbedder, write

runner = CliRunner()
INTERVIEW = """Interviewer: How is the partnership going?
Participant: The budget was cut again and the funding pot is empty. Costs of care keep rising.
Interviewer: And people?
Participant: My colleague is a good friend and we have good relationships at work.
"""


def make_output(tmp_path, embedder=None, n=2, config=None):
    folder = tmp_path / "in"
    for i in range(n):
        write(folder / f"t{i}.txt", INTERVIEW.replace("again", f"again ({i})"))
    code_corpus([folder], out_dir=tmp_path / "out", embedder=embedder or FakeEmbedder(), config=config)
    return folder, tmp_path / "out" / "excerpts.jsonl"


def load(path):
    return [Excerpt.model_validate_json(x) for x in path.read_text().splitlines() if x.strip()]


def save(path, rows):
    path.write_text("".join(r.model_dump_json() + "\n" for r in rows))


def decide(row, **review):
    return row.model_copy(update={"review": Review(**review)})


def test_check_reports_every_problem_with_file_and_line(tmp_path):
    _, path = make_output(tmp_path)
    rows = load(path)
    good = rows[0].model_dump(mode="json")
    lines = [
        json.dumps(good),
        "{broken json",
        json.dumps({**good, "id": "x2", "review": {"status": "corrected", "reviewer": "a"}}),
        json.dumps({**good, "id": "x3", "review": {"status": "corrected", "codes": ["not_a_code"]}}),
        json.dumps({k: v for k, v in good.items() if k != "text"} | {"id": "x4"}),
        json.dumps(good),
        json.dumps({**good, "id": "x5", "review": {"status": "maybe"}}),
    ]
    bad = write(tmp_path / "bad.jsonl", "\n".join(lines) + "\n")
    problems, total, _ = check_file(bad, load_codebook())
    text = [str(p) for p in problems]
    assert total == 7
    assert text[0] == f"{bad}:2: not valid JSON (Expecting property name enclosed in double quotes)"
    assert any(t.startswith(f"{bad}:3: review: status 'corrected' needs 'codes'") for t in text)
    assert f"{bad}:4: review.codes: unknown code(s) ['not_a_code']" in text
    assert f"{bad}:5: text: required field missing" in text
    assert any(t.startswith(f"{bad}:6: duplicate id") for t in text)
    assert any(t.startswith(f"{bad}:7: review.status:") for t in text)
    res = runner.invoke(app, ["review", "check", str(bad)])
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == len(problems)
    ok = runner.invoke(app, ["review", "check", str(path)])
    assert ok.exit_code == 0 and "ok: 4 lines, 0 reviewed" in ok.stdout


def test_merge_keeps_each_decision_and_flags_disagreement(tmp_path):
    _, path = make_output(tmp_path)
    rows = load(path)
    ana = [
        decide(rows[0], status="corrected", codes=["conflict"], reviewer="ana"),
        decide(rows[1], status="rejected", reviewer="ana"),
        *rows[2:],
    ]
    ben = [
        decide(rows[0], status="corrected", codes=["conflict"], reviewer="ben"),
        decide(rows[1], status="corrected", codes=["shared_purpose"], reviewer="ben"),
        *rows[2:],
    ]
    save(tmp_path / "ana.jsonl", ana)
    save(tmp_path / "ben.jsonl", ben)
    res = runner.invoke(
        app,
        ["review", "merge", str(tmp_path / "ana.jsonl"), str(tmp_path / "ben.jsonl"), "-o", str(tmp_path / "m.jsonl")],
    )
    assert res.exit_code == 0 and "1 disagreement(s)" in res.stderr
    merged = {m.id: m for m in load(tmp_path / "m.jsonl")}
    agreed, split = merged[rows[0].id], merged[rows[1].id]
    assert [r.reviewer for r in agreed.reviews] == ["ana", "ben"] and not agreed.disagreement
    assert agreed.review.status == "corrected" and agreed.review.codes == ["conflict"]
    assert split.disagreement and split.review.status == "pending" and "ana: []" in split.review.note
    assert {(r.reviewer, tuple(r.codes)) for r in split.reviews} == {("ana", ()), ("ben", ("shared_purpose",))}
    assert runner.invoke(app, ["review", "check", str(tmp_path / "m.jsonl")]).exit_code == 0
    again = merge_reviews([tmp_path / "m.jsonl", tmp_path / "ana.jsonl"])  # merging a merge adds nothing
    assert [m.reviews for m in again] == [m.reviews for m in merge_reviews([tmp_path / "m.jsonl"])]


def test_status_and_queue(tmp_path):
    _, path = make_output(tmp_path)
    rows = load(path)
    rows[0] = decide(rows[0], status="rejected", reviewer="ana")
    rows[1] = decide(rows[1], status="corrected", codes=["conflict", "shared_purpose"], reviewer="ben")
    save(path, rows)
    counts = status_counts(load(path))
    assert counts["status"] == {"rejected": 1, "corrected": 1, "pending": 2}
    assert counts["code"] == {"conflict": 1, "shared_purpose": 1}
    assert counts["reviewer"] == {"ana": 1, "ben": 1}
    res = runner.invoke(app, ["review", "status", str(tmp_path / "out")])
    assert res.exit_code == 0 and "pending" in res.stdout and "ben" in res.stdout
    queue = review_queue(load(path), n=10)
    assert [e.id for _, e in queue] == sorted(
        (e.id for e in rows[2:]), key=lambda i: -dict((e.id, u) for u, e in queue)[i]
    )
    assert all(e.review.status == "pending" for _, e in queue)
    scores = [u for u, _ in queue]
    assert scores == sorted(scores, reverse=True)


def test_queue_prefers_scores_near_the_threshold(tmp_path):
    _, path = make_output(tmp_path)
    rows = load(path)

    def with_score(row, s):
        sug = row.suggestions[0].model_copy(update={"score": s})
        return row.model_copy(update={"suggestions": [sug]})

    rows = [with_score(rows[0], 0.97), with_score(rows[1], 0.52), with_score(rows[2], 0.05), with_score(rows[3], 0.35)]
    assert [e.id for _, e in review_queue(rows, 3)] == [rows[1].id, rows[3].id, rows[2].id]


# --- never lose a decision ------------------------------------------------------------------

VARIANTS = [INTERVIEW, INTERVIEW.replace("good friend", "close friend"), None]  # None: transcript removed
ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("edit"),
            st.integers(0, 20),
            st.sampled_from(["accepted", "corrected", "rejected", "pending"]),
            st.sampled_from(["ana", "ben"]),
        ),
        st.tuples(st.just("rerun"), st.integers(0, 2), st.sampled_from(VARIANTS)),
        st.tuples(st.just("merge"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_no_decision_is_lost_or_altered(tmp_path_factory, steps):
    tmp = tmp_path_factory.mktemp("prop")
    embedder = FakeEmbedder()
    folder, path = make_output(tmp, embedder, n=3)
    out = path.parent
    latest: dict[str, tuple] = {}  # passage id -> the last reviewer fields written to it
    counter = 0

    def fields(e):
        return (e.review, tuple(e.reviews), e.disagreement)

    for step in steps:
        rows = load(path)
        if step[0] == "edit" and rows:
            _, i, status, who = step
            counter += 1
            row = rows[i % len(rows)]
            codes = ["conflict"] if status == "corrected" else None
            rows[i % len(rows)] = row.model_copy(
                update={"review": Review(status=status, codes=codes, reviewer=who, note=f"d{counter}")}
            )
            save(path, rows)
            latest[row.id] = fields(rows[i % len(rows)])
        elif step[0] == "rerun":
            _, t, variant = step
            target = folder / f"t{t}.txt"
            if variant is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(variant.replace("again", f"again ({t})"))
            code_corpus([folder], out_dir=out, embedder=embedder)
        elif step[0] == "merge" and rows:
            counter += 1
            other = tmp / "other.jsonl"
            row = rows[step[1] % len(rows)]
            copy = [
                r.model_copy(update={"review": Review(status="rejected", reviewer="cy", note=f"d{counter}")})
                if r.id == row.id
                else r
                for r in rows
            ]
            save(other, copy)
            merged = merge_reviews([path, other])
            shutil.copy(path, tmp / "before.jsonl")
            save(path, merged)
            for m in merged:
                if m.reviews:
                    latest[m.id] = fields(m)
        present = {}
        for name in ("excerpts.jsonl", "orphaned_reviews.jsonl"):
            if (out / name).exists():
                for e in load(out / name):
                    present.setdefault(e.id, []).append(fields(e))
        for pid, decision in latest.items():
            assert decision in present.get(pid, []), f"lost {pid}: {decision}"
