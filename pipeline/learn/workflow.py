"""`qcode learn`'s work on files: read the labelled passages, fit the learner on them and
its study, and write the model folder (model.json, weights.npz, the training rows and a
copy of the codebook)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..config import Config
from ..embed import Embedder
from ..io import atomic_write, file_sha256
from ..labelled import Labelled, read_labelled, write_training
from ..model_folder import CODEBOOK
from ..schemas import Codebook
from ..units import embed_units
from .tagger import LearnedTagger


def fit_labelled(
    codebook: Codebook, data: Labelled, *, config: Config, embedder: Embedder, fixed: dict | None = None
) -> LearnedTagger:
    """The learner fitted on labelled passages (and adapted to their whole study); `fixed`:
    its choices made before the encoder was tuned (`LearnedTagger.fixed`)."""
    study = embed_units(embedder, data.study, config) if data.study else None
    tagger = LearnedTagger(codebook, config=config)
    tagger.fixed = fixed
    return tagger.fit(embedder, data, study=study)


def learn(
    files: list[Path],
    *,
    out_dir: Path,
    codebook_path: Path | None,
    config: Config,
    embedder: Embedder,
    encoder: dict | None = None,
    fixed: dict | None = None,
    read: tuple[Codebook, Labelled, Path] | None = None,
) -> LearnedTagger:
    """Train on reviewed/labelled files and write MODEL_DIR/model.json + weights.npz
    (`encoder`: whether the encoder was tuned and why, recorded in model.json; `fixed`:
    the learner's choices made before the encoder was tuned; `read`: what
    `read_labelled(files, codebook_path)` gave, where the caller has read them already)."""

    codebook, data, codebook_path = read or read_labelled(files, codebook_path)
    tagger = fit_labelled(codebook, data, config=config, embedder=embedder, fixed=fixed)
    origins = Counter(data.origins or [])
    tagger.save(
        out_dir,
        codebook_sha256=file_sha256(codebook_path),
        embedder=embedder,
        training=[{"path": str(f), "sha256": file_sha256(f), "passages": origins[str(f)]} for f in files],
        ids=data.ids,
        encoder=encoder,
    )
    write_training(out_dir, data)
    keep_codebook(out_dir, codebook_path)
    return tagger


def keep_codebook(out_dir: Path, codebook_path: Path) -> None:
    """A byte copy of the codebook file beside the model (its sha256 is the one in
    model.json), so `code --model` and `evaluate --model` need no --codebook."""
    for old in Path(out_dir).glob(f"{CODEBOOK}.*"):
        old.unlink()
    with atomic_write(Path(out_dir) / f"{CODEBOOK}{Path(codebook_path).suffix}", "wb") as f:
        f.write(Path(codebook_path).read_bytes())
