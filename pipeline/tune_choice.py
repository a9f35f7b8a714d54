"""Whether `qcode learn` tunes the encoder to the study: an out-of-fold check, by default.

Tuning the top layers of the embedding model on a study's labelled passages
(finetune.py) paid for qcode's learner where a few hundred passages were coded and hurt
it below that (docs/tagging.md: AnnoMI practitioner dev, the first 10% of the sessions,
about 195 passages: 0.529 -> 0.498; the first 25%, 484 passages: 0.547 -> 0.575). So from
`MIN_PASSAGES` labelled passages `learn` checks it out of fold: in each of `FOLDS` folds
(whole documents where the passages name theirs) it tunes the top `TOP_LAYERS` layers on
the other folds and learns on them twice, with the encoder as it is and with the tuned
one (keeping the choices the first made, as `learn` does after a tuning), and both code
the held-back fold. It tunes on every passage only where the tuned
learner agrees better with the coders over all the held-back passages by more than the
bootstrap standard error of the difference (whole documents resampled), as `learn`
chooses everything else. Below `MIN_PASSAGES` it does not tune; `--finetune` and
`--no-finetune` force it either way.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold, KFold

from .config import Config
from .decision import kappa_gain_se, mean_kappa
from .evaluate import label_matrix
from .labelled import Labelled
from .learn import LearnedTagger
from .schemas import Codebook

MIN_PASSAGES = 450  # labelled passages before tuning is considered: each fold of the check tunes on 300
FOLDS = 3  # each passage is held back once; a fold tunes on the other two thirds
TOP_LAYERS = 2  # layers tuned when `learn` chooses to tune (and in the check)
PAIRS = 4  # pairs of each kind per coded passage, likewise
# at most this many pairs a tuning (fewer per passage above about 500 coded ones): about
# 2.5 minutes of training with mpnet on 2 CPU cores, so that the check and the tuning stay
# near 10 minutes however many passages are labelled (docs/tagging.md)
MOST_PAIRS = 4000


@dataclass
class TuneChoice:
    tune: bool
    why: str
    frozen_kappa: float | None = None  # the learner on the held-back part, encoder as it is
    tuned_kappa: float | None = None  # ... with the encoder tuned on the rest
    se: float | None = None
    seconds: float = 0.0

    def record(self) -> dict:
        """What model.json keeps (not the seconds: same inputs, same bytes)."""
        return {k: v for k, v in asdict(self).items() if v is not None and k != "seconds"}


def check_folds(data: Labelled, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows to tune and learn on, rows held back) for each of FOLDS folds: whole
    documents where every passage names one (at least FOLDS of them), else passages."""
    n = len(data.texts)
    if data.groups is not None and all(g is not None for g in data.groups) and len(set(data.groups)) >= FOLDS:
        codes = np.unique([str(g) for g in data.groups], return_inverse=True)[1]
        return list(GroupKFold(FOLDS).split(np.zeros(n), groups=codes))
    return list(KFold(FOLDS, shuffle=True, random_state=seed).split(np.zeros(n)))


def held_back_codes(
    codebook: Codebook, data: Labelled, train, check, config: Config, embedder, fixed: dict | None = None
) -> tuple[list[list[str]], dict]:
    """(the learner's codes for the held-back passages, learned from the `train` rows; its
    choices). `fixed`: choices made before tuning, kept as `learn` keeps them."""
    from .units import embed_units

    tagger = LearnedTagger(codebook, config=config)
    tagger.fixed = fixed
    tagger.fit(embedder, data.subset(train))
    held = data.subset(check)
    units = embed_units(embedder, held.texts, config)
    return [codes for _, codes in tagger.suggest(units, held.groups)], tagger.choices()


def tuned_codes(
    codebook: Codebook, data: Labelled, train, check, config: Config, device: str, fixed: dict, lower: dict
) -> list[list[str]]:
    """`held_back_codes` with the encoder's top layers tuned on the `train` rows first, and
    the learner's choices made before (`fixed`), as `learn` makes them; `lower`: the
    frozen layers' states, kept between the folds (finetune_top.train_top)."""
    from .finetune import finetune
    from .model_folder import with_encoder

    with tempfile.TemporaryDirectory(prefix="qcode-tune-check-") as work:
        finetune(
            codebook, data.subset(train), config=config, out_dir=Path(work), device=device,
            per_text=PAIRS, top_layers=TOP_LAYERS, lower=lower, most_pairs=MOST_PAIRS,
        )  # fmt: skip
        embedder = tuned_embedder(with_encoder(config, Path(work)), device, lower)
        return held_back_codes(codebook, data, train, check, config, embedder, fixed)[0]


def tuned_embedder(tuned: Config, device: str, lower: dict):
    """The fold's tuned encoder: on torch, its top layers only, on the kept states."""
    from .embed import build_embedder, make_embedder
    from .finetune_top import KeptStatesEmbedder

    if tuned.backend != "torch":
        return build_embedder(tuned, device=device)
    inner = make_embedder(tuned.model, seed=tuned.seed, device=device)
    return KeptStatesEmbedder(inner.model, lower, TOP_LAYERS, inner.device, inner.fingerprint)


def choose(
    codebook: Codebook,
    data: Labelled,
    *,
    config: Config,
    device: str = "auto",
    embedder=None,
    lower: dict | None = None,
) -> TuneChoice:
    """Tune or not, and why (see the module doc). `embedder`: the encoder as it is (built
    from `config` when not given); `lower`: where the frozen layers' states of the texts
    are kept, for the folds and for a tuning on every passage after it."""
    if len(data.texts) < MIN_PASSAGES:
        return TuneChoice(False, f"{len(data.texts)} labelled passages, fewer than {MIN_PASSAGES}")
    from .embed import build_embedder
    from .finetune_top import release_memory

    started = time.perf_counter()
    frozen_embedder = embedder or build_embedder(config, device=device)
    frozen, tuned = [None] * len(data.texts), [None] * len(data.texts)
    lower = {} if lower is None else lower
    for train, check in check_folds(data, config.seed):
        codes_as_it_is, choices = held_back_codes(codebook, data, train, check, config, frozen_embedder)
        for i, codes in zip(check, codes_as_it_is):
            frozen[i] = codes
        for i, codes in zip(check, tuned_codes(codebook, data, train, check, config, device, choices, lower)):
            tuned[i] = codes
        release_memory()  # this fold's tuned model, before the next fold loads its own
    truth, frozen_m, tuned_m = (label_matrix(p, codebook.code_ids) for p in (data.labels, frozen, tuned))
    k_frozen, k_tuned = mean_kappa(truth, frozen_m), mean_kappa(truth, tuned_m)
    se = kappa_gain_se(truth, tuned_m, frozen_m, data.groups, config.seed)
    tune = k_tuned - k_frozen > se
    verdict = "pays" if tune else "does not pay"
    return TuneChoice(
        tune,
        f"tuning {verdict} out of fold ({FOLDS} folds): mean kappa {k_frozen:.3f} as it is,"
        f" {k_tuned:.3f} tuned (SE of the gain {se:.3f})",
        round(k_frozen, 4),
        round(k_tuned, 4),
        round(se, 4),
        round(time.perf_counter() - started, 1),
    )
