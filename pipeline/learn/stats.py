"""F1, its bootstrap standard error, best cuts and balanced weights: the statistics the
learner's checks are made of (per_code.py)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold

from .settings import FOLDS


def f1_of(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 along the last axis (0 where there is neither a label nor a prediction)."""
    tp = (pred & (y == 1)).sum(axis=-1)
    denom = pred.sum(axis=-1) + (y == 1).sum(axis=-1)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def paired_f1_se(y: np.ndarray, learned: np.ndarray, base: np.ndarray, *, seed: int, rounds: int = 500) -> float:
    """Bootstrap standard error of F1(learned) - F1(base) over the same passages."""
    idx = np.random.default_rng(seed).integers(0, len(y), size=(rounds, len(y)))
    return float(np.std(f1_of(y[idx], learned[idx]) - f1_of(y[idx], base[idx])))


def best_cut(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best F1 (ties: the higher, fewer codes)."""
    best = (-1.0, 0.0)
    for cut in np.unique(np.quantile(scores, np.linspace(0.0, 0.995, 200))):
        f1 = float(f1_of(y, scores >= cut))
        if f1 >= best[0]:
            best = (f1, float(cut))
    return best[1]


def held_out_cut_predictions(y: np.ndarray, scores: np.ndarray, seed: int) -> np.ndarray:
    """Predictions at a cut chosen without the passage being predicted: for each of 5
    folds, the best-F1 cut on the other folds' scores. (Choosing and scoring the cut on the
    same scores would flatter the word model against the blend's fixed threshold.)"""
    folds = StratifiedKFold(n_splits=min(FOLDS, int(y.sum()), int(len(y) - y.sum())), shuffle=True, random_state=seed)
    out = np.zeros(len(y), dtype=bool)
    for rest, part in folds.split(np.zeros(len(y)), y):
        out[part] = scores[part] >= best_cut(y[rest], scores[rest])
    return out


def balanced(y: np.ndarray) -> np.ndarray:
    """Sample weights that make positives and negatives of one source weigh alike."""
    w = np.ones(len(y))
    pos = int(y.sum())
    if 0 < pos < len(y):
        w[y == 1] = len(y) / (2 * pos)
        w[y == 0] = len(y) / (2 * (len(y) - pos))
    return w
