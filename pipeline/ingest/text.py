"""Plain-text transcripts (`.txt`, `.md`) with speaker labels at the start of lines.

    Interviewer: How did the partnership start?
    Participant: Slowly, to be honest.
    It took a year before...        <- no label: continues the previous turn

Lines before the first label (titles, `#` notes) are a header and are not coded. A file
with no labels at all is one turn by an unnamed participant.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Transcript, Turn
from .decode import read_source

# optional timestamp, then a label of at most 40 characters, a colon, then the words
LABEL_RE = re.compile(
    r"^[ \t]*(?:\[?(?:\d{1,2}:)?\d{1,2}:\d{2}(?:\.\d+)?\]?[ \t]+)?"
    r"(?P<label>[A-Za-z][A-Za-z0-9 .'\u2019\-]{0,39}?)[ \t]*:(?:[ \t]+|$)"
)
ROLE_RE = re.compile(
    r"^(?:interviewer|interviewee|participant|respondent|facilitator|moderator|researcher"
    r"|int|[iqrap])(?:[ .]?\d{1,3})?$",
    re.IGNORECASE,
)
SPEAKER_CODE_RE = re.compile(r"^[A-Z]{1,3}\d{1,3}$")
PSEUDONYM_RE = re.compile(r"^PERSON \d{1,5}$")  # a speaker pseudonymised by qcode redact
# `Jane Smith  00:01:23` alone on a line (Otter, Teams exports): the words follow below
HEADING_RE = re.compile(
    r"^[ \t]*(?P<label>[A-Za-z][A-Za-z0-9 .'\u2019\-]{0,39}?)[ \t]+\(?(?:\d{1,2}:)?\d{1,2}:\d{2}\)?[ \t]*$"
)


def _plausible_name(label: str) -> bool:
    words = label.split()
    return 1 <= len(words) <= 4 and all(w[0].isupper() or w[0].isdigit() for w in words)


def _role(speaker: str) -> str:
    """`Interviewer 2` -> `interviewer`: numbered labels share their role."""
    return re.sub(r"[ .]?\d{1,3}$", "", speaker).lower()


def find_turns(
    text: str, interviewer_labels: tuple[str, ...], known_labels: frozenset[str] = frozenset()
) -> list[Turn]:
    """Split normalised text into speaker turns with offsets into `text`.

    A label counts when it is a known role (`Interviewer`, `I`, `P01`, `Participant 3`...),
    in `known_labels` (e.g. bold in a Word file), or a capitalised name used as a label on
    at least two lines, so a sentence that happens to start `Honestly:` is not a speaker.
    """
    lines = text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    candidates = []  # (line index, match, words start on the next line)
    for i, line in enumerate(lines):
        m = LABEL_RE.match(line)
        if m:
            candidates.append((i, m, False))
        elif (h := HEADING_RE.match(line)) and i + 1 < len(lines):
            candidates.append((i, h, True))
    counts = Counter(m.group("label").strip() for _, m, _ in candidates)

    def is_label(label: str) -> bool:
        return bool(
            label in known_labels
            or ROLE_RE.match(label)
            or SPEAKER_CODE_RE.match(label)
            or PSEUDONYM_RE.match(label)
            or (counts[label] >= 2 and _plausible_name(label))
        )

    starts: list[tuple[int, str, int]] = []  # (line index, speaker, offset of words)
    for i, m, below in candidates:
        if is_label(m.group("label").strip()):
            begin = offsets[i + 1] if below else offsets[i] + m.end()
            starts.append((i, m.group("label").strip(), begin))
    if not starts:
        starts = [(0, "participant", 0)]
    interviewers = {s.lower() for s in interviewer_labels}
    turns = []
    for n, (_line_no, speaker, begin) in enumerate(starts):
        stop = offsets[starts[n + 1][0]] if n + 1 < len(starts) else len(text)
        chunk = text[begin:stop]
        lead = len(chunk) - len(chunk.lstrip())
        body = chunk.strip()
        if not body:
            continue
        start = begin + lead
        turns.append(
            Turn(
                index=len(turns),
                speaker=speaker,
                is_interviewer=_role(speaker) in interviewers,
                start=start,
                end=start + len(body),
            )
        )
    return turns


def transcript_from_text(
    path: Path,
    text: str,
    digest: str,
    *,
    config: Config,
    warnings: list[str],
    known_labels: frozenset[str] = frozenset(),
) -> Transcript:
    turns = find_turns(text, config.interviewer_labels, known_labels)
    if not turns:
        raise InputError(path, "no speaker turns with text")
    return Transcript(id=path.stem, source=str(path), source_sha256=digest, text=text, turns=turns, warnings=warnings)


def read_text(path: Path, *, config: Config) -> list[Transcript]:
    warnings: list[str] = []
    text, digest = read_source(path, warnings)
    return [transcript_from_text(path, text, digest, config=config, warnings=warnings)]
