"""`qcode learn --finetune`: SetFit-style contrastive fine-tuning of the embedding model
on the codebook's sentences plus the reviewed passages, before the usual heads are fitted.

Pairs of texts that share a code should embed close (cosine target 1), pairs that share
none apart (target 0); the codebook's positives carry their code, its background talk
and passages reviewed as "no code" carry none (they only ever stand as the far side of a
pair). One seed draws the pairs and orders them and seeds torch, so the same inputs give
the same model on the same hardware. The tuned model is saved as a sentence-transformers
folder, MODEL_DIR/encoder, which `code`, `evaluate` and `learn` then embed with.

Practical on a GPU (seconds); on 2 CPU cores MiniLM takes minutes and mpnet a quarter of an
hour or more (see docs/tagging.md).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .labelled import Labelled
from .model_folder import ENCODER
from .schemas import Codebook
from .tag import background_texts, build_prototypes

PAIRS_PER_TEXT = 8  # positive and negative partners drawn for each text that has a code
BATCH = 16
LEARNING_RATE = 2e-5


@dataclass
class Tuned:
    folder: Path
    pairs: int
    seconds: float
    device: str
    precision: str = "fp32"  # "bf16": the top-layer steps ran under bf16 autocast


def labelled_texts(codebook: Codebook, data: Labelled) -> tuple[list[str], list[frozenset[str]]]:
    """The codebook's positives (with their code) and background (no code), then the
    reviewed passages with their final codes."""
    protos = build_prototypes(codebook, background_texts())
    texts, labels = [], []
    for text, k, positive in zip(protos.texts, protos.code, protos.positive):
        if positive or k == -1:
            texts.append(text)
            labels.append(frozenset([codebook.code_ids[k]]) if positive else frozenset())
    texts += data.texts
    labels += [frozenset(codes) for codes in data.labels]
    return texts, labels


def training_pairs(
    texts: list[str],
    labels: list[frozenset[str]],
    *,
    seed: int,
    per_text: int = PAIRS_PER_TEXT,
    most: int | None = None,
) -> list[tuple[str, str, float]]:
    """For each text with a code, `per_text` pairs with a text sharing a code (1.0) and as
    many with one sharing none (0.0), shuffled; deterministic for a seed. `most`: at most
    that many pairs: as few per text as still reach it (never fewer than one of each
    kind), then the first `most` of the shuffled pairs."""
    rng = random.Random(seed)
    column = {c: k for k, c in enumerate(sorted({c for codes in labels for c in codes}))}
    has = np.zeros((len(labels), len(column)), dtype=bool)  # text x code
    for i, codes in enumerate(labels):
        has[i, [column[c] for c in codes]] = True
    sharing: dict[frozenset[str], tuple[np.ndarray, np.ndarray]] = {}  # texts sharing a code, and none
    anchors = []
    for a, codes in enumerate(labels):
        if not codes:
            continue
        if codes not in sharing:
            shares = has[:, [column[c] for c in codes]].any(axis=1)
            sharing[codes] = (np.flatnonzero(shares), np.flatnonzero(~shares))
        same, other = sharing[codes]
        same = same[same != a]
        if len(same) and len(other):
            anchors.append((a, same, other))
    if most is not None:
        per_text = min(per_text, max(1, -(-most // (2 * max(1, len(anchors))))))  # then cut to `most`
    pairs = []
    for a, same, other in anchors:
        for _ in range(per_text):
            pairs.append((texts[a], texts[rng.choice(same)], 1.0))
            pairs.append((texts[a], texts[rng.choice(other)], 0.0))
    rng.shuffle(pairs)
    return pairs if most is None else pairs[:most]


def finetune(
    codebook: Codebook,
    data: Labelled,
    *,
    config: Config,
    out_dir: Path,
    device: str = "auto",
    epochs: int = 1,
    per_text: int = PAIRS_PER_TEXT,
    top_layers: int | None = None,
    top_lr: float | None = None,
    precision: str = "auto",
    lower: dict | None = None,
    most_pairs: int | None = None,
) -> Tuned:
    """Tune `config.model` on pairs from the codebook and `data`; save it to OUT/encoder.
    `top_layers`: train only that many top layers, on cached lower-layer states
    (finetune_top.py: minutes instead of a quarter of an hour on a CPU), in bf16 where
    `precision` is "auto" and the device has it natively; `lower`: their states kept
    between tunings of `config.model` in one run (`train_top`); `most_pairs`: at most
    that many pairs (`training_pairs`), so that a tuning's time stops growing with the study."""
    import torch

    from .embed import SentenceTransformerEmbedder, resolve_device
    from .io import replace_folder

    device = resolve_device(device, "torch")
    torch.manual_seed(config.seed)
    pairs = training_pairs(*labelled_texts(codebook, data), seed=config.seed, per_text=per_text, most=most_pairs)
    model = SentenceTransformerEmbedder(config.model, seed=config.seed, device=device).model
    started = time.perf_counter()
    used = "fp32"
    if top_layers:
        from .finetune_top import resolve_precision, train_top

        used = resolve_precision(precision, device)
        extra = {"lr": top_lr} if top_lr else {}
        train_top(model, pairs, device, epochs, top_layers, **extra, precision=used, lower=lower)
    else:
        _train(model, pairs, device, epochs)
    seconds = time.perf_counter() - started
    target = Path(out_dir) / ENCODER
    with replace_folder(target) as staging:
        model.save(str(staging))
    return Tuned(target, len(pairs), seconds, device, used)


def _train(model, pairs: list[tuple[str, str, float]], device: str, epochs: int) -> None:
    """Cosine-similarity loss (mean squared error to the pair's target), AdamW."""
    import torch

    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()

    def embed(texts: list[str]):
        features = {k: v.to(device) if hasattr(v, "to") else v for k, v in model.preprocess(texts).items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for _ in range(epochs):
        for i in range(0, len(pairs), BATCH):
            batch = pairs[i : i + BATCH]
            similarity = (embed([a for a, _, _ in batch]) * embed([b for _, b, _ in batch])).sum(-1)
            loss = torch.nn.functional.mse_loss(similarity, torch.tensor([y for *_, y in batch], device=device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
