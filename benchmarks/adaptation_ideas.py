"""Ideas for adapting a bare codebook without inventing prevalence (issue 36), measured
codebook-only on the real sets; none is in qcode (docs/tagging.md says why).

    .venv/bin/python benchmarks/adaptation_ideas.py --idea names|blend|tail|negatives|bare|far [--amount A] \
        --set NAME GOLD CODEBOOK [--set ...]

Each idea subclasses the codebook-only tagger (`pipeline.tag.CodebookTagger`):

- `base`: qcode's rule as it is;
- `names`: a study unit becomes a code's example only where it also ranks the code
  first by cosine to the code's name alone (phrasings that must agree);
- `blend`: an adapted code's logit is A x adapted + (1 - A) x codebook-only (A: --amount);
- `tail`: a code is adapted only where at least A of the study's units score it at robust
  z >= 3 before adapting (a heavy tail as evidence that the code is there);
- `negatives`: the study units that typify the codes the codebook already finds are kept
  too, as negatives of the adapted codes (so that an adapted code learns the study's
  language against the study's other talk, not against the codebook's sentences alone);
- `bare`: only codes whose entry has no examples are adapted;
- `far`: each adapted code also learns, as negatives, A x its examples of the study's
  units that score it lowest (evenly spaced over the lower half of its scores), so that
  it learns the study's language against the study's own talk, not against the
  codebook's sentences alone, without taking likely positives as negatives.

Per set it prints mean kappa, macro-F1 and, for each code given to 1-3 rows, (rows given,
rows applied, kappa).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.special import expit

import pipeline.adapt as tag
from pipeline import Config, load_codebook
from pipeline.embed import build_embedder
from pipeline.evaluate import evaluate_file
from pipeline.tag import CodebookTagger


class Idea(CodebookTagger):
    idea = "base"
    amount = 0.5

    def fit(self, embedder, study=None):
        self.embedder_ = embedder
        return super().fit(embedder, study)

    def adapt(self, study):
        vectors = np.asarray(study.vectors if hasattr(study, "vectors") else study, dtype=np.float64)
        before = self.coef_.copy(), self.intercept_.copy()
        if self.idea in ("negatives", "bare"):
            self._adapt_selectively(vectors, study.passage_texts() if hasattr(study, "passage_texts") else None)
        elif self.idea == "names":
            names = np.asarray(self.embedder_.embed([c.name for c in self.codebook.codes]), dtype=np.float64)
            self.agree_ = tag.robust_z(vectors @ names.T).argmax(axis=1)
            original, tag.study_examples = tag.study_examples, self._agreeing_examples
            try:
                super().adapt(study)
            finally:
                tag.study_examples = original
        else:
            if self.idea == "far":
                self.far_, self.study_all_ = self._far_negatives(vectors), vectors
            super().adapt(study)
        self.before_ = before
        self.adapted_mask_ = np.array([c in self.adapted_.get("examples", {}) for c in self.codebook.code_ids])
        if self.idea == "tail" and self.adapted_mask_.any():
            share = (tag.robust_z(tag._logits(vectors, *before)) >= 3).mean(axis=0)
            weak = self.adapted_mask_ & (share < self.amount)
            self.coef_[weak], self.intercept_[weak] = before[0][weak], before[1][weak]
        return self

    def _far_negatives(self, vectors):
        """{code: rows of the study's units in the lower half of its scores, evenly spaced}."""
        logits = tag._logits(vectors, self.coef_, self.intercept_)
        n_codes = len(self.codebook.codes)
        per_code = tag.examples_per_code(len(vectors), n_codes)
        want = int(round(self.amount * per_code))
        far = {}
        for k in range(n_codes):
            order = np.argsort(logits[:, k], kind="stable")[: len(vectors) // 2]
            far[k] = order[np.linspace(0, len(order) - 1, min(want, len(order))).astype(int)] if want else order[:0]
        return far

    def training_rows(self, k):
        X, y = super().training_rows(k)
        far = getattr(self, "far_", None)
        if far is None or not len(self.study_codes_) or not len(far[k]):
            return X, y
        extra = np.asarray(self.study_all_[far[k]], dtype=X.dtype)
        return np.vstack([X, extra]), np.concatenate([y, np.zeros(len(extra), dtype=y.dtype)])

    def _adapt_selectively(self, vectors, texts):
        """`CodebookTagger.adapt` with the `negatives` or `bare` change."""
        per_code = tag.examples_per_code(len(vectors), len(self.codebook.codes))
        self.adapted_ = {"units": int(len(vectors)), "per_code": int(per_code), "examples": {}}
        if per_code < tag.ADAPT_MIN:
            return
        logits = tag._logits(vectors, self.coef_, self.intercept_)
        adapt = self._codes_to_adapt(logits, texts)
        if self.idea == "bare":
            adapt &= np.array([not c.examples for c in self.codebook.codes])
        if not adapt.any():
            return
        rows, codes = tag.study_examples(vectors, logits, self._positive_vectors(), per_code)
        keep = adapt[codes] if self.idea == "bare" else np.ones(len(codes), dtype=bool)
        rows, codes = rows[keep], codes[keep]
        self.study_vectors_ = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
        self.study_codes_ = codes[np.argsort(rows, kind="stable")]
        self.adapted_["examples"] = {
            c: int((self.study_codes_ == k).sum()) for k, c in enumerate(self.codebook.code_ids) if adapt[k]
        }
        self._fit_heads(only=np.flatnonzero(adapt))

    def _agreeing_examples(self, vectors, logits, positives, per_code):
        """`tag.study_examples`, counting only units whose best code by name agrees."""
        z = np.where(self.agree_[:, None] == np.arange(logits.shape[1])[None, :], tag.robust_z(logits), -np.inf)
        pos_vectors, pos_code = positives
        nearest = pos_code[(np.asarray(vectors, dtype=np.float64) @ pos_vectors.T).argmax(axis=1)]
        top = z.argmax(axis=1)
        rows, codes = [], []
        for k in range(logits.shape[1]):
            found = np.flatnonzero((top == k) & (z[:, k] >= tag.ADAPT_Z) & (nearest == k))
            chosen = found[np.argsort(-z[found, k], kind="stable")][:per_code]
            rows.append(chosen)
            codes.append(np.full(len(chosen), k, dtype=np.int64))
        return np.concatenate(rows), np.concatenate(codes)

    def predict_proba(self, vectors, texts=None):
        logits = np.asarray(vectors, dtype=np.float64) @ self.coef_.T + self.intercept_
        if self.idea == "blend" and hasattr(self, "before_"):
            old = np.asarray(vectors, dtype=np.float64) @ self.before_[0].T + self.before_[1]
            m = self.adapted_mask_
            logits[:, m] = self.amount * logits[:, m] + (1 - self.amount) * old[:, m]
        return expit(logits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idea", choices=("base", "names", "blend", "tail", "negatives", "bare", "far"), default="base")
    ap.add_argument("--amount", type=float, default=0.5)
    ap.add_argument("--set", nargs=3, action="append", metavar=("NAME", "GOLD", "CODEBOOK"), required=True)
    args = ap.parse_args()
    Idea.idea, Idea.amount = args.idea, args.amount
    config = Config()
    embedder = build_embedder(config)
    for name, gold, codebook_path in args.set:
        codebook = load_codebook(Path(codebook_path))
        tagger = Idea(codebook, config=config).fit(embedder)
        report = evaluate_file(Path(gold), codebook=codebook, tagger=tagger, embedder=embedder)
        rare = {
            s.code: (s.support, s.predicted, round(s.kappa or 0.0, 2)) for s in report.per_code if 0 < s.support <= 3
        }
        print(
            f"{args.idea}:{args.amount:g} {name:<30} kappa {report.mean_kappa:.3f} macroF1 {report.macro_f1:.3f} rare {rare}"
        )


if __name__ == "__main__":
    main()
