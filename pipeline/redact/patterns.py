"""Direct identifiers found by their shape: email addresses, web addresses, UK phone
numbers (Google's libphonenumber, through `phonenumbers`), NHS numbers (10 digits whose
last is the mod-11 check digit), UK postcodes, National Insurance numbers, and dates of
birth (a date said to be one). Other dates, months and amounts are not identifiers and are
left alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True, order=True)
class Found:
    """`text[start:end]` is an identifier of `kind` (PERSON, ORG, PLACE, EMAIL, ...)."""

    start: int
    end: int
    kind: str


EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]"  # with a scheme or www
    r"|(?<![@\w.-])\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:co\.uk|org\.uk|nhs\.uk|gov\.uk|ac\.uk|com|org|net|uk|io|info)(?:/[^\s<>\"')\]]*[^\s<>\"')\].,;:!?])?(?![\w@.])",
    re.IGNORECASE,
)
NHS_NUMBER = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRV-Y\d]?) ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
# two letters, six digits, A-D: looser than HMRC's rules for the prefix (its own examples
# use QQ), since that shape hardly occurs in talk otherwise
NI_NUMBER = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
DATE = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?(?: of)? (?:{MONTHS})\.?,? \d{{2,4}}|(?:{MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{2,4}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}})"
DATE_OF_BIRTH = re.compile(
    rf"(?:\b(?:born(?: on)?|date of birth(?: is| was|:)?|d\.?o\.?b\.?:?|birthday(?: is| was)?)\s+)(?P<date>{DATE})", re.IGNORECASE
)


def nhs_number_valid(digits: str) -> bool:
    """The NHS number check: weights 10..2 on the first nine digits, 11 - sum mod 11."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _nhs_numbers(text: str) -> Iterator[Found]:
    for m in NHS_NUMBER.finditer(text):
        if nhs_number_valid("".join(m.groups())):
            yield Found(m.start(), m.end(), "NHS_NUMBER")


def _phones(text: str) -> Iterator[Found]:
    for match in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE):
        if match.raw_string.lstrip("(").startswith(("+", "0")):  # a UK number is dialled with 0 or +
            yield Found(match.start, match.end, "PHONE")


def find_patterns(text: str) -> list[Found]:
    """Every direct identifier in `text` (overlaps are settled later, the longest first)."""
    found: list[Found] = []
    found += [Found(m.start(), m.end(), "EMAIL") for m in EMAIL.finditer(text)]
    found += [Found(m.start(), m.end(), "URL") for m in URL.finditer(text)]
    found += list(_nhs_numbers(text))
    found += list(_phones(text))
    found += [Found(m.start(), m.end(), "POSTCODE") for m in POSTCODE.finditer(text)]
    found += [Found(m.start(), m.end(), "NI_NUMBER") for m in NI_NUMBER.finditer(text)]
    found += [Found(m.start("date"), m.end("date"), "DATE_OF_BIRTH") for m in DATE_OF_BIRTH.finditer(text)]
    return found
