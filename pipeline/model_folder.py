"""The layout of a learned model's folder (what `qcode learn` writes), in one place:

    MODEL_DIR/model.json     what was learned, from what, and how (learn/saved.py writes it)
    MODEL_DIR/weights.npz    the heads' weights (its sha256 is in model.json)
    MODEL_DIR/training.jsonl the labelled passages it learned from (gold lines with their origin)
    MODEL_DIR/codebook.*     a copy of the codebook file it learned with (code and evaluate take it)
    MODEL_DIR/encoder/       with --finetune: the tuned embedding model (finetune.py)

and what the rest of qcode asks of one: its identity, the passages it learned from, the
encoder to embed with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .config import Config

MODEL_JSON = "model.json"
WEIGHTS = "weights.npz"
TRAINING = "training.jsonl"
CODEBOOK = "codebook"  # + the codebook file's own suffix
ENCODER = "encoder"


def model_sha256(model_dir: Path) -> str:
    """A learned model's identity: sha256 of its model.json and weights together."""
    model_dir = Path(model_dir)
    return hashlib.sha256((model_dir / MODEL_JSON).read_bytes() + (model_dir / WEIGHTS).read_bytes()).hexdigest()


def codebook_copy(model_dir: Path | None) -> Path | None:
    """The copy of the codebook file a model learned with (`codebook.yaml`, `.csv`, ...),
    or None (a model from before qcode kept one, or no model)."""
    if model_dir is None:
        return None
    found = sorted(Path(model_dir).glob(f"{CODEBOOK}.*"))
    return found[0] if found else None


def learned_ids(model_dir: Path) -> set[str]:
    """The ids of the passages a learned model was trained on (models since qcode 0.1)."""
    try:
        return set(json.loads((Path(model_dir) / MODEL_JSON).read_text())["training"].get("ids", []))
    except (OSError, ValueError, KeyError):
        return set()


def training_rows(path: str | Path | None, known: set[str] | None = None) -> list[dict]:
    """The gold lines of a model's training.jsonl (none without one); with `known`, lines
    naming a code outside it are left out."""
    if not path or not Path(path).is_file():
        return []
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if known is None or set(row["labels"]) <= known:
                rows.append(row)
    return rows


def encoder_of(model_dir: Path | None) -> Path | None:
    """MODEL_DIR/encoder when `qcode learn --finetune` wrote one, else None."""
    if model_dir is None:
        return None
    folder = Path(model_dir) / ENCODER
    return folder if (folder / "modules.json").is_file() else None


def drop_encoder(model_dir: Path) -> None:
    """Remove an encoder an earlier --finetune left (it no longer belongs to this model)."""
    shutil.rmtree(Path(model_dir) / ENCODER, ignore_errors=True)


def with_encoder(config: Config, model_dir: Path | None) -> Config:
    """The config to embed with: a fine-tuned model's own encoder replaces `config.model`."""
    folder = encoder_of(model_dir)
    return config if folder is None else config.model_copy(update={"model": str(folder)})
