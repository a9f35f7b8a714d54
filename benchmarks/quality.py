"""Compare tagging strategies on gold files: one table of macro-F1, micro-F1, mean kappa and
seconds per strategy, then per-code kappa.

    .venv/bin/python benchmarks/quality.py                       # dev set, default codebook
    .venv/bin/python benchmarks/quality.py --gold eval/patient_feedback_gold.jsonl --codebook codebook/patient_feedback.yaml
    .venv/bin/python benchmarks/quality.py --strategies logreg knn7 --json results.json

Every strategy sees only the codebook (and the generic background talk); gold labels are
used for scoring alone. The held-out split eval/test_gold.jsonl is for the final report.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pipeline import Config, load_codebook
from pipeline.codebook import default_codebook_path
from pipeline.embed import build_embedder
from pipeline.evaluate import read_gold, score
from pipeline.tag import CodebookTagger, build_prototypes


class Fixed:
    """Wrap a (n, K) scoring function as a tagger with the usual decision rule."""

    def __init__(self, codebook, config, proba, margin=None, max_codes=None):
        self.codebook, self.config, self.proba = codebook, config, proba
        self.margin, self.max_codes = margin, max_codes or config.max_codes

    def predict(self, vectors):
        p = self.proba(vectors)
        out = []
        for row in p:
            order = np.argsort(-row, kind="stable")[: self.max_codes]
            keep = [k for k in order if row[k] >= self.config.threshold]
            if self.margin is not None and keep:
                keep = [k for k in keep if row[k] >= row[order[0]] - self.margin]
            out.append([self.codebook.code_ids[k] for k in keep])
        return out


def logreg(codebook, config, embedder, **kw):
    tagger = CodebookTagger(codebook, config=config, **kw).fit(embedder)
    return tagger


def strategy_table(codebook, config, embedder):
    protos = build_prototypes(codebook, CodebookTagger(codebook, config=config).background)
    pv = embedder.embed(protos.texts)
    K = len(codebook.codes)

    def default(**kw):
        t = logreg(codebook, config, embedder, **kw)
        return Fixed(codebook, config, t.predict_proba)

    def margin(m):
        t = logreg(codebook, config, embedder)
        return Fixed(codebook, config, t.predict_proba, margin=m)

    def top1():
        t = logreg(codebook, config, embedder)
        return Fixed(codebook, config, t.predict_proba, max_codes=1)

    def knn(k):
        def proba(v):
            sims = v @ pv.T
            idx = np.argsort(-sims, axis=1)[:, :k]
            owners = protos.code[idx]
            positive = protos.positive[idx]
            return np.stack([((owners == c) & positive).mean(axis=1) for c in range(K)], axis=1) * 2
        return Fixed(codebook, config, proba)

    def centroid(temp):
        cents = []
        for c in range(K):
            m = pv[(protos.code == c) & protos.positive].mean(axis=0)
            cents.append(m / np.linalg.norm(m))
        bg = pv[protos.code == -1].mean(axis=0)
        cents.append(bg / np.linalg.norm(bg))
        C = np.stack(cents)

        def proba(v):
            z = np.exp(temp * (v @ C.T))
            p = z / z.sum(axis=1, keepdims=True)
            return p[:, :K] * (K + 1) / 2  # 0.5 = twice the uniform share
        return Fixed(codebook, config, proba)

    def nearest_loo():
        """Max cosine to a code's examples; threshold per code from the codebook alone:
        the 25th percentile of each example's similarity to its nearest sibling."""
        thresholds = []
        for c in range(K):
            own = pv[(protos.code == c) & protos.positive]
            s = own @ own.T
            np.fill_diagonal(s, -1)
            thresholds.append(np.percentile(s.max(axis=1), 25))
        t = np.array(thresholds)

        def proba(v):
            best = np.stack([(v @ pv[(protos.code == c) & protos.positive].T).max(axis=1) for c in range(K)], axis=1)
            return 1 / (1 + np.exp(-20 * (best - t)))
        return Fixed(codebook, config, proba)

    def finetune(epochs=1, pairs_per_text=20, lr=2e-5):
        """SetFit-style: contrastive pairs from the codebook (same code -> 1, other code,
        counterexample or background -> 0) fine-tune MiniLM for one epoch with a cosine
        loss; then the default per-code logistic regressions on the new embeddings."""
        import random

        import torch

        from pipeline.embed import SentenceTransformerEmbedder

        rng = random.Random(config.seed)
        torch.manual_seed(config.seed)
        model = SentenceTransformerEmbedder(config.model).model
        pos = {c: [t for t, o, p in zip(protos.texts, protos.code, protos.positive) if o == c and p] for c in range(K)}
        negatives = {c: [t for t, o, p in zip(protos.texts, protos.code, protos.positive) if (o != c and p) or (o in (c, -1) and not p)] for c in range(K)}
        pairs = []
        for c, texts in pos.items():
            for t in texts:
                pairs += [(t, rng.choice([x for x in texts if x != t] or texts), 1.0) for _ in range(pairs_per_text // 2)]
                pairs += [(t, rng.choice(negatives[c]), 0.0) for _ in range(pairs_per_text // 2)]
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
            model_id, fingerprint = config.model, "finetuned"

            def embed(self, texts):
                with torch.no_grad():
                    return model.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True)

        tuned = Tuned()
        t = logreg(codebook, config, tuned)
        return Fixed(codebook, config, lambda v: t.predict_proba(tuned.embed(texts_of[id(v)])))

    return {
        "logreg": lambda: default(),
        "logreg-no-background": lambda: default(background=[]),
        "logreg-margin0.2": lambda: margin(0.2),
        "logreg-top1": top1,
        "knn7": lambda: knn(7),
        "centroid-softmax": lambda: centroid(20),
        "nearest-example-loo": nearest_loo,
        "finetune-contrastive": finetune,  # minutes on 2 cores: only when asked for
    }


texts_of: dict[int, list[str]] = {}  # vectors id -> texts, for strategies that re-embed
DEFAULT_STRATEGIES = ["logreg", "logreg-no-background", "logreg-margin0.2", "logreg-top1", "knn7", "centroid-softmax", "nearest-example-loo"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, nargs="+", default=[Path("eval/dev_gold.jsonl")])
    ap.add_argument("--codebook", type=Path, default=default_codebook_path())
    ap.add_argument("--strategies", nargs="*")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--model", default=Config().model, help="embedding model id or short name (minilm, mpnet)")
    ap.add_argument("--backend", default=Config().backend)
    args = ap.parse_args()
    config = Config(model=args.model, backend=args.backend)
    codebook = load_codebook(args.codebook)
    embedder = build_embedder(config.model, batch_size=config.batch_size, seed=config.seed, backend=config.backend)
    results = []
    for gold in args.gold:
        items = read_gold(gold, codebook)
        vectors = embedder.embed([i.text for i in items])
        texts_of[id(vectors)] = [i.text for i in items]
        table = strategy_table(codebook, config, embedder)
        names = args.strategies or DEFAULT_STRATEGIES
        print(f"\n{gold} ({len(items)} passages), codebook {codebook.name}, model {config.model} ({config.backend})")
        print(f"{'strategy':<24} {'macro-F1':>8} {'micro-F1':>8} {'mean κ':>7} {'seconds':>7}")
        rows = []
        for name in names:
            t = time.perf_counter()
            tagger = table[name]()
            predicted = tagger.predict(vectors)
            seconds = time.perf_counter() - t
            report = score([i.labels for i in items], predicted, codebook.code_ids)
            rows.append((name, report, seconds))
            print(f"{name:<24} {report.macro_f1:>8.3f} {report.micro_f1:>8.3f} {report.mean_kappa:>7.3f} {seconds:>7.1f}")
        print("\nper-code κ")
        print(f"{'strategy':<24} " + " ".join(f"{c[:10]:>10}" for c in codebook.code_ids))
        for name, report, _ in rows:
            print(f"{name:<24} " + " ".join(f"{s.kappa:>10.3f}" for s in report.per_code))
        results.append({"gold": str(gold), "model": config.model, "backend": config.backend, "rows": [{"strategy": n, "seconds": round(s, 2), **r.model_dump()} for n, r, s in rows]})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
