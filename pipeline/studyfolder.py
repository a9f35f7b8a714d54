"""What a study folder (the output folder of `qcode code`) remembers, so that the commands
given one take its settings from it: the codebook, every passage and tagging setting, and
the learned model (a copy kept at OUT/models/SHA12, named in manifest.json).

A command says in one line which settings it took from the folder; an option given on the
command line always wins.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .codebook import recorded_path
from .config import Config
from .errors import InputError
from .manifest import LearnedModelRecord, Manifest, codebook_for
from .model_folder import MODEL_JSON, TRAINING, WEIGHTS, codebook_copy, encoder_of, learned_ids, model_sha256
from .outputs import MANIFEST, MODELS, output_folder_of


def keep_learned_model(model_dir: Path, out_dir: Path) -> LearnedModelRecord:
    """Copy a learned model (model.json, weights.npz) into OUT/models/SHA12 unless it is
    there already, and the record that names it. A fine-tuned encoder is not copied: the
    config's model names its folder and the manifest its weights' sha256."""
    model_dir = Path(model_dir)
    sha = model_sha256(model_dir)
    relative = Path(MODELS) / sha[:12]
    target = Path(out_dir) / relative
    if not ((target / MODEL_JSON).is_file() and model_sha256(target) == sha):
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}.", dir=target.parent))
        for name in (MODEL_JSON, WEIGHTS, TRAINING):
            if name != TRAINING or (model_dir / name).is_file():
                shutil.copy2(model_dir / name, staging / name)
        kept = codebook_copy(model_dir)
        if kept is not None:
            shutil.copy2(kept, staging / kept.name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    encoder = encoder_of(model_dir)
    return LearnedModelRecord(
        path=relative.as_posix(), sha256=sha, given=str(model_dir), encoder=str(encoder) if encoder else None
    )


def learned_model_at(folder: Path, record: LearnedModelRecord, explicit: Path | None = None) -> tuple[Path, str | None]:
    """The learned model to rerun a study with, and a note when it is not the recorded one:
    `explicit`, else the study's copy, else the path it was given from. Neither there: an
    error naming the model."""
    if explicit is not None:
        found = Path(explicit)
    else:
        candidates = [Path(folder) / record.path, Path(record.given)]
        found = next((p for p in candidates if (p / MODEL_JSON).is_file() and (p / WEIGHTS).is_file()), None)
        if found is None:
            raise InputError(
                Path(folder) / MANIFEST,
                f"learned model {record.sha256[:12]} is missing: neither {record.path} in the study nor {record.given}"
                " is there; pass --model",
            )
    now = model_sha256(found)
    if now != record.sha256:
        return found, f"learned model changed: {found} (sha256 {record.sha256[:12]}... -> {now[:12]}...)"
    return found, None


@dataclass
class Study:
    """A study folder and its manifest."""

    folder: Path
    manifest: Manifest

    @classmethod
    def of(cls, path: Path | None) -> Study | None:
        """The study a folder, or a file in one (excerpts.jsonl, a reviewer's copy), belongs
        to; None when there is no manifest.json there."""
        if path is None:
            return None
        path = Path(path)
        folder = path if path.is_dir() else output_folder_of(path)
        if not (folder / MANIFEST).is_file():
            return None
        return cls(folder, Manifest.read(folder / MANIFEST))

    @property
    def config(self) -> Config:
        return self.manifest.config

    def codebook(self, explicit: Path | None = None) -> Path:
        return codebook_for(self.folder, explicit)

    def learned_model(self) -> Path | None:
        """The study's copy of its learned model, checked; None for codebook-only runs."""
        record = self.manifest.learned_model
        if record is None:
            return None
        path, changed = learned_model_at(self.folder, record)
        if changed:
            raise InputError(path, f"{changed}; pass --model")
        return path

    def learned_from(self) -> set[str]:
        """Passages the run's learned model was trained on: machine agreement leaves them out."""
        record = self.manifest.learned_model
        if record is None:
            return set()
        return learned_ids(Path(self.folder) / record.path)

    def describe(self, config: Config | None, codebook: Path, model: Path | None = None) -> str:
        """One line: what a command took from this study (the config's settings that are
        not the defaults, when a config is given)."""
        taken = [f"codebook {recorded_path(codebook)}"]
        if model is not None:
            taken.append(f"learned model {model}")
        default = Config()
        if config is not None:
            taken += [
                f"{name} {getattr(config, name)!r}"
                for name in Config.model_fields
                if getattr(config, name) != getattr(default, name)
            ]
        return f"settings from {self.folder / MANIFEST}: " + ", ".join(taken)


def study_or_none(path: Path | None) -> Study | None:
    """The study at `path`, or None where there is none or its manifest cannot be read
    (readers that only use it for labels and defaults go on without it)."""
    try:
        return Study.of(path)
    except InputError:
        return None
