"""Agreement between the tagger and a gold file: per-code P/R/F1/kappa, macro and micro.

Gold format (JSONL): {"id": "...", "text": "...", "labels": ["code_id", ...]}, with an
optional "source" (or "transcript") naming the document a row comes from. Each text is
coded as one passage (scored by its units, like any passage); rows of one document, in
file order, are each other's neighbours, as the passages of a coded transcript are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel

from .errors import InputError
from .io import read_jsonl
from .kappa import cohen_kappa
from .schemas import Codebook, GoldItem
from .units import embed_units


class CodeScore(BaseModel):
    code: str
    precision: float
    recall: float
    f1: float
    kappa: float | None  # None: undefined (see kappa.py)
    support: int
    predicted: int


class EvalReport(BaseModel):
    n: int
    macro_f1: float
    micro_f1: float
    mean_kappa: float
    per_code: list[CodeScore]
    uncoded: int = 0  # gold passages without a code


def read_gold(path: Path, codebook: Codebook) -> list[GoldItem]:
    """Read a gold file; unknown codes and duplicate ids are errors naming the line."""
    known = set(codebook.code_ids)
    items, seen = [], {}
    for n, item in read_jsonl(path, GoldItem):
        unknown = [c for c in item.labels if c not in known]
        if unknown:
            raise InputError(path, f"unknown code(s) {unknown} not in codebook {codebook.name!r}", n)
        if item.id in seen:
            raise InputError(path, f"duplicate id {item.id!r} (first on line {seen[item.id]})", n)
        seen[item.id] = n
        items.append(item)
    if not items:
        raise InputError(path, "no gold lines")
    return items


def label_matrix(labels: list[list[str]], code_ids: list[str]) -> np.ndarray:
    index = {c: k for k, c in enumerate(code_ids)}
    m = np.zeros((len(labels), len(code_ids)), dtype=np.int8)
    for i, row in enumerate(labels):
        for c in row:
            m[i, index[c]] = 1
    return m


def _round(k: float | None) -> float | None:
    return None if k is None else round(k, 4)


def _mean_kappa(kappas: list[float | None]) -> float:
    """Mean over the codes where kappa is defined (0.0 when none is)."""
    defined = [k for k in kappas if k is not None]
    return round(float(np.mean(defined)), 4) if defined else 0.0


def score(gold: list[list[str]], predicted: list[list[str]], code_ids: list[str]) -> EvalReport:
    """Per-code scores for every code; macro-F1 and mean kappa over the codes that occur in
    `gold`; micro-F1 pooled over those same codes."""
    y = label_matrix(gold, code_ids).astype(bool)
    p = label_matrix(predicted, code_ids).astype(bool)
    tp = (y & p).sum(axis=0)
    support, n_pred = y.sum(axis=0), p.sum(axis=0)
    prec = np.divide(tp, n_pred, out=np.zeros(len(code_ids)), where=n_pred > 0)
    rec = np.divide(tp, support, out=np.zeros(len(code_ids)), where=support > 0)
    f1 = np.divide(2 * tp, support + n_pred, out=np.zeros(len(code_ids)), where=(support + n_pred) > 0)
    per_code = [
        CodeScore(
            code=c,
            precision=round(float(prec[k]), 4),
            recall=round(float(rec[k]), 4),
            f1=round(float(f1[k]), 4),
            kappa=_round(cohen_kappa(y[:, k].astype(int), p[:, k].astype(int))),
            support=int(support[k]),
            predicted=int(n_pred[k]),
        )
        for k, c in enumerate(code_ids)
    ]
    present = [k for k in range(len(code_ids)) if support[k] > 0]
    pooled = int(support[present].sum() + n_pred[present].sum()) if present else 0
    micro = 2 * int(tp[present].sum()) / pooled if pooled else 0.0
    return EvalReport(
        n=len(gold),
        macro_f1=round(float(np.mean([per_code[k].f1 for k in present])) if present else 0.0, 4),
        micro_f1=round(float(micro), 4),
        mean_kappa=_mean_kappa([per_code[k].kappa for k in present]),
        per_code=per_code,
        uncoded=sum(not any(c in code_ids for c in labels) for labels in gold),
    )


def evaluate_file(
    gold_path: Path,
    *,
    codebook: Codebook,
    tagger,
    embedder,
) -> EvalReport:
    """Code each gold text as one passage with a fitted tagger and score it. A
    codebook-only tagger first adapts to the gold texts as a study (no labels read), as
    `qcode code` adapts to the passages it codes."""
    from .tag import CodebookTagger

    items = read_gold(gold_path, codebook)
    units = embed_units(embedder, [it.text for it in items], tagger.config)
    if isinstance(tagger, CodebookTagger):
        tagger.adapt(units)
    predicted = [codes for _, codes in tagger.suggest(units, [it.document for it in items])]
    return score([it.labels for it in items], predicted, codebook.code_ids)
