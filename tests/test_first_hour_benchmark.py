"""benchmarks/first_hour.py: when the simulated reviewer first meets each code (offered on
a passage it decides, or given to it), and the count within 3 x codes decisions that issue
36 asks for (a fake page stands in for the page's learning; the real one is run by the
benchmark on real sets)."""

from types import SimpleNamespace

from benchmarks.first_hour import first_hour


class FakePage:
    """Passages taken in file order; passage i offers `offered[i]` and carries `labels[i]`."""

    def __init__(self, offered: list[list[str]], labels: list[list[str]], code_ids: list[str]):
        self.items = [SimpleNamespace(id=f"p{i}", labels=lab) for i, lab in enumerate(labels)]
        self.offered = [{c: 0.9 for c in off} for off in offered]
        self.shown = {i: (list(off), 0.5) for i, off in enumerate(offered)}
        self.batch = dict(self.shown)
        self.codebook = SimpleNamespace(code_ids=code_ids)
        self.decided: list[int] = []
        self.choices: list = []
        self.relearns = 0

    def next_passage(self, queue: str) -> int:
        return len(self.decided)

    def decide(self, n: int) -> None:
        self.decided.append(n)

    def relearn(self) -> None:
        self.relearns += 1


def test_each_code_is_met_where_it_is_first_offered_or_given_and_counted_within_three_per_code():
    offered = [["a"], [], ["b"], [], [], [], [], ["c"]] + [[]] * 4
    labels = [["a"], ["b"], ["b"], [], [], [], [], ["c"]] + [[]] * 4
    page = FakePage(offered, labels, ["a", "b", "c"])  # horizon 9
    result = first_hour(page, decisions=9, queue="new", relearn_every=4)
    assert result["first_met"] == {"a": 1, "b": 2, "c": 8}  # b given on the second, before it was offered
    assert result["horizon"] == 9
    assert result["codes_met_by_horizon"] == 3
    assert page.relearns == 2


def test_a_code_met_after_the_horizon_does_not_count_and_too_few_decisions_count_nothing():
    offered = [[]] * 9 + [["c"]] + [[]] * 2
    labels = [["a"]] + [[]] * 8 + [["c"]] + [[]] * 2
    page = FakePage(offered, labels, ["a", "b", "c"])
    result = first_hour(page, decisions=10, queue="new")
    assert result["first_met"] == {"a": 1, "c": 10}
    assert result["codes_present"] == 2 and result["codes_met_by_horizon"] == 1
    short = first_hour(FakePage(offered, labels, ["a", "b", "c"]), decisions=8, queue="new")
    assert short["codes_met_by_horizon"] is None  # 8 decisions cannot say what 9 would meet
