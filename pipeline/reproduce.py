"""`qcode reproduce MANIFEST`: re-run what a manifest describes in a temporary folder and
compare every table, cell by cell.

A `qcode code` manifest: inputs, codebook and model are checked against their recorded
sha256 (differences are named), the pipeline runs again with the recorded config, and
counts.csv and each passage's machine codes are compared with the originals beside the
manifest. A `qcode counts` manifest: the tables are recomputed from the recorded excerpt
files and compared with the tables beside it.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .codebook import default_codebook_path, load_codebook
from .errors import InputError
from .io import file_sha256
from .manifest import Manifest
from .outputs import COUNTS, EXCERPTS, MANIFEST
from .store import read_excerpts


@dataclass
class Reproduction:
    differences: list[str] = field(default_factory=list)  # table cells that differ: failure
    notes: list[str] = field(default_factory=list)  # changed inputs, explaining the cells

    @property
    def reproduced(self) -> bool:
        return not self.differences


def diff_csv(name: str, original: str, again: str) -> list[str]:
    """Cells that differ between two tables keyed by their first column."""

    def parse(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
        rows = list(csv.reader(io.StringIO(text)))
        header = rows[0] if rows else []
        return header, {r[0]: dict(zip(header, r)) for r in rows[1:] if r}

    h1, a = parse(original)
    h2, b = parse(again)
    out = []
    for col in h1:
        if col not in h2:
            out.append(f"{name}: column {col!r} only in the original")
    for col in h2:
        if col not in h1:
            out.append(f"{name}: column {col!r} only in the rerun")
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(f"{name}: row {key!r} only in the original")
        elif key not in a:
            out.append(f"{name}: row {key!r} only in the rerun")
        else:
            for col in h1[1:]:
                if col in b[key] and a[key].get(col) != b[key][col]:
                    out.append(f"{name}: {key} x {col}: {a[key].get(col)} -> {b[key][col]}")
    return out


def _locate(recorded: str, inputs_dir: Path | None) -> Path:
    path = Path(recorded)
    if inputs_dir is None:
        return path
    for candidate in (inputs_dir / path, inputs_dir / path.name):
        if candidate.exists():
            return candidate
    return inputs_dir / path.name


def _hash_note(what: str, path: Path, recorded: str, notes: list[str]) -> bool:
    if not path.exists():
        notes.append(f"{what} missing: {path}")
        return False
    now = file_sha256(path)
    if now != recorded:
        notes.append(f"{what} changed: {path} (sha256 {recorded[:12]}... -> {now[:12]}...)")
    return True


def _checked_inputs(manifest: dict, inputs_dir: Path | None, notes: list[str]) -> tuple[list[Path], Path]:
    """The recorded inputs that exist, and the codebook; changed or missing ones noted."""
    files = []
    for item in manifest["inputs"]:
        path = _locate(item["path"], inputs_dir)
        if _hash_note("input", path, item["sha256"], notes):
            files.append(path)
    codebook_path = _codebook_path(manifest["codebook"]["path"], inputs_dir)
    _hash_note("codebook", codebook_path, manifest["codebook"]["sha256"], notes)
    return files, codebook_path


def _learned_model(manifest: Manifest, base: Path, explicit: Path | None, notes: list[str]) -> Path | None:
    """The learned model the run tagged with (the study's copy, or `explicit`); a changed
    one is the first note, a missing one an error naming it."""
    from .study import learned_model_at

    if manifest.learned_model is None:
        if explicit is not None:
            notes.insert(0, f"--model {explicit} given, but the run was codebook-only: the model is used")
        return explicit
    found, changed = learned_model_at(base, manifest.learned_model, explicit)
    if changed:
        notes.insert(0, changed)
    return found


def reproduce_code(
    manifest: Manifest,
    base: Path,
    inputs_dir: Path | None,
    cache_dir: Path | None,
    device: str = "auto",
    model: Path | None = None,
) -> Reproduction:
    from .run import code_corpus

    result = Reproduction()
    model_dir = _learned_model(manifest, base, model, result.notes)
    files, codebook_path = _checked_inputs(manifest.model_dump(mode="json"), inputs_dir, result.notes)
    attributes = [_locate(a.path, inputs_dir) for a in manifest.attributes_files]
    for a, rec in zip(attributes, manifest.attributes_files):
        _hash_note("attributes", a, rec.sha256, result.notes)
    original_counts = base / COUNTS
    if not original_counts.exists():
        raise InputError(original_counts, "the original counts.csv is not beside the manifest")
    if file_sha256(original_counts) != manifest.outputs.counts:
        result.notes.append(f"{original_counts} was edited after the run (sha256 differs from the manifest)")
    with tempfile.TemporaryDirectory(prefix="qcode-reproduce-") as tmp:
        out = Path(tmp) / "out"
        try:
            run = _rerun(
                code_corpus,
                files,
                out,
                codebook_path,
                manifest.model_copy(update={"config": _rerun_config(manifest, device, result.notes)}),
                attributes,
                cache_dir or Path(tmp) / "cache",
                device,
                _redacting(manifest, inputs_dir, result.notes),
                model_dir,
            )
        except InputError as err:  # e.g. a changed model no longer loads: named after the notes
            result.differences.append(f"the rerun stopped: {err}")
            return result
        _compare(manifest, base, out, original_counts, run, result)
    return result


def _rerun_config(manifest: Manifest, device: str, notes: list[str]):
    """The run's config; a half-precision run (torch-fp16, a GPU's) reproduced where no GPU
    is used reruns in fp32 with the same weights, as a GPU's run on a CPU is: its codes and
    counts decide (fp16 and fp32 gave the same counts on the sample, docs/performance.md)."""
    from .embed.device import GPU_ONLY_BACKENDS, cuda_available

    config = manifest.config
    if config.backend in GPU_ONLY_BACKENDS and (device == "cpu" or (device == "auto" and not cuda_available())):
        notes.append(
            f"{config.backend} runs on a GPU only: rerun with --backend torch (fp32); codes and counts compared"
        )
        return config.model_copy(update={"backend": "torch"})
    return config


def _rerun(code_corpus, files, out, codebook_path, manifest, attributes, cache_dir, device, redacting, model_dir):
    return code_corpus(
        files,
        out_dir=out,
        codebook_path=codebook_path,
        config=manifest.config,
        attributes_path=attributes[0] if len(attributes) == 1 else None,
        cache_dir=cache_dir,
        device=device,
        redacting=redacting,
        model_dir=model_dir,
    )


def _compare(manifest: Manifest, base: Path, out: Path, original_counts: Path, run, result: Reproduction) -> None:
    """The rerun in `out` against the original beside the manifest: model, counts, codes."""
    again = Manifest.read(out / MANIFEST).model
    was, now = manifest.model.weights_sha256 or "", again.weights_sha256 or ""
    if was != now:
        result.notes.append(f"model weights changed: {was[:12]}... -> {now[:12]}...")
    if manifest.model.device != again.device:
        result.notes.append(
            f"embedded on {again.device}, the original on {manifest.model.device}: codes and counts compared"
        )
    result.differences += diff_csv(COUNTS, original_counts.read_text(), (out / COUNTS).read_text())
    before = {e.id: e.codes for e in read_excerpts(base / EXCERPTS)}
    after = {e.id: e.codes for e in read_excerpts(out / EXCERPTS)}
    changed = sorted(i for i in set(before) | set(after) if before.get(i) != after.get(i))
    if changed:
        result.differences.append(
            f"excerpts.jsonl: {len(changed)} passage(s) coded differently or missing, e.g. {changed[0]}"
        )
    result.notes += [f"rerun error: {e}" for e in run.errors]


def _redacting(manifest: Manifest, inputs_dir: Path | None, notes: list[str]):
    """A pseudonymised run's names and keep lists, checked against their recorded sha256."""
    from .run import Redacting

    if manifest.redaction is None:
        return None
    found = {}
    for what in ("names", "keep"):
        record = getattr(manifest.redaction, what)
        if record is not None:
            path = _locate(record.path, inputs_dir)
            if _hash_note(f"--{what} list", path, record.sha256, notes):
                found[what] = path
    return Redacting(**found)


def reproduce_counts(manifest: dict, base: Path, inputs_dir: Path | None) -> Reproduction:
    from .counts import collect, load_outputs, tables

    result = Reproduction()
    files, codebook_path = _checked_inputs(manifest, inputs_dir, result.notes)
    codebook = load_codebook(codebook_path)
    excerpts, _ = load_outputs(files)
    for name, text in tables(collect(excerpts, manifest["source"]), codebook, manifest["by"]).items():
        original = base / name
        if not original.exists():
            result.differences.append(f"{name}: missing beside the manifest")
            continue
        result.differences += diff_csv(name, original.read_text(), text)
    return result


def _codebook_path(recorded: str, inputs_dir: Path | None) -> Path:
    return default_codebook_path() if recorded.startswith("(default)") else _locate(recorded, inputs_dir)


def reproduce(
    manifest_path: Path,
    *,
    inputs_dir: Path | None = None,
    cache_dir: Path | None = None,
    device: str = "auto",
    model: Path | None = None,
) -> Reproduction:
    try:
        manifest = json.loads(Path(manifest_path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(manifest_path, f"not a readable manifest: {err}") from None
    base = Path(manifest_path).parent
    command = manifest.get("command")
    if command == "code":
        return reproduce_code(Manifest.read(manifest_path), base, inputs_dir, cache_dir, device, model)
    if command == "counts":
        return reproduce_counts(manifest, base, inputs_dir)
    raise InputError(manifest_path, f"not a qcode manifest (command {command!r})")
