"""How far can learning from labelled passages go with these embeddings? Mean kappa on the
same 5 held-out folds as learning_curve.py for:

1. per-code logistic regressions on the labelled passages alone (no codebook);
2. the learned tagger without the one-standard-error rule, from 100 and from all passages;
3. with --finetune FOLD: SetFit-style contrastive fine-tuning of the embedding model on the
   codebook plus 100 passages of that fold's training part (slow: ~19 minutes for mpnet
   on 2 cores), then the codebook and passages on the tuned embeddings, against the same
   without fine-tuning, on that one fold.

    .venv/bin/python benchmarks/learning_ceiling.py [--model mpnet] [--finetune 0]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

import pipeline.learn.per_code as learn_module
from pipeline import Config, load_codebook
from pipeline.codebook import default_codebook_path
from pipeline.embed import build_embedder
from pipeline.evaluate import label_matrix, read_gold, score
from pipeline.learn import Labelled, LearnedTagger
from pipeline.tag import CodebookTagger
from pipeline.units import UnitVectors, embed_units

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import Tuned, train_on_pairs  # noqa: E402


def decide(codebook, config, proba):
    out = []
    for row in proba:
        order = np.argsort(-row, kind="stable")[: config.max_codes]
        out.append([codebook.code_ids[k] for k in order if row[k] >= config.threshold])
    return out


def linear(X, Y, seed, sample_weight=None):
    """Per-code balanced logistic regressions -> (K, d) weights and (K,) biases."""
    W, b = [], []
    for k in range(Y.shape[1]):
        clf = LogisticRegression(C=2.0, class_weight="balanced", max_iter=3000, random_state=seed).fit(
            X, Y[:, k], sample_weight=sample_weight
        )
        W.append(clf.coef_[0])
        b.append(clf.intercept_[0])
    return np.array(W), np.array(b)


def best_unit(units: UnitVectors, W, b):
    return np.maximum.reduceat(1 / (1 + np.exp(-(units.vectors @ W.T + b))), units.bounds[:-1], axis=0)


def ceiling_pairs(codebook, protos, items, train, rng) -> list[tuple[str, str, float]]:
    """Contrastive pairs from the codebook's positives, its background talk and the
    passages: five of each kind per coded text (share a code -> 1, share none -> 0)."""
    texts, labels = [], []
    for t, c, p in zip(protos.texts, protos.code, protos.positive):
        if p or c == -1:
            texts.append(t)
            labels.append({int(c)} if p else set())
    for i in train:
        texts.append(items[i].text)
        labels.append({codebook.code_ids.index(c) for c in items[i].labels})
    pairs = []
    for a in range(len(texts)):
        if not labels[a]:
            continue
        same = [x for x in range(len(texts)) if x != a and labels[a] & labels[x]]
        other = [x for x in range(len(texts)) if not labels[a] & labels[x]]
        for _ in range(5):
            pairs += [(texts[a], texts[rng.choice(same)], 1.0), (texts[a], texts[rng.choice(other)], 0.0)]
    return pairs


def codebook_and_passages(name, enc, codebook, config, protos, items, train, test) -> None:
    """Per-code linear models on the codebook's prototypes plus the passages, on `enc`'s
    vectors; prints macro-F1 and mean kappa on `test`."""
    Y = label_matrix([items[i].labels for i in train], codebook.code_ids)
    pv = enc.embed(protos.texts)
    xv = enc.embed([items[i].text for i in train])
    W, b = [], []
    for k in range(len(codebook.codes)):
        rows, y = protos.training_set(k)
        w_, b_ = linear(np.vstack([pv[rows], xv]), np.concatenate([y, Y[:, k]])[:, None], config.seed)
        W.append(w_[0])
        b.append(b_[0])
    units = embed_units(enc, [items[i].text for i in test], config)
    predicted = decide(codebook, config, best_unit(units, np.array(W), np.array(b)))
    report = score([items[i].labels for i in test], predicted, codebook.code_ids)
    print(
        f"  {name:<10} codebook + {len(train)} passages, fold of {len(test)}: macro-F1 {report.macro_f1:.3f}  mean"
        f" kappa {report.mean_kappa:.3f}"
    )


def finetune(codebook, config, items, train, test, embedder):
    """One epoch of cosine-similarity loss on ceiling_pairs (quality.train_on_pairs), then
    the codebook and passages on the frozen and the tuned vectors."""
    import torch

    from pipeline.embed import SentenceTransformerEmbedder

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    protos = CodebookTagger(codebook, config=config).fit(embedder).prototypes_
    pairs = ceiling_pairs(codebook, protos, items, train, rng)
    model = SentenceTransformerEmbedder(config.model).model
    started = time.perf_counter()
    train_on_pairs(model, pairs, 1, 2e-5, rng)
    print(f"fine-tuned on {len(pairs)} pairs in {time.perf_counter() - started:.0f} s")
    for name, enc in [("frozen", embedder), ("fine-tuned", Tuned(model, config.model))]:
        codebook_and_passages(name, enc, codebook, config, protos, items, train, test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=Path("eval/dev_gold.jsonl"))
    ap.add_argument("--codebook", type=Path, default=default_codebook_path())
    ap.add_argument("--model", default=Config().model)
    ap.add_argument("--finetune", type=int, metavar="FOLD", help="also fine-tune on this fold (slow)")
    args = ap.parse_args()
    config = Config(model=args.model)
    codebook = load_codebook(args.codebook)
    items = read_gold(args.gold, codebook)
    embedder = build_embedder(config)
    units = embed_units(embedder, [i.text for i in items], config)
    owner = np.repeat(np.arange(len(units)), np.diff(units.bounds))
    Y = label_matrix([i.labels for i in items], codebook.code_ids)
    folds = list(KFold(n_splits=5, shuffle=True, random_state=config.seed).split(items))

    def pooled(predict) -> str:
        predicted = {}
        for train, test in folds:
            for i, codes in zip(test, predict(train, test)):
                predicted[int(i)] = codes
        order = sorted(predicted)
        r = score([items[i].labels for i in order], [predicted[i] for i in order], codebook.code_ids)
        return f"macro-F1 {r.macro_f1:.3f}  mean kappa {r.mean_kappa:.3f}"

    def supervised(train, test):
        rows = np.isin(owner, train)
        W, b = linear(units.vectors[rows], Y[owner[rows]], config.seed)
        return decide(codebook, config, best_unit(units.take(test), W, b))

    base = CodebookTagger(codebook, config=config).fit(embedder)
    print(f"{args.gold} ({len(items)} passages, 5 held-out folds), model {config.model}")
    print(
        "codebook only:                                 "
        f" {pooled(lambda tr, te: [c for _, c in base.suggest(units.take(te))])}"
    )
    print(f"labelled passages only (all of each training part): {pooled(supervised)}")
    rule = learn_module.paired_f1_se
    learn_module.paired_f1_se = lambda *a, **k: -1.0  # every code with enough examples is learned
    rng = np.random.default_rng(config.seed)
    for size in (100, None):

        def learned(train, test, size=size):
            chosen = rng.permutation(train)[: size or len(train)]
            data = Labelled(
                [items[i].id for i in chosen], [items[i].text for i in chosen], [items[i].labels for i in chosen]
            )
            return [c for _, c in LearnedTagger(codebook, config=config).fit(embedder, data).suggest(units.take(test))]

        print(f"learned without the one-SE rule, {size or 'all'} passages:   {pooled(learned)}")
    learn_module.paired_f1_se = rule
    if args.finetune is not None:
        train, test = folds[args.finetune]
        chosen = np.random.default_rng(config.seed).permutation(train)[:100]
        finetune(codebook, config, items, chosen, test, embedder)


if __name__ == "__main__":
    main()
