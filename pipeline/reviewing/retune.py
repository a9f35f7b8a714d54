"""Fine-tuning the embedding model in the background while the reviewer works
(`qcode review serve`; `--finetune` from FIRST decisions).

Once it is due (`due`), and again after every EVERY more decisions, a second low-priority
process tunes the top TOP_LAYERS layers of the embedding model (finetune_top.py) on the
codebook, the decisions so far and the study's imported coding (the batch model's
training.jsonl, `prior`; a decision wins for a passage in both). It is swapped in only
when it beats the encoder in use on passages it did not learn from: those labelled
passages are split once, by the seed, HOLDOUT of them held out; the tuned encoder learns
from the rest, and `qcode learn`'s learner, fitted on the same rest with each encoder
(keeping the choices it makes with the run's own encoder, as a relearn does), is scored on
the held-out ones (passages whose pre-selected codes are not the reviewer's), and it must
miss fewer by more than one standard error of the paired difference (choice.beats). When
it wins, the whole study is embedded with it and kept beside it, and every later relearn
learns on those vectors; when it loses, it is deleted.

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
from typing import NamedTuple

import numpy as np

from ..config import Config
from ..model_folder import training_rows
from ..outputs import LIVE, LIVE_INDEX
from ..tune_choice import MIN_PASSAGES, MOST_PAIRS
from .choice import beats, page_learner

FIRST = 50  # decided passages before the first fine-tune (with --finetune)
FIRST_BY_DEFAULT = MIN_PASSAGES  # ... without it: where tuning began to pay in `learn` (tune_choice.py)
EVERY = 100  # more decided passages before the next
TOP_LAYERS = 4  # chosen on AnnoMI practitioner dev (docs/tagging.md): 87% of a full fine-tune's gain
HOLDOUT = 0.2  # of the labelled passages (decisions and an import), held out to judge a tuned encoder
STUDY_VECTORS = "study.npz"
CHECK = "check.json"


def due(decided: int, last: int | None, first: int = FIRST, prior: int = 0) -> bool:
    """Whether a fine-tune is due with `decided` passages decided and `prior` labelled
    passages imported before (the batch model's training.jsonl), the last one made at `last`
    decisions: the first once decisions and prior together reach `first`, never before
    FIRST decisions (a fifth of them judge it), then after every EVERY more decisions."""
    if decided < FIRST:
        return False
    return decided + prior >= first if last is None else decided >= last + EVERY


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
    prior: str | None = None  # the batch model's training.jsonl: tuned on with the decisions

    @property
    def decided(self) -> int:
        return len(self.labels) - self.labels.count(None)


class Rows(NamedTuple):
    ids: list[str]
    texts: list[str]
    labels: list[list[str]]


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
    """(learn, held out) positions of n labelled passages: HOLDOUT of them, by the seed."""
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(HOLDOUT * n)))
    return np.sort(order[held:]), np.sort(order[:held])


def tuning_sets(job: RetuneJob, known: set[str]) -> tuple[Rows, Rows]:
    """(what a round learns from, what judges it): the decided passages and the prior's
    passages the page has not decided (a decision wins for a passage in both, as in a
    relearn), split by the seed, HOLDOUT of them held out. A judge of 20 decisions cannot
    tell a tuned encoder's gain from chance; with an imported coding it is a fifth of
    several hundred passages."""
    decided = [i for i, label in enumerate(job.labels) if label is not None]
    taken = {job.ids[i] for i in decided}
    extra = [row for row in training_rows(job.prior, known) if row["id"] not in taken]
    every = Rows(
        [job.ids[i] for i in decided] + [row["id"] for row in extra],
        [job.texts[i] for i in decided] + [row["text"] for row in extra],
        [list(job.labels[i]) for i in decided] + [list(row["labels"]) for row in extra],
    )
    learn_at, held_at = split(len(every.ids), job.config.seed)
    return tuple(Rows(*([part[i] for i in at] for part in every)) for at in (learn_at, held_at))


def _fitted(codebook, config: Config, embedder, learn: Rows, held: Rows, fixed: dict | None = None):
    """(the learner fitted on `learn` on this embedder's vectors, keeping `fixed` choices;
    the units of the `held` passages)."""
    from ..labelled import Labelled
    from ..units import embed_units

    units = embed_units(embedder, learn.texts + held.texts, config)
    n = len(learn.texts)
    tagger = page_learner(codebook, config)
    tagger.fixed = fixed
    tagger.fit(embedder, Labelled(*learn), study=units.take(list(range(n))))
    return tagger, units.take(list(range(n, n + len(held.texts))))


def choices_before(codebook, config: Config, embedder, learn: Rows, held: Rows) -> dict:
    """The learner's choices on `learn` with the run's own encoder, which a relearn on a
    tuned one keeps (relearn._before_tuning): each encoder is judged as it would be used."""
    return _fitted(codebook, config, embedder, learn, held)[0].choices()


def held_out_misses(
    codebook, config: Config, embedder, learn: Rows, held: Rows, fixed: dict | None = None
) -> np.ndarray:
    """Per `held` passage: whether the learner (fitted on `learn`, on this embedder's
    vectors, keeping `fixed` choices) pre-selects codes that are not the reviewer's."""
    tagger, units = _fitted(codebook, config, embedder, learn, held, fixed)
    scored = tagger.suggest(units)
    return np.array([set(codes) != set(gold) for gold, (_, codes) in zip(held.labels, scored)], dtype=bool)


def in_worker(job: RetuneJob) -> Retuned:
    """`retune` as the page's tuning process runs it, round after round: each round's
    models are freed before the next (finetune_top.release_memory)."""
    from ..finetune_top import release_memory

    try:
        return retune(job)
    finally:
        release_memory()


def retune(job: RetuneJob) -> Retuned:
    """Tune, judge on held-out labelled passages, keep the winner in live/ftN (complete or not at all)."""
    from ..codebook import load_codebook

    started = time.perf_counter()
    codebook = load_codebook(job.codebook_path)
    learn, held = tuning_sets(job, set(codebook.code_ids))
    tmp = Path(job.root) / LIVE / f".ft{job.version}.tmp"
    tmp.parent.mkdir(exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    trained, tuned = tune(job, codebook, learn, tmp)
    check = judge(job, codebook, (learn, held), trained, tuned, encoders_in_use(job))
    encoder = _keep(job, tmp, tuned, check, started) if check["better"] else None
    if encoder is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return Retuned(job.version, job.decided, time.perf_counter() - started, check, encoder)


def judge(job: RetuneJob, codebook, sets: tuple[Rows, Rows], trained, tuned, encoders: tuple) -> dict:
    """The round's check: the learner fitted on the learning rows with the encoder in use
    and with the `tuned` one (keeping the choices made with the run's own encoder, as
    `encoders_in_use` gives them), scored on the held-out rows; `better` when the tuned
    one misses fewer by more than a standard error."""
    learn, held = sets
    current, original = encoders
    fixed = choices_before(codebook, job.config, original, learn, held)
    was = held_out_misses(codebook, job.config, current, learn, held, fixed)
    now = held_out_misses(codebook, job.config, tuned, learn, held, fixed)
    return {
        "held_out": len(held.ids),
        "learned_from": len(learn.ids),
        "prior": len(learn.ids) + len(held.ids) - job.decided,
        "wrong_current": int(was.sum()),
        "wrong_tuned": int(now.sum()),
        "better": bool(beats(now, was)),
        "pairs": trained.pairs,
        "training_seconds": round(trained.seconds, 1),
        "precision": trained.precision,
    }


def tune(job: RetuneJob, codebook, learn: Rows, out_dir: Path):
    """(the training's summary, an embedder of the encoder tuned on `learn` into out_dir)."""
    from ..embed import build_embedder
    from ..finetune import finetune
    from ..labelled import Labelled
    from ..model_folder import ENCODER

    trained = finetune(
        codebook, Labelled(*learn), config=job.config, out_dir=out_dir, device=job.device,
        top_layers=job.top_layers, most_pairs=MOST_PAIRS,
    )  # fmt: skip
    return trained, build_embedder(job.config.model_copy(update={"model": str(out_dir / ENCODER)}), device=job.device)


def encoders_in_use(job: RetuneJob):
    """(the encoder relearns use now, the run's own): the same one until a tune has won."""
    from ..embed import build_embedder

    current = build_embedder(
        job.config if job.current is None else job.config.model_copy(update={"model": job.current}), device=job.device
    )
    return current, current if job.current is None else build_embedder(job.config, device=job.device)


def _keep(job: RetuneJob, tmp: Path, tuned, check: dict, started: float) -> str | None:
    """Embed the study with the winner, write its check, rename the folder into place and
    name it in live/index.jsonl; the encoder's path (None if another page took the name)."""
    from ..model_folder import ENCODER
    from ..units import embed_units

    units = embed_units(tuned, job.texts, job.config)
    np.savez(tmp / STUDY_VECTORS, vectors=units.vectors, bounds=units.bounds)
    seconds = round(time.perf_counter() - started, 2)
    meta = {"check": check, "decisions": job.decided, "seconds": seconds}
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
