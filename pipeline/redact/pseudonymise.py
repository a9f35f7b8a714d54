"""Consistent pseudonyms across a project: `[PERSON 3]`, `[ORG 2]`, `[PLACE 1]`,
`[PHONE 1]`..., the same for the same person, organisation or place everywhere, also when
a person is later called by first name, surname or title (`Sarah Patel`, `Sarah`, `Dr
Patel`, `Patel's`). Numbers follow the order of first appearance over the inputs as given,
so the same inputs give byte-identical outputs.

Two passes: `detect` finds the identifiers in every transcript (and learns the project's
names); `apply` then replaces them, and every other occurrence of a name found anywhere,
rewriting the text, the speaker labels, the attributes and every offset (turns, cues).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .names import keep_spans, lists
from .patterns import Found

DIRECT = ("EMAIL", "URL", "PHONE", "NHS_NUMBER", "POSTCODE", "NI_NUMBER", "DATE_OF_BIRTH", "REFERENCE")
KINDS = ("PERSON", "ORG", "PLACE", "NAME", *DIRECT)  # NAME: a name of unknown kind
LABELS = {"NHS_NUMBER": "NHS NUMBER", "NI_NUMBER": "NI NUMBER", "DATE_OF_BIRTH": "DATE OF BIRTH"}
# which finding wins where two of different kinds overlap: shape, then context, then the
# study's own names, then the recogniser, then the first-name list
PRIORITY = {"pattern": 0, "context": 1, "known": 2, "ner": 3, "first": 4, "rare": 5}
TITLE_WORDS = {t.rstrip(".").lower() for t in lists()["titles"]}


@dataclass(frozen=True)
class Mention:
    found: Found
    source: str  # pattern | context | known | ner | first

    @property
    def rank(self) -> tuple[int, int]:
        return (PRIORITY[self.source], -(self.found.end - self.found.start))


def person_tokens(surface: str) -> tuple[str, ...]:
    """`Dr Sarah Patel's` -> ("sarah", "patel")."""
    words = re.sub(r"['\u2019]s$", "", surface.strip()).split()
    words = [w.strip(".,") for w in words if w.strip(".,").lower() not in TITLE_WORDS]
    return tuple(w.lower() for w in words if w)


def normal(kind: str, surface: str) -> str:
    if kind in ("PHONE", "NHS_NUMBER"):
        return re.sub(r"\D", "", surface)
    if kind == "REFERENCE":
        return re.sub(r"[\s/-]", "", surface).upper()
    if kind in ("POSTCODE", "NI_NUMBER"):
        return re.sub(r"\s", "", surface).upper()
    text = re.sub(r"['\u2019]s$", "", surface.strip())
    return re.sub(r"^(?:the|our|my)\s+", "", text, flags=re.IGNORECASE).lower()


TITLE_LEAD = re.compile(
    r"(?:(?:" + "|".join(re.escape(t.rstrip(".")) for t in lists()["titles"]) + r")\.?\s+)+", re.IGNORECASE
)


def trimmed(f: Found, text: str) -> Found:
    """A person without a leading title, an organisation or place without a leading `the`,
    `our`, `my`; either without a trailing 's: `Dr [PERSON 2]'s`."""
    if f.kind not in ("PERSON", "ORG", "PLACE"):
        return f
    surface = text[f.start : f.end]
    lead_re = TITLE_LEAD if f.kind == "PERSON" else re.compile(r"(?:the|our|my|their)\s+", re.IGNORECASE)
    lead = lead_re.match(surface)
    tail = re.search(r"['\u2019]s$", surface)
    return Found(f.start + (lead.end() if lead else 0), f.end - (len(tail.group(0)) if tail else 0), f.kind)


def settle(mentions: list[Mention], text: str, keep: list[str]) -> list[Found]:
    """Merge overlapping findings of one kind, let the more reliable kind win where kinds
    overlap, and drop anything inside a keep term or made only of generic words."""
    by_kind: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        by_kind[m.found.kind].append(m)
    merged: list[Mention] = []
    for kind, ms in by_kind.items():
        ms.sort(key=lambda m: (m.found.start, -m.found.end))
        current = ms[0]
        for m in ms[1:]:
            if m.found.start < current.found.end:  # overlap: one span, the better source
                span = Found(current.found.start, max(current.found.end, m.found.end), kind)
                current = Mention(span, min(current.source, m.source, key=PRIORITY.get))
            else:
                merged.append(current)
                current = m
        merged.append(current)
    kept = keep_spans(text, keep)
    generic = {w.lower() for w in [*lists()["generic_org_words"], *lists()["org_endings"]]}
    chosen: list[Found] = []
    for m in sorted(merged, key=lambda m: m.rank):
        f = trimmed(m.found, text)
        surface = text[f.start : f.end]
        if f.end <= f.start or any(a <= f.start and f.end <= b for a, b in kept):
            continue
        if f.kind not in DIRECT and ("\n" in surface or not re.search(r"[A-Za-z]", surface)):
            continue  # a recogniser's span across lines, or of digits alone (a timestamp)
        if f.kind in ("ORG", "PLACE", "NAME") and all(w.lower() in generic for w in re.findall(r"[\w']+", surface)):
            continue
        if f.kind == "PERSON" and not person_tokens(surface):
            continue
        if all(f.end <= c.start or c.end <= f.start for c in chosen):
            chosen.append(f)
    return sorted(chosen)


@dataclass
class Registry:
    """Entities of the project and their numbers, in order of first appearance."""

    numbers: dict[tuple[str, tuple], int] = field(default_factory=dict)
    surfaces: dict[tuple[str, tuple], set[str]] = field(default_factory=lambda: defaultdict(set))
    full_names: dict[tuple[str, ...], tuple[str, str]] = field(
        default_factory=dict
    )  # token -> full names it belongs to

    def entity(self, kind: str, surface: str) -> tuple[str, tuple]:
        if kind != "PERSON":
            return kind, (normal(kind, surface),)
        tokens = person_tokens(surface)
        if len(tokens) >= 2:
            return kind, (tokens[0], tokens[-1])
        owners = {full for full in self.full_names.get(tokens, ()) if full}
        return (kind, owners.pop()) if len(owners) == 1 else (kind, tokens)

    def learn_full_name(self, surface: str) -> None:
        tokens = person_tokens(surface)
        if len(tokens) >= 2:
            full = (tokens[0], tokens[-1])
            for t in (tokens[0], tokens[-1]):
                self.full_names.setdefault((t,), set()).add(full)

    def number(self, kind: str, surface: str) -> int:
        key = self.entity(kind, surface)
        if key not in self.numbers:
            self.numbers[key] = 1 + sum(1 for k in self.numbers if k[0] == kind)
        self.surfaces[key].add(surface)
        return self.numbers[key]

    def placeholder(self, kind: str, surface: str) -> str:
        return f"[{LABELS.get(kind, kind)} {self.number(kind, surface)}]"
