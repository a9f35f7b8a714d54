"""People, organisations and places: spaCy's named-entity recogniser (the installed small
English pipeline), plus what the words around a name give away and what the study itself
knows:

- a capitalised name after a title (`Dr Okafor`, `Cllr Ahmed`) is a person;
- capitalised words ending in an organisation word (`Northfield Community Trust`,
  `St Mary's Hospital`, `Riverside ICB`) are an organisation, unless every word is generic
  (`the Integrated Care Board`);
- a capitalised first name from the US census lists (package `names`, MIT) is a person,
  unless it is an everyday word standing alone (`Will`, `Grace`);
- every name the study gives (`--names FILE`, name columns of the participants table,
  speaker labels that are names) is a person wherever it appears.

Terms on the keep list (national bodies, programmes, generic parts of the system, `--keep
FILE`) are never replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from .patterns import Found

NER_KINDS = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}
LEADING = {"The", "Our", "My", "Their", "This", "That", "of", "and", "&"}
UPPER, LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"  # Latin letters with accents: Siobhán, Ciarán, Zoë
CAPITALISED = rf"[{UPPER}][{UPPER}{LOWER}'\u2019-]*[{LOWER}][{UPPER}{LOWER}'\u2019-]*|[{UPPER}]{{2,}}"
RARE = 3.0  # Zipf frequency under which a capitalised word is not an everyday English word


@lru_cache(maxsize=1)
def lists() -> dict[str, list[str]]:
    return yaml.safe_load((resources.files("pipeline") / "data" / "redact.yaml").read_text("utf-8"))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Capitalised first names from the 1990 US census lists shipped with `names`."""
    import names

    folder = Path(names.__file__).parent
    found = set()
    for name in ("dist.male.first", "dist.female.first"):
        for line in (folder / name).read_text().splitlines():
            if line.strip():
                found.add(line.split()[0].capitalize())
    return frozenset(found - {w.capitalize() for w in lists()["first_names_that_are_words"]})


def _plain(word: str) -> str:
    """`Ciarán` -> `Ciaran`: the census lists have no accents."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def ner_pipeline():
    """spaCy's small English model with only what entity recognition needs."""
    import spacy

    from ..sentences import SPACY_MODEL

    return spacy.load(SPACY_MODEL, exclude=["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"])


def ner(texts: list[str]) -> list[list[Found]]:
    """People, organisations and places spaCy finds in each text."""
    out = []
    for doc in ner_pipeline().pipe(texts, batch_size=64):
        out.append([Found(e.start_char, e.end_char, NER_KINDS[e.label_]) for e in doc.ents if e.label_ in NER_KINDS])
    return out


def _title_re() -> re.Pattern:
    titles = "|".join(re.escape(t) for t in sorted(lists()["titles"], key=len, reverse=True))
    return re.compile(rf"\b(?:{titles})\.?\s+(?P<name>(?:{CAPITALISED})(?:[ -](?:{CAPITALISED}))?)")


def _org_re() -> re.Pattern:
    endings = "|".join(re.escape(e) for e in lists()["org_endings"])
    return re.compile(rf"\b(?:(?:{CAPITALISED}|St\.?|of|and|&)\s+){{1,5}}(?:{endings})\b")


def _place_re() -> re.Pattern:
    streets = "|".join(re.escape(e) for e in lists()["place_endings"])
    areas = "|".join(re.escape(e) for e in lists()["area_endings"])
    return re.compile(
        rf"\b(?:\d+[A-Za-z]?,?\s+)?(?:(?:{CAPITALISED})\s+){{1,3}}(?:{streets})\b|\b(?:{CAPITALISED})\s+(?:{areas})\b"
    )


@lru_cache(maxsize=1)
def _cue_re() -> re.Pattern:
    cues = "|".join(re.escape(c) for c in sorted(lists()["name_cues"], key=len, reverse=True))
    return re.compile(rf"\b(?i:{cues}),?\s+(?P<name>[{UPPER}][{LOWER}]{{1,11}})\b(?!\s+[{UPPER}])")


def by_cue(text: str) -> list[Found]:
    """A short capitalised name right after a role or relation (`my colleague Tash`,
    `Nurse Jas`, `her grandson Kit`), unless it is an everyday word (`the manager Said`,
    `a worker There`) or an organisation or generic word follows it."""
    from wordfreq import zipf_frequency

    generic = {w.lower() for w in [*lists()["generic_org_words"], *lists()["org_endings"]]}
    found = []
    for m in _cue_re().finditer(text):
        name = m.group("name")
        if name.lower() in generic or zipf_frequency(name.lower(), "en") >= 5.0:
            continue
        found.append(Found(m.start("name"), m.end("name"), "PERSON"))
    return found


def by_context(text: str) -> list[Found]:
    """Persons after titles or role words; organisations named with an organisation word;
    addresses and named areas (`14 Mill Lane`, `Westfield ward`)."""
    found = [Found(m.start("name"), m.end("name"), "PERSON") for m in _title_re().finditer(text)]
    found += by_cue(text)
    found += [Found(m.start(), m.end(), "PLACE") for m in _place_re().finditer(text)]
    generic = set(lists()["generic_org_words"]) | set(lists()["org_endings"]) | {"St", "St.", "of", "and", "&"}
    for m in _org_re().finditer(text):
        tokens = list(re.finditer(r"\S+", m.group(0)))
        while tokens and tokens[0].group() in LEADING:
            tokens.pop(0)
        if any(t.group() not in generic for t in tokens):  # not only generic words: a name
            found.append(Found(m.start() + tokens[0].start(), m.end(), "ORG"))
    return found


def by_first_name(text: str) -> list[Found]:
    """A capitalised first name mid-sentence, or followed by another capitalised word."""
    known = first_names()
    surname = re.compile(rf"\s+(?:{CAPITALISED})\b")
    found = []
    for m in re.finditer(rf"\b[{UPPER}][{LOWER}]{{2,}}\b", text):
        if _plain(m.group()) not in known:
            continue
        before = text[: m.start()].rstrip()
        sentence_start = not before or before[-1] in '.!?:\n"\u201c'
        rest = surname.match(text, m.end())
        if rest:
            found.append(Found(m.start(), rest.end(), "PERSON"))
        elif not sentence_start:
            found.append(Found(m.start(), m.end(), "PERSON"))
    return found


def names_in_emails(text: str, emails: list[Found]) -> list[str]:
    """Names an address gives away: `tomasz.dobrowolski@...` -> Tomasz, Dobrowolski,
    Tomasz Dobrowolski; `a.nowak@...` -> Nowak. Only first.last-shaped local parts."""
    found = []
    for f in emails:
        parts = [re.sub(r"\d+$", "", p) for p in re.split(r"[._]", text[f.start : f.end].split("@")[0])]
        if len(parts) != 2 or not all(p.isalpha() for p in parts):
            continue
        first, last = (p.capitalize() for p in parts)
        found += [w for w in (first, last) if len(w) >= 3]
        if len(first) >= 3 and len(last) >= 3:
            found.append(f"{first} {last}")
    return found


def by_rarity(text: str) -> list[Found]:
    """A capitalised word mid-sentence that is rare as an everyday English word (wordfreq's
    Zipf frequency under 3: `Ciarán`, `Trefonen`, `Welshpool`) is a name the recogniser
    missed; kind unknown, so NAME. Not when a generic word follows (`Reablement team`)."""
    from wordfreq import zipf_frequency

    generic = {
        w.lower()
        for w in [
            *lists()["generic_org_words"],
            *lists()["org_endings"],
            "team",
            "service",
            "services",
            "pathway",
            "programme",
            "model",
            "unit",
            "ward",
        ]
    }
    generic -= {"the", "our", "my", "their", "this", "that", "and", "of", "for"}
    found = []
    for m in re.finditer(rf"\b(?:{CAPITALISED})\b", text):
        word = m.group()
        before = text[: m.start()].rstrip()
        if len(word) < 3 or word.isupper() or not before or before[-1] in '.!?:\n"\u201c':
            continue
        following = re.match(r"\s+(\w+)", text[m.end() :])
        if following and following.group(1).lower() in generic:
            continue
        if zipf_frequency(re.sub(r"['\u2019]s$", "", word).lower(), "en") < RARE:
            found.append(Found(m.start(), m.end() - (2 if re.search(r"['\u2019]s$", word) else 0), "NAME"))
    return found


def occurrences(text: str, terms: Iterable[str], kind: str) -> list[Found]:
    """Every whole-word, case-sensitive occurrence of `terms` in `text`, as `kind`, with a
    possessive ('s) kept outside."""
    terms = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    if not terms:
        return []
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(t) for t in terms) + r")(?![\w])")
    return [Found(m.start(), m.end(), kind) for m in pattern.finditer(text)]


def keep_spans(text: str, keep: Iterable[str]) -> list[tuple[int, int]]:
    """Where the keep terms occur (case-insensitive, whole words)."""
    terms = sorted({t for t in keep if t.strip()}, key=len, reverse=True)
    if not terms:
        return []
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(t) for t in terms) + r")(?![\w])", re.IGNORECASE)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]
