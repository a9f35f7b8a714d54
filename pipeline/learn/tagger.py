"""`LearnedTagger`: the codebook-only tagger's scores blended with models learned from
labelled passages, per code or for whole decisions (see the package doc).

The shape of a decision is learned too (`decision_shape`): when nearly every reviewed
passage carries a code, every passage gets at least its best code, and no passage gets
more codes than reviewers commonly give one (the 90th percentile; two where one coded
passage in twenty carries two, v9). From MIN_CHOICE reviewed passages, or from
MIN_CODED_ONLY where every one carries a code (a highlights export holds nothing else).

The codebook part heeds the labels (v7, `_heed`): adapting to the study guessed each
thin or rarely found code's examples from its units, blind to any label. Where passages
are decided by the per-code models, once every check above has been made on the codebook
part as it was, the part they blend with drops an adapted code's examples on passages
labelled without it and takes, as examples, the best unit of each passage labelled with
it (adapt.py, `heed`). A code reviewers have never given keeps its examples except where they
said no. The base tagger stays as adapted: the page's models of whole decisions read its
scores, and on the labelled passages a heeded part would tell them the answer.

The per-code models are in per_code.py, how passages are decided in heads.py, saving
and loading in saved.py.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.special import expit

from ..decision import POWERS
from ..embed import Embedder
from ..evaluate import label_matrix
from ..labelled import Labelled
from ..lexical import LexicalFeatures
from ..tag import CodebookTagger, Tagger
from ..units import UnitVectors, embed_units
from .heads import DecidingHead
from .per_code import PerCodeModels
from .saved import SavedModel
from .settings import (
    CODED_SHARE,
    FOLDS,
    LEXICAL_PASSAGES,
    MIN_CHOICE,
    MIN_CODED_ONLY,
    MIN_LEXICAL,
    N0,
    SECOND_CODE_SHARE,
    STRATEGY,
    C,
)


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


class LearnedTagger(PerCodeModels, DecidingHead, SavedModel, Tagger):
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
        return max(self.min_codes_, int(self.config.every_passage_coded)), min(self.max_codes_, self.config.max_codes)

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
        with heeds the labelled passages (adapt.py, `heed`: its adapted examples follow the
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

    def base_scores(self, units: UnitVectors) -> np.ndarray:
        """(passages, K) codebook-only scores: each code's best unit."""
        proba = expit(np.asarray(units.vectors, dtype=np.float64) @ self.base_coef_.T + self.base_intercept_)
        return np.maximum.reduceat(proba, units.bounds[:-1], axis=0) if len(units) else proba[:0]
