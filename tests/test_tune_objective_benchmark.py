"""benchmarks/finetune_first_documents.py --objective codes: the tuning objective tried
beside `qcode learn`'s pairs (docs/tagging.md, What did not work)."""

import numpy as np
import torch

from benchmarks.finetune_first_documents import tune_on_codes
from pipeline.embed import SentenceTransformerEmbedder

TEXTS = [
    "I clicked the button and nothing happened at all.",
    "The page froze after I pressed submit.",
    "Nothing loads when I tap the menu.",
    "The screen went blank once I chose save.",
    "I want to find the settings for my account.",
    "Now I am looking for where to change my password.",
    "I will scroll down to see the prices.",
    "Next I am going to open the help page.",
]
LABELS = [frozenset({"problem"})] * 4 + [frozenset({"procedure"})] * 4


def separation(model) -> float:
    """Mean cosine within a code minus across codes."""
    v = model.encode(TEXTS, normalize_embeddings=True)
    same = np.array([[a == b for b in LABELS] for a in LABELS]) & ~np.eye(len(TEXTS), dtype=bool)
    other = np.array([[a != b for b in LABELS] for a in LABELS])
    sims = v @ v.T
    return float(sims[same].mean() - sims[other].mean())


def test_the_code_objective_trains_only_the_top_layers_and_pulls_each_code_together():
    torch.manual_seed(42)
    model = SentenceTransformerEmbedder("minilm", seed=42, device="cpu").model
    layers = model[0].auto_model.encoder.layer
    lower = [p.detach().clone() for p in layers[0].parameters()]
    top = [p.detach().clone() for p in layers[-1].parameters()]
    before = separation(model)
    tune_on_codes(model, TEXTS, LABELS, top_layers=1, passes=320, seed=42)
    assert all(torch.equal(a, b) for a, b in zip(lower, layers[0].parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(top, layers[-1].parameters()))
    assert separation(model) > before + 0.02
