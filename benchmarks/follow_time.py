"""Milliseconds the review page spends after a decision to rescore the rest of its
transcript (`reviewing/context.py`), on pages of 600 to 10,000 passages: a model of whole
decisions fitted on half of them (768-d vectors as mpnet's, transcripts of 60 passages),
then one more decision, rescored over that transcript (as the page does) and over every
transcript.

    .venv/bin/python benchmarks/follow_time.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import Config  # noqa: E402
from pipeline.decision import DecisionModel, transcript_features  # noqa: E402
from pipeline.reviewing.context import Context  # noqa: E402

PAGES = ((600, 4), (2000, 22), (10000, 30))  # (passages, codes)


def page(n: int, c: int, rng) -> tuple[Context, list]:
    """A Context over n passages and c codes, half of them decided, and their labels."""
    codes = [f"c{k}" for k in range(c)]
    groups = [f"t{i // 60}" for i in range(n)]
    labels = [[codes[rng.integers(c)]] if i < n // 2 else None for i in range(n)]
    X = rng.normal(size=(n, 768 + c + 3))
    features = np.hstack([X, transcript_features(labels, groups, codes)])
    model = DecisionModel(Config().seed).fit(features[: n // 2], [tuple(label) for label in labels[: n // 2]])
    return Context(model, [str(i) for i in range(n)], X, [None] * n, groups, codes, 3), labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(Config().seed)
    for n, c in PAGES:
        context, labels = page(n, c, rng)
        labels[n // 2] = [context.code_ids[0]]  # one more decision
        for what, changed in (("its transcript", [str(n // 2)]), ("every transcript", None)):
            started = time.perf_counter()
            for _ in range(args.repeat):
                context.suggestions(labels, changed)
            ms = (time.perf_counter() - started) / args.repeat * 1000
            print(f"{n:>6} passages, {c:>2} codes, rescoring {what}: {ms:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
