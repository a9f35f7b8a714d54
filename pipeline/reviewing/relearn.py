"""The review page's relearn worker, run in its own low-priority process (`live.py`
starts it): learn with `qcode learn`'s learner from every decision so far and the batch
model's own training passages, rescore the pending passages, keep the model in `live/`
(complete or not at all: kept_models.py), and say which suggestions the page should show.

Nothing here writes the excerpts file. The worker ends itself once the page's process
has gone, so that no worker lives on to write live/ for a dead page.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..model_folder import training_rows
from . import retune
from .context import Context
from .kept_models import keep_live_model

BATCH = "batch"  # what `suggested_by` says of the suggestions `qcode code` wrote


@dataclass(frozen=True)
class Snapshot:
    """What a relearn needs: every passage of the file, and the decided ones' codes."""

    ids: list[str]
    texts: list[str]
    labels: list[list[str] | None]  # None: pending
    batch_uncertainty: list[float] | None = None  # of the batch run's suggestions, per passage
    batch_codes: list[list[str]] | None = None  # the batch run's codes, per passage
    groups: list[str] | None = None  # each passage's transcript (passages in file order)

    @property
    def decided(self) -> int:
        return sum(label is not None for label in self.labels)


@dataclass(frozen=True)
class LiveModel:
    """One relearned model's suggestions for the passages that were pending (none when,
    cross-validated on the decisions, it does not beat the batch run's suggestions)."""

    version: int
    decisions: int  # decided passages it learned from
    seconds: float
    suggestions: dict[str, tuple[list[dict], list[str], float]]  # id -> (suggestions, codes, uncertainty)
    check: dict | None = None  # wrong suggestions on the decided passages of each choice (choice.py)
    context: Context | None = None  # rescores the pending passages after each decision (context.py)

    @property
    def name(self) -> str:
        return f"live-{self.version}"


@dataclass(frozen=True)
class RelearnJob:
    root: str  # the study folder (live/ goes here)
    codebook_path: str
    config: Config
    version: int
    snapshot: Snapshot
    cache_dir: str | None = None
    encoder: str | None = None  # a fine-tuned encoder in use (retune.py), else the run's model
    prior: str | None = None  # training.jsonl of the model the batch run used (an imported coding, say)
    device: str = "cpu"  # where the relearn embeds: the page's --device (a GPU's vectors are cached apart)


def next_version(root: Path) -> int:
    """One more than the highest model version kept in the study's live/ folder."""
    return retune.next_version(root, "v")


def low_priority(parent: int | None = None) -> None:
    """A worker's start: low priority, and it ends itself once the page's process has
    gone (killed, say), so that no worker lives on to write live/ for a dead page."""
    try:
        os.nice(10)
    except OSError:
        pass
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if parent is not None:
        threading.Thread(target=_die_with, args=(parent,), daemon=True, name="qcode-parent-watch").start()


def _die_with(parent: int, every: float = 0.5) -> None:
    """End this process at once when its parent has ended (it is then re-parented)."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


# --- the worker process -------------------------------------------------------------------

_EMBEDDERS: dict[tuple, object] = {}
_STUDY: dict[tuple, object] = {}  # the study's units, embedded once per worker process and encoder


def _embedder(config: Config, cache_dir: str | None, device: str = "cpu"):
    """The worker's embedder for `config.model` on `device` (kept for the process's life)."""
    from ..embed import build_embedder

    key = (config.model, config.backend, cache_dir, device)
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = build_embedder(config, cache_dir=Path(cache_dir) if cache_dir else None, device=device)
    return _EMBEDDERS[key]


def _study_units(embedder, texts: list[str], config: Config, encoder: str | None):
    """The study's unit vectors, embedded once per worker process and encoder (a
    fine-tune's are read from beside its encoder)."""
    from ..units import embed_units

    key = (config.model, config.unit_words, hash(tuple(texts)))
    if key not in _STUDY:
        while len(_STUDY) >= 2:  # the run's encoder and a tuned one (relearn: _before_tuning)
            _STUDY.pop(next(iter(_STUDY)))
        kept = retune.study_vectors(encoder, texts, config) if encoder else None
        _STUDY[key] = kept if kept is not None else embed_units(embedder, texts, config)
    return _STUDY[key]


def relearn(job: RelearnJob) -> LiveModel:
    """Learn from the decided passages and the batch model's own training passages (the
    page's decision wins for a passage in both), score the pending ones, keep the model in
    `live/vN` (complete or not at all)."""
    from ..codebook import load_codebook
    from ..io import file_sha256
    from .choice import page_learner

    started = time.perf_counter()
    snap = job.snapshot
    codebook = load_codebook(job.codebook_path)
    config = job.config if job.encoder is None else job.config.model_copy(update={"model": job.encoder})
    embedder = _embedder(config, job.cache_dir, job.device)
    data, texts, groups = training_set(snap, training_rows(job.prior, set(codebook.code_ids)))
    units = _study_units(embedder, texts, config, job.encoder)
    before = _before_tuning(job, codebook, data, texts) if job.encoder is not None else None
    tagger = page_learner(codebook, job.config)
    tagger.fixed = before[0].choices() if before is not None else None
    tagger.fit(embedder, data, study=units)
    suggestions, check, chosen, context = pending_suggestions(tagger, units, snap, job.config, data, before=before)
    seconds = time.perf_counter() - started
    decided = snap.decided
    version = keep_live_model(
        Path(job.root),
        job.version,
        tagger,
        codebook_sha256=file_sha256(job.codebook_path),
        embedder=embedder,
        decisions=decided,
        seconds=seconds,
        encoder=job.encoder,
        choice=(check, chosen),
        prior=len(data.ids) - decided,
    )
    return LiveModel(version, decided, seconds, suggestions, check, context)


def _before_tuning(job: RelearnJob, codebook, data, texts: list[str]):
    """(the learner fitted with the run's own encoder, the study's units with it): where a
    tuned encoder is in use, its choices, and the page's choice of suggestions, are made
    on these vectors, which never learned from the decisions (as `qcode learn` does)."""
    from .choice import page_learner

    embedder = _embedder(job.config, job.cache_dir, job.device)
    units = _study_units(embedder, texts, job.config, None)
    return page_learner(codebook, job.config).fit(embedder, data, study=units), units


def training_set(snap: Snapshot, prior: list[dict]):
    """(Labelled: the page's decided passages first, then the prior's passages the page
    has not decided; the study's texts: the page's passages, then the prior's passages
    that are not on the page; their documents). A prior passage that is on the page keeps
    its label until the page decides it."""
    from ..labelled import Labelled

    on_page = {pid: i for i, pid in enumerate(snap.ids)}
    groups = list(snap.groups) if snap.groups is not None else [None] * len(snap.ids)
    texts = list(snap.texts)
    decided = [i for i, label in enumerate(snap.labels) if label is not None]
    rows = [(i, list(snap.labels[i])) for i in decided]
    for row in prior:
        i = on_page.get(row["id"])
        if i is None:
            i = len(texts)
            texts.append(row["text"])
            groups.append(row.get("source"))
        elif snap.labels[i] is not None:
            continue
        rows.append((i, list(row["labels"])))
    ids = snap.ids + [row["id"] for row in prior if row["id"] not in on_page]
    data = Labelled(
        [ids[i] for i, _ in rows],
        [texts[i] for i, _ in rows],
        [labels for _, labels in rows],
        groups=[groups[i] for i, _ in rows],
        study_groups=groups,
        where=[i for i, _ in rows],
    )
    return data, texts, groups


def pending_suggestions(tagger, units, snap: Snapshot, config: Config, data=None, before=None):
    """(id -> (suggestions, codes, uncertainty) for the pending passages, the check that
    chose them, the decision model, the Context that rescores them after each decision
    where the transcript's model was chosen, else None): from whichever of the batch run,
    the learned model and the page's decision model, alone or with what each passage's
    transcript has received (`transcript_features`), made the fewest wrong suggestions on
    the decided passages (choice.py), each judged out of fold on the page's decisions alone
    (a prior coding is always learned from). Empty when the batch run's suggestions are best.
    `units`: the study's (the page's passages first); `data`: what the tagger learned
    from, the page's decided passages first (by default those alone); `before`: (tagger,
    units) with the encoder before it was tuned on the decisions, which then choose."""
    from ..decision import DecisionModel, codebook_logits, passage_features
    from .choice import choose
    from .reviews import uncertainty_of_scores

    decided = [i for i, label in enumerate(snap.labels) if label is not None]
    pending = [i for i, label in enumerate(snap.labels) if label is None]
    where = data.where if data is not None and data.where is not None else decided
    labels = data.labels if data is not None else [snap.labels[i] for i in decided]
    texts = _passage_texts(snap, data, len(units))
    scores = tagger.base_.score(units)
    features = passage_features(units, scores, texts)
    judge, judge_units = before if before is not None else (tagger, units)
    judged_on = features if before is None else passage_features(judge_units, judge.base_.score(judge_units), texts)
    batch = [snap.batch_codes[i] for i in decided] if snap.batch_codes is not None else None
    trained = [tuple(sorted(codes)) for codes in labels]
    transcript = _transcript_features(tagger.codebook.code_ids, snap, data, where, labels, len(units))
    document = np.hstack([judged_on, transcript])[where] if transcript is not None else None
    chosen, wrong, model, kappa = choose(judge, judged_on[where], trained, batch, len(decided), document)
    own = features
    if chosen == "document":
        features = np.hstack([features, transcript])
    if before is not None:  # chosen before tuning; the model that suggests reads the tuned vectors
        model = DecisionModel(config.seed).fit(features[where], trained)
    check = {"passages": len(decided), "wrong": wrong, "kappa": kappa, "chosen": chosen, "better": chosen != "batch"}
    check["cv"] = judge.cv_
    if before is not None:
        check["chosen_with"] = "the encoder before it was tuned"
    check["prior_passages"] = len(trained) - len(decided)
    check["codebook_logit_scale"] = codebook_logits(scores)[1]  # how the decision model's features were made
    if chosen == "batch" or not pending:
        return {}, check, model, None
    if chosen == "document":
        context = _context(model, own, snap, data, tagger.codebook.code_ids, config)
        return context.suggestions(snap.labels), check, model, context
    if chosen == "decisions":
        rows = model.suggestions(features[pending], tagger.codebook.code_ids, config.top_suggestions)
        return {snap.ids[i]: row for i, row in zip(pending, rows)}, check, model, None
    page = units.take(range(len(snap.ids)))
    scored = tagger.suggest(page, snap.groups)
    suggestions = {}
    for i in pending:
        sugg, codes = scored[i]
        sure = uncertainty_of_scores([(s.code, s.score) for s in sugg], config.threshold)
        if not keeps_batch(tagger, sure, snap.batch_uncertainty[i] if snap.batch_uncertainty else None):
            suggestions[snap.ids[i]] = ([s.model_dump() for s in sugg], codes, sure)
    return suggestions, check, model, None


def _context(model, features: np.ndarray, snap: Snapshot, data, code_ids: list[str], config: Config):
    """The Context (context.py) that rescores the page's pending passages with `model`
    as their transcripts receive decisions: the prior coding's labels, not the page's
    (`features` without the transcript's; the page's rows, 6.4 MB per 1,000 passages with
    mpnet, go to the page with the model)."""
    n = len(features)
    known: list = [None] * n
    if data is not None and data.where is not None:
        for i, label in zip(data.where, data.labels):
            if i >= len(snap.ids) or snap.labels[i] is None:
                known[i] = list(label)
    page = np.array(features[: len(snap.ids)])
    groups = _study_groups(snap, data, n)
    return Context(model, list(snap.ids), page, known, groups, list(code_ids), config.top_suggestions)


def _transcript_features(code_ids: list[str], snap: Snapshot, data, where: list[int], labels: list, n: int):
    """The study's n passages' transcript_features (decision.py) from every labelled
    passage, or None where no passage's document is known."""
    from ..decision import transcript_features

    groups = _study_groups(snap, data, n)
    if all(g is None for g in groups):
        return None
    known: list = [None] * n
    for i, label in zip(where, labels):
        known[i] = list(label)
    return transcript_features(known, groups, code_ids)


def _study_groups(snap: Snapshot, data, n: int) -> list:
    """The document of each of the study's n passages (None where unknown): the page's,
    then the prior's, as training_set lists them."""
    groups = list((data.study_groups if data is not None and data.study_groups is not None else snap.groups) or [])
    return groups[:n] + [None] * (n - len(groups))


def _passage_texts(snap: Snapshot, data, n: int) -> list[str]:
    """The texts of the study's n passages: the page's, then the prior's (as in training_set)."""
    texts = list(snap.texts)
    if data is not None and data.where is not None:
        extra = {w: t for w, t in zip(data.where, data.texts) if w >= len(texts)}
        texts += [extra.get(i, "") for i in range(len(texts), n)]
    return texts


def keeps_batch(tagger, live_uncertainty: float, batch_uncertainty: float | None) -> bool:
    """Whether a passage keeps the batch run's suggestion: while the reviews say the
    codebook is to be trusted (its rows weigh fully), wherever the codebook is surer of
    the passage than the new model. (Reviewers decide the most uncertain passages first,
    so a model learned from them is surest there, and a rich codebook where it is
    confident: on our interview set, taking the live model everywhere made 26% more
    suggestions wrong; on thin codebooks, keeping the codebook's confident ones made three
    times as many wrong as taking the live model.)"""
    return batch_uncertainty is not None and tagger.codebook_weight_ == 1.0 and batch_uncertainty < live_uncertainty
