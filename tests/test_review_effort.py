"""benchmarks/review_effort.py: the order the simulated reviewer takes, and the ceiling:
every passage is suggested once, by a relearn that has every other fold decided and never
the passage itself (a fake study stands in for the page's relearn; the real one is run by
the benchmark on real sets)."""

from types import SimpleNamespace

from benchmarks.review_effort import ceiling


class FakeStudy:
    """Passages 0..n-1; gold codes ["a"] for even ones, [] for odd ones. A relearn shows
    ["a"] on every pending passage (right on even ones) and records what was decided."""

    def __init__(self, n: int):
        self.items = [SimpleNamespace(labels=["a"] if i % 2 == 0 else []) for i in range(n)]
        self.batch = {i: ([], 0.0) for i in range(n)}  # the batch run codes nothing
        self.shown = dict(self.batch)
        self.decided: list[int] = []
        self.relearns: list[set[int]] = []

    def relearn(self) -> str:
        done = set(self.decided)
        self.relearns.append(done)
        for i in range(len(self.items)):
            self.shown[i] = self.batch[i] if i in done else (["a"], 0.5)
        return "codes"


def test_each_passage_is_suggested_once_with_every_other_fold_decided():
    study = FakeStudy(23)
    result = ceiling(study, folds=5)
    assert len(study.relearns) == 5
    for k, done in enumerate(study.relearns):
        held = set(range(k, 23, 5))
        assert done == set(range(23)) - held  # the held fold pending, everything else decided
    assert result["wrong"] == 11  # the odd passages, suggested "a" where gold is nothing
    assert result["batch_wrong"] == 12  # the even passages, which the batch run left uncoded
    assert result["chosen"] == ["codes"] * 5


def test_the_simulated_reviewer_takes_the_most_uncertain_passage_or_the_next_in_file_order():
    from benchmarks.review_effort import next_passage

    items = [SimpleNamespace(id=f"p{i}") for i in range(4)]
    study = SimpleNamespace(items=items, decided=[0], shown={0: ([], 0.9), 1: ([], 0.1), 2: ([], 0.7), 3: ([], 0.7)})
    assert next_passage(study, "uncertain") == 2  # the most uncertain pending; ties by id
    assert next_passage(study, "file") == 1
