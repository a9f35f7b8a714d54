"""The learner's fixed settings and the strategy names it writes and reads (model.json
records them: `learner_settings`). What each was chosen on is in docs/tagging.md."""

from __future__ import annotations

STRATEGY = "learned-blend-v10"
# Older models still read (v9: no "combined" way of deciding; v8: one code per passage
# wherever the 90th percentile said so; v7: the decision's shape from 40 labelled passages
# even where all carry a code; v6: the codebook part as adapted, blind to the labels; v5:
# whole decisions always the most probable; v4: no model of whole decisions).
READS = (
    "learned-blend-v9",
    "learned-blend-v8",
    "learned-blend-v7",
    "learned-blend-v6",
    "learned-blend-v5",
    "learned-blend-v4",
)
N0 = 5.0  # reviewed examples (each way) at which a code's learned model weighs as much as the codebook
# How much the codebook is trusted beside the reviews: (weight of the codebook's own rows
# inside each learned model, N0 of the blend). The first trusts the codebook (it agrees
# with the reviewers); the second lets the reviews take over sooner (a codebook of bare
# definitions is often a poor guide to a study's coding). Chosen once per fit, pooled over
# codes by out-of-fold micro-F1 on the reviewed passages, from MIN_TRUST of them.
TRUST = ((1.0, 5.0), (0.3, 2.0))
MIN_TRUST = 40
MIN_CHOICE = 40  # reviewed passages before the decision's shape is learned
# The shape of a decision, learned from reviewers once MIN_CHOICE passages are reviewed:
# if at least CODED_SHARE of them carry a code, every passage gets its best code at least;
# at most the 90th percentile of codes per coded reviewed passage are applied (2 where
# SECOND_CODE_SHARE carry two or more). Where every labelled passage carries a code (a
# highlights or coded-segments export), from MIN_CODED_ONLY: a study with a sixth of its
# passages uncoded shows one of them in 20 draws 97 times in 100, so "no code" is not
# left open on so little evidence of it.
MIN_CODED_ONLY = 20
CODED_SHARE = 0.9
# v9: the 90th percentile says 1 wherever fewer than one coded passage in ten carries a
# second code, and then a code that coders give beside another (a usability problem
# beside what the participant was doing) can hardly be given at all. From one in twenty
# a passage may take two: a cap of 2 against 3 only limits, 1 against 2 rules codes out.
SECOND_CODE_SHARE = 0.05
C = 2.0  # as the codebook-only tagger
# SOLVER (decision.py): Newton-CG rather than sklearn's default L-BFGS for the per-code
# models too: the same regularised loss, reached in a few exact steps; 7.5 times as fast
# over 27 codes on 580 reviewed NHS comments (31 s -> 4 s a relearn; docs/reviewing.md).
FOLDS = 5
LARGE = 1000  # reviewed passages from which 3 folds estimate as well as 5 (and cost less)
# Word features are tried once reviewers have coded at least LEXICAL_PASSAGES passages, for
# codes with MIN_LEXICAL each way. On AnnoMI dev, words cost up to 0.04 kappa at 50-200
# reviewed passages (their cross-validated gain is noise there) and added 0.02-0.06 from
# 500 on (practitioner behaviour; client talk: no change); see docs/tagging.md.
LEXICAL_PASSAGES = 500
MIN_LEXICAL = 10
# How passages are decided (`_fit_head`): by the per-code models, by a model of whole
# decisions without or with the passage's neighbours, or by the per-code models and that
# model together (v10); each in turn replaces the one chosen so far where it agrees better
# with the coders out of fold by more than a standard error, from MIN_HEAD labelled passages.
HEADS = ("codes", "decisions", "context", "combined")
MIN_HEAD = 40


def learner_settings() -> dict:
    """The learner's fixed settings, as model.json records them."""
    return {
        "C": C,
        "n0": N0,
        "folds": FOLDS,
        "lexical_passages": LEXICAL_PASSAGES,
        "min_lexical": MIN_LEXICAL,
        "trust": [list(t) for t in TRUST],
        "min_trust": MIN_TRUST,
        "min_choice": MIN_CHOICE,
        "coded_share": CODED_SHARE,
        "min_coded_only": MIN_CODED_ONLY,
        "second_code_share": SECOND_CODE_SHARE,
    }
