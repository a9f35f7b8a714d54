"""Learn from reviewers: per-code classifiers on the embeddings of reviewed passages.

Training data are reviewed excerpts (accepted -> the machine's codes were right;
corrected -> review.codes; rejected -> no code; disagreements are skipped) and labelled
JSONL in the `evaluate` format. For each code with at least `MIN_EXAMPLES` positive and
negative passages, a logistic regression is fitted on those passages' units (each unit
takes its passage's labels) together with the codebook's own sentences (the codebook
evidence); like the codebook-only tagger, a passage scores its best unit. Its scores are calibrated by Platt
scaling on out-of-fold predictions, and its threshold is the one that maximises F1 out of
fold. Codes with fewer examples, or whose out-of-fold F1 does not beat the codebook-only
scorer's F1 on the same passages by more than the gain's bootstrap standard error (the
one-standard-error rule: a few dozen passages cannot show a small gain), keep the
codebook-only scorer. Everything is linear, so a
model is a small matrix saved with numpy; one seed drives every random state.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .codebook import load_codebook
from .config import Config
from .embed import Embedder
from .errors import InputError
from .evaluate import label_matrix, read_gold, score
from .io import atomic_write, read_jsonl
from .schemas import Codebook, Excerpt, final_codes
from .tag import CodebookTagger, Tagger
from .units import UnitVectors, embed_units

STRATEGY = "learned-logreg-v2"
MIN_EXAMPLES = 10  # positives and negatives a code needs before it is learned
C = 1.0
FOLDS = 5
MODEL_JSON = "model.json"
WEIGHTS = "weights.npz"


@dataclass
class Labelled:
    ids: list[str]
    texts: list[str]
    labels: list[list[str]]

    def subset(self, index) -> Labelled:
        return Labelled([self.ids[i] for i in index], [self.texts[i] for i in index], [self.labels[i] for i in index])


def _is_gold_file(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as f:
            for line in f:
                if line.strip():
                    return '"labels"' in line and '"review"' not in line
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    return False


def load_labelled(files: list[Path], codebook: Codebook) -> Labelled:
    """Reviewed excerpts and gold lines from `files`; a later file's label for an id wins."""
    known = set(codebook.code_ids)
    found: dict[str, tuple[str, list[str]]] = {}
    for path in files:
        if _is_gold_file(path):
            for item in read_gold(path, codebook):
                found[item.id] = (item.text, sorted(item.labels))
            continue
        for n, excerpt in read_jsonl(path, Excerpt):
            codes = final_codes(excerpt)
            if codes is None or excerpt.disagreement:
                continue
            unknown = sorted(set(codes) - known)
            if unknown:
                raise InputError(path, f"unknown code(s) {unknown} not in codebook {codebook.name!r}", n)
            found[excerpt.id] = (excerpt.text, sorted(codes))
    ids = sorted(found)
    return Labelled(ids, [found[i][0] for i in ids], [found[i][1] for i in ids])


def _f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 along the last axis (0 where there is neither a label nor a prediction)."""
    tp = (pred & (y == 1)).sum(axis=-1)
    denom = pred.sum(axis=-1) + (y == 1).sum(axis=-1)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def _paired_f1_se(y: np.ndarray, learned: np.ndarray, base: np.ndarray, *, seed: int, rounds: int = 500) -> float:
    """Bootstrap standard error of F1(learned) - F1(base) over the same passages."""
    idx = np.random.default_rng(seed).integers(0, len(y), size=(rounds, len(y)))
    return float(np.std(_f1(y[idx], learned[idx]) - _f1(y[idx], base[idx])))


def _best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold in 0.10..0.90 with the best F1 (ties: nearest 0.5)."""
    best = (-1.0, 0.0, 0.5)
    for t in np.round(np.arange(0.10, 0.91, 0.05), 2):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / (pred.sum() + y.sum()) if (pred.sum() + y.sum()) else 0.0
        key = (round(f1, 6), -abs(t - 0.5), t)
        if key > best:
            best = key
    return float(best[2])


class LearnedTagger(Tagger):
    """Per-code calibrated classifiers learned from reviewed passages (see module doc)."""

    strategy = STRATEGY

    def settings(self) -> dict:
        return {
            "strategy": self.strategy,
            "C": C,
            "min_examples": MIN_EXAMPLES,
            "folds": FOLDS,
            "learned_codes": [c for c, m in zip(self.codebook.code_ids, self.modes_) if m == "learned"],
            "model_sha256": getattr(self, "model_sha256_", None),
        }

    def fit(self, embedder: Embedder, data: Labelled) -> LearnedTagger:
        base = CodebookTagger(self.codebook, config=self.config, background=self.background).fit(embedder)
        self.prototypes_, self.vectors_ = base.prototypes_, base.vectors_
        units = embed_units(embedder, data.texts, self.config) if data.texts else UnitVectors(np.zeros((0, self.vectors_.shape[1]), dtype=np.float32), np.zeros(1, dtype=np.int64))
        X, owner = units.vectors, np.repeat(np.arange(len(units)), np.diff(units.bounds))
        Y = label_matrix(data.labels, self.codebook.code_ids) if data.texts else np.zeros((0, len(self.codebook.codes)))
        base_scores = base.score(units) if data.texts else np.zeros((0, len(self.codebook.codes)))
        protos = self.prototypes_
        n_codes = len(self.codebook.codes)
        self.coef_ = base.coef_.copy()
        self.intercept_ = base.intercept_.copy()
        self.thresholds_ = np.full(n_codes, self.config.threshold)
        self.modes_ = ["codebook"] * n_codes
        self.report_: dict[str, dict] = {}
        self.n_train_ = len(data.texts)
        for k, code in enumerate(self.codebook.code_ids):
            y = Y[:, k].astype(int)
            pos, neg = int(y.sum()), int(len(y) - y.sum())
            entry = {"positives": pos, "negatives": neg}
            if pos < MIN_EXAMPLES or neg < MIN_EXAMPLES:
                entry["mode"] = "codebook"
                self.report_[code] = entry
                continue
            rows, cb_y = protos.training_set(k)
            cb_X = self.vectors_[rows]
            folds = StratifiedKFold(n_splits=min(FOLDS, pos, neg), shuffle=True, random_state=self.config.seed)
            oof = np.zeros(len(y))
            for train, test in folds.split(np.zeros(len(y)), y):
                fit_rows = np.isin(owner, train)
                clf = self._classifier(np.vstack([X[fit_rows], cb_X]), np.concatenate([y[owner[fit_rows]], cb_y]))
                test_rows = np.flatnonzero(np.isin(owner, test))  # in passage order
                oof[test] = np.maximum.reduceat(clf.decision_function(X[test_rows]), np.searchsorted(owner[test_rows], test))
            platt = LogisticRegression(C=1e6, max_iter=1000, random_state=self.config.seed).fit(oof[:, None], y)
            a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
            p_oof = expit(a * oof + b)
            threshold = _best_threshold(y, p_oof)
            cv = score([[code] if v else [] for v in y], [[code] if v else [] for v in p_oof >= threshold], [code]).per_code[0]
            base_p = base_scores[:, k]
            base_f1 = score([[code] if v else [] for v in y], [[code] if v else [] for v in base_p >= self.config.threshold], [code]).per_code[0].f1
            gain_se = _paired_f1_se(y, p_oof >= threshold, base_p >= self.config.threshold, seed=self.config.seed)
            entry.update(codebook_f1=base_f1, gain=round(cv.f1 - base_f1, 4), gain_se=round(gain_se, 4))
            if cv.f1 - base_f1 <= gain_se:  # no gain beyond its own noise (one-standard-error rule)
                entry.update(mode="codebook", cv=cv.model_dump(exclude={"code"}), threshold=threshold)
                self.report_[code] = entry
                continue
            clf = self._classifier(np.vstack([X, cb_X]), np.concatenate([y[owner], cb_y]))
            self.coef_[k] = a * clf.coef_[0]
            self.intercept_[k] = a * clf.intercept_[0] + b
            self.thresholds_[k] = threshold
            self.modes_[k] = "learned"
            entry.update(mode="learned", threshold=threshold, cv=cv.model_dump(exclude={"code"}))
            self.report_[code] = entry
        return self

    def _classifier(self, X: np.ndarray, y: np.ndarray) -> LogisticRegression:
        return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=self.config.seed).fit(X, y)

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        logits = np.asarray(vectors, dtype=np.float64) @ self.coef_.T + self.intercept_
        return expit(logits)

    def thresholds(self) -> np.ndarray:
        return self.thresholds_

    # --- persistence ------------------------------------------------------------------

    def save(self, out_dir: Path, *, codebook_sha256: str, embedder: Embedder, training: list[dict]) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(out_dir / WEIGHTS, "wb") as f:
            np.savez(f, coef=self.coef_, intercept=self.intercept_, thresholds=self.thresholds_)
        meta = {
            "strategy": self.strategy,
            "codebook": {"name": self.codebook.name, "version": self.codebook.version, "sha256": codebook_sha256},
            "codes": self.codebook.code_ids,
            "modes": dict(zip(self.codebook.code_ids, self.modes_)),
            "embedding_model": embedder.fingerprint,
            "config": self.config.model_dump(mode="json"),
            "settings": {"C": C, "min_examples": MIN_EXAMPLES, "folds": FOLDS},
            "training": {"passages": self.n_train_, "files": training},
            "cross_validated": self.report_,
            "weights_sha256": hashlib.sha256((out_dir / WEIGHTS).read_bytes()).hexdigest(),
        }
        with atomic_write(out_dir / MODEL_JSON) as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, model_dir: Path, *, codebook: Codebook, codebook_sha256: str, config: Config, embedder: Embedder) -> LearnedTagger:
        path = Path(model_dir) / MODEL_JSON
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(path, f"not a qcode model: {err}") from None
        if meta.get("codebook", {}).get("sha256") != codebook_sha256:
            raise InputError(path, f"trained with another codebook ({meta.get('codebook', {}).get('name')!r}); pass the same --codebook")
        if meta.get("embedding_model") != embedder.fingerprint:
            raise InputError(path, f"trained on embeddings of {meta.get('embedding_model')}, not {embedder.fingerprint}")
        weights_path = Path(model_dir) / WEIGHTS
        if hashlib.sha256(weights_path.read_bytes()).hexdigest() != meta.get("weights_sha256"):
            raise InputError(weights_path, "does not match the sha256 in model.json")
        with np.load(weights_path) as w:
            tagger = cls(codebook, config=config)
            tagger.coef_, tagger.intercept_, tagger.thresholds_ = w["coef"], w["intercept"], w["thresholds"]
        tagger.modes_ = [meta["modes"][c] for c in codebook.code_ids]
        tagger.report_ = meta["cross_validated"]
        tagger.n_train_ = meta["training"]["passages"]
        tagger.model_sha256_ = hashlib.sha256(path.read_bytes() + weights_path.read_bytes()).hexdigest()
        tagger.embed_codebook(embedder)
        return tagger


def learn(
    files: list[Path], *, out_dir: Path, codebook_path: Path | None, config: Config, embedder: Embedder
) -> LearnedTagger:
    """Train on reviewed/labelled files and write MODEL_DIR/model.json + weights.npz."""
    from .codebook import default_codebook_path, file_sha256

    codebook_path = Path(codebook_path) if codebook_path else default_codebook_path()
    codebook = load_codebook(codebook_path)
    data = load_labelled(files, codebook)
    if not data.texts:
        raise InputError(files[0], "no reviewed or labelled passages to learn from")
    tagger = LearnedTagger(codebook, config=config).fit(embedder, data)
    tagger.save(
        out_dir,
        codebook_sha256=file_sha256(codebook_path),
        embedder=embedder,
        training=[{"path": str(f), "sha256": file_sha256(f)} for f in files],
    )
    return tagger


def build_tagger(
    codebook: Codebook, *, codebook_path: Path, config: Config, embedder: Embedder, model_dir: Path | None = None
) -> Tagger:
    """The codebook-only tagger, or a learned one from `model_dir` (checked against the codebook)."""
    from .codebook import file_sha256

    if model_dir is None:
        return CodebookTagger(codebook, config=config).fit(embedder)
    return LearnedTagger.load(model_dir, codebook=codebook, codebook_sha256=file_sha256(codebook_path), config=config, embedder=embedder)
