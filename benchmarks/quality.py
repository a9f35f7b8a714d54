"""Compare tagging strategies on gold files: one table of macro-F1, micro-F1, mean kappa and
seconds per strategy, then per-code kappa.

    .venv/bin/python benchmarks/quality.py                       # dev set, default codebook
    .venv/bin/python benchmarks/quality.py --gold eval/patient_feedback_gold.jsonl --codebook codebook/patient_feedback.yaml
    .venv/bin/python benchmarks/quality.py --strategies logreg knn7 --json results.json
    .venv/bin/python benchmarks/quality.py --join 2 3 --strategies logreg logreg-whole   # pipeline-length passages

Every strategy gives per-text scores; a passage is scored by its units (runs of whole
sentences, the default) or, for the `-whole` rows, as one text. Every strategy sees only
the codebook (and the generic background talk); gold labels are used for scoring alone.
`--join N` also scores the gold passages joined N at a time (seeded; labels pooled), the
length of the passages `qcode code` makes: gold passages average about 28 words, the
pipeline's about 55. The held-out split eval/test_gold.jsonl is for the final report.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import Config, load_codebook
from pipeline.codebook import default_codebook_path
from pipeline.embed import build_embedder
from pipeline.evaluate import read_gold, score
from pipeline.schemas import GoldItem
from pipeline.tag import CodebookTagger, build_prototypes
from pipeline.units import UnitVectors, embed_units, split_units, unit_texts


class Fixed:
    """Wrap a per-text (n, K) scoring function as a tagger with the usual decision rule;
    a passage takes each code's best score over its units."""

    def __init__(self, codebook, config, proba, margin=None, max_codes=None):
        self.codebook, self.config, self.proba = codebook, config, proba
        self.margin, self.max_codes = margin, max_codes or config.max_codes

    def predict(self, units: UnitVectors):
        p = np.maximum.reduceat(self.proba(units.vectors), units.bounds[:-1], axis=0)
        out = []
        for row in p:
            order = np.argsort(-row, kind="stable")[: self.max_codes]
            keep = [k for k in order if row[k] >= self.config.threshold]
            if self.margin is not None and keep:
                keep = [k for k in keep if row[k] >= row[order[0]] - self.margin]
            out.append([self.codebook.code_ids[k] for k in keep])
        return out


class V1Tagger(CodebookTagger):
    """Session 2's default: other codes' exclude rules and counterexamples count against
    every code; keywords unused (run it on a codebook without them)."""

    others_negatives = True


def logreg(codebook, config, embedder, cls=CodebookTagger, **kw):
    return cls(codebook, config=config, **kw).fit(embedder)


def without_keywords(codebook):
    return codebook.model_copy(update={"codes": [c.model_copy(update={"keywords": []}) for c in codebook.codes]})


@dataclass
class Setting:
    """What every codebook-only strategy reads: the codebook, the config, the embedder, the
    codebook's prototypes (its examples, counterexamples and the background) and their
    vectors."""

    codebook: object
    config: Config
    embedder: object
    protos: object
    pv: np.ndarray

    @property
    def K(self) -> int:
        return len(self.codebook.codes)

    def examples(self, c: int) -> np.ndarray:
        """The vectors of code c's own examples."""
        return self.pv[(self.protos.code == c) & self.protos.positive]

    def fixed(self, proba, **kw) -> Fixed:
        return Fixed(self.codebook, self.config, proba, **kw)


def default(s: Setting, **kw) -> Fixed:
    return s.fixed(logreg(s.codebook, s.config, s.embedder, **kw).predict_proba)


def knn(s: Setting, k: int) -> Fixed:
    """Each code's share of the k nearest prototypes that are its examples, doubled."""

    def proba(v):
        idx = np.argsort(-(v @ s.pv.T), axis=1)[:, :k]
        owners, positive = s.protos.code[idx], s.protos.positive[idx]
        return np.stack([((owners == c) & positive).mean(axis=1) for c in range(s.K)], axis=1) * 2

    return s.fixed(proba)


def centroid(s: Setting, temp: float) -> Fixed:
    """A softmax over the cosines to each code's centroid of examples and the background's."""
    cents = [s.examples(c).mean(axis=0) for c in range(s.K)] + [s.pv[s.protos.code == -1].mean(axis=0)]
    C = np.stack([m / np.linalg.norm(m) for m in cents])

    def proba(v):
        z = np.exp(temp * (v @ C.T))
        p = z / z.sum(axis=1, keepdims=True)
        return p[:, : s.K] * (s.K + 1) / 2  # 0.5 = twice the uniform share

    return s.fixed(proba)


def nearest_loo(s: Setting) -> Fixed:
    """Max cosine to a code's examples; threshold per code from the codebook alone:
    the 25th percentile of each example's similarity to its nearest sibling."""
    thresholds = []
    for c in range(s.K):
        own = s.examples(c)
        sims = own @ own.T
        np.fill_diagonal(sims, -1)
        thresholds.append(np.percentile(sims.max(axis=1), 25))
    t = np.array(thresholds)

    def proba(v):
        best = np.stack([(v @ s.examples(c).T).max(axis=1) for c in range(s.K)], axis=1)
        return 1 / (1 + np.exp(-20 * (best - t)))

    return s.fixed(proba)


def contrastive_pairs(s: Setting, pairs_per_text: int, rng) -> list[tuple[str, str, float]]:
    """Pairs from the codebook: an example with another of its code (1), or with another
    code's example, its code's counterexample or the background (0)."""
    rows = list(zip(s.protos.texts, s.protos.code, s.protos.positive))
    pairs = []
    for c in range(s.K):
        texts = [t for t, o, p in rows if o == c and p]
        negatives = [t for t, o, p in rows if (o != c and p) or (o in (c, -1) and not p)]
        for t in texts:
            same = [x for x in texts if x != t] or texts
            pairs += [(t, rng.choice(same), 1.0) for _ in range(pairs_per_text // 2)]
            pairs += [(t, rng.choice(negatives), 0.0) for _ in range(pairs_per_text // 2)]
    return pairs


def train_on_pairs(model, pairs: list, epochs: int, lr: float, rng) -> None:
    """Fit the model's cosine of each pair to its target (mean squared error), 16 a step."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()

    def emb(texts):
        return torch.nn.functional.normalize(model(model.preprocess(texts))["sentence_embedding"], dim=-1)

    for _ in range(epochs):
        rng.shuffle(pairs)
        for i in range(0, len(pairs), 16):
            batch = pairs[i : i + 16]
            sim = (emb([a for a, _, _ in batch]) * emb([b for _, b, _ in batch])).sum(-1)
            loss = torch.nn.functional.mse_loss(sim, torch.tensor([y for _, _, y in batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


class Tuned:
    """An embedder over a fine-tuned sentence-transformers model."""

    fingerprint = "finetuned"

    def __init__(self, model, model_id: str):
        self.model, self.model_id = model, model_id

    def embed(self, texts):
        import torch

        with torch.no_grad():
            return self.model.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def finetune(s: Setting, epochs: int = 1, pairs_per_text: int = 20, lr: float = 2e-5) -> Fixed:
    """SetFit-style: contrastive pairs from the codebook fine-tune the model for one epoch
    with a cosine loss; then the default per-code logistic regressions on the new
    embeddings."""
    import random

    import torch

    from pipeline.embed import SentenceTransformerEmbedder

    rng = random.Random(s.config.seed)
    torch.manual_seed(s.config.seed)
    model = SentenceTransformerEmbedder(s.config.model).model
    train_on_pairs(model, contrastive_pairs(s, pairs_per_text, rng), epochs, lr, rng)
    tuned = Tuned(model, s.config.model)
    t = logreg(s.codebook, s.config, tuned)
    return s.fixed(lambda v: t.predict_proba(tuned.embed(texts_of[id(v)])))


def strategy_table(codebook, config, embedder) -> dict:
    """{strategy name: a function making its tagger}."""
    protos = build_prototypes(codebook, CodebookTagger(codebook, config=config).background)
    s = Setting(codebook, config, embedder, protos, embedder.embed(protos.texts))
    return {
        "logreg": lambda: default(s),
        "logreg-v1": lambda: s.fixed(logreg(without_keywords(codebook), config, embedder, cls=V1Tagger).predict_proba),
        "logreg-no-keywords": lambda: s.fixed(logreg(without_keywords(codebook), config, embedder).predict_proba),
        "logreg-others-negatives": lambda: s.fixed(logreg(codebook, config, embedder, cls=V1Tagger).predict_proba),
        "logreg-no-background": lambda: default(s, background=[]),
        "logreg-margin0.2": lambda: s.fixed(logreg(codebook, config, embedder).predict_proba, margin=0.2),
        "logreg-top1": lambda: s.fixed(logreg(codebook, config, embedder).predict_proba, max_codes=1),
        "knn7": lambda: knn(s, 7),
        "centroid-softmax": lambda: centroid(s, 20),
        "nearest-example-loo": lambda: nearest_loo(s),
        "finetune-contrastive": lambda: finetune(s),  # minutes on 2 cores: only when asked for
    }


texts_of: dict[int, list[str]] = {}  # vectors id -> texts, for strategies that re-embed


DEFAULT_STRATEGIES = [
    "logreg",
    "logreg-whole",
    "logreg-v1-whole",
    "logreg-v1",
    "logreg-no-keywords",
    "logreg-others-negatives",
    "logreg-no-background",
    "logreg-margin0.2",
    "logreg-top1",
    "knn7",
    "centroid-softmax",
    "nearest-example-loo",
]


def joined(items: list[GoldItem], n: int, seed: int) -> list[GoldItem]:
    """Gold passages joined n at a time in a seeded order, labels pooled."""
    if n == 1:
        return items
    order = np.random.default_rng(seed).permutation(len(items))
    groups = [order[i : i + n] for i in range(0, len(order) - n + 1, n)]
    return [
        GoldItem(
            id="+".join(items[j].id for j in g),
            text=" ".join(items[j].text for j in g),
            labels=sorted({c for j in g for c in items[j].labels}),
        )
        for g in groups
    ]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, nargs="+", default=[Path("eval/dev_gold.jsonl")])
    ap.add_argument("--codebook", type=Path, default=default_codebook_path())
    ap.add_argument("--strategies", nargs="*")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--model", default=Config().model, help="embedding model id or short name (minilm, mpnet)")
    ap.add_argument("--backend", default=Config().backend)
    ap.add_argument("--join", type=int, nargs="+", default=[1], help="also score gold passages joined N at a time")
    ap.add_argument("--unit-words", type=int, default=Config().unit_words)
    return ap.parse_args()


def score_strategies(items, names: list[str], codebook, config, embedder) -> list[tuple]:
    """(name, score report, seconds) per strategy on the gold items, printed as they come."""
    texts = [i.text for i in items]
    units = embed_units(embedder, texts, config)
    whole = UnitVectors.of_passages(embedder.embed(texts))
    texts_of[id(units.vectors)] = unit_texts(texts, split_units(texts, config))
    texts_of[id(whole.vectors)] = texts
    table = strategy_table(codebook, config, embedder)
    print(f"{'strategy':<26} {'macro-F1':>8} {'micro-F1':>8} {'mean κ':>7} {'seconds':>7}")
    rows = []
    for name in names:
        t = time.perf_counter()
        predicted = table[name.removesuffix("-whole")]().predict(whole if name.endswith("-whole") else units)
        seconds = time.perf_counter() - t
        report = score([i.labels for i in items], predicted, codebook.code_ids)
        rows.append((name, report, seconds))
        print(f"{name:<26} {report.macro_f1:>8.3f} {report.micro_f1:>8.3f} {report.mean_kappa:>7.3f} {seconds:>7.1f}")
    return rows


def print_per_code(rows: list[tuple], code_ids: list[str]) -> None:
    print("\nper-code κ")
    print(f"{'strategy':<26} " + " ".join(f"{c[:10]:>10}" for c in code_ids))
    for name, report, _ in rows:
        kappas = ("-".rjust(10) if s.kappa is None else f"{s.kappa:>10.3f}" for s in report.per_code)
        print(f"{name:<26} " + " ".join(kappas))


def main() -> None:
    args = parse_args()
    config = Config(model=args.model, backend=args.backend, unit_words=args.unit_words)
    codebook = load_codebook(args.codebook)
    embedder = build_embedder(config)
    results = []
    for gold, join in [(g, n) for g in args.gold for n in args.join]:
        items = joined(read_gold(gold, codebook), join, config.seed)
        words = np.mean([len(i.text.split()) for i in items])
        print(
            f"\n{gold} ({len(items)} passages{f' of {join} joined' if join > 1 else ''}, {words:.0f} words),"
            f" codebook {codebook.name}, model {config.model} ({config.backend})"
        )
        rows = score_strategies(items, args.strategies or DEFAULT_STRATEGIES, codebook, config, embedder)
        print_per_code(rows, codebook.code_ids)
        results.append(
            {
                "gold": str(gold),
                "joined": join,
                "words": round(float(words), 1),
                "model": config.model,
                "backend": config.backend,
                "unit_words": config.unit_words,
                "rows": [{"strategy": n, "seconds": round(s, 2), **r.model_dump()} for n, r, s in rows],
            }
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
