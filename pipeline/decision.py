"""A model of whole decisions: which set of codes a coder gives a passage (none, one code,
a pair...), one multinomial logistic regression over the sets coders have given.

Its features describe the passage as a coder meets it (`passage_features`): the mean of its
unit vectors, its codebook-only scores (as logits scaled to the vectors' norm), its form
(`form_features`: whether it asks, how long it is) and, where the passages' documents are
known, its neighbours (`neighbour_means`: the mean vectors of the passages just before and
after it in the same transcript, half weight). Think-aloud, classroom and counselling codes
often depend on what came just before, which a passage alone does not show.

Per-code models miss what such a model learns: that most passages get one code or none,
and what coders do with a code that is often near another. `qcode learn` (learn/heads.py) and
the review page (reviewing/choice.py) use it where it agrees better with the coders out of
fold; folds are whole documents where the documents are known, so that a passage's
neighbours never carry its own label into the check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold

from .units import UnitVectors

C = 2.0  # as the codebook tagger's and the per-code learner's
FOLDS = 5
MIN_SEEN = 2  # times coders gave a decision before the decision model suggests it
NEIGHBOUR_WEIGHT = 0.5  # the neighbours' mean vectors weigh half the passage's own
# A document's rate of each decision starts from the study-wide rate, worth this many
# decided passages, so one or two decisions move it only a little.
DOCUMENT_PRIOR = 3.0
DOCUMENT_WEIGHT = 0.3  # the log rates' block weighs about as the mean unit vector does
# Newton-CG rather than L-BFGS: the same regularised loss, reached in a few exact steps
# (docs/reviewing.md: 15 times as fast on 27 codes).
SOLVER = "newton-cg"
# The most probable decision is the one a coder most often gives, so it seldom names a rare
# code, and agreement per code (mean kappa) suffers. `best` may instead take the decision
# that is most probable *for how common it is*: argmax p(d | x) / prior(d) ** power, power
# 0 (the most probable) to 1 (each decision as if all were equally common). `qcode learn`
# chooses the power from POWERS out of fold (learn/heads.py); the review page, which counts wrong
# pre-selections, keeps 0.
POWERS = (0.0, 0.25, 0.5, 0.75, 1.0)


def form_features(texts: list[str]) -> np.ndarray:
    """What a sentence embedding blurs and coders of talk often code by, its form: whether
    the passage ends with a question mark, whether it holds one, and log(1 + words) / 5
    (chosen on the dev parts: docs/reviewing.md)."""
    rows = [(t.rstrip().endswith("?"), "?" in t, np.log1p(len(t.split())) / 5) for t in texts]
    return np.array(rows, dtype=float).reshape(len(texts), 3)


def codebook_logits(codebook_scores: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """(the logits of the codebook-only scores divided by `scale`, that scale). By default
    the scale is their root-mean-square row norm over the passages given, so that the
    codebook's block weighs as the mean unit vectors (norm about 1) do whatever the number
    of codes; a fitted model passes the scale it learned with."""
    p = np.clip(codebook_scores, 1e-4, 1 - 1e-4)
    logits = np.log(p / (1 - p))
    if scale is None:
        scale = float(np.sqrt((logits**2).sum(1).mean())) if logits.size else 1.0
    return logits / max(scale, 1e-12), scale


def passage_means(units: UnitVectors) -> np.ndarray:
    """Each passage's mean unit vector."""
    if not len(units):
        return np.asarray(units.vectors[:0], dtype=np.float64)
    sums = np.add.reduceat(np.asarray(units.vectors, dtype=np.float64), units.bounds[:-1], axis=0)
    return sums / np.diff(units.bounds)[:, None]


def neighbour_means(means: np.ndarray, groups: list | None) -> np.ndarray:
    """(n, 2d): the mean vectors of the passage before and the passage after each one in
    the same group (its document), in the order given, times NEIGHBOUR_WEIGHT; zeros at a
    document's edges and everywhere when `groups` is None."""
    out = np.zeros((len(means), 2 * means.shape[1]))
    if groups is None or len(means) < 2:
        return out
    same = np.array([a == b and a is not None for a, b in zip(groups[:-1], groups[1:])], dtype=bool)
    d = means.shape[1]
    out[1:, :d][same] = means[:-1][same]
    out[:-1, d:][same] = means[1:][same]
    return out * NEIGHBOUR_WEIGHT


def decided_codes(labels: list, code_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """((n, codes + 1) the codes given to each passage and, last, whether it got none;
    whether each passage is decided). `labels[i]` is None where passage i is not."""
    given = np.zeros((len(labels), len(code_ids) + 1))
    index = {code: j for j, code in enumerate(code_ids)}
    for i, label in enumerate(labels):
        if label is not None:
            for code in label:
                if code in index:
                    given[i, index[code]] = 1.0
            given[i, -1] = float(not any(code in index for code in label))
    return given, np.array([label is not None for label in labels], dtype=bool)


def document_rates(labels: list, groups: list | None, code_ids: list[str]) -> np.ndarray:
    """(n, codes + 1): for each passage, how often each code (and, last, no code) was
    given to the *other* decided passages of its document (`groups`), shrunk toward the
    rate over every decided passage by DOCUMENT_PRIOR passages; as logs, times
    DOCUMENT_WEIGHT. `labels[i]` is None where passage i is not decided. A passage with
    no decided neighbour in its document (or no document) gets the study-wide rate.

    On the review page reviewers decide passages of one transcript after another, and the
    codes a transcript has already received say much about the rest of it (a client who
    argues against change, a lesson run as discussion)."""
    given, decided = decided_codes(labels, code_ids)
    n, width = given.shape
    overall = given[decided].mean(0) if decided.any() else np.full(width, 1.0 / width)
    sums, counts = np.zeros((n, width)), np.zeros(n)
    if groups is not None:
        doc = np.unique(np.array([str(g) for g in groups]), return_inverse=True)[1]
        mine = np.array([g is not None for g in groups], dtype=bool)
        known = mine & decided
        by_doc, by_doc_n = np.zeros((doc.max() + 1, width)), np.zeros(doc.max() + 1)
        np.add.at(by_doc, doc[known], given[known])
        np.add.at(by_doc_n, doc[known], 1.0)
        sums[mine] = by_doc[doc[mine]] - given[mine] * known[mine, None]
        counts[mine] = by_doc_n[doc[mine]] - known[mine]
    rates = (sums + DOCUMENT_PRIOR * overall) / (counts + DOCUMENT_PRIOR)[:, None]
    return np.log(rates + 1e-3) * DOCUMENT_WEIGHT


def neighbour_decisions(labels: list, groups: list | None, code_ids: list[str]) -> np.ndarray:
    """(n, 2 (codes + 1)): the codes given to the passage just before and the passage just
    after each one in its document (as `decided_codes` writes them), times
    NEIGHBOUR_WEIGHT; zeros where that neighbour is not decided, at a document's edges
    and everywhere when `groups` is None. A student's move answers the one before it."""
    given, _ = decided_codes(labels, code_ids)
    return neighbour_means(given, groups)


def transcript_features(labels: list, groups: list | None, code_ids: list[str]) -> np.ndarray:
    """What a passage's transcript has received so far: its document_rates beside its
    neighbour_decisions."""
    return np.hstack([document_rates(labels, groups, code_ids), neighbour_decisions(labels, groups, code_ids)])


def passage_texts(units: UnitVectors) -> list[str]:
    """Each passage's text from its units' texts (as the units cut it)."""
    if units.texts is None:
        raise ValueError("passage features need the units' texts")
    return units.passage_texts()


def passage_features(
    units: UnitVectors,
    codebook_scores: np.ndarray,
    texts: list[str],
    *,
    scale: float | None = None,
    groups: list | None = None,
    context: bool = False,
) -> np.ndarray:
    """Each passage's mean unit vector beside its scaled codebook logits, its form and,
    with `context`, its neighbours' mean vectors (by `groups`, in order)."""
    means = passage_means(units)
    blocks = [means, codebook_logits(codebook_scores, scale)[0], form_features(texts)]
    if context:
        blocks.append(neighbour_means(means, groups))
    return np.hstack(blocks)


def folds(n: int, groups: list | None, seed: int):
    """(train, test) index pairs: whole documents per fold where at least FOLDS documents
    are known, else shuffled passages."""
    if groups is not None and len(set(groups)) >= FOLDS:
        codes = np.unique(np.array([str(g) for g in groups]), return_inverse=True)[1]
        return list(GroupKFold(FOLDS).split(np.zeros(n), groups=codes))
    return list(KFold(min(FOLDS, n), shuffle=True, random_state=seed).split(np.zeros(n)))


def code_prior(decisions: list[tuple[str, ...]], code_ids: list[str]) -> np.ndarray:
    """Each code's share of these decisions, kept off 0 and 1 (add a half, as Jeffreys)."""
    counts = np.array([sum(code in d for d in decisions) for code in code_ids], dtype=float)
    return (counts + 0.5) / (len(decisions) + 1.0)


def balanced_logits(marginals: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """A model of whole decisions' code probabilities as log-odds against each code's
    prior odds: 0 where a passage is as likely to carry the code as any passage, the
    point where the per-code models (balanced classes) stand at 0.5."""
    return _logit(marginals) - _logit(prior)


def combined_scores(per_code: np.ndarray, balanced: np.ndarray) -> np.ndarray:
    """The per-code models' scores and a model of whole decisions' balanced log-odds,
    averaged as log-odds (learned-blend-v10, "combined")."""
    return 1.0 / (1.0 + np.exp(-(0.5 * _logit(per_code) + 0.5 * balanced)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p) - np.log1p(-p)


def mean_kappa(Y: np.ndarray, P: np.ndarray) -> float:
    """Mean Cohen's kappa over the codes present in Y (label matrices, passages x codes);
    a code whose kappa is undefined is left out, as in `qcode evaluate`."""
    Y, P = Y.astype(bool), P.astype(bool)
    tp, fp = (Y & P).sum(0), (~Y & P).sum(0)
    fn, tn = (Y & ~P).sum(0), (~Y & ~P).sum(0)
    denom = (tp + fp) * (fp + tn) + (tp + fn) * (fn + tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(denom > 0, 2.0 * (tp * tn - fn * fp) / denom, np.nan)
    k = k[Y.sum(0) > 0]
    return float(np.nanmean(k)) if np.isfinite(k).any() else 0.0


def kappa_gain_se(Y: np.ndarray, A: np.ndarray, B: np.ndarray, groups: list | None, seed: int, rounds: int = 200):
    """Bootstrap standard error of mean_kappa(Y, A) - mean_kappa(Y, B) over the same
    passages, resampling whole documents where they are known (passages of one document
    are alike), else passages."""
    rng = np.random.default_rng(seed)
    if groups is not None and len(set(groups)) >= FOLDS:
        members: dict = {}
        for i, g in enumerate(groups):
            members.setdefault(g, []).append(i)
        blocks = [np.array(v) for v in members.values()]
        draws = [np.concatenate([blocks[j] for j in rng.integers(0, len(blocks), len(blocks))]) for _ in range(rounds)]
    else:
        draws = list(rng.integers(0, len(Y), size=(rounds, len(Y))))
    gains = [mean_kappa(Y[d], A[d]) - mean_kappa(Y[d], B[d]) for d in draws]
    return float(np.std(gains))


def chosen_on_gain(Y: np.ndarray, P: dict, kappa: dict, groups: list | None, seed: int) -> tuple:
    """(the chosen key, {key: its gain over the one it was tried against}): the keys of P
    (label matrices of candidate decisions, in order) are tried in turn, and each
    replaces the one chosen so far (at first the first) only where its mean kappa is
    higher by more than the bootstrap standard error of the difference: not on noise."""
    order = list(P)
    chosen, gains = order[0], {}
    for key in order[1:]:
        se = kappa_gain_se(Y, P[key], P[chosen], groups, seed)
        gains[key] = {"over": chosen, "gain": round(kappa[key] - kappa[chosen], 4), "se": round(se, 4)}
        if kappa[key] - kappa[chosen] > se:
            chosen = key
    return chosen, gains


@dataclass
class DecisionModel:
    """Multinomial logistic regression over whole decisions (sets of codes)."""

    seed: int
    power: float = 0.0  # how far `best` corrects for how common each decision is (POWERS)
    classes_: list[tuple[str, ...]] | None = None
    model_: LogisticRegression | None = None
    prior_: np.ndarray | None = None  # each class's share of the passages it learned from

    def fit(self, X: np.ndarray, decisions: list[tuple[str, ...]]) -> DecisionModel:
        """Learn the decisions coders gave at least MIN_SEEN times (all, if none was);
        a decision seen once is too rare to suggest and costs the fit most of its time."""
        counts = Counter(decisions)
        self.classes_ = sorted(d for d, n in counts.items() if n >= MIN_SEEN) or sorted(counts)
        keep = [i for i, d in enumerate(decisions) if d in set(self.classes_)]
        y = np.array([self.classes_.index(decisions[i]) for i in keep])
        self.prior_ = np.bincount(y, minlength=len(self.classes_)) / max(len(y), 1)
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

    def best(self, X: np.ndarray, power: float | None = None) -> list[tuple[str, ...]]:
        """Each passage's best decision: the most probable for how common it is, at
        `power` (by default the model's; 0: simply the most probable)."""
        power = self.power if power is None else power
        score = self.proba(X)
        if power and self.prior_ is not None and len(self.classes_) > 1:
            score = np.log(score + 1e-12) - power * np.log(np.maximum(self.prior_, 1e-12))
        return [self.classes_[int(b)] for b in score.argmax(1)]

    def out_of_fold(self, X: np.ndarray, decisions: list[tuple[str, ...]], groups: list | None = None):
        """Each passage's best decision by a model that did not learn from its fold."""
        return self.out_of_fold_by_power(X, decisions, groups, (self.power,))[self.power]

    def out_of_fold_by_power(
        self, X: np.ndarray, decisions: list[tuple[str, ...]], groups: list | None, powers: tuple[float, ...]
    ) -> dict[float, list[tuple[str, ...]]]:
        """{power: each passage's best decision at that power by a model that did not
        learn from its fold}: one fit per fold for all the powers."""
        return self.out_of_fold_fits(X, decisions, groups, powers, [])[0]

    def out_of_fold_fits(
        self,
        X: np.ndarray,
        decisions: list[tuple[str, ...]],
        groups: list | None,
        powers: tuple[float, ...],
        code_ids: list[str],
    ) -> tuple[dict[float, list[tuple[str, ...]]], np.ndarray]:
        """As `out_of_fold_by_power`, and (passages, codes) each code's `balanced_logits`
        by the same fits: its probability of being in the decision, out of fold."""
        out: dict[float, list] = {p: [()] * len(decisions) for p in powers}
        balanced = np.zeros((len(decisions), len(code_ids)))
        for train, test in folds(len(decisions), groups, self.seed):
            seen = [decisions[i] for i in train]
            part = DecisionModel(self.seed).fit(X[train], seen)
            for p in powers:
                for i, d in zip(test, part.best(X[test], p)):
                    out[p][i] = d
            if code_ids:
                balanced[test] = balanced_logits(part.marginals(X[test], code_ids), code_prior(seen, code_ids))
        return out, balanced

    def out_of_fold_misses(self, X: np.ndarray, decisions: list[tuple[str, ...]], groups: list | None = None):
        """Per decided passage: whether its out-of-fold best decision is not the coder's."""
        oof = self.out_of_fold(X, decisions, groups)
        return np.array([set(p) != set(d) for p, d in zip(oof, decisions)], dtype=bool)

    def marginals(self, X: np.ndarray, code_ids: list[str]) -> np.ndarray:
        """(n, codes): each code's probability of being in the decision."""
        member = np.array([[code in d for code in code_ids] for d in self.classes_], dtype=float)
        return self.proba(X) @ member

    def suggestions(
        self, X: np.ndarray, code_ids: list[str], shown: int, rationale: str | None = None
    ) -> list[tuple[list[dict], list[str], float]]:
        """Per passage: (suggestions: each code's probability of being in the decision,
        the best decision's codes, 1 - that decision's probability)."""
        P = self.proba(X)
        marginal = self.marginals(X, code_ids)
        out = []
        for row, m in zip(P, marginal):
            best = self.classes_[int(row.argmax())]
            order = [int(k) for k in np.argsort(-m, kind="stable")]
            keep = [k for k in order if code_ids[k] in best] + [k for k in order if code_ids[k] not in best]
            rows = [
                {"code": code_ids[k], "score": round(float(m[k]), 4), "rationale": rationale or RATIONALE}
                for k in keep[: max(len(best), shown)]
            ]
            out.append((rows, list(best), round(float(1 - row.max()), 4)))
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted weights, to save beside a model (classes go in its JSON)."""
        if self.model_ is None:
            return {}
        fitted = {"coef": self.model_.coef_, "intercept": self.model_.intercept_, "fitted": self.model_.classes_}
        return fitted | ({"prior": self.prior_} if self.power else {})

    @classmethod
    def from_arrays(cls, seed: int, classes: list[tuple[str, ...]], arrays: dict, power: float = 0.0) -> DecisionModel:
        model = cls(seed, power=power, classes_=[tuple(c) for c in classes])
        model.prior_ = np.asarray(arrays["prior"]) if "prior" in arrays else None
        if "coef" in arrays:
            lr = LogisticRegression(C=C, solver=SOLVER)
            lr.coef_, lr.intercept_ = np.asarray(arrays["coef"]), np.asarray(arrays["intercept"])
            lr.classes_ = np.asarray(arrays["fitted"])
            model.model_ = lr
        return model


RATIONALE = "learned from coded passages: the probability the coders' decision includes this code"
DOCUMENT_RATIONALE = RATIONALE + ", given the codes already decided in this transcript"
