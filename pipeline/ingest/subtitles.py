"""Timed transcripts from Zoom/Teams: WebVTT (`.vtt`) and SubRip (`.srt`), via webvtt-py.

Speakers come from `<v Name>` voice tags or a `Name:` prefix; a cue with neither
continues the previous speaker. Consecutive cues of one speaker merge into one turn. The
normalised text is one `Speaker: words` line per turn, and each cue's span in it keeps
its times, so passages carry start/end timestamps.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..schemas import Cue, Transcript, Turn
from .decode import decode, read_bytes
from .text import LABEL_RE, _role

TIME = {"vtt": r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}", "srt": r"\d{2,}:[0-5]\d:[0-5]\d,\d{3}"}


def _check_timings(path: Path, text: str, fmt: str) -> None:
    """webvtt-py skips some malformed cues silently: check every timing line first."""
    pattern = re.compile(rf"^\s*{TIME[fmt]}\s+-->\s+{TIME[fmt]}(?:\s.*)?$")
    for n, line in enumerate(text.split("\n"), start=1):
        if "-->" in line and not pattern.match(line):
            raise InputError(path, f"malformed cue timing {line.strip()[:60]!r}", n)
    if fmt == "vtt" and not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise InputError(path, "a WebVTT file must start with 'WEBVTT'", 1)


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    return round(sum(float(p) * 60**i for i, p in enumerate(reversed(parts))), 3)


def read_subtitles(path: Path, *, config: Config) -> list[Transcript]:
    import webvtt

    fmt = path.suffix.lower().lstrip(".")
    raw, digest = read_bytes(path)
    warnings: list[str] = []
    source = decode(path, raw, warnings)
    _check_timings(path, source, fmt)
    try:
        captions = list(webvtt.from_buffer(io.StringIO(source), format=fmt))
    except Exception as err:  # webvtt-py's own parse errors
        raise InputError(
            path, f"not a valid {fmt.upper()} file: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        ) from None
    # (speaker, [(words, t_start, t_end)]) per turn
    turns: list[tuple[str, list[tuple[str, float, float]]]] = []
    speaker = "speaker"
    for cap in captions:
        words = " ".join(cap.text.split())
        if cap.voice:
            speaker = cap.voice.strip()
        elif m := LABEL_RE.match(words):
            speaker, words = m.group("label").strip(), words[m.end() :]
        if not words:
            continue
        piece = (words, _seconds(cap.start), _seconds(cap.end))
        if turns and turns[-1][0] == speaker:
            turns[-1][1].append(piece)
        else:
            turns.append((speaker, [piece]))
    if not turns:
        raise InputError(path, "no cues with text")
    interviewers = {s.lower() for s in config.interviewer_labels}
    text, out_turns, cues = "", [], []
    for index, (who, pieces) in enumerate(turns):
        text += f"{who}: "
        start = len(text)
        for i, (words, t0, t1) in enumerate(pieces):
            if i:
                text += " "
            cues.append(Cue(start=len(text), end=len(text) + len(words), t_start=t0, t_end=t1))
            text += words
        out_turns.append(
            Turn(index=index, speaker=who, is_interviewer=_role(who) in interviewers, start=start, end=len(text))
        )
        text += "\n"
    return [
        Transcript(
            id=path.stem,
            source=str(path),
            source_sha256=digest,
            text=text,
            turns=out_turns,
            cues=cues,
            warnings=warnings,
        )
    ]
