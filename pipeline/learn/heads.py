"""How passages are decided (v5, `_fit_head`, from MIN_HEAD labelled passages): by the
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

The per-code models and a model of whole decisions may also decide together (v10,
"combined", tried last): each code's per-code score and its probability of being in the
whole decision (on the passage and its neighbours where known), the latter as log-odds
against the code's share of the labelled passages, averaged as log-odds, then decided as
the per-code models decide (threshold, codes per passage). A model of whole decisions is
calibrated to how often each decision occurs and the per-code models see each code alone;
where codes come together (what a practitioner's turn does) the two disagree usefully.

`DecidingHead` holds this part of `LearnedTagger` (tagger.py).
"""

from __future__ import annotations

import numpy as np

from ..decision import (
    DecisionModel,
    balanced_logits,
    chosen_on_gain,
    code_prior,
    codebook_logits,
    combined_scores,
    mean_kappa,
    neighbour_means,
    passage_features,
    passage_means,
    passage_texts,
)
from ..evaluate import label_matrix
from ..labelled import Labelled
from ..units import UnitVectors
from .settings import FOLDS, HEADS, MIN_HEAD


def moved_by_threshold(best: set[int], marginals: np.ndarray, threshold: float) -> set[int]:
    """A whole decision's codes as `--threshold` moves them: at 0.5 the most probable
    decision as it is; above, only its codes at least that probable; below, any code
    at least that probable is added."""
    if threshold > 0.5:
        return {k for k in best if marginals[k] >= threshold}
    if threshold < 0.5:
        return best | {int(k) for k in np.flatnonzero(marginals >= threshold)}
    return best


def richest(features: dict) -> str:
    """The features a combined way reads its model of whole decisions on: with the
    neighbours where the documents are known."""
    return "context" if "context" in features else "decisions"


class DecidingHead:
    """How passages are decided: chosen out of fold, fitted, and applied (a part of
    `LearnedTagger`)."""

    # The ways of deciding tried, in order (settings.HEADS); the review page leaves out
    # "combined" (reviewing/choice.py: it weighs its own candidates by wrong pre-selections).
    heads: tuple[str, ...] = HEADS

    def _fit_head(self, units: UnitVectors | None, data: Labelled, base_scores, study: UnitVectors | None) -> None:
        """Choose how passages are decided, out of fold on the labelled passages (mean
        kappa over the codes they carry): by the per-code models, by a model of whole
        decisions on each passage (decision.py), with or without its neighbours, or by
        the per-code models and that model together (v10). Folds are whole documents
        where the documents are known."""
        self.head_, self.head_mode_, self.head_scale_, self.head_check_ = None, "codes", 1.0, None
        self.head_source_, self.head_prior_ = None, None
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
            self._check_heads(units, data.labels, base_scores, features)
        if self.head_mode_ == "combined":
            self.head_source_ = richest(features)
            self.head_ = DecisionModel(self.config.seed).fit(features[self.head_source_], decisions)
            self.head_prior_ = code_prior(decisions, ids)
        elif self.head_mode_ != "codes":
            power = self.head_check_.get("powers", {}).get(self.head_mode_, {}).get("chosen", 0.0)
            self.head_ = DecisionModel(self.config.seed, power=power).fit(features[self.head_mode_], decisions)

    def _check_heads(self, units: UnitVectors, labels: list[list[str]], base_scores, features: dict) -> None:
        """Each way of deciding out of fold (a model of whole decisions at its best power),
        then `_choose_head`. The combined way reads the per-code models' out-of-fold
        scores and the out-of-fold code probabilities of the model of whole decisions on
        the richest features (with the neighbours where known)."""
        ids = self.codebook.code_ids
        decisions = [tuple(d) for d in labels]
        code_scores = self._scores_by_document(units, labels, base_scores)
        oof = {"codes": [tuple(ids[k] for k in row) for row in self.decide(code_scores)]}
        powers, balanced = {}, {}
        for mode, X in features.items():
            by_power, balanced[mode] = DecisionModel(self.config.seed).out_of_fold_fits(
                X, decisions, self._groups, self.powers, ids
            )
            powers[mode], oof[mode] = self._best_power(labels, by_power)
        if "combined" in self.heads:
            both = combined_scores(code_scores, balanced[richest(features)])
            oof["combined"] = [tuple(ids[k] for k in row) for row in self.decide(both)]
        self.head_mode_, self.head_check_ = self._choose_head(labels, oof)
        self.head_check_["powers"] = powers
        self.oof_codes_ = [list(d) for d in oof[self.head_mode_]]  # as this model decides, out of fold

    def _scores_by_document(self, units: UnitVectors, labels: list[list[str]], base_scores: np.ndarray):
        """The per-code models' scores out of fold, whole documents per fold (as the
        model of whole decisions is judged); shuffled passages where no document is known."""
        if self._groups is None or len(set(self._groups)) < FOLDS:
            return self.oof_scores_
        Y = label_matrix(labels, self.codebook.code_ids)
        owner = np.repeat(np.arange(len(units)), np.diff(units.bounds))
        scores = self.oof_scores_.copy()
        for k, mode in enumerate(self.modes_):
            if mode == "learned" and (k, (self.codebook_weight_, self.n0_), False) in self._oof:
                y = Y[:, k].astype(int)
                scores[:, k] = self._oof_blend(
                    k, units, owner, y, base_scores[:, k], (self.codebook_weight_, self.n0_), True
                )
        return scores

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

    def _choose_head(self, labels: list[list[str]], oof: dict) -> tuple[str, dict]:
        """(mode, check): each of HEADS in turn replaces the one chosen so far only where
        its out-of-fold mean kappa is higher by more than the bootstrap standard error of
        the difference (whole documents resampled where known): not on noise."""
        ids = self.codebook.code_ids
        Y = label_matrix(labels, ids)
        P = {mode: label_matrix([list(d) for d in pred], ids) for mode, pred in oof.items()}
        kappa = {mode: round(mean_kappa(Y, P[mode]), 4) for mode in P}
        ordered = {mode: P[mode] for mode in self.heads if mode in P}
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

    def scores_and_codes(self, units: UnitVectors, groups: list | None = None) -> tuple[np.ndarray, list[list[int]]]:
        """As every tagger's, but where a model of whole decisions was chosen (`_fit_head`):
        each code's probability of being in the decision, and the most probable decision
        (its codes best first). Its neighbours come from `groups` (passages in document
        order); without them a passage has none, as at a document's edge."""
        if self.head_ is None:
            return super().scores_and_codes(units, groups)
        base = self.base_scores(units)
        X = passage_features(units, base, passage_texts(units), scale=self.head_scale_)
        if "context" in (self.head_mode_, self.head_source_):
            X = np.hstack([X, neighbour_means(passage_means(units), groups)])
        if self.head_mode_ == "combined":
            marginals = self.head_.marginals(X, self.codebook.code_ids)
            proba = np.round(combined_scores(self.score(units), balanced_logits(marginals, self.head_prior_)), 4)
            return proba, self.decide(proba)
        proba = np.round(self.head_.marginals(X, self.codebook.code_ids), 4)
        index = {c: k for k, c in enumerate(self.codebook.code_ids)}
        decided = []
        for row, best in zip(proba, self.head_.best(X)):
            codes = moved_by_threshold({index[c] for c in best}, row, self.config.threshold)
            if not codes and self.config.every_passage_coded:
                codes = {int(np.argmax(row))}
            decided.append(sorted(codes, key=lambda k: (-row[k], k))[: self.config.max_codes])
        return proba, decided
