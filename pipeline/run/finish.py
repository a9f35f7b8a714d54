"""The last stage of `qcode code`: sources/ swapped in, reviews carried over, counts.csv and
manifest.json written (`finish`)."""

from __future__ import annotations

from pathlib import Path

from ..cells import csv_text
from ..codebook import recorded_path
from ..config import Config
from ..embed import CachedEmbedder, Embedder
from ..ingest.corpus import unknown_rows
from ..io import atomic_write, file_sha256, swap_in
from ..manifest import (
    CodebookRecord,
    ExportedModel,
    FileRecord,
    Manifest,
    ModelRecord,
    OutputHashes,
    RedactionRecord,
    Totals,
)
from ..outputs import COUNTS, EXCERPTS, MANIFEST, SOURCES
from ..redact.corpus import check_key_path, default_key_path
from ..reviewing.reviews import carry_reviews_into
from ..sentences import SPACY_MODEL
from ..study import keep_learned_model
from ..version import __version__
from .coding import Reading, Tally
from .setup import Redacting, RunResult, Setup


def counts_csv(counts: dict[str, dict[str, int]], passages: dict[str, int], code_ids: list[str]) -> str:
    """Passages per code per transcript: one row per transcript (sorted), one column per code."""
    rows = [["transcript", "passages", *code_ids]]
    rows += [[t, passages[t], *(counts[t][c] for c in code_ids)] for t in sorted(counts)]
    return csv_text(rows)


def model_record(embedder: Embedder, config: Config, devices: set[str]) -> ModelRecord:
    inner = getattr(embedder, "inner", embedder)
    exported = None
    if getattr(inner, "onnx_sha256", None) is not None:  # ONNX backends: the file exported here
        exported = ExportedModel(file=inner.onnx_path.name, sha256=inner.onnx_sha256)
    device = ",".join(sorted(devices)) or getattr(inner, "device", "cpu")
    return ModelRecord(
        id=embedder.model_id,
        fingerprint=embedder.fingerprint,
        weights_sha256=getattr(inner, "weights_sha256", None),
        backend=config.backend,
        exported_model=exported,
        device=device,
    )


def redaction_record(setup: Setup) -> RedactionRecord | None:
    if setup.redaction is None:
        return None
    files = setup.redaction_files or Redacting()
    record = lambda p: FileRecord(path=str(p), sha256=file_sha256(p)) if p else None  # noqa: E731
    return RedactionRecord(names=record(files.names), keep=record(files.keep))


def build_manifest(setup: Setup, reading: Reading, tally: Tally, result: RunResult, out_dir: Path) -> Manifest:
    cb = setup.codebook
    return Manifest(
        qcode_version=__version__,
        codebook=CodebookRecord(
            path=recorded_path(setup.codebook_path),
            sha256=file_sha256(setup.codebook_path),
            name=cb.name,
            version=cb.version,
        ),
        model=model_record(setup.embedder, setup.config, setup.devices),
        segmenter={"spacy_model": SPACY_MODEL},
        tagger=setup.tagger.settings(),
        config=setup.config,
        attributes_files=[FileRecord(path=str(t.path), sha256=file_sha256(t.path)) for t in setup.tables],
        inputs=sorted(reading.inputs, key=lambda m: m.path),
        errors=sorted(str(e) for e in result.errors),
        totals=Totals(
            transcripts=result.transcripts,
            passages=result.passages,
            coded_passages=result.coded,
            by_code={c: sum(tally.codes[t][c] for t in tally.codes) for c in cb.code_ids},
            reviews_kept=result.kept_reviews,
            reviews_orphaned=result.orphaned_reviews,
        ),
        redaction=redaction_record(setup),
        engine=setup.engine.name,
        outputs=OutputHashes(
            **{
                EXCERPTS: file_sha256(out_dir / EXCERPTS),
                COUNTS: file_sha256(out_dir / COUNTS),
                SOURCES: {n: file_sha256(out_dir / SOURCES / n) for n in sorted(reading.texts)},
            }
        ),
    )


def finish(setup: Setup, reading: Reading, tally: Tally, result: RunResult, staging: Path, machine: Path) -> None:
    """Swap in sources/, carry reviews over, write counts.csv and manifest.json."""
    out_dir = result.out_dir
    result.errors.extend(unknown_rows(setup.tables, setup.files, set(reading.seen)))
    swap_in(staging, out_dir / SOURCES)
    try:
        result.kept_reviews, result.orphaned_reviews = carry_reviews_into(out_dir, machine)
    finally:
        machine.unlink(missing_ok=True)
    result.transcripts, result.passages, result.coded = len(tally.codes), tally.total, tally.coded
    for tid in sorted(t for t, n in tally.passages.items() if n == 0):
        result.warnings.append(
            f"{reading.meta[tid][0]}: transcript {tid!r} has no participant passage to code (only interviewer turns?)"
        )
    with atomic_write(out_dir / COUNTS) as f:
        f.write(counts_csv(tally.codes, tally.passages, setup.codebook.code_ids))
    if isinstance(setup.embedder, CachedEmbedder):
        result.embedded, result.from_cache = setup.embedder.misses, setup.embedder.hits
    result.embedded += tally.embedded
    result.from_cache += tally.from_cache
    if setup.redaction is not None:
        files = setup.redaction_files or Redacting()
        result.key = check_key_path(files.key or default_key_path(out_dir), out_dir)
        setup.redaction.write_key(result.key)
    manifest = build_manifest(setup, reading, tally, result, out_dir).with_live_models(out_dir)
    if setup.model_dir is not None:  # a copy in the study, so that reproduce finds it
        manifest = manifest.model_copy(update={"learned_model": keep_learned_model(setup.model_dir, out_dir)})
    manifest.write(out_dir / MANIFEST)
    if setup.segments is not None:
        result.segmented_from_cache = setup.segments.hits
        setup.segments.close()
