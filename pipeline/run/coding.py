"""The middle stages of `qcode code`: the transcripts read in order and staged for sources/
(`Reading`), then segmented, embedded, tagged and written as the machine's excerpts
(`code_passages` -> `Tally`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import batches
from ..errors import InputError
from ..ingest.corpus import read_corpus, with_attributes
from ..io import atomic_write, file_sha256
from ..manifest import (
    InputRecord,
)
from ..outputs import text_file_name
from ..schemas import Excerpt, Transcript
from ..tag import CodebookTagger
from ..unit_store import UnitStore
from .setup import Setup


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
