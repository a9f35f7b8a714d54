"""The first stage of `qcode code`: the codebook, inputs, attribute tables, caches, embedder
and tagger a run needs before it reads a transcript (`prepare` -> `Setup`), and what the
run reports (`RunResult`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..codebook import load_codebook, resolve_codebook
from ..config import Config
from ..embed import Embedder, build_embedder, default_cache_dir
from ..engine import DaskEngine, LocalEngine, WorkerSpec
from ..errors import InputError
from ..ingest import AttributeTable, discover_inputs
from ..ingest.corpus import find_attributes
from ..io import file_sha256
from ..learn import LearnedTagger
from ..model_folder import with_encoder
from ..redact.corpus import Redaction, first_pass, read_list
from ..schemas import Codebook
from ..segment import SegmentCache
from ..tag import CodebookTagger, Tagger


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
