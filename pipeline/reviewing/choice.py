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
swapped in on noise; between learned models, the fewest wrong wins, unless others are
within that margin of it: then the one of those that agrees best per code (mean Cohen's
kappa on the decided passages), as it costs no more wrong pre-selections. Before any code
could be cross-checked (too few decisions each way) the per-code model's out-of-fold
scores are the codebook's own, so it is taken unless it is worse: as in `qcode learn`,
the first decisions already move its scores, by the blend weight.

In the first hour, while the page has fewer decisions than the covering queue's horizon
(ROUNDS x codes, first_queue.py), a learned model is not taken either where it agrees
with the reviewer per code worse than the best on offer (the candidate with the highest
mean Cohen's kappa over the decided passages, out of fold; lower by more than one
bootstrap standard error). Those first passages were picked as each code's
likeliest or where the batch run was least sure, so they are unlike the rest, and a
model of whole decisions learned from a few dozen of them knows only the commonest
decisions: it can miss fewer of them while coding the rest worse. On NHS comments (dev,
26 codes, 60 decisions) it missed 39 decided passages to the batch run's 50, then 348 of
the other 540 to 330, at mean kappa 0.068 to 0.183. Later the decided passages cover the
study and wrong pre-selections decide: applied throughout, the rule cut wrong
suggestions over a whole review of that study by 14% instead of 36% (docs/reviewing.md,
"The page's choice in the first hour").

The choice between the first three was settled on the dev parts of four coded sets:
this cut wrong suggestions against the per-code model alone from 267 to 229 of 600
(AnnoMI practitioner) and was within a few passages elsewhere; the form features took it
to 206 and scaling the codebook logits to 194 (docs/reviewing.md).
"""

from __future__ import annotations

import numpy as np

from ..decision import DecisionModel, kappa_gain_se, mean_kappa
from ..evaluate import label_matrix
from .first_queue import ROUNDS

CHOICES = ("batch", "codes", "decisions", "document")  # ties: the first
FOLDS = 5


def page_learner(codebook, config):
    """`qcode learn`'s learner as the page fits it: a model of whole decisions it chooses
    pre-selects the most probable decision (power 0), since the page counts wrong
    pre-selections; `qcode learn` may favour rarer decisions for agreement per code."""
    from ..learn import LearnedTagger

    tagger = LearnedTagger(codebook, config=config)
    tagger.powers = (0.0,)
    tagger.heads = tuple(h for h in tagger.heads if h != "combined")  # the page weighs its own
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
    fitted on all of them: the one on `features` unless "document" is chosen, {choice:
    mean kappa on the decided passages}). `tagger`: a LearnedTagger fitted on these
    passages, in this order; `features`: their passage_features; `document`: the same with
    their transcript_features beside, if known. Only the first `judged` (the page's
    decisions; by default all) are judged: the rest (a prior coding) are always learned from."""
    judged = len(decisions) if judged is None else judged
    page = decisions[:judged]
    given = {"codes": [list(c) for c in tagger.oof_codes_[:judged]]}
    shapes = {"decisions": features} | ({"document": document} if document is not None else {})
    model = DecisionModel(tagger.config.seed).fit(features, decisions)  # its classes are either shape's
    if len(model.classes_) > 1 and len(decisions) >= FOLDS:
        for name, X in shapes.items():
            given[name] = [list(d) for d in model.out_of_fold(X, decisions)[:judged]]
    best, wrong, kappa = _best(tagger, given, page, batch_codes)
    if best == "document":
        model = DecisionModel(tagger.config.seed).fit(document, decisions)
    return best, wrong, model, kappa


def _best(tagger, given: dict, page: list, batch_codes: list[list[str]] | None):
    """(the choice, wrong per choice with the batch run's, mean kappa per choice): see the
    module's doc."""
    ids, seed = tagger.codebook.code_ids, tagger.config.seed
    every = ({"batch": batch_codes} if batch_codes is not None else {}) | given
    Y, coded = label_matrix(page, ids), {name: label_matrix(codes, ids) for name, codes in every.items()}
    kappa = {name: mean_kappa(Y, m) for name, m in coded.items()}
    missed = {name: misses(codes, page) for name, codes in every.items()}
    wrong = {name: int(m.sum()) for name, m in missed.items()}
    record = {name: round(k, 4) for name, k in kappa.items()}
    if batch_codes is None:
        return min(wrong, key=lambda c: (wrong[c], CHOICES.index(c))), wrong, record
    top = max(kappa, key=lambda c: (kappa[c], -CHOICES.index(c)))  # the best agreement on offer
    first = len(page) < ROUNDS * len(ids)  # the first hour: see the module's doc
    fair = {
        n for n in given if not first or kappa[n] - kappa[top] >= -kappa_gain_se(Y, coded[n], coded[top], None, seed)
    }
    unchecked = tagger.cv_ is not None and tagger.cv_["checked_codes"] == 0
    if unchecked and wrong["codes"] <= wrong["batch"] and "codes" in fair:
        return "codes", wrong, record  # no code checked yet: its scores are the codebook's, moved by the blend
    better = [name for name in given if name in fair and beats(missed[name], missed["batch"])]
    return (_fewest_then_agreeing(better, missed, kappa) if better else "batch"), wrong, record


def _fewest_then_agreeing(names: list[str], missed: dict, kappa: dict) -> str:
    """Of these learned models, the one with the fewest wrong, unless others are within
    noise of it (it does not `beat` them): then the one of those with the highest mean kappa."""
    fewest = min(names, key=lambda c: (int(missed[c].sum()), CHOICES.index(c)))
    level = [c for c in names if not beats(missed[fewest], missed[c])]
    return max(level, key=lambda c: (kappa[c], -CHOICES.index(c)))
