"""Cohen's kappa, with one rule for when it is undefined, used by `qcode agreement`, the
review page and `qcode evaluate` alike."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import cohen_kappa_score


def cohen_kappa(a, b) -> float | None:
    """Cohen's kappa of two raters' labels, or None where it is undefined: no items, or
    chance agreement already 1 (both raters gave every item the same one label)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0 or (np.array_equal(a, b) and len(np.unique(a)) == 1):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        k = cohen_kappa_score(a, b)
    return None if math.isnan(k) else float(k)
