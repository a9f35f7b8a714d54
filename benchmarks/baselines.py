"""Learners qcode is compared with, kept here so every benchmark scores them on the same
folds: the previous `qcode learn` (learned-logreg-v2, replaced by learned-blend-v3) and a
supervised TF-IDF + LinearSVC trained on the same reviewed passages; and a plain logistic
regression on the same frozen vectors, one code per passage (the floor issue 35 sets)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from pipeline.decision import neighbour_means, passage_means
from pipeline.evaluate import label_matrix
from pipeline.learn import Labelled, f1_of, paired_f1_se
from pipeline.learn.settings import HEADS
from pipeline.tag import CodebookTagger
from pipeline.units import UnitVectors, embed_units


class PreviousLearner:
    """learned-logreg-v2: for each code with at least 10 reviewed passages each way, a
    balanced logistic regression on the reviewed units plus the codebook's sentences,
    Platt-calibrated on 5-fold out-of-fold scores, with the threshold that maximises
    out-of-fold F1; kept only if its F1 beats codebook scoring by more than the gain's
    bootstrap standard error (the one-standard-error rule)."""

    MIN_EXAMPLES, C, FOLDS = 10, 1.0, 5

    def __init__(self, codebook, config):
        self.codebook, self.config = codebook, config

    def fit(self, embedder, data: Labelled) -> PreviousLearner:
        base = CodebookTagger(self.codebook, config=self.config).fit(embedder)
        self.base = base
        self.coef_, self.intercept_ = base.coef_.copy(), base.intercept_.copy()
        self.thresholds_ = np.full(len(self.codebook.codes), self.config.threshold)
        if not data.texts:
            return self
        units = embed_units(embedder, data.texts, self.config)
        X, owner = units.vectors, np.repeat(np.arange(len(units)), np.diff(units.bounds))
        Y = label_matrix(data.labels, self.codebook.code_ids)
        base_scores = base.score(units)
        for k in range(len(self.codebook.codes)):
            self._fit_code(k, X, owner, Y[:, k].astype(int), base_scores[:, k])
        return self

    def _classifier(self, X, y):
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, random_state=self.config.seed).fit(
            X, y
        )

    def _fit_code(self, k, X, owner, y, base_p):
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        if pos < self.MIN_EXAMPLES or neg < self.MIN_EXAMPLES:
            return
        rows, cb_y = self.base.prototypes_.training_set(k)
        cb_X = self.base.vectors_[rows]
        oof = np.zeros(len(y))
        for train, test in StratifiedKFold(
            min(self.FOLDS, pos, neg), shuffle=True, random_state=self.config.seed
        ).split(np.zeros(len(y)), y):
            fit = np.isin(owner, train)
            clf = self._classifier(np.vstack([X[fit], cb_X]), np.concatenate([y[owner[fit]], cb_y]))
            rows_t = np.flatnonzero(np.isin(owner, test))
            oof[test] = np.maximum.reduceat(clf.decision_function(X[rows_t]), np.searchsorted(owner[rows_t], test))
        platt = LogisticRegression(C=1e6, max_iter=1000, random_state=self.config.seed).fit(oof[:, None], y)
        a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        p = expit(a * oof + b)
        cuts = np.round(np.arange(0.10, 0.91, 0.05), 2)
        threshold = max(cuts, key=lambda t: (round(float(f1_of(y, p >= t)), 6), -abs(t - 0.5)))
        gain = float(f1_of(y, p >= threshold) - f1_of(y, base_p >= self.config.threshold))
        if gain <= paired_f1_se(y, p >= threshold, base_p >= self.config.threshold, seed=self.config.seed):
            return
        clf = self._classifier(np.vstack([X, cb_X]), np.concatenate([y[owner], cb_y]))
        self.coef_[k], self.intercept_[k], self.thresholds_[k] = a * clf.coef_[0], a * clf.intercept_[0] + b, threshold

    def predict(self, units: UnitVectors) -> list[list[str]]:
        p = np.maximum.reduceat(expit(units.vectors @ self.coef_.T + self.intercept_), units.bounds[:-1], axis=0)
        return [
            [
                self.codebook.code_ids[k]
                for k in np.argsort(-row, kind="stable")[: self.config.max_codes]
                if row[k] >= self.thresholds_[k]
            ]
            for row in p
        ]


class TfidfSvc:
    """TF-IDF (words and word pairs, sublinear tf) and one LinearSVC per code, trained on
    the reviewed passages alone; a code is applied where its decision value is positive.
    A code no reviewed passage has is never applied."""

    def __init__(self, codebook, seed: int = 42):
        self.codebook, self.seed = codebook, seed

    def fit(self, texts: list[str], labels: list[list[str]]) -> TfidfSvc:
        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        X = self.vectorizer_.fit_transform(texts)
        Y = label_matrix(labels, self.codebook.code_ids)
        self.models_ = [
            LinearSVC(C=1.0, random_state=self.seed).fit(X, Y[:, k]) if 0 < Y[:, k].sum() < len(Y) else None
            for k in range(Y.shape[1])
        ]
        return self

    def predict(self, texts: list[str]) -> list[list[str]]:
        X = self.vectorizer_.transform(texts)
        on = np.stack(
            [m.decision_function(X) > 0 if m is not None else np.zeros(X.shape[0], dtype=bool) for m in self.models_],
            axis=1,
        )
        return [[self.codebook.code_ids[k] for k in np.flatnonzero(row)] for row in on]


NONE = "(none)"
# qcode's learner as learned-blend-v9 decided (the benchmarks' learner `qcode-v9`): one
# way of deciding at a time, without v10's "combined".
ONE_WAY_AT_A_TIME = tuple(h for h in HEADS if h != "combined")


def logreg_top1(items, units, train, test, *, neighbours: bool, seed: int) -> list[list[str]]:
    """One code per passage (its first label, or none) from a plain logistic regression."""
    X = passage_means(units)
    if neighbours:
        X = np.hstack([X, neighbour_means(X, [it.document for it in items])])
    y = [items[i].labels[0] if items[i].labels else NONE for i in train]
    if len(set(y)) < 2:
        return [[] if y[0] == NONE else [y[0]] for _ in test]
    clf = LogisticRegression(C=4.0, max_iter=3000, random_state=seed).fit(X[train], y)
    return [[] if p == NONE else [p] for p in clf.predict(X[test])]
