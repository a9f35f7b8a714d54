"""For each code, one logistic regression learns from the codebook's own sentences and the
study units the codebook-only tagger took as the code's examples (adapt.py, `adapt`)
together with the units of the reviewed passages, each taking its passage's label. Each
source is balanced on its own (positives and negatives weigh alike within the codebook's
rows, and within the reviews), so that neither the codebook's style nor the reviews'
style passes for evidence. A passage's score for the code blends the codebook-only score
and this model's, with weight `m / (m + N0)` on the learned one, where m is the smaller
of the code's reviewed positives and negatives: with N0 = 5, five of each give half and
half, 45 nine tenths learned. How far the codebook is trusted is chosen from the reviews
(`TRUST`, from 40 reviewed passages): the codebook's rows weigh 1 and N0 is 5, or they
weigh 0.3 and N0 is 2, whichever agrees better with the reviewers out of fold, pooled
over codes (a codebook of bare definitions is often a poor guide to a study's coding, a
rich one a good one). Below 40, a codebook whose every code is a bare definition is
trusted less, any other fully.
Nothing waits for a minimum count, so the first reviews already move the scores, and a
code reviewers have not yet seen both ways is scored exactly as before.

No-harm check, per code: 5-fold cross-validation over the reviewed passages compares the
blended scores with codebook-only scores on the same passages (F1 at the threshold). A
code whose learned F1 falls below the codebook's by more than the bootstrap standard error
of the difference keeps codebook scoring. With few reviews that error is wide, so the
check stops only clear harm; the blend weight is what keeps a handful of reviews from
moving a code far.

Word features, per code, once reviewers have coded at least 500 passages and this code on
at least 10 each way:
the same folds also score a linear SVM on the unit's embedding beside hashed word and
word-pair tf-idf (`lexical.py`), with the threshold that maximises its out-of-fold F1; the
code switches to it only if that F1 beats the blend's by more than the bootstrap standard
error. Its scores are mapped so that its threshold sits at 0.5, so `--threshold` moves
every code alike. Everything is linear: a model is a few matrices saved with numpy; one
seed drives every random state. (The choices, and what did not work, are in
docs/tagging.md.)

`PerCodeModels` holds this part of `LearnedTagger` (tagger.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

from ..codebook import thin_codes
from ..decision import SOLVER
from ..units import UnitVectors
from .settings import FOLDS, LARGE, MIN_TRUST, N0, TRUST, C
from .stats import balanced, best_cut, f1_of, held_out_cut_predictions, paired_f1_se


def blend_weight(positives: int, negatives: int, n0: float = N0) -> float:
    m = min(positives, negatives)
    return m / (m + n0)


def _mode(check: dict | None, words) -> str:
    """A code's mode by its cross-check: the word model where it gains more than a
    standard error over the blend, codebook scoring where the blend is clearly worse on
    the reviewers' own passages, else the blend ("learned")."""
    if check is None:
        return "learned"
    if words is not None and check["lexical_gain"] > check["lexical_gain_se"]:
        return "lexical"
    return "codebook" if check["gain"] < -check["gain_se"] else "learned"


class PerCodeModels:
    """Each code's model blended with the codebook, how far the codebook is trusted, and
    the out-of-fold checks that choose both (a part of `LearnedTagger`)."""

    def _trust(self, units: UnitVectors | None, Y: np.ndarray, base_scores) -> tuple[float, float]:
        """(codebook weight, N0): as chosen before tuning, else chosen here."""
        if self.fixed is not None:
            return tuple(self.fixed["trust"])
        return self._choose_trust(units, Y, base_scores) if units is not None else TRUST[0]

    def _choose_trust(self, units: UnitVectors, Y: np.ndarray, base_scores: np.ndarray) -> tuple[float, float]:
        """The (codebook weight, N0) of TRUST whose blended out-of-fold decisions agree best
        with the reviewers, pooled over codes (micro-F1). With fewer than MIN_TRUST reviews
        there is nothing to choose on: a codebook of bare definitions (every code thin) is
        trusted less, any other as much as TRUST[0] says."""
        if len(Y) < MIN_TRUST:
            return TRUST[1] if len(thin_codes(self.codebook)) == len(self.codebook.codes) else TRUST[0]
        owner = np.repeat(np.arange(len(units)), np.diff(units.bounds))
        best = (-1.0, TRUST[0])
        for trust in TRUST:
            tp = fp = fn = 0
            for k in range(Y.shape[1]):
                y = Y[:, k].astype(int)
                if min(int(y.sum()), int(len(y) - y.sum())) < 2:
                    continue
                pred = self._oof_blend(k, units, owner, y, base_scores[:, k], trust) >= self.config.threshold
                tp, fp, fn = (
                    tp + int((pred & (y == 1)).sum()),
                    fp + int((pred & (y == 0)).sum()),
                    fn + int((~pred & (y == 1)).sum()),
                )
            f1 = 2 * tp / max(2 * tp + fp + fn, 1)
            if f1 > best[0] + 1e-12:
                best = (f1, trust)
        return best[1]

    def _pooled_check(self, Y: np.ndarray, base_scores: np.ndarray) -> dict:
        """Micro-F1 over codes on the reviewed passages: codebook-only decisions against the
        learned ones out of fold (codes without a cross-check count as the codebook's).
        `better` says whether this model should replace codebook-only suggestions: it
        agrees better with the reviewers, or no code could be checked yet."""
        t = self.config.threshold
        base = base_scores >= t
        checked = 0
        self.oof_scores_ = base_scores.copy()  # out-of-fold where a code was learned (reviewing/choice.py)
        for k in range(Y.shape[1]):
            oof = self._oof.get((k, (self.codebook_weight_, self.n0_), False))
            if oof is not None and self.modes_[k] == "learned":
                self.oof_scores_[:, k] = oof
                checked += 1
            elif self.modes_[k] == "lexical" and k in self._lexical_oof:
                self.oof_scores_[:, k] = self._lexical_oof[k].astype(float)  # held-out decisions: 1 or 0
                checked += 1
        learned = self.oof_scores_ >= t
        f1 = {}
        for name, pred in (("codebook", base), ("learned", learned)):
            tp, fp, fn = int((pred & (Y == 1)).sum()), int((pred & (Y == 0)).sum()), int((~pred & (Y == 1)).sum())
            f1[name] = round(2 * tp / max(2 * tp + fp + fn, 1), 4)
        return {
            "passages": int(len(Y)),
            "checked_codes": checked,
            "codebook_micro_f1": f1["codebook"],
            "learned_micro_f1": f1["learned"],
            "better": f1["learned"] > f1["codebook"] or checked == 0,
        }

    def _fit_code(
        self, k: int, units: UnitVectors, y: np.ndarray, base_scores: np.ndarray, words, lexical_rows: dict
    ) -> dict:
        owner = np.repeat(np.arange(len(units)), np.diff(units.bounds))
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        entry: dict = {"positives": pos, "negatives": neg, "mode": "codebook", "weight": 0.0}
        if min(pos, neg) == 0:
            return entry  # reviewers have not seen this code both ways: nothing to learn yet
        check = self._cross_check(k, units, owner, y, base_scores, words)
        if check is not None:
            entry["cv"] = check
        mode = self.fixed["modes"][self.codebook.code_ids[k]] if self.fixed is not None else _mode(check, words)
        if mode == "lexical" and check is not None and "lexical_cut" in check:
            lexical_rows[k] = self._lexical_model(words, y[owner], check)
            self.modes_[k] = "lexical"
            entry.update(mode="lexical", weight=1.0)
            return entry
        if mode == "codebook":
            return entry
        coef, intercept = self._code_model(k, units.vectors, y[owner])
        self.coef_[k], self.intercept_[k] = coef, intercept
        self.weight_[k] = blend_weight(pos, neg, self.n0_)
        self.modes_[k] = "learned"
        entry.update(mode="learned", weight=round(float(self.weight_[k]), 4))
        return entry

    def _code_model(
        self, k: int, X: np.ndarray, y_units: np.ndarray, codebook_weight: float | None = None
    ) -> tuple[np.ndarray, float]:
        """One logistic regression on the codebook's sentences and the reviewed units,
        each source balanced on its own, the codebook's weighted by `codebook_weight`."""
        cb_X, cb_y = self.base_.training_rows(k)
        a = self.codebook_weight_ if codebook_weight is None else codebook_weight
        weights = np.concatenate([a * balanced(cb_y), balanced(y_units)])
        clf = LogisticRegression(C=C, solver=SOLVER, max_iter=3000, random_state=self.config.seed)
        clf.fit(np.vstack([cb_X, X]), np.concatenate([cb_y, y_units]), sample_weight=weights)
        return clf.coef_[0], float(clf.intercept_[0])

    def _cross_check(
        self, k: int, units: UnitVectors, owner: np.ndarray, y: np.ndarray, base_scores: np.ndarray, words=None
    ) -> dict | None:
        """Out-of-fold F1 on the reviewed passages of the blended scores against
        codebook-only scores (and, given `words`, of the word-feature model against the
        blend), each with the bootstrap standard error of the difference."""
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        if min(pos, neg) < 2:
            return None
        learned = self._oof_blend(k, units, owner, y, base_scores, (self.codebook_weight_, self.n0_))
        lexical = np.zeros(len(y))
        if words is not None:
            for _train, test, fit_rows, test_rows, starts in self._folds(units, owner, y):
                svm = LinearSVC(C=1.0, random_state=self.config.seed).fit(words[fit_rows], y[owner[fit_rows]])
                lexical[test] = np.maximum.reduceat(svm.decision_function(words[test_rows]), starts)
        t = self.config.threshold
        f1_learned, f1_base = float(f1_of(y, learned >= t)), float(f1_of(y, base_scores >= t))
        se = paired_f1_se(y, learned >= t, base_scores >= t, seed=self.config.seed)
        out = {
            "codebook_f1": round(f1_base, 4),
            "learned_f1": round(f1_learned, 4),
            "gain": round(f1_learned - f1_base, 4),
            "gain_se": round(se, 4),
        }
        if words is not None:
            cut = best_cut(y, lexical)  # applied from now on; judged at held-out cuts
            held_out = held_out_cut_predictions(y, lexical, self.config.seed)
            self._lexical_oof[k] = held_out
            f1_lex = float(f1_of(y, held_out))
            slope = (
                LogisticRegression(C=1e6, max_iter=1000, random_state=self.config.seed)
                .fit(lexical[:, None], y)
                .coef_[0, 0]
            )
            se_lex = paired_f1_se(y, held_out, learned >= t, seed=self.config.seed)
            out.update(
                lexical_f1=round(f1_lex, 4),
                lexical_gain=round(f1_lex - f1_learned, 4),
                lexical_gain_se=round(se_lex, 4),
                lexical_cut=float(cut),
                lexical_slope=float(max(slope, 1e-3)),
            )
        return out

    def _folds(self, units: UnitVectors, owner: np.ndarray, y: np.ndarray, by_document: bool = False):
        """(train, test, fit_rows, test_rows, starts) per fold of the reviewed passages;
        with `by_document`, whole documents per fold where the passages' documents are known
        (the per-code choices use shuffled passages: by document, on TalkMoves student dev
        lessons, 5 coded lessons made 5 folds of one lesson each and cost 0.06 kappa)."""
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        n_folds = min(3 if len(y) >= LARGE else FOLDS, pos, neg)
        groups = self._groups if by_document else None
        if groups is not None and len(set(groups)) >= n_folds:
            codes = np.unique(np.array([str(g) for g in groups]), return_inverse=True)[1]
            split = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=self.config.seed)
            pairs = split.split(np.zeros(len(y)), y, groups=codes)
        else:
            pairs = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.config.seed).split(
                np.zeros(len(y)), y
            )
        for train, test in pairs:
            fit_rows, test_rows = np.isin(owner, train), np.isin(owner, test)
            yield (
                train,
                test,
                fit_rows,
                test_rows,
                np.searchsorted(owner[test_rows], test),
            )  # test is sorted: passages in order

    def _oof_blend(
        self,
        k: int,
        units: UnitVectors,
        owner: np.ndarray,
        y: np.ndarray,
        base_scores: np.ndarray,
        trust: tuple[float, float],
        by_document: bool = False,
    ) -> np.ndarray:
        """Out-of-fold blended scores of code k on the reviewed passages under `trust`
        (codebook weight, N0), cached; with `by_document`, whole documents per fold."""
        key = (k, trust, by_document)
        if key not in self._oof:
            learned = np.zeros(len(y))
            codebook_weight, n0 = trust
            for train, test, fit_rows, test_rows, starts in self._folds(units, owner, y, by_document):
                coef, intercept = self._code_model(k, units.vectors[fit_rows], y[owner[fit_rows]], codebook_weight)
                w = blend_weight(int(y[train].sum()), int(len(train) - y[train].sum()), n0)
                p = np.maximum.reduceat(expit(units.vectors[test_rows] @ coef + intercept), starts)
                learned[test] = (1 - w) * base_scores[test] + w * p
            self._oof[key] = learned
        return self._oof[key]

    def _lexical_model(self, words, y_units: np.ndarray, check: dict) -> tuple[np.ndarray, float]:
        """The word-feature SVM on every reviewed unit, as a logit that is 0 at its
        cross-validated threshold: slope * (decision - cut)."""
        svm = LinearSVC(C=1.0, random_state=self.config.seed).fit(words, y_units)
        a, cut = check["lexical_slope"], check["lexical_cut"]
        return a * svm.coef_[0], a * (float(svm.intercept_[0]) - cut)

    def _keep_lexical(self, rows: dict[int, tuple[np.ndarray, float]], dim: int) -> None:
        n_codes = len(self.codebook.codes)
        width = dim + (0 if self.lexical_ is None else len(self.lexical_.idf_))
        self.lex_intercept_ = np.array([rows[k][1] if k in rows else 0.0 for k in range(n_codes)])
        empty = sp.csr_matrix((1, width))
        self.lex_coef_ = sp.vstack([sp.csr_matrix(rows[k][0]) if k in rows else empty for k in range(n_codes)]).tocsr()
        self.lex_mask_ = np.array([k in rows for k in range(n_codes)])
