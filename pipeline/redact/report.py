"""`qcode redact --report`: what might still identify someone in pseudonymised text, with
its context, for the human check that the UK Data Service's anonymisation guidance asks
for (no detector is complete: a reviewer reads this list, not every transcript).

Listed, in text order: capitalised words left mid-sentence that are rare as everyday
English words (a name or place the detectors missed), names spaCy's recogniser still sees,
words after `in`, `at`, `from` or `near` that are capitalised (a place?), and numbers of
four or more digits that are not a year, an amount or a percentage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..cells import csv_text
from ..schemas import Transcript
from .names import CAPITALISED, keep_spans, lists, ner

PLACEHOLDER = re.compile(r"\[[A-Z ]+ \d+\]")
DAYS = {
    d + s for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday") for s in ("", "s")
}
MONTH_NAMES = {
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
}
NUMBER = re.compile(r"(?<![\w£$.,])\d[\d ,./-]*\d(?![\w%])")
PLACE_CUE = re.compile(rf"\b(?:in|at|from|near|to|around)\s+(?P<word>{CAPITALISED})")
COMMON = 4.0  # Zipf frequency: a capitalised word rarer than this is worth a look
CONTEXT = 40
REPORT_HEADER = ["transcript", "offset", "why", "term", "context"]


@dataclass(frozen=True, order=True)
class Risk:
    transcript: str
    offset: int
    why: str
    term: str
    context: str


def _context(text: str, start: int, end: int) -> str:
    left, right = max(0, start - CONTEXT), min(len(text), end + CONTEXT)
    return " ".join(f"{text[left:start]}[[{text[start:end]}]]{text[end:right]}".split())


def _masked(text: str, keep: list[str]) -> list[tuple[int, int]]:
    """Spans that are fine: placeholders and keep-list terms."""
    return [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)] + keep_spans(text, keep)


def _harmless(term: str) -> bool:
    """A role or title, a day or month, an acronym: no one is identified by it."""
    from ..ingest.text import ROLE_RE

    word = re.sub(r"['\u2019]s$", "", term.strip())
    titles = {t.rstrip(".").lower() for t in lists()["titles"]}
    return bool(ROLE_RE.match(word)) or word.rstrip(".").lower() in titles | DAYS | MONTH_NAMES or word.isupper()


def _numbers(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in NUMBER.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        before, after = text[max(0, m.start() - 1) : m.start()], text[m.end() : m.end() + 9].lower()
        if len(digits) < 4 or re.fullmatch(r"(?:19|20)\d\d", digits) or before in "£$" and before:
            continue
        if after.lstrip().startswith(("%", "per cent", "million", "billion")):
            continue
        out.append((m.start(), m.end(), "a number of 4+ digits"))
    return out


def _rare_words(text: str) -> list[tuple[int, int, str]]:
    from wordfreq import zipf_frequency

    out = []
    for m in re.finditer(rf"\b(?:{CAPITALISED})\b", text):
        before = text[: m.start()].rstrip()
        if not before or before[-1] in '.!?:\n"\u201c[' or m.group().isupper():
            continue
        if zipf_frequency(m.group().lower(), "en") < COMMON:
            out.append((m.start(), m.end(), "a capitalised word that is not an everyday word"))
    return out


def risks(transcripts: list[Transcript], keep: list[str] = ()) -> list[Risk]:
    """What might still identify someone in already pseudonymised transcripts."""
    keep = [*lists()["keep"], *keep]
    found: list[Risk] = []
    entities = ner([t.text for t in transcripts])
    for t, ents in zip(transcripts, entities):
        text = t.text
        fine = _masked(text, keep)
        spans = _numbers(text) + _rare_words(text)
        spans += [
            (m.start("word"), m.end("word"), "a capitalised word after in/at/from/near (a place?)")
            for m in PLACE_CUE.finditer(text)
        ]
        spans += [(e.start, e.end, f"a name the recogniser sees ({e.kind.lower()})") for e in ents]
        seen: set[tuple[int, int]] = set()
        for start, end, why in sorted(spans):
            if (start, end) in seen or any(a < end and start < b for a, b in fine) or _harmless(text[start:end]):
                continue
            seen.add((start, end))
            found.append(Risk(t.id, start, why, " ".join(text[start:end].split()), _context(text, start, end)))
    return sorted(found)


def report_csv(found: list[Risk]) -> str:
    return csv_text([REPORT_HEADER, *([r.transcript, r.offset, r.why, r.term, r.context] for r in found)])
