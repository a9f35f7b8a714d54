"""Which suggestions the review page shows after a relearn: whichever of three made the
fewest wrong suggestions (pre-selected codes that are not the reviewer's) on the passages
already decided, each judged on passages it did not learn from:

- **batch**: the batch run's codes (never trained on the decisions: judged as they are);
- **codes**: `qcode learn`'s learner, one model per code blended with the codebook
  (its out-of-fold scores, decided as it decides);
- **decisions**: a model of whole decisions, one multinomial logistic regression over the
  sets of codes reviewers have given (no code, one code, a pair...), on each passage's mean
  unit vector beside its codebook scores (as logits, scaled to the vectors' norm) and its
  form (`form_features`: whether it asks, how long it is; 5-fold out of fold). It learns
  what reviewers do with a code that is often near another, and that most passages get
  one code or none, which per-code models miss.

A learned model replaces the batch run's suggestions only when it misses fewer passages
by more than one standard error of the paired difference (`beats`), so that it is not
swapped in on noise; between learned models, the fewest wrong wins. Before any code
could be cross-checked (too few decisions each way) the per-code model's out-of-fold
scores are the codebook's own, so it is taken unless it is worse: as in `qcode learn`,
the first decisions already move its scores, by the blend weight. On the dev parts of four coded sets
this cut wrong suggestions against the per-code model alone from 267 to 229 of 600
(AnnoMI practitioner) and was within a few passages elsewhere; the form features took it
to 206 and scaling the codebook logits to 194 (docs/reviewing.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from ..learn import SOLVER
from ..units import UnitVectors

C = 2.0  # as the codebook tagger's and the learner's
FOLDS = 5
MIN_SEEN = 2  # times reviewers gave a decision before the decision model suggests it
CHOICES = ("batch", "codes", "decisions")  # ties: the first


def form_features(texts: list[str]) -> np.ndarray:
    """What a sentence embedding blurs and coders of talk often code by, its form: whether
    the passage ends with a question mark, whether it holds one, and log(1 + words) / 5
    (chosen on the dev parts: docs/reviewing.md)."""
    rows = [(t.rstrip().endswith("?"), "?" in t, np.log1p(len(t.split())) / 5) for t in texts]
    return np.array(rows, dtype=float).reshape(len(texts), 3)


def codebook_logits(codebook_scores: np.ndarray) -> tuple[np.ndarray, float]:
    """(the logits of the codebook-only scores divided by their root-mean-square row norm
    over the passages given, that divisor). Scaled so that the codebook's block weighs as
    the mean unit vectors (norm about 1) do whatever the number of codes: raw, with 27
    codes, its norm was about 15 and the decision model's fit took 15 times as long
    (docs/reviewing.md)."""
    p = np.clip(codebook_scores, 1e-4, 1 - 1e-4)
    logits = np.log(p / (1 - p))
    scale = float(np.sqrt((logits**2).sum(1).mean())) if logits.size else 1.0
    return logits / max(scale, 1e-12), scale


def passage_features(units: UnitVectors, codebook_scores: np.ndarray, texts: list[str]) -> np.ndarray:
    """Each passage's mean unit vector beside its scaled codebook logits (codebook_logits,
    over these passages: give the whole study) and its form_features."""
    sums = np.add.reduceat(units.vectors, units.bounds[:-1], axis=0) if len(units) else units.vectors[:0]
    means = sums / np.diff(units.bounds)[:, None]
    return np.hstack([means, codebook_logits(codebook_scores)[0], form_features(texts)])


@dataclass
class DecisionModel:
    """Multinomial logistic regression over whole decisions (sets of codes)."""

    seed: int
    classes_: list[tuple[str, ...]] | None = None
    model_: LogisticRegression | None = None

    def fit(self, X: np.ndarray, decisions: list[tuple[str, ...]]) -> DecisionModel:
        """Learn the decisions reviewers gave at least MIN_SEEN times (all, if none was);
        a decision seen once is too rare to suggest and costs the fit most of its time."""
        counts = Counter(decisions)
        self.classes_ = sorted(d for d, n in counts.items() if n >= MIN_SEEN) or sorted(counts)
        keep = [i for i, d in enumerate(decisions) if d in set(self.classes_)]
        y = np.array([self.classes_.index(decisions[i]) for i in keep])
        if len(self.classes_) > 1:
            self.model_ = LogisticRegression(C=C, solver=SOLVER, max_iter=3000, random_state=self.seed).fit(X[keep], y)
        return self

    def proba(self, X: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities of each decision."""
        if self.model_ is None:
            return np.ones((len(X), 1))
        out = np.zeros((len(X), len(self.classes_)))
        out[:, self.model_.classes_] = self.model_.predict_proba(X)
        return out

    def out_of_fold_misses(self, X: np.ndarray, decisions: list[tuple[str, ...]]) -> np.ndarray:
        """Per decided passage: whether its out-of-fold best decision is not the reviewer's."""
        missed = np.zeros(len(decisions), dtype=bool)
        for train, test in KFold(min(FOLDS, len(decisions)), shuffle=True, random_state=self.seed).split(X):
            part = DecisionModel(self.seed).fit(X[train], [decisions[i] for i in train])
            best = part.proba(X[test]).argmax(1)
            missed[test] = [part.classes_[b] != decisions[i] for b, i in zip(best, test)]
        return missed

    def suggestions(self, X: np.ndarray, code_ids: list[str], shown: int) -> list[tuple[list[dict], list[str], float]]:
        """Per passage: (suggestions: each code's probability of being in the decision,
        the best decision's codes, 1 - that decision's probability)."""
        P = self.proba(X)
        member = np.array([[code in d for code in code_ids] for d in self.classes_], dtype=float)
        marginal = P @ member
        out = []
        for row, m in zip(P, marginal):
            best = self.classes_[int(row.argmax())]
            order = [int(k) for k in np.argsort(-m, kind="stable")]
            keep = [k for k in order if code_ids[k] in best] + [k for k in order if code_ids[k] not in best]
            rows = [
                {"code": code_ids[k], "score": round(float(m[k]), 4), "rationale": RATIONALE}
                for k in keep[: max(len(best), shown)]
            ]
            out.append((rows, list(best), round(float(1 - row.max()), 4)))
        return out


RATIONALE = "learned from your decisions: the probability reviewers' decision includes this code"


def misses(codes: list[list[str]], decisions: list[tuple[str, ...]]) -> np.ndarray:
    """Per decided passage: whether these pre-selected codes were not the reviewer's."""
    return np.array([set(c) != set(d) for c, d in zip(codes, decisions)], dtype=bool)


def beats(candidate: np.ndarray, batch: np.ndarray) -> bool:
    """Whether a learned model's misses are fewer than the batch run's by more than one
    standard error of the paired difference (sqrt of the passages where only one of them
    missed, as in McNemar's test): a model is not swapped in on noise."""
    only_one = int((candidate != batch).sum())
    return bool(int(batch.sum()) - int(candidate.sum()) > np.sqrt(only_one))


def choose(tagger, features: np.ndarray, decisions: list[tuple[str, ...]], batch_codes: list[list[str]] | None):
    """(choice, {choice: wrong on the decided passages}, the decision model fitted on all
    of them). `tagger`: a LearnedTagger fitted on these decisions, in order; `features`:
    passage_features of the decided passages."""
    ids = tagger.codebook.code_ids
    missed = {"codes": misses([[ids[k] for k in row] for row in tagger.decide(tagger.oof_scores_)], decisions)}
    model = DecisionModel(tagger.config.seed).fit(features, decisions)
    if len(model.classes_) > 1 and len(decisions) >= FOLDS:
        missed["decisions"] = model.out_of_fold_misses(features, decisions)
    wrong = {name: int(m.sum()) for name, m in missed.items()}
    unchecked = tagger.cv_ is not None and tagger.cv_["checked_codes"] == 0
    if batch_codes is None:
        return min(wrong, key=lambda c: (wrong[c], CHOICES.index(c))), wrong, model
    batch = misses(batch_codes, decisions)
    wrong = {"batch": int(batch.sum()), **wrong}
    if unchecked and wrong["codes"] <= wrong["batch"]:
        return "codes", wrong, model  # no code checked yet: its scores are the codebook's, moved by the blend
    better = [name for name, m in missed.items() if beats(m, batch)]
    best = min(better, key=lambda c: (wrong[c], CHOICES.index(c))) if better else "batch"
    return best, wrong, model
