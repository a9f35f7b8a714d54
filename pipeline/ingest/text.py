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


def _plausible_name(label: str) -> bool:
    words = label.split()
    return 1 <= len(words) <= 4 and all(w[0].isupper() or w[0].isdigit() for w in words)


def _role(speaker: str) -> str:
    """`Interviewer 2` -> `interviewer`: numbered labels share their role."""
    return re.sub(r"[ .]?\d{1,3}$", "", speaker).lower()


def find_turns(text: str, interviewer_labels: tuple[str, ...]) -> list[Turn]:
    """Split normalised text into speaker turns with offsets into `text`.

    A label counts when it is a known role (`Interviewer`, `I`, `P01`, `Participant 3`...)
    or a capitalised name used as a label on at least two lines, so a sentence that
    happens to start `Honestly:` is not taken for a speaker.
    """
    lines = text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    candidates = [(i, LABEL_RE.match(line)) for i, line in enumerate(lines)]
    counts = Counter(m.group("label").strip() for _, m in candidates if m)

    def is_label(label: str) -> bool:
        return bool(
            ROLE_RE.match(label)
            or SPEAKER_CODE_RE.match(label)
            or (counts[label] >= 2 and _plausible_name(label))
        )

    starts: list[tuple[int, str, int]] = []  # (line index, speaker, offset of words)
    for i, m in candidates:
        if m and is_label(m.group("label").strip()):
            starts.append((i, m.group("label").strip(), offsets[i] + m.end()))
    if not starts:
        starts = [(0, "participant", 0)]
    interviewers = {s.lower() for s in interviewer_labels}
    turns = []
    for n, (line_no, speaker, begin) in enumerate(starts):
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


def read_text_transcript(
    path: Path, *, config: Config, attributes: dict[str, str]
) -> Transcript:
    text, digest = read_source(path)
    turns = find_turns(text, config.interviewer_labels)
    if not turns:
        raise InputError(path, "no speaker turns with text")
    return Transcript(
        id=path.stem,
        source=str(path),
        source_sha256=digest,
        text=text,
        turns=turns,
        attributes=attributes,
    )
