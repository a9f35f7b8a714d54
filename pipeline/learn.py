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
rich one a good one). Below 40, a codebook whose every code is a bare definition is
trusted less, any other fully.
Nothing waits for a minimum count, so the first reviews already move the scores, and a
code reviewers have not yet seen both ways is scored exactly as before.

The shape of a decision is learned too (`decision_shape`): when nearly every reviewed
passage carries a code, every passage gets at least its best code, and no passage gets
more codes than reviewers commonly give one (the 90th percentile; two where one coded
passage in twenty carries two, v9). From MIN_CHOICE reviewed passages, or from
MIN_CODED_ONLY where every one carries a code (a highlights export holds nothing else).

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

How passages are decided (v5, `_fit_head`, from MIN_HEAD labelled passages): by the
per-code models above, or by one model of whole decisions (decision.py), with or without
each passage's neighbours in its document; each replaces the one before only where its
out-of-fold mean kappa is higher by more than the bootstrap standard error (whole
documents per fold and per resample where the rows name their documents).

A model of whole decisions may take, instead of the most probable decision, the one most
probable for how common it is (v6, decision.POWERS): the most probable decision seldom
names a rare code, and agreement per code suffers. Each power in turn (0.25 ... 1)
replaces the one chosen so far (at first 0: the most probable) only where its out-of-fold
mean kappa is higher by more than the bootstrap standard error, before the way of
deciding is chosen; the review page, which counts wrong pre-selections, keeps power 0
(reviewing/choice.py).

The codebook part heeds the labels (v7, `_heed`): adapting to the study guessed each
thin or rarely found code's examples from its units, blind to any label. Where passages
are decided by the per-code models, once every check above has been made on the codebook
part as it was, the part they blend with drops an adapted code's examples on passages
labelled without it and takes, as examples, the best unit of each passage labelled with
it (tag.py, `heed`). A code reviewers have never given keeps its examples except where they
said no. The base tagger stays as adapted: the page's models of whole decisions read its
scores, and on the labelled passages a heeded part would tell them the answer.
"""

from __future__ import annotations

import copy
import hashlib
import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

from .codebook import thin_codes
from .config import Config
from .decision import (
    POWERS,
    SOLVER,
    DecisionModel,
    chosen_on_gain,
    codebook_logits,
    mean_kappa,
    neighbour_means,
    passage_features,
    passage_means,
    passage_texts,
)
from .embed import Embedder, vector_space
from .errors import InputError
from .evaluate import label_matrix
from .io import atomic_write
from .labelled import Labelled, read_labelled, write_training
from .lexical import LexicalFeatures, from_sparse_rows, sparse_rows
from .model_folder import CODEBOOK, MODEL_JSON, WEIGHTS, model_sha256
from .schemas import Codebook
from .tag import CodebookTagger, Tagger
from .units import UnitVectors, embed_units

STRATEGY = "learned-blend-v9"
# Older models still read (v8: one code per passage wherever the 90th percentile said
# so; v7: the decision's shape from 40 labelled passages even where all carry a code; v6:
# the codebook part as adapted, blind to the labels; v5: whole decisions always the most
# probable; v4: no model of whole decisions).
READS = ("learned-blend-v8", "learned-blend-v7", "learned-blend-v6", "learned-blend-v5", "learned-blend-v4")
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
# at most the 90th percentile of codes per coded reviewed passage are applied (2 where
# SECOND_CODE_SHARE carry two or more). Where every labelled passage carries a code (a
# highlights or coded-segments export), from MIN_CODED_ONLY: a study with a sixth of its
# passages uncoded shows one of them in 20 draws 97 times in 100, so "no code" is not
# left open on so little evidence of it.
MIN_CODED_ONLY = 20
CODED_SHARE = 0.9
# v9: the 90th percentile says 1 wherever fewer than one coded passage in ten carries a
# second code, and then a code that coders give beside another (a usability problem
# beside what the participant was doing) can hardly be given at all. From one in twenty
# a passage may take two: a cap of 2 against 3 only limits, 1 against 2 rules codes out.
SECOND_CODE_SHARE = 0.05
C = 2.0  # as the codebook-only tagger
# SOLVER (decision.py): Newton-CG rather than sklearn's default L-BFGS for the per-code
# models too: the same regularised loss, reached in a few exact steps; 7.5 times as fast
# over 27 codes on 580 reviewed NHS comments (31 s -> 4 s a relearn; docs/reviewing.md).
FOLDS = 5
LARGE = 1000  # reviewed passages from which 3 folds estimate as well as 5 (and cost less)
# Word features are tried once reviewers have coded at least LEXICAL_PASSAGES passages, for
# codes with MIN_LEXICAL each way. On AnnoMI dev, words cost up to 0.04 kappa at 50-200
# reviewed passages (their cross-validated gain is noise there) and added 0.02-0.06 from
# 500 on (practitioner behaviour; client talk: no change); see docs/tagging.md.
LEXICAL_PASSAGES = 500
MIN_LEXICAL = 10
# How passages are decided (`_fit_head`): by the per-code models, or by a model of whole
# decisions without or with the passage's neighbours; each in turn replaces the one before
# where it agrees better with the coders out of fold by more than a standard error, from
# MIN_HEAD labelled passages.
HEADS = ("codes", "decisions", "context")
MIN_HEAD = 40


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
    coded passage, but 2 where at least SECOND_CODE_SHARE of them carry two or more
    (never above `max_codes`). Defaults (0, max_codes) below MIN_CHOICE, unless every one
    of at least MIN_CODED_ONLY passages carries a code."""
    coded = [len(codes) for codes in labels if codes]
    if len(labels) < MIN_CHOICE and not (len(labels) >= MIN_CODED_ONLY and len(coded) == len(labels)):
        return 0, max_codes
    least = 1 if len(coded) >= CODED_SHARE * len(labels) else 0
    if not coded:
        return least, max_codes
    most = int(max(1, round(float(np.quantile(coded, 0.9)))))
    if most == 1 and np.mean(np.array(coded) >= 2) >= SECOND_CODE_SHARE:
        most = 2  # v9: a code coders give beside another could not be given at all
    return least, min(most, max_codes)


def moved_by_threshold(best: set[int], marginals: np.ndarray, threshold: float) -> set[int]:
    """A whole decision's codes as `--threshold` moves them: at 0.5 the most probable
    decision as it is; above, only its codes at least that probable; below, any code
    at least that probable is added."""
    if threshold > 0.5:
        return {k for k in best if marginals[k] >= threshold}
    if threshold < 0.5:
        return best | {int(k) for k in np.flatnonzero(marginals >= threshold)}
    return best


def blend_weight(positives: int, negatives: int, n0: float = N0) -> float:
    m = min(positives, negatives)
    return m / (m + n0)


class LearnedTagger(Tagger):
    """Codebook sentences plus reviewed passages, blended with the codebook by evidence
    (see module doc). `fit(embedder, data)`; scores with `predict_proba` like any tagger;
    the decision threshold is the config's, so `--threshold` applies."""

    strategy = STRATEGY
    # The choices made with the encoder before it was tuned on these passages (`choices()`
    # of that fit: how far the codebook is trusted, each code's mode with the check that
    # chose it, how passages are decided): a check on vectors tuned on the very passages
    # checked favours whatever fits them best. None: chosen here.
    fixed: dict | None = None
    # The powers a model of whole decisions may correct its decisions by for how common
    # each is (decision.POWERS; chosen out of fold by mean kappa). The review page, which
    # counts wrong pre-selections, sets (0.0,): the most probable decision.
    powers: tuple[float, ...] = POWERS

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
            "codebook_part_heeded": getattr(self, "heeded_", None),
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
        self._groups = data.groups if data.groups and any(g is not None for g in data.groups) else None
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
        self._oof: dict[tuple, np.ndarray] = {}  # (code, trust, by document) -> out-of-fold blended scores
        self._lexical_oof: dict[int, np.ndarray] = {}  # code -> the word model's held-out decisions
        self.codebook_weight_, self.n0_ = self._trust(units, Y, base_scores)
        for k, code in enumerate(self.codebook.code_ids):
            if units is None:
                self.report_[code] = {"positives": 0, "negatives": 0, "mode": "codebook", "weight": 0.0}
                continue
            y = Y[:, k].astype(int)
            use_words = self.lexical_ is not None and min(int(y.sum()), int(len(y) - y.sum())) >= MIN_LEXICAL
            self.report_[code] = self._fit_code(
                k, units, y, base_scores[:, k], words if use_words else None, lexical_rows
            )
            if self.fixed is not None and "cv" in self.fixed["report"][code]:  # the check that chose its mode
                self.report_[code]["cv"] = self.fixed["report"][code]["cv"]
        self._keep_lexical(lexical_rows, units.vectors.shape[1] if units is not None else self.vectors_.shape[1])
        self.min_codes_, self.max_codes_ = decision_shape(data.labels, self.config.max_codes)
        self.coded_only_ = bool(data.labels) and all(data.labels)
        self.cv_ = self._pooled_check(Y, base_scores) if units is not None else None
        self._fit_head(units, data, base_scores, study)
        del self._oof, self._lexical_oof
        self.heeded_ = self._heed(study if study is not None else units, data)
        return self

    def _heed(self, study: UnitVectors | None, data: Labelled) -> dict | None:
        """Where passages are decided by the per-code models, the codebook part they blend
        with heeds the labelled passages (tag.py, `heed`: its adapted examples follow the
        reviewers), after every check was made on it as it was. The base tagger itself is
        kept as adapted (the page's decision models read its scores)."""
        if study is None or self.head_mode_ != "codes" or not data.texts:
            return None
        where = data.where
        if where is None and len(study) == len(data.texts):
            where = range(len(data.texts))  # the labelled passages are the study
        if where is None:
            return None
        heeded = copy.copy(self.base_)
        heeded.coef_, heeded.intercept_ = self.base_.coef_.copy(), self.base_.intercept_.copy()
        moved = heeded.heed(study, dict(zip(where, data.labels)))
        if moved is not None:
            self.base_coef_, self.base_intercept_ = heeded.coef_, heeded.intercept_
        return moved

    def choices(self) -> dict:
        """What this fit chose, to be kept when the encoder is then tuned on the same
        passages (`fixed`): trust, each code's mode and its check, how passages are decided."""
        return {
            "trust": [self.codebook_weight_, self.n0_],
            "modes": dict(zip(self.codebook.code_ids, self.modes_)),
            "report": self.report_,
            "head": self.head_check_,
        }

    def _trust(self, units: UnitVectors | None, Y: np.ndarray, base_scores) -> tuple[float, float]:
        """(codebook weight, N0): as chosen before tuning, else chosen here."""
        if self.fixed is not None:
            return tuple(self.fixed["trust"])
        return self._choose_trust(units, Y, base_scores) if units is not None else TRUST[0]

    def _choose_head(self, labels: list[list[str]], oof: dict) -> tuple[str, dict]:
        """(mode, check): each of HEADS in turn replaces the one chosen so far only where
        its out-of-fold mean kappa is higher by more than the bootstrap standard error of
        the difference (whole documents resampled where known): not on noise."""
        ids = self.codebook.code_ids
        Y = label_matrix(labels, ids)
        P = {mode: label_matrix([list(d) for d in pred], ids) for mode, pred in oof.items()}
        kappa = {mode: round(mean_kappa(Y, P[mode]), 4) for mode in P}
        ordered = {mode: P[mode] for mode in HEADS if mode in P}
        chosen, gains = chosen_on_gain(Y, ordered, kappa, self._groups, self.config.seed)
        by_document = self._groups is not None and len(set(self._groups)) >= FOLDS
        check = {
            "mean_kappa_out_of_fold": kappa,
            "gains": gains,
            "chosen": chosen,
            "passages": len(labels),
            "folds": "documents" if by_document else "passages",
        }
        return chosen, check

    def _codes_by_document(self, units: UnitVectors, labels: list[list[str]], base_scores: np.ndarray):
        """The per-code models' decisions out of fold, whole documents per fold (as the
        model of whole decisions is judged); shuffled passages where no document is known."""
        if self._groups is None or len(set(self._groups)) < FOLDS:
            return self.oof_codes_
        Y = label_matrix(labels, self.codebook.code_ids)
        owner = np.repeat(np.arange(len(units)), np.diff(units.bounds))
        scores = self.oof_scores_.copy()
        for k, mode in enumerate(self.modes_):
            if mode == "learned" and (k, (self.codebook_weight_, self.n0_), False) in self._oof:
                y = Y[:, k].astype(int)
                scores[:, k] = self._oof_blend(
                    k, units, owner, y, base_scores[:, k], (self.codebook_weight_, self.n0_), True
                )
        ids = self.codebook.code_ids
        return [[ids[k] for k in row] for row in self.decide(scores)]

    def _fit_head(self, units: UnitVectors | None, data: Labelled, base_scores, study: UnitVectors | None) -> None:
        """Choose how passages are decided, out of fold on the labelled passages (mean
        kappa over the codes they carry): by the per-code models, or by a model of whole
        decisions on each passage (decision.py), with or without its neighbours. Folds
        are whole documents where the documents are known."""
        self.head_, self.head_mode_, self.head_scale_, self.head_check_ = None, "codes", 1.0, None
        ids = self.codebook.code_ids
        self.oof_codes_ = [[ids[k] for k in row] for row in self.decide(self.oof_scores_)] if units is not None else []
        if units is None or len(data.texts) < MIN_HEAD:
            return
        decisions = [tuple(d) for d in data.labels]
        self.head_scale_ = codebook_logits(base_scores)[1]
        features = {"decisions": passage_features(units, base_scores, passage_texts(units), scale=self.head_scale_)}
        neighbours = data.neighbours(study, units)
        if neighbours is not None:
            features["context"] = np.hstack([features["decisions"], neighbours])
        before = (self.fixed or {}).get("head")
        if before is not None:  # chosen before the encoder was tuned on these passages: no check here
            self.head_mode_, self.head_check_ = before["chosen"], {**before, "encoder": "before tuning"}
        else:
            oof = {"codes": [tuple(codes) for codes in self._codes_by_document(units, data.labels, base_scores)]}
            powers = {}
            for mode, X in features.items():
                by_power = DecisionModel(self.config.seed).out_of_fold_by_power(X, decisions, self._groups, self.powers)
                powers[mode], oof[mode] = self._best_power(data.labels, by_power)
            self.head_mode_, self.head_check_ = self._choose_head(data.labels, oof)
            self.head_check_["powers"] = powers
            self.oof_codes_ = [list(d) for d in oof[self.head_mode_]]  # as this model decides, out of fold
        if self.head_mode_ != "codes":
            power = self.head_check_.get("powers", {}).get(self.head_mode_, {}).get("chosen", 0.0)
            self.head_ = DecisionModel(self.config.seed, power=power).fit(features[self.head_mode_], decisions)

    def _best_power(self, labels: list[list[str]], by_power: dict) -> tuple[dict, list]:
        """({chosen power, mean kappa out of fold at each, the gains}, the decisions at the
        chosen one). Powers are tried in order from the first (0: the most probable
        decision) as `_choose_head` tries ways of deciding (`chosen_on_gain`): the best of
        five by chance would flatter a model of whole decisions in the choice that follows."""
        ids = self.codebook.code_ids
        Y = label_matrix(labels, ids)
        P = {p: label_matrix([list(d) for d in by_power[p]], ids) for p in by_power}
        kappa = {p: mean_kappa(Y, P[p]) for p in by_power}
        chosen, gains = chosen_on_gain(Y, P, kappa, self._groups, self.config.seed)
        check = {"chosen": chosen, "mean_kappa": {str(p): round(k, 4) for p, k in kappa.items()}}
        return check | {"gains": {str(p): g for p, g in gains.items()}}, by_power[chosen]

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
            self._lexical_oof[k] = held_out
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

    def scores_and_codes(self, units: UnitVectors, groups: list | None = None) -> tuple[np.ndarray, list[list[int]]]:
        """As every tagger's, but where a model of whole decisions was chosen (`_fit_head`):
        each code's probability of being in the decision, and the most probable decision
        (its codes best first). Its neighbours come from `groups` (passages in document
        order); without them a passage has none, as at a document's edge."""
        if self.head_ is None:
            return super().scores_and_codes(units, groups)
        base = self.base_scores(units)
        X = passage_features(units, base, passage_texts(units), scale=self.head_scale_)
        if self.head_mode_ == "context":
            X = np.hstack([X, neighbour_means(passage_means(units), groups)])
        proba = np.round(self.head_.marginals(X, self.codebook.code_ids), 4)
        index = {c: k for k, c in enumerate(self.codebook.code_ids)}
        decided = []
        for row, best in zip(proba, self.head_.best(X)):
            codes = moved_by_threshold({index[c] for c in best}, row, self.config.threshold)
            decided.append(sorted(codes, key=lambda k: (-row[k], k))[: self.config.max_codes])
        return proba, decided

    @classmethod
    def _read_weights(cls, weights_path: Path, codebook: Codebook, config: Config) -> tuple[LearnedTagger, dict]:
        """A tagger with the saved arrays (never pickles: numpy refuses object arrays)."""
        with np.load(weights_path, allow_pickle=False) as w:
            tagger = cls(codebook, config=config)
            tagger.base_coef_, tagger.base_intercept_ = w["base_coef"], w["base_intercept"]
            tagger.coef_, tagger.intercept_, tagger.weight_ = w["coef"], w["intercept"], w["weight"]
            tagger.lex_mask_, tagger.lex_intercept_ = w["lex_mask"].astype(bool), w["lex_intercept"]
            tagger.lex_coef_ = from_sparse_rows(w["lex_data"], w["lex_indices"], w["lex_indptr"], w["lex_shape"])
            tagger.lexical_ = LexicalFeatures(w["idf"]) if len(w["idf"]) else None
            head = {k[len("head_") :]: w[k] for k in w.files if k.startswith("head_")}
        return tagger, head

    def _load_head(self, meta: dict, arrays: dict) -> None:
        """The model of whole decisions as saved (none in a v4 model)."""
        self.head_mode_ = meta.get("mode", "codes")
        self.head_scale_ = float(meta.get("codebook_logit_scale", 1.0))
        self.head_check_ = meta.get("check")
        self.head_ = None
        if self.head_mode_ != "codes":
            power = float(meta.get("power", 0.0))
            self.head_ = DecisionModel.from_arrays(self.config.seed, meta["classes"], arrays, power=power)

    def base_scores(self, units: UnitVectors) -> np.ndarray:
        """(passages, K) codebook-only scores: each code's best unit."""
        proba = expit(np.asarray(units.vectors, dtype=np.float64) @ self.base_coef_.T + self.base_intercept_)
        return np.maximum.reduceat(proba, units.bounds[:-1], axis=0) if len(units) else proba[:0]

    # --- persistence ------------------------------------------------------------------

    def save(
        self,
        out_dir: Path,
        *,
        codebook_sha256: str,
        embedder: Embedder,
        training: list[dict],
        ids: list[str] = (),
        encoder: dict | None = None,
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
                **{f"head_{k}": v for k, v in (self.head_.arrays() if self.head_ is not None else {}).items()},
            )
        meta = {
            "strategy": self.strategy,
            "codebook": {"name": self.codebook.name, "version": self.codebook.version, "sha256": codebook_sha256},
            "codes": self.codebook.code_ids,
            "modes": dict(zip(self.codebook.code_ids, self.modes_)),
            "embedding_model": vector_space(embedder.fingerprint),
            "config": self.config.model_dump(mode="json"),
            "settings": learner_settings(),
            "learned": {
                "codebook_weight": self.codebook_weight_,
                "n0": self.n0_,
                "codes_per_passage": {"least": self.min_codes_, "most": self.max_codes_},
                **({"chosen": "with the encoder before it was tuned"} if self.fixed is not None else {}),
            },
            "decisions": {
                "mode": self.head_mode_,
                "classes": [list(c) for c in self.head_.classes_] if self.head_ is not None else [],
                "codebook_logit_scale": self.head_scale_,
                "power": self.head_.power if self.head_ is not None else 0.0,
                "powers_tried": list(self.powers),
                "check": self.head_check_,
            },
            "training": {"passages": self.n_train_, "files": training, "ids": sorted(ids)},
            "encoder_tuning": encoder,
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
        if meta.get("strategy") not in (STRATEGY, *READS):
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
        try:
            tagger, head = cls._read_weights(weights_path, codebook, config)
        except (ValueError, OSError, KeyError, zipfile.BadZipFile) as err:  # pickled object arrays are refused
            raise InputError(weights_path, f"not a qcode weights file: {str(err)[:300]}") from None
        tagger._load_head(meta.get("decisions") or {}, head)
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


def _mode(check: dict | None, words) -> str:
    """A code's mode by its cross-check: the word model where it gains more than a
    standard error over the blend, codebook scoring where the blend is clearly worse on
    the reviewers' own passages, else the blend ("learned")."""
    if check is None:
        return "learned"
    if words is not None and check["lexical_gain"] > check["lexical_gain_se"]:
        return "lexical"
    return "codebook" if check["gain"] < -check["gain_se"] else "learned"


def learner_settings() -> dict:
    """The learner's fixed settings, as model.json records them."""
    return {
        "C": C,
        "n0": N0,
        "folds": FOLDS,
        "lexical_passages": LEXICAL_PASSAGES,
        "min_lexical": MIN_LEXICAL,
        "trust": [list(t) for t in TRUST],
        "min_trust": MIN_TRUST,
        "min_choice": MIN_CHOICE,
        "coded_share": CODED_SHARE,
        "min_coded_only": MIN_CODED_ONLY,
        "second_code_share": SECOND_CODE_SHARE,
    }


def fit_labelled(
    codebook: Codebook, data: Labelled, *, config: Config, embedder: Embedder, fixed: dict | None = None
) -> LearnedTagger:
    """The learner fitted on labelled passages (and adapted to their whole study); `fixed`:
    its choices made before the encoder was tuned (`LearnedTagger.fixed`)."""
    study = embed_units(embedder, data.study, config) if data.study else None
    tagger = LearnedTagger(codebook, config=config)
    tagger.fixed = fixed
    return tagger.fit(embedder, data, study=study)


def learn(
    files: list[Path],
    *,
    out_dir: Path,
    codebook_path: Path | None,
    config: Config,
    embedder: Embedder,
    encoder: dict | None = None,
    fixed: dict | None = None,
    read: tuple[Codebook, Labelled, Path] | None = None,
) -> LearnedTagger:
    """Train on reviewed/labelled files and write MODEL_DIR/model.json + weights.npz
    (`encoder`: whether the encoder was tuned and why, recorded in model.json; `fixed`:
    the learner's choices made before the encoder was tuned; `read`: what
    `read_labelled(files, codebook_path)` gave, where the caller has read them already)."""
    from .io import file_sha256

    codebook, data, codebook_path = read or read_labelled(files, codebook_path)
    tagger = fit_labelled(codebook, data, config=config, embedder=embedder, fixed=fixed)
    origins = Counter(data.origins or [])
    tagger.save(
        out_dir,
        codebook_sha256=file_sha256(codebook_path),
        embedder=embedder,
        training=[{"path": str(f), "sha256": file_sha256(f), "passages": origins[str(f)]} for f in files],
        ids=data.ids,
        encoder=encoder,
    )
    write_training(out_dir, data)
    keep_codebook(out_dir, codebook_path)
    return tagger


def keep_codebook(out_dir: Path, codebook_path: Path) -> None:
    """A byte copy of the codebook file beside the model (its sha256 is the one in
    model.json), so `code --model` and `evaluate --model` need no --codebook."""
    for old in Path(out_dir).glob(f"{CODEBOOK}.*"):
        old.unlink()
    with atomic_write(Path(out_dir) / f"{CODEBOOK}{Path(codebook_path).suffix}", "wb") as f:
        f.write(Path(codebook_path).read_bytes())
