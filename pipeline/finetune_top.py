"""Fine-tuning only the top layers of the embedding model, on cached lower-layer states:
the affordable form of `qcode learn --finetune` on a CPU (issue #22).

The lower layers are frozen, so each training text goes through them once (no gradient)
and its hidden states are kept (in `qcode learn`, once for the check's folds and the
tuning after them: `lower`); every training step then runs only the top
`top_layers` transformer layers, the pooling and the cosine loss, on the batch's texts in
groups of like length (padding to the longest text of a batch of talk more than triples
the work). With mpnet (12 layers) and 2 of them trained, a step costs about a sixth of a
full one. The tuned model is saved whole, as `finetune.py` saves it, and embeds with every
layer as before.

Works with BERT-style encoders (all-MiniLM-L6-v2) and MPNet (all-mpnet-base-v2, whose
layers share a relative position bias computed from the sequence length).

Where the hardware computes bfloat16 natively (CPUs with AVX-512 BF16 or AMX, GPUs that
support it) the training steps run under bf16 autocast: about twice as fast on these CPUs,
the weights and their updates stay fp32 (`precision`: "auto", "bf16" or "fp32").
"""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

import numpy as np
import torch

BATCH = 16
GROUP = 8  # texts of like length embedded together within a batch
# chosen on AnnoMI practitioner dev, fold 0 (2e-5 with 2 layers: 44% of the gain; 5e-5 with 4: 79%)
LEARNING_RATE = 1e-4


def _parts(model):
    """(the Hugging Face encoder model, its transformer layers, the modules after it)."""
    auto = model[0].auto_model
    return auto, auto.encoder.layer, list(model)[1:]


def _run_layers(auto, layers, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    from transformers.masking_utils import create_bidirectional_mask

    extended = create_bidirectional_mask(config=auto.config, inputs_embeds=hidden, attention_mask=mask)
    bias = auto.encoder.compute_position_bias(hidden) if hasattr(auto.encoder, "compute_position_bias") else None
    for layer in layers:
        out = layer(hidden, extended, bias) if bias is not None else layer(hidden, extended)
        hidden = out[0] if isinstance(out, tuple) else out  # BERT layers return the tensor, MPNet's a tuple
    return hidden


@torch.no_grad()
def lower_states(model, texts: list[str], bottom: int, device: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each text's hidden states after the bottom `bottom` layers, and its mask (unpadded);
    in batches of like length (batched in any other order, most of the work is padding)."""
    auto, layers, _ = _parts(model)
    texts = sorted(set(texts), key=lambda t: (len(t), t))
    out = {}
    for i in range(0, len(texts), 32):
        batch = texts[i : i + 32]
        features = {k: v.to(device) for k, v in model[0].preprocess(batch).items() if hasattr(v, "to")}
        ids, mask = features["input_ids"], features["attention_mask"]
        hidden = _run_layers(auto, layers[:bottom], auto.embeddings(input_ids=ids), mask)
        for text, h, m in zip(batch, hidden, mask):
            n = int(m.sum())
            out[text] = (h[:n].clone(), m[:n].clone())
    return out


def _embed(model, cache, texts: list[str], bottom: int) -> torch.Tensor:
    """Normalised sentence embeddings of cached texts through the trainable top layers."""
    auto, layers, after = _parts(model)
    width = max(len(cache[t][1]) for t in texts)
    hidden = torch.zeros(len(texts), width, cache[texts[0]][0].shape[-1], device=cache[texts[0]][0].device)
    mask = torch.zeros(len(texts), width, dtype=cache[texts[0]][1].dtype, device=hidden.device)
    for i, t in enumerate(texts):
        h, m = cache[t]
        hidden[i, : len(m)], mask[i, : len(m)] = h, m
    features = {"token_embeddings": _run_layers(auto, layers[bottom:], hidden, mask), "attention_mask": mask}
    for module in after:
        features = module(features)
    return torch.nn.functional.normalize(features["sentence_embedding"], dim=-1)


def embed_grouped(model, cache, texts: list[str], bottom: int) -> torch.Tensor:
    """As _embed, in groups of GROUP texts of like length: talk is mostly short turns with a
    few long ones, and a batch padded to its longest text spends most of its work on
    padding (3.4 padded tokens per real one in batches of 16 AnnoMI turns)."""
    order = sorted(set(texts), key=lambda t: (len(cache[t][1]), t))
    parts = [_embed(model, cache, order[i : i + GROUP], bottom) for i in range(0, len(order), GROUP)]
    at = {t: k for k, t in enumerate(order)}
    return torch.cat(parts)[[at[t] for t in texts]]


class KeptStatesEmbedder:
    """A model tuned by `train_top` that embeds by running only its top layers on the
    frozen layers' kept states (the same vectors up to float rounding:
    tests/test_finetune.py). `qcode learn`'s check embeds every passage of the study with
    each fold's tuned encoder, and the layers below never change."""

    def __init__(self, model, lower: dict, top_layers: int, device: str, fingerprint: str):
        self.model, self.device = model, device
        self.bottom = first_trained(model, top_layers)
        self.states = lower.setdefault(self.bottom, {})
        self.model_id = self.fingerprint = fingerprint

    @torch.no_grad()
    def embed(self, texts) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension()), dtype=np.float32)
        self.states.update(lower_states(self.model, list(set(texts) - self.states.keys()), self.bottom, self.device))
        parts = [
            embed_grouped(self.model, self.states, texts[i : i + 512], self.bottom) for i in range(0, len(texts), 512)
        ]
        return np.ascontiguousarray(torch.cat(parts).float().cpu().numpy(), dtype=np.float32)


def release_memory() -> None:
    """Collect the models a finished tuning leaves in reference cycles, so that tunings one
    after another in a run do not pile up memory (`learn` on 1,085 passages: peak 5.3 ->
    3.9 GB; docs/tagging.md)."""
    gc.collect()


def native_bf16(device: str) -> bool:
    """Whether `device` computes bfloat16 natively (else bf16 autocast is slower than fp32)."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap way to tell, stay in fp32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: str) -> str:
    """The precision to train in: for "auto", bf16 where the device has it natively, else fp32."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def _autocast(precision: str, device: str):
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)


def first_trained(model, top_layers: int) -> int:
    """The index of the first of the top `top_layers` layers (0: every layer)."""
    return max(0, len(_parts(model)[1]) - top_layers)


def trainable_top(model, top_layers: int) -> tuple[int, list]:
    """(the first layer trained, the parameters trained): every weight frozen but the top
    `top_layers` layers'; the frozen part's dropout off (its states are cached), the top
    layers' on."""
    _, layers, _ = _parts(model)
    bottom = first_trained(model, top_layers)
    for p in model.parameters():
        p.requires_grad_(False)
    trainable = [p for layer in layers[bottom:] for p in layer.parameters()]
    for p in trainable:
        p.requires_grad_(True)
    model.eval()
    for layer in layers[bottom:]:
        layer.train()
    return bottom, trainable


def trained(model) -> None:
    """After training: every weight trainable again (as loaded), dropout off."""
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()


def train_top(
    model,
    pairs: list[tuple[str, str, float]],
    device: str,
    epochs: int,
    top_layers: int,
    lr: float = LEARNING_RATE,
    precision: str = "fp32",
    lower: dict | None = None,
) -> None:
    """Cosine-similarity loss (as finetune._train) on the top `top_layers` layers only;
    `precision` "bf16": the steps under bf16 autocast (resolve_precision chooses).
    `lower`: lower-layer states kept between tunings of the same untuned model in one run
    (`qcode learn`'s check tunes it once per fold, then on every passage): each text goes
    through the frozen layers once."""
    bottom, trainable = trainable_top(model, top_layers)
    cache = {} if lower is None else lower.setdefault(bottom, {})
    cache.update(lower_states(model, list({t for a, b, _ in pairs for t in (a, b)} - cache.keys()), bottom, device))
    optimiser = torch.optim.AdamW(trainable, lr=lr)
    for _ in range(epochs):
        for i in range(0, len(pairs), BATCH):
            batch = pairs[i : i + BATCH]
            with _autocast(precision, device):
                vectors = embed_grouped(model, cache, [a for a, _, _ in batch] + [b for _, b, _ in batch], bottom)
                similarity = (vectors[: len(batch)] * vectors[len(batch) :]).sum(-1)
            target = torch.tensor([y for *_, y in batch], device=device)
            loss = torch.nn.functional.mse_loss(similarity.float(), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    trained(model)
