"""A study, and every setting a command runs with, resolved in this one module.

A study is a folder qcode wrote: the output folder of `qcode code` (its manifest.json
names the codebook, every passage and tagging setting, and the learned model, a copy kept
at OUT/models/SHA12), or a folder `qcode import project` wrote (import.json, its codebook
and its coded study). Each command hands its folder and the options given on its command
line to one function here and gets back a `Settings`: the codebook, the `Config`, the
learned model and the labelled files to learn from, with one line saying what came from
where. An option given on the command line always wins; then the study's record; then a
learned model's own codebook copy; then the defaults.

    for_reading(folder, codebook)              review, export, counts, the page
    for_files(files, codebook)                 agreement, review check (the study among them)
    for_run(study, given, codebook, model)     code (OUT, see run_folder), evaluate --study / --model
    for_learning(files, given, codebook, out)  learn (an import, a study, labelled files)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .codebook import default_codebook_path, recorded_path, resolve_codebook
from .config import Config
from .errors import InputError, UsageError, validation_messages
from .io import file_sha256
from .manifest import LearnedModelRecord, Manifest
from .model_folder import MODEL_JSON, TRAINING, WEIGHTS, codebook_copy, encoder_of, learned_ids, model_sha256
from .outputs import EXCERPTS, LEARNED, MANIFEST, MODELS, REVIEWS

IMPORT_RECORD = "import.json"  # what marks a folder `qcode import project` wrote


@dataclass(frozen=True)
class Settings:
    """What a command runs with. `said`: the one line on what came from a study (None
    when nothing did)."""

    codebook: Path
    config: Config
    model: Path | None = None
    files: tuple[Path, ...] = ()  # learn: the labelled files (excerpts or gold lines)
    out: Path | None = None  # learn: the model folder to write
    study: Study | None = None  # the study they came from (for_reading, for_files)
    said: str | None = None

    @property
    def learned(self) -> frozenset[str]:
        """Passages the study's learned model learned from (read when asked)."""
        return frozenset(self.study.learned_from()) if self.study is not None else frozenset()

    @property
    def prior(self) -> Path | None:
        """Its labelled passages (training.jsonl), which live models learn from too."""
        return self.study.prior() if self.study is not None else None


def make_config(**settings) -> Config:
    """A Config from command-line settings; an invalid one is bad usage."""
    try:
        return Config(**settings)
    except ValidationError as err:
        raise UsageError("; ".join(validation_messages(err))) from None


def excerpt_files(paths: Iterable[str | Path]) -> list[Path]:
    """A folder stands for its excerpts.jsonl."""
    return [Path(p) / EXCERPTS if Path(p).is_dir() else Path(p) for p in paths]


def output_folder_of(excerpts_file: Path) -> Path:
    """The output folder an excerpts file belongs to (a reviewer's copy: the one above)."""
    parent = excerpts_file.parent
    if parent.name == REVIEWS and (parent.parent / EXCERPTS).is_file():
        return parent.parent
    return parent


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
        """`explicit`, else the codebook the manifest names (the packaged default, or a
        file that is still there unchanged)."""
        if explicit is not None:
            return Path(explicit)
        recorded = self.manifest.codebook
        if recorded.path.startswith("(default)"):
            return default_codebook_path()
        path = Path(recorded.path)
        if path.is_file() and file_sha256(path) == recorded.sha256:
            return path
        if file_sha256(default_codebook_path()) == recorded.sha256:
            return default_codebook_path()
        state = "has changed since" if path.is_file() else "is not here, as it was for"
        raise InputError(self.folder / MANIFEST, f"codebook {recorded.path} {state} this run; pass --codebook")

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

    def prior(self) -> Path | None:
        """The labelled passages the run's learned model learned from (training.jsonl in
        the study's models/ copy: an imported coding, say); None for a codebook-only run
        or a model from before qcode kept them."""
        record = self.manifest.learned_model
        if record is None:
            return None
        path = self.folder / record.path / TRAINING
        return path if path.is_file() else None

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


def for_reading(path: Path, codebook: Path | None = None) -> Settings:
    """The codebook to read a study's files with (review, export, counts, agreement, the
    page) and the study's config: `codebook`, else the one the study's manifest names
    (said in one line); a folder without a readable manifest needs --codebook."""
    path = Path(path)
    folder = path if path.is_dir() else output_folder_of(path)
    if codebook is not None:
        return _reading(study_or_none(folder), codebook)
    try:
        return _reading(Study(folder, Manifest.read(folder / MANIFEST)), None)
    except InputError as err:
        raise InputError(err.path, f"{err.message}; pass --codebook", err.line) from None


def for_files(files: list[Path], codebook: Path | None = None) -> Settings:
    """`for_reading` of the first of `files` that belongs to a study (any order), else
    `codebook` or the default."""
    study = next((found for f in files if (found := Study.of(f)) is not None), None)
    return _reading(study, codebook)


def _reading(study: Study | None, codebook: Path | None) -> Settings:
    if study is None:
        return Settings(resolve_codebook(codebook), Config())
    found = study.codebook(codebook)
    said = None if codebook is not None else study.describe(None, found)
    return Settings(found, study.config, study=study, said=said)


def for_run(study: Study | None, given: dict, codebook: Path | None, model: Path | None) -> Settings:
    """The codebook, learned model and config to code or evaluate with: what is given,
    else what `study` recorded (said in one line), else a learned model's own codebook
    copy, else the defaults. A study keeps its own codebook."""
    if study is None:
        return Settings(resolve_codebook(codebook or codebook_copy(model)), make_config(**given), model)
    config = make_config(**{**study.config.model_dump(), **given})
    codebook = study.codebook(codebook)
    model = model if model is not None else study.learned_model()
    return Settings(codebook, config, model, said=study.describe(config, codebook, model))


def run_folder(out: Path, fresh: bool = False) -> tuple[Study | None, str | None]:
    """The study `qcode code` reruns into: OUT's, unless `fresh` or OUT has none; an
    unreadable manifest is a warning (its settings are not used), not an error."""
    if fresh or not (Path(out) / MANIFEST).is_file():
        return None, None
    try:
        return Study.of(out), None
    except InputError as err:
        return None, f"warning: {err}: its settings are not used (the defaults and the options given are)"


def redaction_lists(study: Study | None, config: Config, names: Path | None, keep: Path | None, key: Path | None):
    """--names and --keep: as given, else the study's (when it was pseudonymised and they
    are still there); refused without --pseudonymise."""
    redaction = study.manifest.redaction if study is not None else None
    if redaction is not None and config.pseudonymise and not (names or keep):
        names, keep = (_still_there(getattr(redaction, what)) for what in ("names", "keep"))
    if (names or keep or key) and not config.pseudonymise:
        raise UsageError("--names, --keep and --key go with --pseudonymise")
    return names, keep


def _still_there(record) -> Path | None:
    return Path(record.path) if record is not None and Path(record.path).is_file() else None


LEARN_SETTINGS = ("model", "backend", "unit_words")  # what a study's model must share with later runs


def for_learning(files: list[Path], given: dict, codebook: Path | None, out: Path | None) -> Settings:
    """What `learn` reads and writes: the labelled files (a folder `qcode import project`
    wrote stands for its study, else its labelled passages; a folder for its excerpts;
    a study alone brings the labelled passages its learned model learned from, an
    imported coding say, before its own decisions, which win), the codebook and config
    (the import's or the study's where not given) and the model folder (STUDY/learned,
    IMPORT/learned by default)."""
    said = None
    imported = imported_inputs(files[0]) if len(files) == 1 else None
    imported_folder = files[0]
    if imported is not None:
        files, found = imported
        codebook = codebook or found
        out = out or Path(imported_folder) / LEARNED  # IMPORT/learned, whatever it learns from
        said = f"imported project: learning from {files[0]} with the codebook {codebook}"
    files = excerpt_files(files)
    study = Study.of(files[0])
    if study is None:
        if out is None:
            raise UsageError("--out is needed when FILE is not a study folder")
        return Settings(resolve_codebook(codebook), make_config(**given), files=tuple(files), out=out, said=said)
    config = make_config(**{**{k: getattr(study.config, k) for k in LEARN_SETTINGS}, **given})
    codebook = study.codebook(codebook)
    said = "; ".join(filter(None, [said, study.describe(config, codebook, None)]))
    prior = study.prior() if len(files) == 1 else None
    if prior is not None:  # first, so that the study's own decisions win
        files = [prior, *files]
        said += f"; and the labelled passages its learned model learned from ({prior})"
    return Settings(codebook, config, files=tuple(files), out=out or study.folder / LEARNED, said=said)


def imported_inputs(path: Path) -> tuple[list[Path], Path] | None:
    """For a folder `qcode import project` wrote: what `learn` reads (its study, else its
    labelled passages) and its codebook; None for any other path."""
    path = Path(path)
    if not (path / IMPORT_RECORD).is_file():
        return None
    study = path / "study"
    return ([study] if (study / EXCERPTS).is_file() else [path / "labelled.jsonl"]), path / "codebook.yaml"
