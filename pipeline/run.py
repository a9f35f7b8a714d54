"""`qcode code`: transcripts in, coded excerpts out.

Streams transcripts -> passages -> embedding batches -> excerpts.jsonl, so memory does
not grow with the corpus. Every output is written atomically; reviewer decisions already
in the output folder are carried over (or moved to orphaned_reviews.jsonl).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .codebook import default_codebook_path, file_sha256, load_codebook, recorded_path
from .config import Config
from .embed import CachedEmbedder, Embedder, build_embedder, default_cache_dir
from .errors import InputError
from .ingest import (
    ATTRIBUTE_NAMES,
    AttributeTable,
    discover_inputs,
    load_attributes,
    read_transcripts,
)
from .io import atomic_write
from .learn import build_tagger
from .outputs import COUNTS, EXCERPTS, MANIFEST, SOURCES, text_file_name
from .review import ReviewLedger, carry_reviews_into
from .schemas import Excerpt, Passage, Transcript
from .segment import SPACY_MODEL, SpanCache, segment
from .units import UnitCache, embed_units, split_units

CHUNK = 1024  # passages per embedding round trip (sentence-transformers sorts each by length)


@dataclass
class RunResult:
    out_dir: Path
    transcripts: int = 0
    passages: int = 0
    coded: int = 0
    embedded: int = 0
    from_cache: int = 0
    segmented_from_cache: int = 0  # transcripts whose passage boundaries came from the cache
    seconds: float = 0.0
    kept_reviews: int = 0
    orphaned_reviews: int = 0
    errors: list[InputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def find_attributes(inputs: list[str | Path], explicit: Path | None) -> tuple[list[AttributeTable], list[InputError]]:
    """Attribute tables from `explicit`, else `participants.csv`/`.yaml` beside the inputs."""
    if explicit is not None:
        paths = [Path(explicit)]
    else:
        folders = sorted({Path(i) if Path(i).is_dir() else Path(i).parent for i in inputs})
        paths = [f / name for f in folders for name in ATTRIBUTE_NAMES if (f / name).is_file()]
    tables, errors = [], []
    for p in paths:
        try:
            tables.append(load_attributes(p))
        except InputError as err:
            errors.append(err)
    return tables, errors


def swap_in(staging: Path, target: Path) -> None:
    """Replace folder `target` by `staging` with two renames (old copy removed after)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _timed(timings: dict[str, float], key: str, items: Iterator) -> Iterator:
    """Charge the time spent producing each item of `items` to `timings[key]`."""
    it = iter(items)
    while True:
        t = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t
            return
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t
        yield item


def code_corpus(
    inputs: list[str | Path],
    *,
    out_dir: Path,
    codebook_path: Path | None = None,
    config: Config | None = None,
    attributes_path: Path | None = None,
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
    model_dir: Path | None = None,
    on_transcript: Callable[[str, int], None] | None = None,
) -> RunResult:
    """Code every transcript under `inputs` and write excerpts.jsonl, counts.csv and
    manifest.json into `out_dir`. Bad transcripts are reported in `RunResult.errors` and
    skipped; a bad codebook, attributes file or previous output raises `InputError`.

    >>> code_corpus(["transcripts_sample"], out_dir=Path("out"))  # doctest: +SKIP
    """
    started = time.perf_counter()
    config = config or Config()
    codebook_path = Path(codebook_path) if codebook_path else default_codebook_path()
    codebook = load_codebook(codebook_path)
    files, errors = discover_inputs(inputs)
    tables, attribute_errors = find_attributes(inputs, attributes_path)
    errors.extend(attribute_errors)
    out_dir = Path(out_dir)
    ReviewLedger(out_dir / EXCERPTS)  # a bad excerpts file or journal stops the run here, before any work
    result = RunResult(out_dir=out_dir, errors=errors)
    timings = result.timings

    span_cache = unit_cache = None
    if embedder is None or cache_dir is not None:
        # passage boundaries (offsets only) beside the embeddings: a rerun skips spaCy too
        span_cache = SpanCache(Path(cache_dir or default_cache_dir()) / "segments.sqlite")
        unit_cache = UnitCache(Path(cache_dir or default_cache_dir()) / "segments.sqlite")
    if embedder is None:
        embedder = build_embedder(config.model, batch_size=config.batch_size, seed=config.seed, cache_dir=cache_dir, backend=config.backend)
    t = time.perf_counter()
    tagger = build_tagger(codebook, codebook_path=codebook_path, config=config, embedder=embedder, model_dir=model_dir)
    timings["calibrate"] = time.perf_counter() - t

    counts: dict[str, dict[str, int]] = {}
    passages_per: dict[str, int] = {}
    inputs_meta: list[dict] = []
    seen_ids: dict[str, str] = {}
    texts_dir = out_dir / SOURCES
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SOURCES}.", dir=out_dir))  # swapped in at the end
    written_texts: set[str] = set()

    def attributes_for(transcript: Transcript) -> dict[str, str]:
        merged = dict(transcript.attributes)
        for table in tables:
            merged.update(table.get(transcript.id))
        return merged

    def transcripts() -> Iterator[Transcript]:
        for path in files:
            try:
                found = read_transcripts(path, config=config)
            except InputError as err:
                errors.append(err)
                continue
            ids = []
            for transcript in found:
                if transcript.id in seen_ids:
                    errors.append(InputError(path, f"duplicate transcript id {transcript.id!r} (also {seen_ids[transcript.id]})"))
                    continue
                seen_ids[transcript.id] = str(path)
                result.warnings.extend(f"{path}: {w}" for w in transcript.warnings)
                transcript = transcript.model_copy(update={"attributes": attributes_for(transcript)})
                counts[transcript.id] = {c: 0 for c in codebook.code_ids}
                passages_per[transcript.id] = 0
                name = text_file_name(transcript.id)
                (staging / name).write_text(transcript.text, encoding="utf-8", newline="\n")
                written_texts.add(name)
                ids.append(transcript.id)
                yield transcript
            inputs_meta.append({"path": str(path), "sha256": file_sha256(path), "transcripts": ids})
            if on_transcript:
                on_transcript(path.name, len(files))

    meta: dict[str, tuple[str, str, dict[str, str]]] = {}  # id -> source, sha256, attributes

    def remember(ts: Iterator[Transcript]) -> Iterator[Transcript]:
        for tr in ts:
            meta[tr.id] = (tr.source, tr.source_sha256, tr.attributes)
            yield tr

    def chunks() -> Iterator[list[Passage]]:
        batch: list[Passage] = []
        for p in _timed(timings, "read+segment", segment(remember(transcripts()), config, cache=span_cache)):
            batch.append(p)
            if len(batch) >= CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch

    machine_file = out_dir / f".{EXCERPTS}.machine"  # reviews are carried over at the end
    try:
        with atomic_write(machine_file) as out:
            for batch in chunks():
                t = time.perf_counter()
                texts = [p.text for p in batch]
                offsets = split_units(texts, config, unit_cache)
                timings["units"] = timings.get("units", 0.0) + time.perf_counter() - t
                t = time.perf_counter()
                units = embed_units(embedder, texts, config, offsets=offsets)
                timings["embed"] = timings.get("embed", 0.0) + time.perf_counter() - t
                t = time.perf_counter()
                tagged = tagger.suggest(units)
                timings["tag"] = timings.get("tag", 0.0) + time.perf_counter() - t
                t = time.perf_counter()
                for p, (suggestions, codes) in zip(batch, tagged):
                    source, sha, attrs = meta[p.transcript]
                    excerpt = Excerpt(**p.model_dump(), source=source, source_sha256=sha, attributes=attrs, suggestions=suggestions, codes=codes)
                    out.write(excerpt.model_dump_json() + "\n")
                    passages_per[p.transcript] += 1
                    for c in codes:
                        counts[p.transcript][c] += 1
                    result.passages += 1
                    result.coded += bool(codes)
                timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous sources/ stay as they were
        machine_file.unlink(missing_ok=True)
        raise

    known = {f.stem for f in files} | set(seen_ids)
    for table in tables:
        # a row for a transcript beside the table that was not selected this time is fine;
        # a row that names no file at all is most likely a typo
        beside = {f.stem for f in table.path.parent.iterdir() if f.is_file()}
        for tid in sorted(set(table.rows) - known - beside):
            errors.append(InputError(table.path, f"names transcript {tid!r}, which is not among the inputs", table.lines[tid]))
    swap_in(staging, texts_dir)

    try:
        result.kept_reviews, result.orphaned_reviews = carry_reviews_into(out_dir, machine_file)
    finally:
        machine_file.unlink(missing_ok=True)
    result.transcripts = len(counts)

    with atomic_write(out_dir / COUNTS) as f:
        f.write(counts_csv(counts, passages_per, codebook.code_ids))

    if isinstance(embedder, CachedEmbedder):
        result.embedded, result.from_cache = embedder.misses, embedder.hits
    manifest = {
        "qcode_version": __version__,
        "command": "code",
        "codebook": {
            "path": recorded_path(codebook_path),
            "sha256": file_sha256(codebook_path),
            "name": codebook.name,
            "version": codebook.version,
        },
        "model": {
            "id": embedder.model_id,
            "fingerprint": embedder.fingerprint,
            "weights_sha256": getattr(getattr(embedder, "inner", embedder), "weights_sha256", None),
            "backend": config.backend,
            **_export_record(embedder),
        },
        "segmenter": {"spacy_model": SPACY_MODEL},
        "tagger": tagger.settings(),
        "config": config.model_dump(mode="json"),
        "attributes_files": [{"path": str(t.path), "sha256": file_sha256(t.path)} for t in tables],
        "inputs": sorted(inputs_meta, key=lambda m: m["path"]),
        "errors": sorted(str(e) for e in errors),
        "totals": {
            "transcripts": result.transcripts,
            "passages": result.passages,
            "coded_passages": result.coded,
            "by_code": {c: sum(counts[t][c] for t in counts) for c in codebook.code_ids},
            "reviews_kept": result.kept_reviews,
            "reviews_orphaned": result.orphaned_reviews,
        },
        "outputs": {
            EXCERPTS: file_sha256(out_dir / EXCERPTS),
            COUNTS: file_sha256(out_dir / COUNTS),
            SOURCES: {n: file_sha256(texts_dir / n) for n in sorted(written_texts)},
        },
    }
    with atomic_write(out_dir / MANIFEST) as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    if span_cache is not None:
        result.segmented_from_cache = span_cache.hits
        span_cache.close()
    if unit_cache is not None:
        unit_cache.close()
    result.seconds = time.perf_counter() - started
    return result


def counts_csv(counts: dict[str, dict[str, int]], passages: dict[str, int], code_ids: list[str]) -> str:
    """Passages per code per transcript: one row per transcript (sorted), one column per code."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["transcript", "passages", *code_ids])
    for t in sorted(counts):
        w.writerow([t, passages[t], *(counts[t][c] for c in code_ids)])
    return buf.getvalue()


def _export_record(embedder) -> dict:
    """For ONNX backends: the locally exported model file's name and sha256."""
    inner = getattr(embedder, "inner", embedder)
    if getattr(inner, "onnx_sha256", None) is None:
        return {}
    return {"exported_model": {"file": inner.onnx_path.name, "sha256": inner.onnx_sha256}}
