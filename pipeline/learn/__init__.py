"""Learn from reviewers: every reviewed passage changes the tagger at once.

Training data are reviewed excerpts (accepted -> the machine's codes were right;
corrected -> review.codes; rejected -> no code; disagreements are skipped) and labelled
JSONL in the `evaluate` format. A reviewer's correction away from a code makes that
passage a negative for it.

- tagger.py: `LearnedTagger`, fitted with `fit(embedder, data)`; the decision's shape and
  the codebook part that heeds the labels;
- per_code.py: each code's model blended with the codebook, the trust in the codebook,
  the no-harm check and word features;
- heads.py: how passages are decided (the per-code models or a model of whole decisions,
  with or without the neighbours) and at what power;
- saved.py: model.json and weights.npz; workflow.py: `qcode learn`'s files;
- settings.py: the fixed settings and strategy names; stats.py: F1 and its standard error.

The choices, and what did not work, are in docs/tagging.md.
"""

from ..labelled import Labelled
from .heads import moved_by_threshold
from .per_code import blend_weight
from .settings import (
    MIN_CHOICE,
    MIN_CODED_ONLY,
    MIN_HEAD,
    N0,
    READS,
    SECOND_CODE_SHARE,
    STRATEGY,
    TRUST,
    learner_settings,
)
from .stats import f1_of, paired_f1_se
from .tagger import LearnedTagger, decision_shape
from .workflow import fit_labelled, keep_codebook, learn

__all__ = [
    "MIN_CHOICE",
    "MIN_CODED_ONLY",
    "MIN_HEAD",
    "N0",
    "READS",
    "SECOND_CODE_SHARE",
    "STRATEGY",
    "TRUST",
    "Labelled",
    "LearnedTagger",
    "f1_of",
    "paired_f1_se",
    "blend_weight",
    "decision_shape",
    "fit_labelled",
    "keep_codebook",
    "learn",
    "learner_settings",
    "moved_by_threshold",
]
