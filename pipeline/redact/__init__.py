"""Pseudonymised transcripts: no name leaves the research team.

    p = Pseudonymiser(names=[...], keep=[...])
    for t in transcripts: p.detect(t)      # pass 1: find identifiers, learn the project's names
    p.finish()
    redacted = [p.apply(t) for t in transcripts]   # pass 2: replace, consistently
    p.key_rows()                           # placeholder -> original strings (identifying!)

`patterns.py` finds direct identifiers, `names.py` people, organisations and places,
`pseudonymise.py` settles overlaps and numbers entities.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable

from ..cells import csv_text
from ..ingest.text import ROLE_RE, SPEAKER_CODE_RE
from ..schemas import Transcript
from .names import by_context, by_first_name, by_rarity, first_names, lists, names_in_emails, ner, occurrences
from .patterns import Found, find_patterns
from .pseudonymise import KINDS, LABELS, Mention, Registry, settle

__all__ = ["Pseudonymiser", "rewrite"]
KEY_HEADER = ["placeholder", "kind", "original"]


def is_name_label(label: str, interviewer_labels: Iterable[str] = ()) -> bool:
    """A speaker label that names someone (`Dr Ahmed`), not a role (`Interviewer`, `P01`).
    An interviewer label given by `--interviewer` is a role (`Chair`) unless it reads as a
    name: two capitalised words, a title and a name, or a first name (`Sarah Jones`)."""
    if ROLE_RE.match(label) or SPEAKER_CODE_RE.match(label):
        return False
    if label.lower() in {i.lower() for i in interviewer_labels}:
        return reads_as_name(label)
    return True


def reads_as_name(label: str) -> bool:
    words = label.replace(".", " ").split()
    if not words or not all(w[:1].isupper() for w in words):
        return False
    return len(words) >= 2 or words[0] in first_names() or words[0] in lists()["titles"]


def rewrite(text: str, replacements: list[tuple[int, int, str]]):
    """`text` with each (start, end, new) applied, and a function mapping an offset of the
    old text (never inside a replaced span) to the new text."""
    parts, starts, shifts, pos, shift = [], [], [], 0, 0
    for start, end, new in sorted(replacements):
        parts += [text[pos:start], new]
        pos = end
        shift += len(new) - (end - start)
        starts.append(end)
        shifts.append(shift)
    parts.append(text[pos:])

    def remap(offset: int) -> int:
        i = bisect.bisect_right(starts, offset)
        return offset + (shifts[i - 1] if i else 0)

    return "".join(parts), remap


class Pseudonymiser:
    def __init__(self, *, names: Iterable[str] = (), keep: Iterable[str] = (), interviewer_labels: Iterable[str] = ()):
        self.known: set[str] = {n.strip() for n in names if n.strip()}
        self.keep = [*lists()["keep"], *keep]
        self.interviewer_labels = tuple(interviewer_labels)
        self.registry = Registry()
        self.found: dict[tuple[str, str], list[Mention]] = {}  # (source file, transcript id) -> its findings
        self.seen: dict[str, set[str]] = defaultdict(set)  # names found in pass 1, by kind
        self.terms: dict[str, set[str]] = defaultdict(set)  # what pass 2 replaces everywhere

    # --- pass 1 -------------------------------------------------------------------------

    def detect(self, transcript: Transcript) -> None:
        text = transcript.text
        self.known |= {t.speaker for t in transcript.turns if is_name_label(t.speaker, self.interviewer_labels)}
        patterns = find_patterns(text)
        self.known |= set(names_in_emails(text, [f for f in patterns if f.kind == "EMAIL"]))
        mentions = [Mention(f, "pattern") for f in patterns]
        mentions += [Mention(f, "context") for f in by_context(text)]
        mentions += [Mention(f, "ner") for f in ner([text])[0]]
        mentions += [Mention(f, "first") for f in by_first_name(text)]
        mentions += [Mention(f, "rare") for f in by_rarity(text)]
        self.found[(transcript.source, transcript.id)] = mentions  # ids repeat across folders; sources do not
        for f in settle(mentions, text, self.keep_for(transcript)):  # what this transcript teaches about names
            if f.kind in ("PERSON", "ORG", "PLACE", "NAME"):
                self.seen[f.kind].add(text[f.start : f.end])

    def finish(self) -> None:
        """Learn the project's names from pass 1, so pass 2 replaces each everywhere."""
        words = {w.capitalize() for w in lists()["first_names_that_are_words"]}
        titles = {t.rstrip(".").lower() for t in lists()["titles"]}
        self.terms["ORG"], self.terms["PLACE"], self.terms["NAME"] = (
            set(self.seen["ORG"]),
            set(self.seen["PLACE"]),
            set(self.seen["NAME"]),
        )
        for surface in self.known | self.seen["PERSON"]:
            self.registry.learn_full_name(surface)
            name = " ".join(w for w in surface.split() if w.rstrip(".").lower() not in titles)
            name = re.sub(r"['\u2019]s$", "", name)
            self.terms["PERSON"].add(name)
            for token in name.split():
                if len(token) >= 3 and token[0].isupper() and token not in words:
                    self.terms["PERSON"].add(token)
        for kind in ("ORG", "PLACE", "NAME"):
            self.terms[kind] = {
                re.sub(r"^(?:the|our|my)\s+", "", t, flags=re.IGNORECASE) for t in self.terms[kind] if len(t) >= 3
            }

    # --- pass 2 -------------------------------------------------------------------------

    def spans(self, transcript: Transcript) -> list[Found]:
        """What pass 2 replaces in this transcript: its own findings, and every occurrence
        of a name found anywhere in the project."""
        text = transcript.text
        mentions = list(self.found.get((transcript.source, transcript.id), []))
        for kind in ("PERSON", "ORG", "PLACE", "NAME"):
            mentions += [Mention(f, "known") for f in occurrences(text, self.terms[kind], kind)]
        return settle(mentions, text, self.keep_for(transcript))

    def apply(self, transcript: Transcript) -> Transcript:
        text = transcript.text
        spans = self.spans(transcript)
        new_text, remap = rewrite(
            text, [(f.start, f.end, self.registry.placeholder(f.kind, text[f.start : f.end])) for f in spans]
        )
        turns = [
            t.model_copy(
                update={
                    "start": remap(t.start),
                    "end": remap(t.end),
                    "speaker": self.speaker(t.speaker, t.is_interviewer),
                }
            )
            for t in transcript.turns
        ]
        cues = [c.model_copy(update={"start": remap(c.start), "end": remap(c.end)}) for c in transcript.cues]
        attributes = {k: self.value(v) for k, v in transcript.attributes.items()}
        return transcript.model_copy(update={"text": new_text, "turns": turns, "cues": cues, "attributes": attributes})

    def keep_for(self, transcript: Transcript) -> list[str]:
        """The keep list, and the transcript's role labels (`Interviewer`, `P02`)."""
        roles = {t.speaker for t in transcript.turns if not is_name_label(t.speaker, self.interviewer_labels)}
        return [*self.keep, *roles]

    def speaker(self, label: str, interviewer: bool = False) -> str:
        """A name label's pseudonym; an interviewer named by `--interviewer` becomes
        `Interviewer` (a role, read back as one with the default labels)."""
        if not is_name_label(label, self.interviewer_labels):
            return label
        if interviewer and label.lower() in {i.lower() for i in self.interviewer_labels}:
            return "Interviewer"
        return f"PERSON {self.registry.number('PERSON', label)}"

    def value(self, value: str) -> str:
        """An attribute value with the project's names and any identifier replaced."""
        mentions = [Mention(f, "pattern") for f in find_patterns(value)]
        for kind in ("PERSON", "ORG", "PLACE", "NAME"):
            mentions += [Mention(f, "known") for f in occurrences(value, self.terms[kind], kind)]
        spans = settle(mentions, value, self.keep)
        return rewrite(
            value, [(f.start, f.end, self.registry.placeholder(f.kind, value[f.start : f.end])) for f in spans]
        )[0]

    # --- the key --------------------------------------------------------------------------

    def key_rows(self) -> list[list[str]]:
        rows = []
        for (kind, _), number in self.registry.numbers.items():
            for surface in sorted(self.registry.surfaces[(kind, _)]):
                rows.append([f"[{LABELS.get(kind, kind)} {number}]", kind, surface])
        order = {k: i for i, k in enumerate(KINDS)}
        return sorted(rows, key=lambda r: (order[r[1]], int(r[0].rsplit(" ", 1)[1].rstrip("]")), r[2]))

    def key_csv(self) -> str:
        return csv_text([KEY_HEADER, *self.key_rows()])
