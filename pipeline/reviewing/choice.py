"""Which suggestions the review page shows after a relearn: whichever of four made the
fewest wrong suggestions (pre-selected codes that are not the reviewer's) on the passages
already decided, each judged on passages it did not learn from:

- **batch**: the batch run's codes (never trained on the decisions: judged as they are);
- **codes**: `qcode learn`'s learner, one model per code blended with the codebook
  (its out-of-fold scores, decided as it decides);
- **decisions**: a model of whole decisions, one multinomial logistic regression over the
  sets of codes reviewers have given (no code, one code, a pair...), on each passage's mean
  unit vector beside its codebook scores (as logits, scaled to the vectors' norm) and its
  form (`form_features`: whether it asks, how long it is; 5-fold out of fold; ../decision.py). It learns
  what reviewers do with a code that is often near another, and that most passages get
  one code or none, which per-code models miss;
- **document**: the same model with what each passage's transcript has received beside:
  how often each code was given to the other decided passages of its transcript, and
  the codes of the passages just before and after it where decided
  (`transcript_features`). Reviewers work through transcripts, and what a transcript has
  received says much about the rest.

A learned model replaces the batch run's suggestions only when it misses fewer passages
by more than one standard error of the paired difference (`beats`), so that it is not
swapped in on noise; between learned models, the fewest wrong wins. Before any code
could be cross-checked (too few decisions each way) the per-code model's out-of-fold
scores are the codebook's own, so it is taken unless it is worse: as in `qcode learn`,
the first decisions already move its scores, by the blend weight. On the dev parts of four coded sets
this cut wrong suggestions against the per-code model alone from 267 to 229 of 600
(AnnoMI practitioner) and was within a few passages elsewhere; the form features took it
to 206 and scaling the codebook logits to 194 (docs/reviewing.md).
"""

from __future__ import annotations

import numpy as np

from ..decision import DecisionModel

CHOICES = ("batch", "codes", "decisions", "document")  # ties: the first
FOLDS = 5


def page_learner(codebook, config):
    """`qcode learn`'s learner as the page fits it: a model of whole decisions it chooses
    pre-selects the most probable decision (power 0), since the page counts wrong
    pre-selections; `qcode learn` may favour rarer decisions for agreement per code."""
    from ..learn import LearnedTagger

    tagger = LearnedTagger(codebook, config=config)
    tagger.powers = (0.0,)
    return tagger


def misses(codes: list[list[str]], decisions: list[tuple[str, ...]]) -> np.ndarray:
    """Per decided passage: whether these pre-selected codes were not the reviewer's."""
    return np.array([set(c) != set(d) for c, d in zip(codes, decisions)], dtype=bool)


def beats(candidate: np.ndarray, batch: np.ndarray) -> bool:
    """Whether a learned model's misses are fewer than the batch run's by more than one
    standard error of the paired difference (sqrt of the passages where only one of them
    missed, as in McNemar's test): a model is not swapped in on noise."""
    only_one = int((candidate != batch).sum())
    return bool(int(batch.sum()) - int(candidate.sum()) > np.sqrt(only_one))


def choose(
    tagger,
    features: np.ndarray,
    decisions: list[tuple[str, ...]],
    batch_codes: list[list[str]] | None,
    judged: int | None = None,
    document: np.ndarray | None = None,
):
    """(choice, {choice: wrong on the decided passages}, the decision model of the choice
    fitted on all of them: the one on `features` unless "document" is chosen).
    `tagger`: a LearnedTagger fitted on these passages, in this order; `features`: their
    passage_features; `document`: the same with their transcript_features beside, if known.
    Only the first `judged` (the page's decisions; by default all) are judged: the rest
    (a prior coding) are always learned from."""
    judged = len(decisions) if judged is None else judged
    page = decisions[:judged]
    missed = {"codes": misses(tagger.oof_codes_[:judged], page)}
    shapes = {"decisions": features} | ({"document": document} if document is not None else {})
    model = DecisionModel(tagger.config.seed).fit(features, decisions)  # its classes are either shape's
    if len(model.classes_) > 1 and len(decisions) >= FOLDS:
        for name, X in shapes.items():
            missed[name] = model.out_of_fold_misses(X, decisions)[:judged]
    wrong = {name: int(m.sum()) for name, m in missed.items()}
    best, wrong = _best(tagger, missed, wrong, page, batch_codes)
    if best == "document":
        model = DecisionModel(tagger.config.seed).fit(document, decisions)
    return best, wrong, model


def _best(tagger, missed: dict, wrong: dict, page: list, batch_codes: list[list[str]] | None):
    """(the choice, wrong per choice with the batch run's): see the module's doc."""
    unchecked = tagger.cv_ is not None and tagger.cv_["checked_codes"] == 0
    if batch_codes is None:
        return min(wrong, key=lambda c: (wrong[c], CHOICES.index(c))), wrong
    batch = misses(batch_codes, page)
    wrong = {"batch": int(batch.sum()), **wrong}
    if unchecked and wrong["codes"] <= wrong["batch"]:
        return "codes", wrong  # no code checked yet: its scores are the codebook's, moved by the blend
    better = [name for name, m in missed.items() if beats(m, batch)]
    return (min(better, key=lambda c: (wrong[c], CHOICES.index(c))) if better else "batch"), wrong
