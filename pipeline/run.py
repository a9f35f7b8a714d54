"""`qcode code`: transcripts in, coded excerpts out, as a few named stages.

    prepare  -> codebook, inputs, attribute tables, caches, embedder, tagger  (Setup)
    read     -> transcripts, their normalised text staged for sources/       (Reading)
    code     -> segment and embed batches of transcripts (here or on a Dask cluster,
                engine.py), tag, write machine excerpts                        (Tally)
    finish   -> sources/ swapped in, reviews carried over, counts.csv, manifest.json

Streaming keeps memory flat whatever the corpus. Every output is written atomically;
reviewer decisions already in the output folder are carried over under its lock, at the
end, so decisions made while the run was embedding are kept too.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .cells import csv_text
from .codebook import load_codebook, recorded_path, resolve_codebook
from .config import Config
from .embed import CachedEmbedder, Embedder, build_embedder, default_cache_dir
from .engine import DaskEngine, LocalEngine, WorkerSpec, batches
from .errors import InputError
from .ingest import SURVEY_SUFFIXES, AttributeTable, discover_inputs
from .ingest.corpus import find_attributes, read_corpus, unknown_rows, with_attributes
from .io import atomic_write, file_sha256, swap_in
from .learn import LearnedTagger
from .manifest import (
    CodebookRecord,
    ExportedModel,
    FileRecord,
    InputRecord,
    Manifest,
    ModelRecord,
    OutputHashes,
    RedactionRecord,
    Totals,
)
from .model_folder import with_encoder
from .outputs import COUNTS, EXCERPTS, MANIFEST, SOURCES, text_file_name
from .redact.corpus import Redaction, check_key_path, default_key_path, first_pass, read_list
from .reviewing.reviews import ReviewLedger, carry_reviews_into
from .schemas import Codebook, Excerpt, Transcript
from .segment import SegmentCache
from .sentences import SPACY_MODEL
from .study import keep_learned_model
from .tag import CodebookTagger, Tagger
from .unit_store import UnitStore
from .version import __version__


@dataclass
class RunResult:
    out_dir: Path
    transcripts: int = 0
    passages: int = 0
    coded: int = 0
    embedded: int = 0
    from_cache: int = 0
    segmented_from_cache: int = 0  # transcripts whose passages came from the segment cache
    seconds: float = 0.0
    kept_reviews: int = 0
    orphaned_reviews: int = 0
    errors: list[InputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    key: Path | None = None  # --pseudonymise: where the pseudonym key was written
    noun: str = "transcript"  # what one input text is called in messages: respondent for surveys


@dataclass
class Setup:
    """Everything a run needs before it reads a transcript."""

    config: Config
    codebook_path: Path
    codebook: Codebook
    files: list[Path]
    tables: list[AttributeTable]
    embedder: Embedder
    tagger: Tagger
    segments: SegmentCache | None
    redaction: Redaction | None = None  # --pseudonymise: every transcript already seen once
    redaction_files: Redacting | None = None
    engine: LocalEngine | DaskEngine | None = None  # where segmenting and embedding run
    devices: set[str] = field(default_factory=set)  # where the passages were embedded
    model_dir: Path | None = None  # --model: the learned model tagging this run


@dataclass(frozen=True)
class Redacting:
    """`--pseudonymise` settings: the study's names, terms to keep, where the key goes."""

    names: Path | None = None
    keep: Path | None = None
    key: Path | None = None


@dataclass
class Tally:
    """What the coding stage wrote: passages and codes per transcript."""

    codes: dict[str, dict[str, int]] = field(default_factory=dict)
    passages: dict[str, int] = field(default_factory=dict)
    total: int = 0
    coded: int = 0
    embedded: int = 0  # by cluster workers
    from_cache: int = 0

    def add(self, transcript: str, codes: list[str], code_ids: list[str]) -> None:
        per = self.codes.setdefault(transcript, dict.fromkeys(code_ids, 0))
        for c in codes:
            per[c] += 1
        self.passages[transcript] = self.passages.get(transcript, 0) + 1
        self.total += 1
        self.coded += bool(codes)


def prepare(
    inputs: list[str | Path],
    *,
    config: Config,
    codebook_path: Path | None,
    attributes_path: Path | None,
    embedder: Embedder | None,
    cache_dir: Path | None,
    model_dir: Path | None,
    errors: list[InputError],
    timings: dict[str, float],
    redacting: Redacting | None = None,
    device: str = "auto",
    cluster: str | None = None,
    exclude: list[Path] = (),
) -> Setup:
    """Load the codebook, find the inputs and attribute tables, open the caches, build the
    embedder and fit (or load) the tagger, and start the engine (this process, or the Dask
    cluster at `cluster`). A bad codebook raises before anything is read."""
    codebook_path = resolve_codebook(codebook_path)
    codebook = load_codebook(codebook_path)
    config = with_encoder(config, model_dir)  # a fine-tuned model embeds with its own encoder
    files, found = discover_inputs(inputs, exclude)
    tables, table_errors = find_attributes(inputs, attributes_path)
    errors.extend(found + table_errors)
    segments = None
    if embedder is None or cache_dir is not None:  # passage boundaries beside the embeddings
        segments = SegmentCache(Path(cache_dir or default_cache_dir()) / "segments.sqlite")
    if embedder is None:
        embedder = build_embedder(config, cache_dir=cache_dir, device=device)
    t = time.perf_counter()
    tagger = build_tagger(codebook, codebook_path=codebook_path, config=config, embedder=embedder, model_dir=model_dir)
    timings["calibrate"] = time.perf_counter() - t
    redaction = _first_pass(config, files, tables, redacting, timings)
    setup = Setup(
        config, codebook_path, codebook, files, tables, embedder, tagger, segments, redaction, redacting, model_dir=model_dir
    )  # fmt: skip
    setup.engine = _engine(cluster, config, device, cache_dir, embedder, segments)
    return setup


def build_tagger(
    codebook: Codebook, *, codebook_path: Path, config: Config, embedder: Embedder, model_dir: Path | None = None
) -> Tagger:
    """The codebook-only tagger, or a learned one from `model_dir` (checked against the codebook)."""
    if model_dir is None:
        return CodebookTagger(codebook, config=config).fit(embedder)
    return LearnedTagger.load(
        model_dir, codebook=codebook, codebook_sha256=file_sha256(codebook_path), config=config, embedder=embedder
    )


def _first_pass(config: Config, files: list[Path], tables, redacting: Redacting | None, timings: dict[str, float]):
    """With --pseudonymise: every transcript read once for its identifiers, before coding."""
    if not config.pseudonymise:
        return None
    t = time.perf_counter()
    redacting = redacting or Redacting()
    redaction = first_pass(files, config, tables, read_list(redacting.names), read_list(redacting.keep))
    timings["pseudonymise"] = time.perf_counter() - t
    return redaction


def _engine(cluster: str | None, config: Config, device: str, cache_dir: Path | None, embedder, segments):
    """Where segmenting and embedding run: this process, or the Dask cluster at `cluster`."""
    if not cluster:
        return LocalEngine(embedder, segments)
    cache = str(Path(cache_dir or default_cache_dir()).resolve())
    return DaskEngine(cluster, WorkerSpec(config.model, config.backend, config.batch_size, config.seed, device, cache))


class Reading:
    """The transcripts of the input files, in order. Each one's normalised text is written
    to `staging` (the next sources/); its source, hash and attributes are remembered, and
    bad files, duplicate ids and reader warnings are recorded, never raised."""

    def __init__(
        self,
        setup: Setup,
        staging: Path,
        errors: list[InputError],
        warnings: list[str],
        on_transcript: Callable[[str, int], None] | None,
    ):
        self.setup, self.staging, self.errors, self.warnings, self.on_transcript = (
            setup,
            staging,
            errors,
            warnings,
            on_transcript,
        )
        self.inputs: list[InputRecord] = []
        self.seen: dict[str, str] = {}  # transcript id -> file it came from
        self.meta: dict[str, tuple[str, str, dict[str, str]]] = {}  # id -> source, sha256, attributes
        self.texts: list[str] = []  # file names written to staging

    def __iter__(self) -> Iterator[Transcript]:
        files, ids = self.setup.files, []
        for path, transcript in read_corpus(files, self.setup.config, self.errors):
            if transcript is not None:
                yield self._accept(path, transcript)
                ids.append(transcript.id)
                continue
            self.inputs.append(InputRecord(path=str(path), sha256=file_sha256(path), transcripts=ids))
            ids = []
            if self.on_transcript:
                self.on_transcript(path.name, len(files))

    def _accept(self, path: Path, transcript: Transcript) -> Transcript:
        self.seen[transcript.id] = str(path)
        self.warnings.extend(f"{path}: {w}" for w in transcript.warnings)
        transcript = with_attributes(transcript, self.setup.tables)
        if self.setup.redaction is not None:  # before anything of it is written
            transcript = self.setup.redaction.pseudonymiser.apply(transcript)
        self.meta[transcript.id] = (transcript.source, transcript.source_sha256, transcript.attributes)
        name = text_file_name(transcript.id)
        (self.staging / name).write_text(transcript.text, encoding="utf-8", newline="\n")
        self.texts.append(name)
        return transcript


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


def code_passages(setup: Setup, reading: Reading, target: Path, timings: dict[str, float]) -> Tally:
    """Segment, embed, tag and write the machine's excerpts to `target`. A codebook-only
    tagger first adapts to the whole study (every batch kept on disk, unit_store.py); a learned
    model tags each batch as it comes."""
    tally = Tally()
    worked = _embedded(setup, reading, timings, tally)
    with atomic_write(target) as out:
        if isinstance(setup.tagger, CodebookTagger):
            with UnitStore(target.parent) as store:
                for passages, units in worked:
                    store.add(passages, units)
                t = time.perf_counter()
                setup.tagger.adapt(store.vectors(), store.texts())
                timings["adapt"] = time.perf_counter() - t
                _tag_and_write(setup, reading, store.batches(), out, tally, timings)
        else:
            _tag_and_write(setup, reading, worked, out, tally, timings)
    for tid in reading.meta:  # a transcript with no participant passage still has a row
        tally.codes.setdefault(tid, dict.fromkeys(setup.codebook.code_ids, 0))
        tally.passages.setdefault(tid, 0)
    return tally


def _embedded(setup: Setup, reading: Reading, timings: dict[str, float], tally: Tally) -> Iterator[tuple[list, object]]:
    """(passages, unit vectors) of each batch, segmented and embedded on the engine."""
    for worked in setup.engine.map(batches(_timed(timings, "read", reading)), setup.config):
        for key, seconds in worked.timings.items():
            timings[key] = timings.get(key, 0.0) + seconds
        setup.devices.add(worked.device)
        if setup.engine.remote:  # the workers' own caches (the client's is counted in finish)
            tally.embedded += worked.embedded
            tally.from_cache += worked.from_cache
        yield [s.passage for s in worked.segments], worked.units


def _tag_and_write(setup: Setup, reading: Reading, work, out, tally: Tally, timings: dict[str, float]) -> None:
    for passages, units in work:
        t = time.perf_counter()
        tagged = setup.tagger.suggest(units, [p.transcript for p in passages])
        timings["tag"] = timings.get("tag", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        for passage, (suggestions, codes) in zip(passages, tagged):
            out.write(_excerpt_line(passage, reading, suggestions, codes))
            tally.add(passage.transcript, codes, setup.codebook.code_ids)
        timings["write"] = timings.get("write", 0.0) + time.perf_counter() - t


def _excerpt_line(passage, reading: Reading, suggestions, codes) -> str:
    source, sha, attrs = reading.meta[passage.transcript]
    return (
        Excerpt(
            **passage.model_dump(),
            source=source,
            source_sha256=sha,
            attributes=attrs,
            suggestions=suggestions,
            codes=codes,
        ).model_dump_json()
        + "\n"
    )


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
    redacting: Redacting | None = None,
    device: str = "auto",
    cluster: str | None = None,
) -> RunResult:
    """Code every transcript under `inputs` and write excerpts.jsonl, counts.csv,
    manifest.json and sources/ into `out_dir`. Bad transcripts are reported in
    `RunResult.errors` and skipped; a bad codebook, attributes file or previous output
    raises `InputError` before anything is written. `device` (auto, cpu, cuda) is where the
    model runs; `cluster` a Dask scheduler address (or local:N) to segment and embed on.

    >>> code_corpus(["transcripts_sample"], out_dir=Path("out"))  # doctest: +SKIP
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    result = RunResult(out_dir=out_dir)
    ReviewLedger(out_dir / EXCERPTS)  # a bad excerpts file or journal stops the run here
    if (config or Config()).pseudonymise:  # a key inside the folder to share stops it too
        check_key_path((redacting or Redacting()).key or default_key_path(out_dir), out_dir)
    key = (redacting or Redacting()).key or default_key_path(out_dir)
    setup = prepare(
        inputs,
        config=config or Config(),
        codebook_path=codebook_path,
        attributes_path=attributes_path,
        embedder=embedder,
        cache_dir=cache_dir,
        model_dir=model_dir,
        errors=result.errors,
        timings=result.timings,
        redacting=redacting,
        device=device,
        cluster=cluster,
        exclude=[out_dir, key],
    )
    if setup.files and all(f.suffix.lower() in SURVEY_SUFFIXES for f in setup.files):
        result.noun = "respondent"
    try:
        _code_and_finish(setup, result, on_transcript)
    finally:
        setup.engine.close()
    result.seconds = time.perf_counter() - started
    return result


def _code_and_finish(setup: Setup, result: RunResult, on_transcript: Callable[[str, int], None] | None) -> None:
    out_dir = result.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SOURCES}.", dir=out_dir))  # swapped in at the end
    machine = out_dir / f".{EXCERPTS}.machine"  # reviews are carried over at the end
    reading = Reading(setup, staging, result.errors, result.warnings, on_transcript)
    try:
        tally = code_passages(setup, reading, machine, result.timings)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the previous sources/ stay as they were
        machine.unlink(missing_ok=True)
        raise
    finish(setup, reading, tally, result, staging, machine)
