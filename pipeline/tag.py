"""Tag passages against a codebook using every part of each code's entry.

Each code's entry becomes labelled sentences: its definition, include rules, examples and
keywords are positive; its own exclude rules and counterexamples, every other code's
positives, and a shared set of generic off-topic interview talk (the "no code" class) are
negative. (Another code's exclude rules and counterexamples say nothing about this code,
and often describe it, so they are left out of its training set.) One logistic
regression per code on the sentence embeddings learns each code from these, with
classes balanced so that a score of 0.5 means "as much evidence for as against".

A codebook of names and one-line definitions speaks unlike the study; such codes, and
codes the codebook alone rarely finds, are adapted to the study's own words (adapt.py).

A passage is scored unit by unit (runs of whole sentences, see `units.py`) and takes each
code's best unit score. The rationale for a suggestion is the code's nearest positive
sentence to any of the passage's units. Adapted to a study, the tagger also offers each
code on the study's likeliest passage for it (its best score there, `cover_`) where the
code is not among that passage's suggestions already (`LIKELIEST` ends its rationale):
the review queue meets every code only if some passage offers it (reviewing/first_queue.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from .adapt import ADAPT_MIN, ADAPT_PER_CODE, ADAPT_SHARE, ADAPT_Z, QUOTED_WORDS, StudyAdaptation
from .codebook import is_thin
from .config import Config
from .embed import Embedder
from .schemas import Codebook, Suggestion
from .units import UnitVectors

STRATEGY = "codebook-selftrain-v4"
C = 2.0  # inverse regularisation of each per-code logistic regression
RATIONALE_CHARS = 100
COVER_SLACK = 1e-4  # a passage within this of a code's best score in the study is its likeliest (one rounding step)
LIKELIEST = "; the study's likeliest passage for this code"


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
        if is_thin(c):  # say it more than one way
            for t in dict.fromkeys(phrasings(c.name, c.definition)):
                add(t, k, True, "phrasing")
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


def phrasings(name: str, definition: str) -> list[str]:
    """Other ways of saying a thin code's "name. definition": as talk about it (the one of
    issue 36's phrasings that helped on every dev set; the name alone or the definition
    alone cost AnnoMI's dialogue acts, docs/tagging.md)."""
    return [f"Someone talking about {name.lower()}: {definition}"]


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

    def embed_codebook(self, embedder: Embedder) -> None:
        self.prototypes_ = build_prototypes(self.codebook, self.background)
        self.vectors_ = embedder.embed(self.prototypes_.texts)

    def nearest_positive(self, units: UnitVectors) -> tuple[np.ndarray, np.ndarray]:
        """(passages, K) index of each code's nearest positive sentence (definition, include
        rule or example) to any of a passage's units, and its cosine."""
        sims = units.vectors @ self.vectors_.T
        n_codes = len(self.codebook.codes)
        index = np.zeros((len(units.vectors), n_codes), dtype=np.int64)
        # a lone keyword explains little; a phrasing repeats the definition
        sentences = np.array([kind not in ("keyword", "phrasing") for kind in self.prototypes_.kind])
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

    def decision_shape(self) -> tuple[int, int]:
        """(least, most) codes per passage: none (one where the config says every passage
        carries a code) and the config's max_codes."""
        return int(self.config.every_passage_coded), self.config.max_codes

    def decide(self, proba: np.ndarray) -> list[list[int]]:
        """Codes applied per passage: score >= the threshold, best first, at most the
        most codes; the best code regardless when at least one is due."""
        threshold = self.config.threshold
        least, most = self.decision_shape()
        out = []
        for row in proba:
            order = np.argsort(-row, kind="stable")
            codes = [int(k) for k in order[:most] if row[k] >= threshold]
            out.append(codes if codes or not least else [int(order[0])])
        return out

    def rationale(self, proto_index: int, sim: float) -> str:
        kind = self.prototypes_.kind[proto_index]
        text = self.prototypes_.texts[proto_index]
        if len(text) > RATIONALE_CHARS:
            text = text[: RATIONALE_CHARS - 1].rstrip() + "\u2026"
        return f"nearest {kind} (cosine {sim:.2f}): {text}"

    def scores_and_codes(self, units: UnitVectors, groups: list | None = None) -> tuple[np.ndarray, list[list[int]]]:
        """(passages, K) scores as written (4 places) and the codes applied to each passage,
        best first. `groups`: each passage's document, for taggers that read a passage's
        neighbours (passages in document order); this one does not."""
        proba = np.round(self.score(units), 4)  # decide on the score that is written
        return proba, self.decide(proba)

    def suggest(
        self, units: UnitVectors | np.ndarray, groups: list | None = None
    ) -> list[tuple[list[Suggestion], list[str]]]:
        """Per passage: suggestions (applied codes plus the next best) and the applied code ids.
        A plain array is one unit per passage; `groups` as in `scores_and_codes`."""
        units = units if isinstance(units, UnitVectors) else UnitVectors.of_passages(units)
        proba, decided = self.scores_and_codes(units, groups)
        nearest, sims = self.nearest_positive(units)
        ids = self.codebook.code_ids
        results = []
        cover = getattr(self, "cover_", None)
        for i, applied in enumerate(decided):
            order = [int(k) for k in np.argsort(-proba[i], kind="stable")]
            shown = (applied + [k for k in order if k not in applied])[: max(len(applied), self.config.top_suggestions)]
            likeliest = (
                [] if cover is None else [k for k in order if k not in shown and proba[i, k] >= cover[k] - COVER_SLACK]
            )
            suggestions = [
                Suggestion(
                    code=ids[k],
                    score=float(proba[i, k]),
                    rationale=self.rationale(int(nearest[i, k]), float(sims[i, k]))
                    + (LIKELIEST if k in likeliest else ""),
                )
                for k in shown + likeliest
            ]
            results.append((suggestions, [ids[k] for k in applied]))
        return results


class CodebookTagger(StudyAdaptation, Tagger):
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
            "adapted": getattr(self, "adapted_", None),
            "offers_likeliest": "each code also suggested on the study's best-scoring passage for it",
            "adapt_rule": {
                "per_code": ADAPT_PER_CODE,
                "z": ADAPT_Z,
                "min": ADAPT_MIN,
                "share": ADAPT_SHARE,
                "quoted_words": QUOTED_WORDS,
            },
        }

    def fit(
        self, embedder: Embedder, study: UnitVectors | np.ndarray | None = None, texts: Iterable[str] | None = None
    ) -> CodebookTagger:
        """Learn each code from the codebook, then (given the `study`'s embedded units, no
        labels) adapt to the study's own words."""
        self.embed_codebook(embedder)
        self.study_vectors_ = np.zeros((0, self.vectors_.shape[1]), dtype=np.float32)
        self.study_codes_ = np.zeros(0, dtype=np.int64)
        self.study_rows_ = np.zeros(0, dtype=np.int64)
        self._fit_heads()
        if study is not None:
            self.adapt(study, texts)
        return self

    def training_rows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, labels) code k learns from: the codebook's sentences (see
        `Prototypes.training_set`) and the study units taken as examples (of k: positive;
        of another code: negative)."""
        rows, y = self.prototypes_.training_set(k, others_negatives=self.others_negatives)
        X = np.vstack([self.vectors_[rows], self.study_vectors_])
        return X, np.concatenate([y, (self.study_codes_ == k).astype(int)])

    def _fit_heads(self, only: np.ndarray | None = None) -> None:
        """Fit every code's regression (or refit the codes in `only`)."""
        if only is None:
            n = len(self.codebook.codes)
            self.coef_, self.intercept_ = np.zeros((n, self.vectors_.shape[1])), np.zeros(n)
        for k in range(len(self.codebook.codes)) if only is None else only:
            X, y = self.training_rows(k)
            clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=self.config.seed)
            clf.fit(X, y)
            self.coef_[k], self.intercept_[k] = clf.coef_[0], clf.intercept_[0]

    def _positive_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, code) of the codebook's positive sentences."""
        pos = self.prototypes_.positive & (self.prototypes_.code >= 0)
        return self.vectors_[pos], self.prototypes_.code[pos]

    def predict_proba(self, vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """(n, K) scores in [0, 1] of embedded texts, one column per code in codebook order."""
        logits = np.asarray(vectors, dtype=np.float64) @ self.coef_.T + self.intercept_
        return expit(logits)


def is_likeliest(rationale: str) -> bool:
    """Whether a suggestion's rationale marks its passage the study's likeliest for the code."""
    return rationale.endswith(LIKELIEST)
