"""Direct identifiers found by their shape: email addresses, web addresses, UK phone
numbers (Google's libphonenumber, through `phonenumbers`), NHS numbers (10 digits whose
last is the mod-11 check digit), UK postcodes, National Insurance numbers, dates of birth
(a date said to be one: numeric, written or spoken, with or without the year), and
reference numbers (case, claim, account, record, staff and incident numbers: letters and
digits with separators, a long run of digits, or a number after such a word). Other dates,
years, months, counts and amounts are not identifiers and are left alone."""

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
POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRV-Y\d]?) ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
# two letters, six digits, A-D: looser than HMRC's rules for the prefix (its own examples
# use QQ), since that shape hardly occurs in talk otherwise
NI_NUMBER = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth"
    "|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-\\w+|twenty \\w+|thirtieth|thirty-first|thirty first"
)
DAY = rf"(?:the )?(?:\d{{1,2}}(?:st|nd|rd|th)?|{ORDINALS})"
DATE = (
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?(?: of)? (?:{MONTHS})\.?,? \d{{2,4}}|(?:{MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,?"
    r" \d{2,4}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})"
)
# after "born", "date of birth", "DOB" or "birthday" (and a few joining words): a numeric
# date, or a day and month written or spoken, with the year or without
SPOKEN = (
    rf"{DAY}(?: of)? (?:{MONTHS})\b\.?(?:,? (?:\d{{4}}|nineteen[- ]\w+(?:[- ]\w+)?))?|(?:{MONTHS})\.? {DAY}\b(?:,?"
    r" \d{4})?"
)
DATE_OF_BIRTH = re.compile(
    rf"\b(?:born|date of birth|d\.o\.b\.?|dob|birthday|birth date)(?:['\u2019]s)?(?:[ ,:]+(?:is|was|as|on|being|of))*["
    rf" ,:]+"
    rf"(?P<date>\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|{SPOKEN})",
    re.IGNORECASE,
)
# references: a word that says one follows, then within a few words a number of at least
# four digits (letters and separators allowed); or a shape no other text has: capital
# letters joined to digits with / or - (HSG/2023/00412, CMP-2024-08817), letters then five
# or more digits (C0098812), or eight or more digits in groups (4471 0923 5566)
REFERENCE_CUE = (
    r"\b(?:references?|ref|case|claims?|account|accounts|record|records|hospital|staff|employee|payroll|client|patient"
    r"|incident|log|mrn|id|membership|policy|tenancy|invoice|order|serial|registration"
    r"|crime|ticket|docket|datix|steis|cad|collar|badge|warrant|referral|complaint|foi|sar|licence|license|permit"
    r"|passport|student|pupil|candidate|booking|tracking|parcel|pin|casefile|caseworker|safeguarding)\b"
)
# words that name a number only when "number", "no.", "ref" or "id" follows them ("job
# number 55102", "the form reference 2231"), never alone ("a report of 2000 people")
WEAK_CUE = (
    r"\b(?:report|request|form|application|call|job|file|folder|matter|unit|vehicle|visit|appointment|bed|contract"
    r"|certificate|document|letter|message|query|enquiry|inquiry|plan|assessment|benefit|council tax|housing)"
    r"(?:[ ,:#]+(?:no\.?|number|num|reference|ref|id|code))+"
)
REF_TOKEN = r"(?:[A-Z]{1,4}[ -]?)?\d[\d/ -]*\d(?:[ /-]?[A-Z]{1,2}\b)?|[A-Z]{1,4}\d{4,}"
REFERENCE_AFTER_CUE = re.compile(
    rf"(?:{REFERENCE_CUE}|{WEAK_CUE})"
    rf"(?:[ ,:#]+(?:no\.?|number|numbers|num|reference|ref|is|was|as|of|straight away|quoted|id|code|it's|its))*["
    rf" ,:#]+(?P<ref>{REF_TOKEN})",
    re.IGNORECASE,
)
REFERENCE_SHAPE = re.compile(
    r"(?<![\w/-])(?:[A-Z]{1,5}(?:[/-][A-Z0-9]*\d[A-Z0-9]*){1,3}(?:[/-][A-Z]{1,2})?|[A-Z]{1,3}\d{5,}|[A-Z]{1,4}"
    r" \d{3,5}(?: \d{3,5})+|\d{3,5}(?:[ -]\d{2,5}){2,3})(?![\w/-])"
)
NOT_REFERENCE = re.compile(r"^(?:COVID-19|SARS-COV-2|NHS-\d+|[A-Z]\d{1,3}|(?:19|20)\d\d(?:[/-]\d\d)?)$", re.IGNORECASE)


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


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _amount_or_count(text: str, start: int, end: int) -> bool:
    """Money, a percentage, a year or a plain count: not a reference."""
    before, after = text[max(0, start - 2) : start], text[end : end + 12].lower()
    return (
        "£" in before
        or "$" in before
        or after.lstrip().startswith(
            ("%", "per cent", "percent", "million", "billion", "k ", "beds", "people", "staff")
        )
    )


def _shape_digits(ref: str) -> int:
    """Digits a shape needs to be a reference: three where capitals, digits and a letter
    after a separator make it plainly a code (SG-771-B, HR/204/K), else four."""
    return 3 if re.fullmatch(r"[A-Z]{1,5}[/-]\d{3,}[/-][A-Z]{1,2}", ref) else 4


def _references(text: str) -> Iterator[Found]:
    for m in REFERENCE_AFTER_CUE.finditer(text):
        ref = m.group("ref").rstrip(" -/")
        start = m.start("ref")
        end = start + len(ref)
        if _digits(ref) >= 4 and not NOT_REFERENCE.match(ref) and not _amount_or_count(text, start, end):
            yield Found(start, end, "REFERENCE")
    for m in REFERENCE_SHAPE.finditer(text):
        ref = m.group()
        if (
            _digits(ref) >= _shape_digits(ref)
            and not NOT_REFERENCE.match(ref)
            and not _amount_or_count(text, m.start(), m.end())
        ):
            if not re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", ref):  # a date
                yield Found(m.start(), m.end(), "REFERENCE")


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
    found += list(_references(text))
    return found
