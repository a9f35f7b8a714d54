"""Fine-tuning the embedding model in the background while the reviewer works
(`qcode review serve --finetune`).

Once FIRST passages are decided, and again after every EVERY more, a second low-priority
process tunes the top TOP_LAYERS layers of the embedding model (finetune_top.py) on the
codebook and the decisions so far. It is swapped in only when it beats the encoder in use
on decisions it did not learn from: the decided passages are split once, by the seed,
HOLDOUT of them held out; the tuned encoder learns from the rest, and `qcode learn`'s
learner, fitted on the same rest with each encoder (keeping the choices it makes with the
run's own encoder, as a relearn does), is scored on the held-out ones
(passages whose pre-selected codes are not the reviewer's), and it must miss fewer by more
than one standard error of the paired difference (choice.beats). When it wins, the whole
study is embedded with it and kept beside it, and every later relearn learns on those
vectors; when it loses, it is deleted.

A tuned encoder lives in the study folder, `live/ftN/encoder` (a sentence-transformers
folder), with `live/ftN/study.npz` (the study's unit vectors) and `live/ftN/check.json`;
`live/index.jsonl` names it. Like the relearns, nothing here writes the excerpts file, and
a folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..outputs import LIVE, LIVE_INDEX
from ..tune_choice import MIN_PASSAGES, MOST_PAIRS
from .choice import beats

FIRST = 50  # decided passages before the first fine-tune (with --finetune)
FIRST_BY_DEFAULT = MIN_PASSAGES  # ... without it: where tuning began to pay in `learn` (tune_choice.py)
EVERY = 100  # more decided passages before the next
TOP_LAYERS = 4  # chosen on AnnoMI practitioner dev (docs/tagging.md): 87% of a full fine-tune's gain
HOLDOUT = 0.2  # of the decided passages, held out to judge a tuned encoder
STUDY_VECTORS = "study.npz"
CHECK = "check.json"


def due(decided: int, last: int | None, first: int = FIRST) -> bool:
    """Whether a fine-tune is due with `decided` passages decided, the last one made at
    `last` (the first one at `first`)."""
    return decided >= first if last is None else decided >= last + EVERY


@dataclass(frozen=True)
class RetuneJob:
    root: str  # the study folder
    codebook_path: str
    config: Config  # the run's; its model is the one tuned (always from the original)
    version: int
    ids: list[str]
    texts: list[str]
    labels: list[list[str] | None]  # None: pending
    current: str | None = None  # the tuned encoder in use (None: the run's model)
    device: str = "cpu"
    top_layers: int = TOP_LAYERS


@dataclass(frozen=True)
class Retuned:
    version: int
    decisions: int
    seconds: float
    check: dict  # held-out wrong suggestions with each encoder
    encoder: str | None = None  # the tuned encoder's folder when it won, else None

    @property
    def name(self) -> str:
        return f"ft-{self.version}"


def texts_sha256(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(learn, held out) positions of n decided passages: HOLDOUT of them, by the seed."""
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(HOLDOUT * n)))
    return np.sort(order[held:]), np.sort(order[:held])


def _fitted(codebook, config: Config, embedder, texts, labels, learn_at, fixed: dict | None = None):
    """(the learner fitted on the `learn_at` decisions on this embedder's vectors, keeping
    `fixed` choices; the units of every decided passage)."""
    from ..learn import Labelled, LearnedTagger
    from ..units import embed_units

    units = embed_units(embedder, texts, config)
    data = Labelled([str(i) for i in learn_at], [texts[i] for i in learn_at], [labels[i] for i in learn_at])
    tagger = LearnedTagger(codebook, config=config)
    tagger.fixed = fixed
    return tagger.fit(embedder, data, study=units.take(list(learn_at))), units


def choices_before(codebook, config: Config, embedder, texts, labels, learn_at) -> dict:
    """The learner's choices on the `learn_at` decisions with the run's own encoder, which
    a relearn on a tuned one keeps (relearn._before_tuning): each encoder is judged as it
    would be used."""
    return _fitted(codebook, config, embedder, texts, labels, learn_at)[0].choices()


def held_out_misses(
    codebook, config: Config, embedder, texts, labels, learn_at, held_at, fixed: dict | None = None
) -> np.ndarray:
    """Per held-out passage: whether the learner (fitted on `learn_at`, on this
    embedder's vectors, keeping `fixed` choices) pre-selects codes that are not the reviewer's."""
    tagger, units = _fitted(codebook, config, embedder, texts, labels, learn_at, fixed)
    scored = tagger.suggest(units.take(held_at))
    return np.array([set(codes) != set(labels[i]) for i, (_, codes) in zip(held_at, scored)], dtype=bool)


def in_worker(job: RetuneJob) -> Retuned:
    """`retune` as the page's tuning process runs it, round after round: each round's
    models are freed before the next (finetune_top.release_memory)."""
    from ..finetune_top import release_memory

    try:
        return retune(job)
    finally:
        release_memory()


def retune(job: RetuneJob) -> Retuned:
    """Tune, judge on held-out decisions, keep the winner in live/ftN (complete or not at all)."""
    from ..codebook import load_codebook
    from ..embed import build_embedder
    from ..finetune import finetune
    from ..learn import Labelled
    from ..model_folder import ENCODER

    started = time.perf_counter()
    codebook = load_codebook(job.codebook_path)
    decided = [i for i, label in enumerate(job.labels) if label is not None]
    texts, labels = [job.texts[i] for i in decided], [list(job.labels[i]) for i in decided]
    learn_at, held_at = split(len(decided), job.config.seed)
    folder = Path(job.root) / LIVE
    folder.mkdir(exist_ok=True)
    tmp = folder / f".ft{job.version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    data = Labelled(
        [job.ids[decided[i]] for i in learn_at], [texts[i] for i in learn_at], [labels[i] for i in learn_at]
    )
    trained = finetune(
        codebook, data, config=job.config, out_dir=tmp, device=job.device, top_layers=job.top_layers,
        most_pairs=MOST_PAIRS,
    )  # fmt: skip
    tuned = build_embedder(job.config.model_copy(update={"model": str(tmp / ENCODER)}), device=job.device)
    current = build_embedder(
        job.config if job.current is None else job.config.model_copy(update={"model": job.current}), device=job.device
    )
    original = current if job.current is None else build_embedder(job.config, device=job.device)
    fixed = choices_before(codebook, job.config, original, texts, labels, learn_at)
    was = held_out_misses(codebook, job.config, current, texts, labels, learn_at, held_at, fixed)
    now = held_out_misses(codebook, job.config, tuned, texts, labels, learn_at, held_at, fixed)
    check = {
        "held_out": len(held_at),
        "learned_from": len(learn_at),
        "wrong_current": int(was.sum()),
        "wrong_tuned": int(now.sum()),
        "better": bool(beats(now, was)),
        "pairs": trained.pairs,
        "training_seconds": round(trained.seconds, 1),
        "precision": trained.precision,
    }
    encoder = _keep(job, tmp, tuned, check, started) if check["better"] else None
    if encoder is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return Retuned(job.version, len(decided), time.perf_counter() - started, check, encoder)


def _keep(job: RetuneJob, tmp: Path, tuned, check: dict, started: float) -> str | None:
    """Embed the study with the winner, write its check, rename the folder into place and
    name it in live/index.jsonl; the encoder's path (None if another page took the name)."""
    from ..model_folder import ENCODER
    from ..units import embed_units

    units = embed_units(tuned, job.texts, job.config)
    np.savez(tmp / STUDY_VECTORS, vectors=units.vectors, bounds=units.bounds)
    seconds = round(time.perf_counter() - started, 2)
    meta = {"check": check, "decisions": sum(label is not None for label in job.labels), "seconds": seconds}
    meta.update(texts_sha256=texts_sha256(job.texts), top_layers=job.top_layers, base_model=job.config.model)
    (tmp / CHECK).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    final = tmp.parent / f"ft{job.version}"
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    os.replace(tmp, final)
    line = {
        "model": f"ft-{job.version}",
        "path": f"{LIVE}/ft{job.version}/{ENCODER}",
        **{k: meta[k] for k in ("check", "decisions", "seconds", "top_layers")},
    }
    append_index(tmp.parent, line)
    return str(final / ENCODER)


def append_index(folder: Path, line: dict) -> None:
    """One line more in live/index.jsonl, fsynced; after a line a killed worker cut short,
    on a line of its own."""
    path = folder / LIVE_INDEX
    with open(path, "a+b") as f:
        f.seek(0, os.SEEK_END)
        cut = f.tell() > 0 and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n"
        f.write((("\n" if cut else "") + json.dumps(line, sort_keys=True) + "\n").encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def study_vectors(encoder: str, texts: list[str], config: Config):
    """The study's unit vectors a fine-tune kept beside `encoder`, if they are of these
    texts (else None: embed them)."""
    from ..units import UnitVectors, split_units, unit_texts

    folder = Path(encoder).parent
    try:
        meta = json.loads((folder / CHECK).read_text())
        if meta.get("texts_sha256") != texts_sha256(texts):
            return None
        with np.load(folder / STUDY_VECTORS) as f:
            vectors, bounds = f["vectors"], f["bounds"]
    except (OSError, ValueError, KeyError):
        return None
    return UnitVectors(vectors, bounds, unit_texts(texts, split_units(texts, config)))


def next_version(root: Path, prefix: str = "ft") -> int:
    """One more than the highest number of the folders `prefix`N in the study's live/
    folder (ftN: fine-tuned encoders; vN: relearned models, live.next_version)."""
    folder = Path(root) / LIVE
    cut = len(prefix)
    found = folder.glob(f"{prefix}*") if folder.is_dir() else []
    taken = [int(p.name[cut:]) for p in found if p.is_dir() and p.name[cut:].isdigit()]
    return max(taken, default=0) + 1
