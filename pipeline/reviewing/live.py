"""Learning while the reviewer works (`qcode review serve`, on by default).

After every `every` new decisions a worker process relearns with `qcode learn`'s learner
from every decision so far (the study's other passages, unlabelled, adapt its codebook
part), rescores the pending passages and hands back their suggestions. The page then
pre-selects those codes and orders the queue by their uncertainty; each decision records
which model made the suggestion the reviewer saw (`Review.suggested_by`, `suggested`).
Where that model reads what each transcript has received, every decision also rescores the
rest of its transcript at once, with the same model (`follow`, context.py).

Nothing here writes the excerpts file: the machine's batch codes and every decision stay
as they are, so `qcode reproduce` and the counts are untouched, and a crash or a stop
mid-relearn loses nothing (the worker writes its model to `live/` in the study folder
under a temporary name and renames it when complete). This module is the page's side
(when to relearn, the worker pool, taking a model in); the worker's code is relearn.py.
It runs at low priority in its own process, so the page's requests never wait for it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..model_folder import training_rows
from . import retune
from .relearn import LiveModel, RelearnJob, Snapshot, low_priority, next_version, relearn

RELEARN_EVERY = 20


@dataclass(frozen=True)
class Learning:
    """How the page learns: a relearn every `every` decisions; the embedding model tuned in
    the background too (retune.py), on `device`: from `retune.FIRST_BY_DEFAULT` decisions
    when `finetune` is None, from `retune.FIRST` when True, never when False."""

    every: int = RELEARN_EVERY
    cache_dir: Path | None = None
    finetune: bool | None = False
    device: str = "cpu"

    @property
    def tune_from(self) -> int:
        """Decided passages before the first fine-tune."""
        return retune.FIRST if self.finetune else retune.FIRST_BY_DEFAULT


@dataclass
class LiveLearner:
    """Relearns in a background process after every `every` new decisions; `model()` is
    the newest model's suggestions (None before the first relearn)."""

    root: Path
    codebook_path: Path
    config: Config
    every: int = RELEARN_EVERY
    cache_dir: Path | None = None
    on_model: Callable[[LiveModel], None] | None = None
    finetune: bool = False  # fine-tune the embedding model in the background too (retune.py)
    tune_from: int = retune.FIRST  # ... once this many passages are decided
    device: str = "cpu"
    prior: Path | None = None  # the batch model's training.jsonl: live models learn from it too
    history: list[dict] = field(default_factory=list)
    latest: LiveModel | None = None  # the newest model made, used or not
    _since: int = 0
    _model: LiveModel | None = None
    _future: Future | None = None
    _pool: ProcessPoolExecutor | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _swap: threading.Lock = field(default_factory=threading.Lock)  # guards _model between follow and _take
    _settled: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    encoder: str | None = None  # the fine-tuned encoder relearns use (None: the run's model)
    tuned: retune.Retuned | None = None  # the fine-tune that made it
    last_tune: retune.Retuned | None = None  # the newest fine-tune, used or not
    _tuned_at: int | None = None  # decided passages at the last fine-tune started
    _decided: int | None = None  # decided passages, as counted from the first snapshot on
    _tuning: Future | None = None
    _prior_n: int | None = None
    _tune_pool: ProcessPoolExecutor | None = None

    def model(self) -> LiveModel | None:
        """The newest model that beats the batch suggestions (None before one does)."""
        return self._model

    @property
    def busy(self) -> bool:
        return self._future is not None and not self._future.done()

    def notice(self, decisions: int, snapshot: Callable[[], Snapshot]) -> bool:
        """Count `decisions` new decisions; start a relearn when enough have come since the
        last one and none is running. True when one started."""
        with self._lock:
            self._since += decisions
            snap = self._maybe_tune(decisions, snapshot) if self.finetune else None
            if self._since < self.every or self.busy:
                return False
            self._since = 0
            self._start(snap or snapshot())
            return True

    def follow(self, snapshot: Callable[[], Snapshot], changed: list[str] | None = None) -> bool:
        """After decisions (or an undo) on `changed`: where the model in use reads what
        each transcript has received, rescore the pending passages of their transcripts
        (all pending passages when None) from every decision so far (context.py), in the
        page's own thread (milliseconds). True when it did."""
        model = self._model
        if model is None or model.context is None:
            return False
        snap = snapshot()
        if snap.ids != model.context.ids:
            return False  # the file's passages changed: wait for the next relearn
        rows = model.context.suggestions(snap.labels, changed)
        fresh = dataclasses.replace(model, suggestions=rows if changed is None else model.suggestions | rows)
        with self._swap:
            if self._model is not model:
                return False  # a relearn came in meanwhile
            self._model = fresh
        return True

    def _maybe_tune(self, decisions: int, snapshot: Callable[[], Snapshot]) -> Snapshot | None:
        """Start a fine-tune when one is due (the snapshot it took, if any). Decisions are
        counted as they come, so a page with 10,000 passages takes a snapshot only when a
        fine-tune may be due, not on every decision."""
        snap = None
        if self._decided is None:
            snap = snapshot()
            self._decided = snap.decided
        else:
            self._decided += decisions
        if self.tuning or not retune.due(self._decided, self._tuned_at, self.tune_from, self.prior_passages):
            return snap
        snap = snap or snapshot()
        self._decided = snap.decided  # the true count (undos, other pages)
        if retune.due(snap.decided, self._tuned_at, self.tune_from, self.prior_passages):
            self._tuned_at = snap.decided
            self._start_tune(snap)
        return snap

    @property
    def prior_passages(self) -> int:
        """How many labelled passages the batch model's training.jsonl holds (read once)."""
        if self._prior_n is None:
            self._prior_n = len(training_rows(self.prior))
        return self._prior_n

    @property
    def first_tune_at(self) -> int:
        """Decisions before the first fine-tune: fewer where an imported coding counts too."""
        return max(retune.FIRST, self.tune_from - self.prior_passages)

    def finetune_state(self) -> dict | None:
        """What the page says of fine-tuning (None when it is off)."""
        if not self.finetune:
            return None
        last = self.last_tune
        return {
            "encoder": self.tuned.name if self.tuned else None,
            "tuned_from": self.tuned.decisions if self.tuned else 0,
            "tuning": self.tuning,
            "first": self.first_tune_at,
            "every": retune.EVERY,
            "last": {"name": last.name, "used": last.encoder is not None, "check": last.check} if last else None,
        }

    @property
    def tuning(self) -> bool:
        return self._tuning is not None and not self._tuning.done()

    def _start_tune(self, snap: Snapshot) -> None:
        if self._tune_pool is None:
            self._tune_pool = _worker_pool()
        job = retune.RetuneJob(
            str(self.root),
            str(self.codebook_path),
            self.config,
            retune.next_version(self.root),
            snap.ids,
            snap.texts,
            snap.labels,
            current=self.encoder,
            device=self.device,
            prior=str(self.prior) if self.prior else None,
        )
        self._tuning = self._tune_pool.submit(retune.in_worker, job)
        self._tuning.add_done_callback(self._tuned)

    def _tuned(self, future: Future) -> None:
        done = self._result(future, "fine-tune: ")
        if done is None:
            return
        self.last_tune = done
        if done.encoder is not None:
            self.encoder, self.tuned = done.encoder, done
            name_in_manifest(self.root)
        self._log(done, used=done.encoder is not None)

    def _result(self, future: Future, what: str = ""):
        """A worker's result, or None with its error kept: the page goes on with what it has."""
        try:
            return future.result()
        except Exception as err:
            self.error = f"{what}{type(err).__name__}: {err}"
            return None

    def _log(self, made, *, used: bool) -> None:
        """One line of the panel's history: a relearned model or a fine-tune."""
        self.history.append(
            {
                "model": made.name,
                "decisions": made.decisions,
                "seconds": round(made.seconds, 2),
                "used": used,
                "check": made.check,
            }
        )

    def _start(self, snap: Snapshot) -> None:
        if snap.decided == 0:
            return
        if self._pool is None:
            self._pool = _worker_pool()
        job = RelearnJob(
            str(self.root),
            str(self.codebook_path),
            self.config,
            next_version(self.root),
            snap,
            str(self.cache_dir) if self.cache_dir else None,
            self.encoder,
            str(self.prior) if self.prior else None,
            self.device,
        )
        self._settled.clear()
        self._future = self._pool.submit(relearn, job)
        self._future.add_done_callback(self._done)

    def _done(self, future: Future) -> None:
        try:
            self._take(future)
        finally:
            self._settled.set()

    def _take(self, future: Future) -> None:
        model = self._result(future)
        if model is None:
            return
        self.error = None
        self.latest = model
        used = bool(model.suggestions) or (model.check is None or model.check["better"])
        with self._swap:
            if model.check is not None and model.check.get("chosen") == "batch":
                self._model = None  # the batch run's suggestions beat every model learned: back to them
            if used:
                self._model = model
        self._log(model, used=used)
        name_in_manifest(self.root)
        if self.on_model is not None:
            self.on_model(model)

    def wait(self, timeout: float | None = None) -> LiveModel | None:
        """Block until the running relearn (if any) is done (tests, benchmarks)."""
        if self._future is not None:
            self._settled.wait(timeout)  # the result taken in, not only computed
        return self._model

    def close(self) -> None:
        """Stop the workers now: a fine-tune can run for minutes, and whatever they leave
        half-written is a hidden temporary folder (or a cut index line) that nothing reads."""
        for pool in (self._pool, self._tune_pool):
            if pool is not None:
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._tune_pool = None


def _worker_pool() -> ProcessPoolExecutor:
    """One low-priority worker process (spawned: no state shared with the server)."""
    return ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=low_priority, initargs=(os.getpid(),)
    )


def name_in_manifest(root: Path) -> None:
    """Name the folder's live models in its manifest.json (rewritten atomically, under the
    excerpts file's lock, so two pages never interleave; a `qcode code` rerun names them
    again when it writes its own)."""
    from ..errors import InputError
    from ..manifest import Manifest
    from ..outputs import EXCERPTS, MANIFEST
    from ..store import locked

    path = root / MANIFEST
    try:
        with locked(root / EXCERPTS):
            Manifest.read(path).with_live_models(root).write(path)
    except InputError:
        pass  # a folder without a manifest (an excerpts file alone): live/index.jsonl names them
