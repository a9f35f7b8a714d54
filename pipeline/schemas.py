"""Typed records passed between qcode's stages.

Inputs a person writes (codebooks, review objects, gold files) forbid unknown keys so a
typo is an error, not silence. Records qcode produces are frozen.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE_ID_PATTERN = r"^[a-z0-9_]+$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- codebook ---------------------------------------------------------------------------


class Theme(_Input):
    id: str = Field(pattern=CODE_ID_PATTERN)
    name: str = Field(min_length=1)
    description: str | None = None


class Code(_Input):
    id: str = Field(pattern=CODE_ID_PATTERN)
    name: str = Field(min_length=1)
    theme: str | None = None
    definition: str = Field(min_length=1)
    include: list[str] = []
    exclude: list[str] = []
    examples: list[str] = []
    counterexamples: list[str] = []
    keywords: list[str] = []
    notes: list[str] = []  # anything else the researcher keeps about the code; never used to tag

    @field_validator("include", "exclude", "examples", "counterexamples", "keywords")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        for i, item in enumerate(items):
            if not item.strip():
                raise ValueError(f"item {i} is blank")
        return items


class Codebook(_Input):
    name: str = Field(min_length=1)
    version: str
    description: str | None = None
    themes: list[Theme] = []
    codes: list[Code] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # `version: 1.0` in YAML is a float; keep what the author wrote as text.
        return str(value) if isinstance(value, (int, float)) else value

    @model_validator(mode="after")
    def _check_references(self) -> Codebook:
        problems = []
        seen: set[str] = set()
        for i, code in enumerate(self.codes):
            if code.id in seen:
                problems.append(f"codes[{i}].id: duplicate code id {code.id!r}")
            seen.add(code.id)
        theme_ids = [t.id for t in self.themes]
        if len(set(theme_ids)) != len(theme_ids):
            problems.append("themes: duplicate theme id")
        for i, code in enumerate(self.codes):
            if code.theme is not None and code.theme not in theme_ids:
                problems.append(f"codes[{i}].theme: {code.theme!r} is not one of themes[].id {theme_ids}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def code_ids(self) -> list[str]:
        return [c.id for c in self.codes]


# --- transcripts and passages -------------------------------------------------------------


class Turn(_Record):
    """One speaker turn: `text[start:end]` of the transcript's normalised text."""

    index: int
    speaker: str
    is_interviewer: bool
    start: int
    end: int


class Cue(_Record):
    """A timed span of a subtitle file: `text[start:end]` was spoken from `t_start` to `t_end` s."""

    start: int
    end: int
    t_start: float
    t_end: float


class Transcript(_Record):
    id: str
    source: str  # path as given on the command line (relative paths stay relative)
    source_sha256: str
    text: str  # normalised text: offsets are code points into this
    turns: list[Turn]
    attributes: dict[str, str] = {}
    cues: list[Cue] = []  # subtitle timings, for .vtt / .srt
    warnings: list[str] = []  # things the reader skipped or guessed, shown on stderr
    whole_turns: bool = False  # each coded turn is one passage (survey answers, unless split)


class Passage(_Record):
    id: str
    transcript: str
    speaker: str
    turn: int
    start: int
    end: int
    text: str
    context: str | None = None  # the interviewer's question that prompted the turn
    time_start: float | None = None  # seconds, for timed transcripts (.vtt / .srt)
    time_end: float | None = None


# --- tagging ------------------------------------------------------------------------------


class Suggestion(_Record):
    code: str
    score: float = Field(ge=0.0, le=1.0)
    rationale: str


ReviewStatus = Literal["pending", "accepted", "corrected", "rejected"]
STATUSES: tuple[str, ...] = get_args(ReviewStatus)  # in this order wherever they are listed


class Review(BaseModel):
    """What a reviewer edits. Unknown keys are errors so a misspelt field is caught."""

    model_config = ConfigDict(extra="forbid")

    status: ReviewStatus = "pending"
    codes: list[str] | None = None
    reviewer: str | None = None
    note: str | None = None
    reviewed_at: str | None = None
    suggested_by: str | None = None  # the model whose suggestion the reviewer saw: "batch" or "live-N"
    suggested: list[str] | None = None  # the codes it pre-selected

    @model_validator(mode="after")
    def _corrected_needs_codes(self) -> Review:
        if self.status == "corrected" and self.codes is None:
            raise ValueError("status 'corrected' needs 'codes' (use [] for no code)")
        return self


class Excerpt(BaseModel):
    """One line of excerpts.jsonl."""

    model_config = ConfigDict(extra="forbid")

    id: str
    transcript: str
    source: str
    source_sha256: str
    speaker: str
    turn: int
    start: int
    end: int
    text: str
    context: str | None
    time_start: float | None = None
    time_end: float | None = None
    attributes: dict[str, str]
    suggestions: list[Suggestion]
    codes: list[str]
    review: Review = Review()
    reviews: list[Review] = []  # every reviewer's decision, after `qcode review merge`
    disagreement: bool = False  # those decisions give different codes


# The decision rule, written once: a reviewer's codes and the machine's give the status
# (decision_status), and a status gives back the codes (final_codes). Every writer of a
# decision (the page, its bulk action, spreadsheet import, merge, project import) and
# every reader of one goes through these two.


def decision_status(codes: list[str], machine: list[str]) -> ReviewStatus:
    """The machine's codes -> accepted; no code -> rejected; any other codes -> corrected."""
    if set(codes) == set(machine):
        return "accepted"
    return "rejected" if not codes else "corrected"


def final_codes(excerpt: Excerpt) -> list[str] | None:
    """The codes a reviewer settled on, or None while the passage is pending.

    accepted -> the machine's codes; corrected -> review.codes; rejected -> no code.
    """
    status = excerpt.review.status
    if status == "accepted":
        return list(excerpt.codes)
    if status == "corrected":
        return list(excerpt.review.codes or [])
    if status == "rejected":
        return []
    return None


class GoldItem(BaseModel):
    """One line of a gold file for `qcode evaluate` or `qcode learn`. `source` (or
    `transcript`) names the document a row comes from: rows of one document, in file
    order, are each other's neighbours (the passages before and after). Other keys (a
    `sector`) are allowed and ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    text: str = Field(min_length=1)
    labels: list[str]
    source: str | None = None
    transcript: str | None = None

    @field_validator("source", "transcript", mode="before")
    @classmethod
    def _as_text(cls, value):
        return value if value is None or isinstance(value, str) else str(value)

    @property
    def document(self) -> str | None:
        """The document this row belongs to (its `source`, else its `transcript`)."""
        return self.source if self.source is not None else self.transcript
