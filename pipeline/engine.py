"""Where segmenting and embedding run: in this process, or on a Dask cluster.

Both engines cut the transcripts into the same batches (`batches`) and run the same
function on each (`segment_and_embed`), so the embedding model sees the same texts in the
same order either way and a cluster run writes, byte for byte, what a one-machine run
writes. The client reads the files (it writes sources/ and applies pseudonyms, which need
the whole corpus), then tags and writes; workers segment and embed, each with its own model
copy and the cache folder shared as usual. At most `in_flight` batches are out at once, and
results are taken in order, so the client's memory stays flat however long the corpus.

Why Dask: it is pure Python, pip-installable offline, starts a local cluster of worker
processes in one line for tests and laptops, and its scheduler address is all a user needs
to join an existing cluster (including HPC ones via dask-jobqueue). Ray would do the job
too, but ships a large native runtime and its own object store that this job does not need.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .errors import InputError
from .schemas import Transcript
from .segment import Segment, SegmentCache, segment
from .units import UnitVectors, embed_units

BATCH_CHARS = 400_000  # a batch of transcripts closes past this many characters of text


def batches(transcripts: Iterable[Transcript], limit: int | None = None) -> Iterator[list[Transcript]]:
    """Consecutive transcripts, a batch closing once its text passes `limit` characters
    [BATCH_CHARS]. Depends on the transcripts alone, never on timing or the workers."""
    limit = limit or BATCH_CHARS
    batch: list[Transcript] = []
    size = 0
    for t in transcripts:
        batch.append(t)
        size += len(t.text)
        if size >= limit:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


@dataclass
class Worked:
    """One batch segmented and embedded: its passages in order and their unit vectors."""

    segments: list[Segment]
    units: UnitVectors
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"  # where the model ran
    embedded: int = 0  # texts the model embedded (the rest came from the cache)
    from_cache: int = 0


def segment_and_embed(transcripts: list[Transcript], config: Config, embedder, cache: SegmentCache | None) -> Worked:
    t = time.perf_counter()
    segments = list(segment(transcripts, config, cache=cache))
    seg = time.perf_counter() - t
    misses, hits = getattr(embedder, "misses", 0), getattr(embedder, "hits", 0)
    units = embed_units(embedder, [s.passage.text for s in segments], config, offsets=[s.units for s in segments])
    device = getattr(getattr(embedder, "inner", embedder), "device", "cpu")
    return Worked(
        segments,
        units,
        {"segment": seg, "embed": time.perf_counter() - t - seg},
        device,
        embedded=getattr(embedder, "misses", 0) - misses,
        from_cache=getattr(embedder, "hits", 0) - hits,
    )


class LocalEngine:
    """Everything in this process."""

    name = "local"
    remote = False

    def __init__(self, embedder, segments: SegmentCache | None):
        self.embedder, self.segments = embedder, segments

    def map(self, work: Iterable[list[Transcript]], config: Config) -> Iterator[Worked]:
        for batch in work:
            yield segment_and_embed(batch, config, self.embedder, self.segments)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its own embedder and caches."""

    model: str
    backend: str
    batch_size: int
    seed: int
    device: str
    cache_dir: str


_WORKER_STATE: dict[tuple, tuple] = {}  # (spec, thread) -> (embedder, segment cache), per process


def _worker_tools(spec: WorkerSpec):
    key = (spec, threading.get_ident())  # sqlite connections stay in their thread
    if key not in _WORKER_STATE:
        from .embed import build_embedder

        if os.environ.get("QCODE_THREADS"):  # a local cluster shares the cores out
            import torch

            torch.set_num_threads(int(os.environ["QCODE_THREADS"]))

        cache = Path(spec.cache_dir)
        embedder = build_embedder(
            Config(model=spec.model, backend=spec.backend, batch_size=spec.batch_size, seed=spec.seed),
            cache_dir=cache,
            device=spec.device,
        )
        _WORKER_STATE[key] = (embedder, SegmentCache(cache / "segments.sqlite"))
    return _WORKER_STATE[key]


def remote_batch(transcripts: list[Transcript], config: Config, spec: WorkerSpec) -> Worked:
    """Run on a worker: the batch segmented and embedded with the worker's own model."""
    embedder, segments = _worker_tools(spec)
    return segment_and_embed(transcripts, config, embedder, segments)


def local_cluster_size(address: str) -> int | None:
    """N for "local:N" (a cluster of N worker processes started here), else None."""
    if not address.startswith("local:"):
        return None
    try:
        n = int(address.removeprefix("local:"))
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(address, "a local cluster is local:N with N worker processes, N >= 1")
    return n


class DaskEngine:
    """Batches on a Dask cluster: `address` is a scheduler (tcp://host:8786) or local:N."""

    remote = True

    def __init__(self, address: str, spec: WorkerSpec, in_flight: int | None = None, threads: int | None = None):
        """`threads`: model threads per local worker [cores / workers]."""
        from distributed import Client, LocalCluster

        self.cluster = None
        self.spec = spec
        self.name = f"dask {address}"
        n = local_cluster_size(address)
        try:
            if n is not None:
                threads = str(threads or max(1, (os.cpu_count() or 1) // n))
                self.cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "QCODE_THREADS": threads},
                    silence_logs=50,  # workers log a heartbeat error when the cluster closes
                )
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout=30)
        except (OSError, TimeoutError) as err:
            self.close()
            raise InputError(address, f"cannot reach the Dask scheduler: {err}") from None
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.in_flight = in_flight or 2 * workers

    def map(self, work: Iterable[list[Transcript]], config: Config) -> Iterator[Worked]:
        pending: deque = deque()
        for batch in work:
            pending.append(self.client.submit(remote_batch, batch, config, self.spec, pure=False))
            if len(pending) >= self.in_flight:
                yield self._take(pending)
        while pending:
            yield self._take(pending)

    @staticmethod
    def _take(pending: deque) -> Worked:
        future = pending.popleft()
        try:
            return future.result()
        finally:
            future.release()

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.cluster is not None:
            self.cluster.close()
