"""A codebook of names and one-line definitions gives each code one sentence, written
unlike anything people say: alone, it puts almost no passage at 0.5 (mean kappa 0.00-0.02
on six real and self-written sets). Such a thin code (a definition and nothing else to
tag by) is also said as talk ("Someone talking about <name>: <definition>", `phrasings`),
and the tagger reads the study it codes, without any label (`adapt`). Thin codes, and
codes the codebook alone applies to fewer than a tenth of an even share of the study's
units (`ADAPT_SHARE` x units / codes), do not speak the study's language: the study's
units that rank the code highest among the codes (robust z of its score over the study,
at least 1) and whose nearest codebook sentence is one of its own become up to
`ADAPT_PER_CODE` examples of it, written in the study's own words, and its regression is
fitted again. Codes with examples that the codebook already finds in the study keep
their codebook-only scores (adapting them too cost 0.01-0.06 kappa on real sets with
rich codebooks). So do codes with an example quoted from the study itself (its words,
at least `QUOTED_WORDS` of them, appear in one of the study's passages): their entry
already speaks the study's language, so a low count says the code is rare, and adapting
it would make it common (issue 36: a code given to 2 of 124 survey answers went from 1
answer to 9). Choices and results: docs/tagging.md ("Codebook richness"). A learned
model's codebook part then `heed`s the labelled passages: their decisions replace
adaptation's guesses (learn/tagger.py, v7).

`StudyAdaptation` holds this part of the codebook-only tagger (tag.py, `CodebookTagger`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Self

import numpy as np
from scipy.special import expit

from .codebook import is_thin
from .units import UnitVectors

ADAPT_PER_CODE = 20  # study units taken as examples of a code, at most
ADAPT_Z = 1.0  # ... each at least this many robust standard deviations above the study's median for it
ADAPT_MIN = 3  # fewer examples per code than this (a tiny study): no adaptation
ADAPT_SHARE = 0.1  # a code applied to fewer than this share of units / codes is adapted
QUOTED_WORDS = 5  # an example of at least this many words found in a study passage is quoted from it
CHUNK = 8192  # units scored at once while adapting (memory stays flat on large studies)


class StudyAdaptation:
    """Adapting a codebook's thin and rarely found codes to the study's own words, and
    heeding reviewers' decisions there (a part of `CodebookTagger`)."""

    def adapt(self, study: UnitVectors | np.ndarray, texts: Iterable[str] | None = None) -> Self:
        """Take the study's most typical units of each code as its examples and refit (see
        the module doc). A study too small to give every code ADAPT_MIN examples is left
        alone. `texts`: the study's passages (by default as its units' texts give them,
        where it has them), read for examples quoted from it."""
        vectors = study.vectors if isinstance(study, UnitVectors) else np.asarray(study)
        if len(vectors) == 0:
            self.cover_ = None
            return self
        logits = _logits(vectors, self.coef_, self.intercept_)
        best = logits.max(axis=0)
        refit = self._adapt(vectors, logits, study, texts)
        if refit.any():  # only the refitted codes' scores moved
            best[refit] = _logits(vectors, self.coef_[refit], self.intercept_[refit]).max(axis=0)
        self.cover_ = np.round(expit(best), 4)
        return self

    def _adapt(
        self, vectors: np.ndarray, logits: np.ndarray, study: UnitVectors | np.ndarray, texts: Iterable[str] | None
    ) -> np.ndarray:
        """Adapt to the study's units (`logits`: theirs before), and return which codes
        were refitted."""
        n_codes = len(self.codebook.codes)
        per_code = examples_per_code(len(vectors), n_codes)
        self.adapted_ = {"units": int(len(vectors)), "per_code": int(per_code), "examples": {}}
        none = np.zeros(n_codes, dtype=bool)
        if per_code < ADAPT_MIN:
            return none
        if texts is None and isinstance(study, UnitVectors):
            texts = study.passage_texts()
        adapt = self._codes_to_adapt(logits, texts)
        if not adapt.any():
            return none
        rows, codes = study_examples(vectors, logits, self._positive_vectors(), per_code)
        keep = adapt[codes]
        rows, codes = rows[keep], codes[keep]
        self.study_rows_ = np.sort(rows)
        self.study_vectors_ = np.asarray(vectors[self.study_rows_] if len(rows) else vectors[:0], dtype=np.float32)
        self.study_codes_ = codes[np.argsort(rows, kind="stable")]
        self.adapted_["examples"] = {
            c: int((self.study_codes_ == k).sum()) for k, c in enumerate(self.codebook.code_ids) if adapt[k]
        }
        self._fit_heads(only=np.flatnonzero(adapt))
        return adapt

    def _codes_to_adapt(self, logits: np.ndarray, texts: Iterable[str] | None) -> np.ndarray:
        """(codes,) bool: the thin codes, and the codes the codebook alone applies to fewer
        than ADAPT_SHARE of an even share of the study's units, less those with an example
        quoted from it (the study's texts are read only where some such code has examples)."""
        threshold = self.config.threshold
        applied = (logits >= np.log(threshold / (1 - threshold)) if 0 < threshold < 1 else logits >= 0).sum(axis=0)
        thin = np.array([is_thin(c) for c in self.codebook.codes])
        adapt = (applied < ADAPT_SHARE * len(logits) / len(self.codebook.codes)) | thin
        quoted = self._quoted_codes(texts, among=adapt)
        self.adapted_["quoted"] = [c for k, c in enumerate(self.codebook.code_ids) if quoted[k]]
        return adapt & ~quoted

    def _quoted_codes(self, texts: Iterable[str] | None, among: np.ndarray | None = None) -> np.ndarray:
        """(codes,) bool: the codes (`among` these; by default all) with an example quoted
        from the study's `texts` (read a chunk of passages at a time, so that a large study
        is never held whole; not at all where no such code has an example)."""
        examples = [
            (k, f" {w} ")
            for k, c in enumerate(self.codebook.codes)
            if among is None or among[k]
            for w in map(words, c.examples)
            if len(w.split()) >= QUOTED_WORDS
        ]
        quoted = np.zeros(len(self.codebook.codes), dtype=bool)
        if texts is None or not examples:
            return quoted
        texts = iter(texts)
        while chunk := list(itertools.islice(texts, CHUNK)):
            study = f" | {' | '.join(map(words, chunk))} | "
            for k, example in examples:
                quoted[k] = quoted[k] or example in study
        return quoted

    def heed(self, study: UnitVectors, decided: dict[int, list[str]]) -> dict | None:
        """Where reviewers have decided passages of the study this tagger adapted to
        (`decided`: passage index -> its codes), their decision replaces adaptation's
        guess: an adapted code loses its examples on passages decided without it and
        takes, as an example, the best unit of each passage decided with it; the adapted
        codes are fitted again. Returns what moved (None where nothing was adapted)."""
        ids = self.codebook.code_ids
        adapted = [k for k, c in enumerate(ids) if c in (getattr(self, "adapted_", None) or {}).get("examples", {})]
        if not adapted:
            return None
        owner = np.repeat(np.arange(len(study)), np.diff(study.bounds))
        known = {p: {ids.index(c) for c in codes if c in ids} for p, codes in decided.items()}
        pairs = list(zip(self.study_rows_.tolist(), self.study_codes_.tolist()))
        kept = [(r, k) for r, k in pairs if k in known.get(int(owner[r]), {k})]  # undecided passages keep theirs
        have = set(kept)
        added = [(u, k) for u, k in self._decided_examples(study, known, set(adapted)) if (u, k) not in have]
        rows = sorted(kept + added)
        self.study_rows_ = np.array([r for r, _ in rows], dtype=np.int64)
        self.study_codes_ = np.array([k for _, k in rows], dtype=np.int64)
        self.study_vectors_ = np.asarray(study.vectors[self.study_rows_], dtype=np.float32).reshape(len(rows), -1)
        self._fit_heads(only=np.array(adapted))
        return {"decided_passages": len(known), "dropped": len(pairs) - len(kept), "added": len(added)}

    def _decided_examples(self, study: UnitVectors, known: dict[int, set[int]], adapted: set[int]):
        """(unit, code) for each decided passage and adapted code it was given: the
        passage's unit that scores the code highest."""
        for p in sorted(known):
            start, end = int(study.bounds[p]), int(study.bounds[p + 1])
            if end <= start:
                continue
            block = np.asarray(study.vectors[start:end], dtype=np.float64)
            for k in sorted(known[p] & adapted):
                yield start + int(np.argmax(block @ self.coef_[k] + self.intercept_[k])), k


def examples_per_code(units: int, codes: int) -> int:
    """How many study units adapting takes as a code's examples, at most: ADAPT_PER_CODE,
    fewer where the study is small (half its units shared among the codes)."""
    return min(ADAPT_PER_CODE, units // (2 * codes))


def words(text: str) -> str:
    """A text's words, lower case, one space apart (punctuation and spacing dropped)."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def robust_z(scores: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 MAD) per column: how far a unit stands out for a code
    against the study's typical unit."""
    median = np.median(scores, axis=0)
    mad = np.median(np.abs(scores - median), axis=0) * 1.4826
    return (scores - median) / np.maximum(mad, 1e-9)


def _logits(vectors: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """(units, codes) logits, a chunk of units at a time (a memory-mapped study stays on disk)."""
    out = np.empty((len(vectors), len(coef)), dtype=np.float64)
    for start in range(0, len(vectors), CHUNK):
        block = np.asarray(vectors[start : start + CHUNK], dtype=np.float64)
        out[start : start + len(block)] = block @ coef.T + intercept
    return out


def study_examples(
    vectors: np.ndarray, logits: np.ndarray, positives: tuple[np.ndarray, np.ndarray], per_code: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, codes): for each code, up to `per_code` units of the study that rank it first
    among the codes by robust z of their `logits` (>= ADAPT_Z) and whose nearest positive
    codebook sentence is one of its own, most typical first. Ties keep the study's order."""
    pos_vectors, pos_code = positives
    nearest = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), CHUNK):
        block = np.asarray(vectors[start : start + CHUNK], dtype=np.float64)
        nearest[start : start + len(block)] = pos_code[(block @ pos_vectors.T).argmax(axis=1)]
    z = robust_z(logits)
    top = z.argmax(axis=1)
    rows, codes = [], []
    for k in range(logits.shape[1]):
        candidates = np.flatnonzero((top == k) & (z[:, k] >= ADAPT_Z) & (nearest == k))
        chosen = candidates[np.argsort(-z[candidates, k], kind="stable")][:per_code]
        rows.append(chosen)
        codes.append(np.full(len(chosen), k, dtype=np.int64))
    return np.concatenate(rows), np.concatenate(codes)
