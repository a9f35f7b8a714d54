"""Agreement between coders on the passages they share: per-code Cohen's kappa (mean over
pairs of coders when there are more than two), Krippendorff's alpha (nominal; any number
of coders, missing values allowed) and percent agreement, each over all shared passages
and over those at least one coder coded ("_coded").

Each file is one coder: a reviewer's decisions where the file has any, else the
machine's `codes`.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import krippendorff
import numpy as np
from pydantic import BaseModel

from .errors import InputError
from .evaluate import read_gold
from .io import read_jsonl
from .kappa import cohen_kappa
from .reviewing.reviews import SOURCES, codes_for
from .schemas import Codebook, GoldItem, final_codes
from .store import read_excerpts


class CodeAgreement(BaseModel):
    code: str
    kappa: float | None
    alpha: float | None
    percent: float | None
    kappa_coded: float | None
    alpha_coded: float | None
    percent_coded: float | None


class AgreementReport(BaseModel):
    coders: list[str]
    units: int  # passages coded by at least two coders
    units_coded: int  # ... of which at least one coder applied some code
    per_code: list[CodeAgreement]
    mean_kappa: float | None
    mean_alpha: float | None
    mean_percent: float | None
    mean_kappa_coded: float | None
    mean_alpha_coded: float | None
    mean_percent_coded: float | None


AGREEMENT_SOURCES = ("auto", *SOURCES)


def coder_from_file(
    path: Path, source: str = "auto", codebook: Codebook | None = None
) -> tuple[str, dict[str, set[str]]]:
    """(coder name, passage id -> codes) for one file: a gold file's labels, or an excerpts
    file's codes by `source` (machine, reviewed, final as in `counts`; auto: the
    reviewers' decisions where the file has any, else the machine's codes)."""
    from .labelled import is_gold_file

    if is_gold_file(path):
        items = read_gold(path, codebook) if codebook is not None else [item for _, item in read_jsonl(path, GoldItem)]
        return f"labels ({path.stem})", {item.id: set(item.labels) for item in items}
    excerpts = read_excerpts(path)
    if not excerpts:
        raise InputError(path, "no excerpts")
    if source != "auto":
        coded = {e.id: codes_for(e, source) for e in excerpts}
        name = "machine" if source == "machine" else "reviewers" if source == "reviewed" else "final"
        return f"{name} ({path.stem})", {k: set(v) for k, v in coded.items() if v is not None}
    decided = {e.id: final_codes(e) for e in excerpts}
    decided = {k: set(v) for k, v in decided.items() if v is not None}
    if decided:
        names = sorted({e.review.reviewer for e in excerpts if e.review.status != "pending" and e.review.reviewer})
        return (", ".join(names) if names else path.stem), decided
    return f"machine ({path.stem})", {e.id: set(e.codes) for e in excerpts}


def coders_by_model(path: Path) -> list[tuple[str, list[tuple[str, dict[str, set[str]]]]]]:
    """Per model whose suggestions reviewers saw (`review.suggested_by`: batch, live-1, ...):
    the model's pre-selected codes and the reviewers' final codes, on the passages decided
    on its suggestions (never passages it learned from: a live model suggests only for
    passages pending when it was made)."""
    groups: dict[str, list] = {}
    for e in read_excerpts(path):
        codes = final_codes(e)
        if codes is not None and e.review.suggested_by and e.review.suggested is not None:
            groups.setdefault(e.review.suggested_by, []).append((e.id, set(e.review.suggested), set(codes)))
    if not groups:
        raise InputError(
            path,
            "no decision records the model that suggested it (decisions made on the review page since qcode 0.1 do)",
        )

    def order(model: str) -> tuple[int, int]:
        return (
            (0, 0)
            if model == "batch"
            else (1, int(model.rsplit("-", 1)[-1]) if model.rsplit("-", 1)[-1].isdigit() else 0)
        )

    return [
        (model, [(f"{model} (suggested)", {i: s for i, s, _ in rows}), ("reviewers", {i: f for i, _, f in rows})])
        for model, rows in sorted(groups.items(), key=lambda kv: order(kv[0]))
    ]


def nominal_alpha(data: np.ndarray) -> float | None:
    """Krippendorff's alpha, nominal, for coders x units with NaN for missing; None when
    undefined (fewer than two values in the data, or no pairable units)."""
    values = data[~np.isnan(data)]
    if len(np.unique(values)) < 2:
        return None
    a = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    return None if math.isnan(a) else float(a)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return round(float(np.mean(vals)), 4) if vals else None


def agreement(coders: list[tuple[str, dict[str, set[str]]]], code_ids: list[str] | None = None) -> AgreementReport:
    if len(coders) < 2:
        raise ValueError("agreement needs at least two coders")
    names = [n for n, _ in coders]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # two files by one reviewer stay two coders
        if n in seen:
            names[i] = f"{n} #{i + 1}"
        seen[n] = i
    all_ids = sorted(set().union(*(set(labels) for _, labels in coders)))
    coverage = np.array([[pid in labels for pid in all_ids] for _, labels in coders])
    units = [pid for pid, col in zip(all_ids, coverage.T) if col.sum() >= 2]
    used = set().union(*(c for _, labels in coders for c in labels.values()))
    codes = list(code_ids) if code_ids else sorted(used)
    codes += sorted(used - set(codes))
    coded_units = [u for u in units if any(labels.get(u) for _, labels in coders)]
    per_code = []
    for code in codes:
        row = {"code": code}
        for suffix, subset in (("", units), ("_coded", coded_units)):
            data = np.array(
                [[float(code in labels[u]) if u in labels else np.nan for u in subset] for _, labels in coders]
            ).reshape(len(coders), len(subset))
            kappas = []
            for i, j in itertools.combinations(range(len(coders)), 2):
                both = ~np.isnan(data[i]) & ~np.isnan(data[j])
                kappas.append(cohen_kappa(data[i, both], data[j, both]))
            row["kappa" + suffix] = _round(_mean(kappas)) if any(k is not None for k in kappas) else None
            row["alpha" + suffix] = _round(nominal_alpha(data)) if subset else None
            agree = [len({v for v in col if not np.isnan(v)}) == 1 for col in data.T]
            row["percent" + suffix] = _round(float(np.mean(agree))) if agree else None
        per_code.append(CodeAgreement(**row))
    present = [c for c in per_code if c.code in used]

    def m(field: str) -> float | None:
        return _mean([getattr(c, field) for c in present])

    return AgreementReport(
        coders=names,
        units=len(units),
        units_coded=len(coded_units),
        per_code=per_code,
        mean_kappa=m("kappa"),
        mean_alpha=m("alpha"),
        mean_percent=m("percent"),
        mean_kappa_coded=m("kappa_coded"),
        mean_alpha_coded=m("alpha_coded"),
        mean_percent_coded=m("percent_coded"),
    )
