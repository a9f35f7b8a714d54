"""The learner's choices, and the same choices averaged over several cross-validation splits.

`qcode learn`'s learner chooses out of fold: how far the codebook is trusted, each code's
mode (codebook, learned, word features) and how passages are decided (per code, whole
decisions, with neighbours). Made on one split of the folds, those choices follow how the
folds fall: the same 584 labelled passages in another order (another split) moved the
wrong suggestions on 500 other passages from 160 to 218 (docs/tagging.md). So the learner
makes them on SPLITS splits drawn from the one seed and keeps, for each, the average:
the trust chosen most often, each code's mode from its mean check, the decider from the
mean out-of-fold kappas and standard errors. Plain functions of the choices' dicts
(`LearnedTagger.choices()`); learn.py fits.
"""

from __future__ import annotations

import numpy as np

SPLITS = 5  # cross-validation splits the choices are averaged over (seeds seed, seed + 1, ...)


def code_mode(check: dict | None, words: bool) -> str:
    """A code's mode by its cross-check: the word model where it gains more than a
    standard error over the blend, codebook scoring where the blend is clearly worse on
    the reviewers' own passages, else the blend ("learned")."""
    if check is None:
        return "learned"
    if words and "lexical_gain" in check and check["lexical_gain"] > check["lexical_gain_se"]:
        return "lexical"
    return "codebook" if check["gain"] < -check["gain_se"] else "learned"


def pick_head(kappa: dict, se: dict, order: tuple[str, ...]) -> tuple[str, dict]:
    """(mode, gains): each mode of `order` after the first replaces the one chosen so far
    only where its mean kappa is higher by more than the standard error of the difference
    (`se["mode/chosen"]`): not on noise."""
    chosen, gains = order[0], {}
    for mode in order[1:]:
        if mode in kappa:
            s = se[f"{mode}/{chosen}"]
            gains[mode] = {"over": chosen, "gain": round(kappa[mode] - kappa[chosen], 4), "se": round(s, 4)}
            if kappa[mode] - kappa[chosen] > s:
                chosen = mode
    return chosen, gains


def most_often(values: list):
    """The value chosen most often; a tie goes to the one chosen first (the seed's own split)."""
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.get)


def _mean_dict(dicts: list[dict]) -> dict:
    """Key by key mean of the numbers every dict has."""
    keys = set.intersection(*(set(d) for d in dicts))
    return {k: round(float(np.mean([d[k] for d in dicts])), 4) for k in sorted(keys)}


def averaged_code(entries: list[dict], modes: list[str]) -> tuple[dict, str]:
    """(a code's report entry with its mean check, its mode) over the splits' entries."""
    checks = [e.get("cv") for e in entries]
    entry = dict(entries[0])
    if any(c is None for c in checks):
        return entry, most_often(modes)
    entry["cv"] = _mean_dict(checks)
    return entry, code_mode(entry["cv"], words=all("lexical_gain" in c for c in checks))


def averaged_head(checks: list[dict | None], order: tuple[str, ...]) -> dict | None:
    """How passages are decided, from the splits' mean out-of-fold kappas and standard errors."""
    if any(c is None for c in checks):
        return None
    kappa = _mean_dict([c["mean_kappa_out_of_fold"] for c in checks])
    se = _mean_dict([c["se"] for c in checks])
    chosen, gains = pick_head(kappa, se, order)
    return {
        **checks[0],
        "mean_kappa_out_of_fold": kappa,
        "se": se,
        "gains": gains,
        "chosen": chosen,
        "splits": len(checks),
    }


def averaged_choices(runs: list[dict], order: tuple[str, ...]) -> dict:
    """One set of choices (as `LearnedTagger.choices()` gives them) from several splits'."""
    report, modes = {}, {}
    for code in runs[0]["modes"]:
        report[code], modes[code] = averaged_code([r["report"][code] for r in runs], [r["modes"][code] for r in runs])
    return {
        "trust": list(most_often([tuple(r["trust"]) for r in runs])),
        "modes": modes,
        "report": report,
        "head": averaged_head([r["head"] for r in runs], order),
        "splits": len(runs),
    }
