"""Bytes to normalised text: BOM-aware decoding and newline normalisation."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError


def read_source(path: Path) -> tuple[str, str]:
    """Return (normalised text, sha256 of the raw bytes). Offsets index the returned text."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if b"\x00" in raw and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(path, "binary file, not text")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(path, "starts with a UTF-16 byte-order mark but is not valid UTF-16") from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            raise InputError(path, "not UTF-8 text", line) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(path, "empty file" if not text else "whitespace only, no text")
    return text, digest
