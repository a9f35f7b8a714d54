"""Learn from reviewers: every reviewed passage changes the tagger at once.

Training data are reviewed excerpts (accepted -> the machine's codes were right;
corrected -> review.codes; rejected -> no code; disagreements are skipped) and labelled
JSONL in the `evaluate` format. A reviewer's correction away from a code makes that
passage a negative for it.

For each code, one logistic regression learns from the codebook's own sentences and the
study units the codebook-only tagger took as the code's examples (tag.py, `adapt`)
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
rich one a good one).
Nothing waits for a minimum count, so the first reviews already move the scores, and a
code reviewers have not yet seen both ways is scored exactly as before.

The shape of a decision is learned too (`decision_shape`): when nearly every reviewed
passage carries a code, every passage gets at least its best code, and no passage gets
more codes than reviewers commonly give one (the 90th percentile).

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
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from .codebook import load_codebook
from .config import Config
from .embed import Embedder, vector_space
from .errors import InputError
from .evaluate import label_matrix, read_gold
from .io import atomic_write
from .lexical import LexicalFeatures, from_sparse_rows, sparse_rows
from .model_folder import MODEL_JSON, WEIGHTS, model_sha256
from .schemas import Codebook, final_codes
from .store import read_excerpts
from .tag import CodebookTagger, Tagger
from .units import UnitVectors, embed_units

STRATEGY = "learned-blend-v4"
N0 = 5.0  # reviewed examples (each way) at which a code's learned model weighs as much as the codebook
# How much the codebook is trusted beside the reviews: (weight of the codebook's own rows
# inside each learned model, N0 of the blend). The first trusts the codebook (it agrees
# with the reviewers); the second lets the reviews take over sooner (a codebook of bare
# definitions is often a poor guide to a study's coding). Chosen once per fit, pooled over
# codes by out-of-fold micro-F1 on the reviewed passages, from MIN_TRUST of them.
TRUST = ((1.0, 5.0), (0.3, 2.0))
MIN_TRUST = 40
MIN_CHOICE = 40  # reviewed passages before the decision's shape is learned
# The shape of a decision, learned from reviewers once MIN_CHOICE passages are reviewed:
# if at least CODED_SHARE of them carry a code, every passage gets its best code at least;
# at most the 90th percentile of codes per coded reviewed passage are applied.
CODED_SHARE = 0.9
C = 2.0  # as the codebook-only tagger
# Newton-CG rather than sklearn's default L-BFGS for the per-code models (and the review
# page's decision model, reviewing/choice.py): the same regularised loss, reached in a few
# exact steps; 7.5 times as fast over 27 codes on 580 reviewed NHS comments (31 s -> 4 s a
# relearn, the same trust and modes; docs/reviewing.md).
SOLVER = "newton-cg"
FOLDS = 5
LARGE = 1000  # reviewed passages from which 3 folds estimate as well as 5 (and cost less)
# Word features are tried once reviewers have coded at least LEXICAL_PASSAGES passages, for
# codes with MIN_LEXICAL each way. On AnnoMI dev, words cost up to 0.04 kappa at 50-200
# reviewed passages (their cross-validated gain is noise there) and added 0.02-0.06 from
# 500 on (practitioner behaviour; client talk: no change); see docs/tagging.md.
LEXICAL_PASSAGES = 500
MIN_LEXICAL = 10


@dataclass
class Labelled:
    ids: list[str]
    texts: list[str]
    labels: list[list[str]]
    study: list[str] | None = None  # every passage of the files, reviewed or not (the study the codebook adapts to)

    def subset(self, index) -> Labelled:
        return Labelled([self.ids[i] for i in index], [self.texts[i] for i in index], [self.labels[i] for i in index])


def _is_gold_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as f:
            for line in f:
                if line.strip():
                    return '"labels"' in line and '"review"' not in line
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    return False


def load_labelled(files: list[Path], codebook: Codebook) -> Labelled:
    """Reviewed excerpts and gold lines from `files`; a later file's label for an id wins."""
    known = set(codebook.code_ids)
    found: dict[str, tuple[str, list[str]]] = {}
    study: dict[str, str] = {}
    for path in files:
        if _is_gold_file(path):
            for item in read_gold(path, codebook):
                found[item.id] = (item.text, sorted(item.labels))
                study[item.id] = item.text
            continue
        for excerpt in read_excerpts(path):  # with decisions still in its journal
            study[excerpt.id] = excerpt.text
            codes = final_codes(excerpt)
            if codes is None or excerpt.disagreement:
                continue
            unknown = sorted(set(codes) - known)
            if unknown:
                raise InputError(
                    path, f"passage {excerpt.id}: unknown code(s) {unknown} not in codebook {codebook.name!r}"
                )
            found[excerpt.id] = (excerpt.text, sorted(codes))
    ids = sorted(found)
    return Labelled(ids, [found[i][0] for i in ids], [found[i][1] for i in ids], [study[i] for i in sorted(study)])


def _f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 along the last axis (0 where there is neither a label nor a prediction)."""
    tp = (pred & (y == 1)).sum(axis=-1)
    denom = pred.sum(axis=-1) + (y == 1).sum(axis=-1)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def _paired_f1_se(y: np.ndarray, learned: np.ndarray, base: np.ndarray, *, seed: int, rounds: int = 500) -> float:
    """Bootstrap standard error of F1(learned) - F1(base) over the same passages."""
    idx = np.random.default_rng(seed).integers(0, len(y), size=(rounds, len(y)))
    return float(np.std(_f1(y[idx], learned[idx]) - _f1(y[idx], base[idx])))


def _best_cut(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best F1 (ties: the higher, fewer codes)."""
    best = (-1.0, 0.0)
    for cut in np.unique(np.quantile(scores, np.linspace(0.0, 0.995, 200))):
        f1 = float(_f1(y, scores >= cut))
        if f1 >= best[0]:
            best = (f1, float(cut))
    return best[1]


def _held_out_cut_predictions(y: np.ndarray, scores: np.ndarray, seed: int) -> np.ndarray:
    """Predictions at a cut chosen without the passage being predicted: for each of 5
    folds, the best-F1 cut on the other folds' scores. (Choosing and scoring the cut on the
    same scores would flatter the word model against the blend's fixed threshold.)"""
    folds = StratifiedKFold(n_splits=min(FOLDS, int(y.sum()), int(len(y) - y.sum())), shuffle=True, random_state=seed)
    out = np.zeros(len(y), dtype=bool)
    for rest, part in folds.split(np.zeros(len(y)), y):
        out[part] = scores[part] >= _best_cut(y[rest], scores[rest])
    return out


def _balanced(y: np.ndarray) -> np.ndarray:
    """Sample weights that make positives and negatives of one source weigh alike."""
    w = np.ones(len(y))
    pos = int(y.sum())
    if 0 < pos < len(y):
        w[y == 1] = len(y) / (2 * pos)
        w[y == 0] = len(y) / (2 * (len(y) - pos))
    return w


def decision_shape(labels: list[list[str]], max_codes: int) -> tuple[int, int]:
    """(least, most) codes per passage as the reviewers coded: least 1 when nearly every
    reviewed passage carries a code (CODED_SHARE), most the 90th percentile of codes per
    coded passage (never above `max_codes`). Defaults (0, max_codes) below MIN_CHOICE."""
    if len(labels) < MIN_CHOICE:
        return 0, max_codes
    coded = [len(codes) for codes in labels if codes]
    least = 1 if len(coded) >= CODED_SHARE * len(labels) else 0
    most = int(max(1, round(float(np.quantile(coded, 0.9))))) if coded else max_codes
    return least, min(most, max_codes)


def blend_weight(positives: int, negatives: int, n0: float = N0) -> float:
    m = min(positives, negatives)
    return m / (m + n0)


class LearnedTagger(Tagger):
    """Codebook sentences plus reviewed passages, blended with the codebook by evidence
    (see module doc). `fit(embedder, data)`; scores with `predict_proba` like any tagger;
    the decision threshold is the config's, so `--threshold` applies."""

    strategy = STRATEGY

    def decision_shape(self) -> tuple[int, int]:
        return self.min_codes_, min(self.max_codes_, self.config.max_codes)

    def settings(self) -> dict:
        return {
            "strategy": self.strategy,
            "C": C,
            "n0": N0,
            "folds": FOLDS,
            "codebook_weight": self.codebook_weight_,
            "n0_chosen": self.n0_,
            "codes_per_passage": {"least": self.min_codes_, "most": self.max_codes_},
            "learned_codes": [c for c, m in zip(self.codebook.code_ids, self.modes_) if m != "codebook"],
            "lexical_codes": [c for c, m in zip(self.codebook.code_ids, self.modes_) if m == "lexical"],
            "weights": {c: round(float(w), 4) for c, w in zip(self.codebook.code_ids, self.weight_)},
            "model_sha256": getattr(self, "model_sha256_", None),
        }

    def fit(self, embedder: Embedder, data: Labelled, study: UnitVectors | None = None) -> LearnedTagger:
        """Learn from `data`; the codebook part adapts to the `study`'s units (every passage
        of the study, reviewed or not; by default the reviewed ones)."""
        units = embed_units(embedder, data.texts, self.config) if data.texts else None
        base = CodebookTagger(self.codebook, config=self.config, background=self.background).fit(
            embedder, study if study is not None else units
        )
        self.base_ = base
        self.prototypes_, self.vectors_ = base.prototypes_, base.vectors_
        self.base_coef_, self.base_intercept_ = base.coef_, base.intercept_
        n_codes = len(self.codebook.codes)
        self.coef_, self.intercept_ = base.coef_.copy(), base.intercept_.copy()
        self.weight_ = np.zeros(n_codes)
        self.modes_ = ["codebook"] * n_codes
        self.report_: dict[str, dict] = {}
        self.n_train_ = len(data.texts)
        self.lexical_: LexicalFeatures | None = None
        lexical_rows: dict[int, tuple[np.ndarray, float]] = {}
        Y = label_matrix(data.labels, self.codebook.code_ids) if data.texts else np.zeros((0, n_codes), dtype=np.int8)
        if (
            units is not None
            and len(Y) >= LEXICAL_PASSAGES
            and (np.minimum(Y.sum(0), len(Y) - Y.sum(0)) >= MIN_LEXICAL).any()
        ):
            self.lexical_ = LexicalFeatures().fit(units.texts)
            words = self.lexical_.transform(units.vectors, units.texts)
        base_scores = base.score(units) if units is not None else None
        self._oof: dict[tuple[int, tuple[float, float]], np.ndarray] = {}  # (code, trust) -> out-of-fold blended scores
        self.codebook_weight_, self.n0_ = self._choose_trust(units, Y, base_scores) if units is not None else TRUST[0]
        for k, code in enumerate(self.codebook.code_ids):
            if units is None:
                self.report_[code] = {"positives": 0, "negatives": 0, "mode": "codebook", "weight": 0.0}
                continue
            y = Y[:, k].astype(int)
            use_words = self.lexical_ is not None and min(int(y.sum()), int(len(y) - y.sum())) >= MIN_LEXICAL
            self.report_[code] = self._fit_code(
                k, units, y, base_scores[:, k], words if use_words else None, lexical_rows
            )
        self._keep_lexical(lexical_rows, units.vectors.shape[1] if units is not None else self.vectors_.shape[1])
        self.min_codes_, self.max_codes_ = decision_shape(data.labels, self.config.max_codes)
        self.cv_ = self._pooled_check(Y, base_scores) if units is not None else None
        del self._oof
        return self

    def _pooled_check(self, Y: np.ndarray, base_scores: np.ndarray) -> dict:
        """Micro-F1 over codes on the reviewed passages: codebook-only decisions against the
        learned ones out of fold (codes without a cross-check count as the codebook's).
        `better` says whether this model should replace codebook-only suggestions: it
        agrees better with the reviewers, or no code could be checked yet."""
        t = self.config.threshold
        base = base_scores >= t
        learned = base.copy()
        checked = 0
        for k in range(Y.shape[1]):
            oof = self._oof.get((k, (self.codebook_weight_, self.n0_)))
            if oof is not None and self.modes_[k] == "learned":
                learned[:, k] = oof >= t
                checked += 1
        self.oof_scores_ = base_scores.copy()  # out-of-fold where a code was learned (reviewing/choice.py)
        for k in range(Y.shape[1]):
            oof = self._oof.get((k, (self.codebook_weight_, self.n0_)))
            if oof is not None and self.modes_[k] == "learned":
                self.oof_scores_[:, k] = oof
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

    def _choose_trust(self, units: UnitVectors, Y: np.ndarray, base_scores: np.ndarray) -> tuple[float, float]:
        """The (codebook weight, N0) of TRUST whose blended out-of-fold decisions agree best
        with the reviewers, pooled over codes (micro-F1); the first with few reviews."""
        if len(Y) < MIN_TRUST:
            return TRUST[0]
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
            if words is not None and check["lexical_gain"] > check["lexical_gain_se"]:
                lexical_rows[k] = self._lexical_model(words, y[owner], check)
                self.modes_[k] = "lexical"
                entry.update(mode="lexical", weight=1.0)
                return entry
            if check["gain"] < -check["gain_se"]:
                return entry  # clearly worse on the reviewers' own passages
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
        weights = np.concatenate([a * _balanced(cb_y), _balanced(y_units)])
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
        f1_learned, f1_base = float(_f1(y, learned >= t)), float(_f1(y, base_scores >= t))
        se = _paired_f1_se(y, learned >= t, base_scores >= t, seed=self.config.seed)
        out = {
            "codebook_f1": round(f1_base, 4),
            "learned_f1": round(f1_learned, 4),
            "gain": round(f1_learned - f1_base, 4),
            "gain_se": round(se, 4),
        }
        if words is not None:
            cut = _best_cut(y, lexical)  # applied from now on; judged at held-out cuts
            held_out = _held_out_cut_predictions(y, lexical, self.config.seed)
            f1_lex = float(_f1(y, held_out))
            slope = (
                LogisticRegression(C=1e6, max_iter=1000, random_state=self.config.seed)
                .fit(lexical[:, None], y)
                .coef_[0, 0]
            )
            se_lex = _paired_f1_se(y, held_out, learned >= t, seed=self.config.seed)
            out.update(
                lexical_f1=round(f1_lex, 4),
                lexical_gain=round(f1_lex - f1_learned, 4),
                lexical_gain_se=round(se_lex, 4),
                lexical_cut=float(cut),
                lexical_slope=float(max(slope, 1e-3)),
            )
        return out

    def _folds(self, units: UnitVectors, owner: np.ndarray, y: np.ndarray):
        """(train, test, fit_rows, test_rows, starts) per fold of the reviewed passages."""
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        n_folds = min(3 if len(y) >= LARGE else FOLDS, pos, neg)
        folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.config.seed)
        for train, test in folds.split(np.zeros(len(y)), y):
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
    ) -> np.ndarray:
        """Out-of-fold blended scores of code k on the reviewed passages under `trust`
        (codebook weight, N0), cached."""
        key = (k, trust)
        if key not in self._oof:
            learned = np.zeros(len(y))
            codebook_weight, n0 = trust
            for train, test, fit_rows, test_rows, starts in self._folds(units, owner, y):
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

    def predict_proba(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float64)
        codebook = expit(v @ self.base_coef_.T + self.base_intercept_)
        learned = expit(v @ self.coef_.T + self.intercept_)
        proba = (1 - self.weight_) * codebook + self.weight_ * learned
        if self.lex_mask_.any():
            if texts is None:
                raise ValueError("this model reads words as well: score units that carry their texts")
            logits = (self.lexical_.transform(v, texts) @ self.lex_coef_.T).toarray() + self.lex_intercept_
            proba[:, self.lex_mask_] = expit(logits[:, self.lex_mask_])
        return proba

    # --- persistence ------------------------------------------------------------------

    def save(
        self, out_dir: Path, *, codebook_sha256: str, embedder: Embedder, training: list[dict], ids: list[str] = ()
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(out_dir / WEIGHTS, "wb") as f:
            lexical = {f"lex_{k}": v for k, v in sparse_rows(self.lex_coef_).items()}
            idf = self.lexical_.idf_ if self.lexical_ is not None else np.zeros(0, dtype=np.float32)
            np.savez(
                f,
                base_coef=self.base_coef_,
                base_intercept=self.base_intercept_,
                coef=self.coef_,
                intercept=self.intercept_,
                weight=self.weight_,
                lex_mask=self.lex_mask_,
                lex_intercept=self.lex_intercept_,
                idf=idf,
                **lexical,
            )
        meta = {
            "strategy": self.strategy,
            "codebook": {"name": self.codebook.name, "version": self.codebook.version, "sha256": codebook_sha256},
            "codes": self.codebook.code_ids,
            "modes": dict(zip(self.codebook.code_ids, self.modes_)),
            "embedding_model": vector_space(embedder.fingerprint),
            "config": self.config.model_dump(mode="json"),
            "settings": {
                "C": C,
                "n0": N0,
                "folds": FOLDS,
                "lexical_passages": LEXICAL_PASSAGES,
                "min_lexical": MIN_LEXICAL,
                "trust": [list(t) for t in TRUST],
                "min_trust": MIN_TRUST,
                "min_choice": MIN_CHOICE,
                "coded_share": CODED_SHARE,
            },
            "learned": {
                "codebook_weight": self.codebook_weight_,
                "n0": self.n0_,
                "codes_per_passage": {"least": self.min_codes_, "most": self.max_codes_},
            },
            "training": {"passages": self.n_train_, "files": training, "ids": sorted(ids)},
            "cross_validated": self.report_,
            "weights_sha256": hashlib.sha256((out_dir / WEIGHTS).read_bytes()).hexdigest(),
        }
        with atomic_write(out_dir / MODEL_JSON) as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(
        cls, model_dir: Path, *, codebook: Codebook, codebook_sha256: str, config: Config, embedder: Embedder
    ) -> LearnedTagger:
        path = Path(model_dir) / MODEL_JSON
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(path, f"not a qcode model: {err}") from None
        if meta.get("strategy") != STRATEGY:
            raise InputError(path, f"made by {meta.get('strategy')!r}, an older learner: run `qcode learn` again")
        if meta.get("codebook", {}).get("sha256") != codebook_sha256:
            raise InputError(
                path,
                f"trained with another codebook ({meta.get('codebook', {}).get('name')!r}); pass the same --codebook",
            )
        if vector_space(meta.get("embedding_model", "")) != vector_space(embedder.fingerprint):
            raise InputError(
                path,
                f"trained on embeddings of {meta.get('embedding_model')}, not {vector_space(embedder.fingerprint)}",
            )
        weights_path = Path(model_dir) / WEIGHTS
        if hashlib.sha256(weights_path.read_bytes()).hexdigest() != meta.get("weights_sha256"):
            raise InputError(weights_path, "does not match the sha256 in model.json")
        with np.load(weights_path) as w:
            tagger = cls(codebook, config=config)
            tagger.base_coef_, tagger.base_intercept_ = w["base_coef"], w["base_intercept"]
            tagger.coef_, tagger.intercept_, tagger.weight_ = w["coef"], w["intercept"], w["weight"]
            tagger.lex_mask_, tagger.lex_intercept_ = w["lex_mask"].astype(bool), w["lex_intercept"]
            tagger.lex_coef_ = from_sparse_rows(w["lex_data"], w["lex_indices"], w["lex_indptr"], w["lex_shape"])
            tagger.lexical_ = LexicalFeatures(w["idf"]) if len(w["idf"]) else None
        tagger.modes_ = [meta["modes"][c] for c in codebook.code_ids]
        tagger.codebook_weight_, tagger.n0_ = meta["learned"]["codebook_weight"], meta["learned"]["n0"]
        tagger.min_codes_, tagger.max_codes_ = (
            meta["learned"]["codes_per_passage"]["least"],
            meta["learned"]["codes_per_passage"]["most"],
        )
        tagger.report_ = meta["cross_validated"]
        tagger.n_train_ = meta["training"]["passages"]
        tagger.model_sha256_ = model_sha256(Path(model_dir))
        tagger.embed_codebook(embedder)
        return tagger


def learn(
    files: list[Path], *, out_dir: Path, codebook_path: Path | None, config: Config, embedder: Embedder
) -> LearnedTagger:
    """Train on reviewed/labelled files and write MODEL_DIR/model.json + weights.npz."""
    from .codebook import resolve_codebook
    from .io import file_sha256

    codebook_path = resolve_codebook(codebook_path)
    codebook = load_codebook(codebook_path)
    data = load_labelled(files, codebook)
    if not data.texts:
        raise InputError(files[0], "no reviewed or labelled passages to learn from")
    study = embed_units(embedder, data.study, config) if data.study else None
    tagger = LearnedTagger(codebook, config=config).fit(embedder, data, study=study)
    tagger.save(
        out_dir,
        codebook_sha256=file_sha256(codebook_path),
        embedder=embedder,
        training=[{"path": str(f), "sha256": file_sha256(f)} for f in files],
        ids=data.ids,
    )
    return tagger


def build_tagger(
    codebook: Codebook, *, codebook_path: Path, config: Config, embedder: Embedder, model_dir: Path | None = None
) -> Tagger:
    """The codebook-only tagger, or a learned one from `model_dir` (checked against the codebook)."""
    from .io import file_sha256

    if model_dir is None:
        return CodebookTagger(codebook, config=config).fit(embedder)
    return LearnedTagger.load(
        model_dir, codebook=codebook, codebook_sha256=file_sha256(codebook_path), config=config, embedder=embedder
    )
