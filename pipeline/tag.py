"""Tag passages against a codebook using every part of each code's entry.

Each code's entry becomes labelled sentences: its definition, include rules, examples and
keywords are positive; its own exclude rules and counterexamples, every other code's
positives, and a shared set of generic off-topic interview talk (the "no code" class) are
negative. (Another code's exclude rules and counterexamples say nothing about this code,
and often describe it, so they are left out of its training set.) One logistic
regression per code on the sentence embeddings learns each code from these alone, with
classes balanced so that a score of 0.5 means "as much evidence for as against". Nothing
is fitted to the data being coded, so the same procedure carries over to any codebook.

A passage is scored unit by unit (runs of whole sentences, see `units.py`) and takes each
code's best unit score. The rationale for a suggestion is the code's nearest positive
sentence to any of the passage's units.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from .config import Config
from .embed import Embedder
from .schemas import Codebook, Suggestion
from .units import UnitVectors

STRATEGY = "codebook-logreg-v2"
C = 2.0  # inverse regularisation of each per-code logistic regression
RATIONALE_CHARS = 100


def background_texts() -> list[str]:
    """Generic interview talk that fits no code (the shared 'no code' evidence)."""
    data = yaml.safe_load((resources.files("pipeline") / "data" / "background.yaml").read_text("utf-8"))
    return list(data["background"])


@dataclass(frozen=True)
class Prototypes:
    texts: list[str]
    code: np.ndarray  # index into codebook.codes, -1 for background
    positive: np.ndarray  # bool
    kind: list[str]  # definition | include | example | keyword | exclude | counterexample | background

    def training_set(self, k: int, *, others_negatives: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels) for code k: its positives against every other sentence except
        other codes' exclude rules and counterexamples (kept with `others_negatives`)."""
        rows = np.ones(len(self.texts), dtype=bool)
        if not others_negatives:
            rows = ~(~self.positive & (self.code >= 0) & (self.code != k))
        return rows, ((self.code == k) & self.positive)[rows].astype(int)


def build_prototypes(codebook: Codebook, background: list[str]) -> Prototypes:
    texts, code, positive, kind = [], [], [], []

    def add(text: str, k: int, pos: bool, what: str) -> None:
        texts.append(text)
        code.append(k)
        positive.append(pos)
        kind.append(what)

    for k, c in enumerate(codebook.codes):
        add(f"{c.name}. {c.definition}", k, True, "definition")
        for t in c.include:
            add(t, k, True, "include")
        for t in c.examples:
            add(t, k, True, "example")
        for t in c.keywords:
            add(t, k, True, "keyword")
        for t in c.exclude:
            add(t, k, False, "exclude")
        for t in c.counterexamples:
            add(t, k, False, "counterexample")
    for t in background:
        add(t, -1, False, "background")
    return Prototypes(texts, np.array(code), np.array(positive), kind)


class Tagger:
    """What every tagger shares: `predict_proba(vectors) -> (n, K)` per embedded unit
    (subclasses), a passage's scores as the best of its units' (`score`), the applied codes
    (`decide`) and explained suggestions (`suggest`). The rationale for a suggestion is the
    code's nearest positive sentence in the codebook."""

    strategy = "base"

    def __init__(self, codebook: Codebook, *, config: Config, background: list[str] | None = None):
        self.codebook = codebook
        self.config = config
        self.background = background_texts() if background is None else background

    def settings(self) -> dict:
        raise NotImplementedError

    def predict_proba(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, K) scores of embedded texts; `texts` for taggers that also read words."""
        raise NotImplementedError

    def score(self, units: UnitVectors | np.ndarray) -> np.ndarray:
        """(passages, K) scores: each code's best score over a passage's units. A plain
        array is one unit per passage."""
        units = units if isinstance(units, UnitVectors) else UnitVectors.of_passages(units)
        proba = self.predict_proba(units.vectors, units.texts)
        if len(units) == len(units.vectors):
            return proba
        return np.maximum.reduceat(proba, units.bounds[:-1], axis=0)

    def thresholds(self) -> np.ndarray:
        """Per-code decision thresholds; by default the config's single threshold."""
        return np.full(len(self.codebook.codes), self.config.threshold)

    def embed_codebook(self, embedder: Embedder) -> None:
        self.prototypes_ = build_prototypes(self.codebook, self.background)
        self.vectors_ = embedder.embed(self.prototypes_.texts)

    def nearest_positive(self, units: UnitVectors) -> tuple[np.ndarray, np.ndarray]:
        """(passages, K) index of each code's nearest positive sentence (definition, include
        rule or example) to any of a passage's units, and its cosine."""
        sims = units.vectors @ self.vectors_.T
        n_codes = len(self.codebook.codes)
        index = np.zeros((len(units.vectors), n_codes), dtype=np.int64)
        sentences = np.array([kind != "keyword" for kind in self.prototypes_.kind])  # a lone keyword explains little
        for k in range(n_codes):
            pos = np.flatnonzero((self.prototypes_.code == k) & self.prototypes_.positive & sentences)
            index[:, k] = pos[sims[:, pos].argmax(axis=1)]
        best = np.take_along_axis(sims, index, axis=1)
        if len(units) == len(units.vectors):
            return index, best
        starts = units.bounds[:-1]
        top = np.maximum.reduceat(best, starts, axis=0)
        owner = np.repeat(np.arange(len(units)), np.diff(units.bounds))
        # the first unit of each passage that reaches its best cosine, per code
        hit = np.where(best == top[owner], np.arange(len(best))[:, None], len(best))
        first = np.minimum.reduceat(hit, starts, axis=0)
        return np.take_along_axis(index, first, axis=0), top

    def decide(self, proba: np.ndarray) -> list[list[int]]:
        """Codes applied per passage: score >= the code's threshold, best first, at most max_codes."""
        thresholds = self.thresholds()
        out = []
        for row in proba:
            order = np.argsort(-row, kind="stable")
            out.append([int(k) for k in order[: self.config.max_codes] if row[k] >= thresholds[k]])
        return out

    def rationale(self, proto_index: int, sim: float) -> str:
        kind = self.prototypes_.kind[proto_index]
        text = self.prototypes_.texts[proto_index]
        if len(text) > RATIONALE_CHARS:
            text = text[: RATIONALE_CHARS - 1].rstrip() + "\u2026"
        return f"nearest {kind} (cosine {sim:.2f}): {text}"

    def suggest(self, units: UnitVectors | np.ndarray) -> list[tuple[list[Suggestion], list[str]]]:
        """Per passage: suggestions (applied codes plus the next best) and the applied code ids.
        A plain array is one unit per passage."""
        units = units if isinstance(units, UnitVectors) else UnitVectors.of_passages(units)
        proba = np.round(self.score(units), 4)  # decide on the score that is written
        nearest, sims = self.nearest_positive(units)
        ids = self.codebook.code_ids
        results = []
        for i, applied in enumerate(self.decide(proba)):
            order = [int(k) for k in np.argsort(-proba[i], kind="stable")]
            shown = order[: max(len(applied), self.config.top_suggestions)]
            suggestions = [
                Suggestion(code=ids[k], score=float(proba[i, k]), rationale=self.rationale(int(nearest[i, k]), float(sims[i, k])))
                for k in shown
            ]
            results.append((suggestions, [ids[k] for k in applied]))
        return results


class CodebookTagger(Tagger):
    """Codebook-only tagger. `fit(embedder)` embeds the codebook and learns one linear
    scorer per code; `predict_proba(vectors)` gives (n, K) scores; `suggest` builds
    suggestions and applied codes.

    >>> tagger = CodebookTagger(codebook, config=Config()).fit(embedder)  # doctest: +SKIP
    >>> tagger.suggest(embedder.embed(["We agreed it was about Mrs Jones."]))  # doctest: +SKIP
    """

    strategy = STRATEGY
    others_negatives = False  # True: other codes' exclude rules and counterexamples count against this code too (v1)

    def settings(self) -> dict:
        return {
            "strategy": self.strategy,
            "C": C,
            "class_weight": "balanced",
            "passage_score": f"best unit (runs of whole sentences of >= {self.config.unit_words} words)",
            "background_sha256": hashlib.sha256("\n".join(self.background).encode()).hexdigest(),
        }

    def fit(self, embedder: Embedder) -> CodebookTagger:
        self.embed_codebook(embedder)
        protos, vectors = self.prototypes_, self.vectors_
        weights, bias = [], []
        for k in range(len(self.codebook.codes)):
            rows, y = protos.training_set(k, others_negatives=self.others_negatives)
            clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=self.config.seed)
            clf.fit(vectors[rows], y)
            weights.append(clf.coef_[0])
            bias.append(clf.intercept_[0])
        self.coef_ = np.array(weights, dtype=np.float64)
        self.intercept_ = np.array(bias, dtype=np.float64)
        return self

    def predict_proba(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, K) scores in [0, 1] of embedded texts, one column per code in codebook order."""
        logits = np.asarray(vectors, dtype=np.float64) @ self.coef_.T + self.intercept_
        return expit(logits)


