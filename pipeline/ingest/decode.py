"""Bytes to normalised text: BOM-aware decoding, a cp1252 fallback, newline normalisation."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError

BOMS_16 = (b"\xff\xfe", b"\xfe\xff")


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their sha256; an unreadable file is an `InputError`."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    return raw, hashlib.sha256(raw).hexdigest()


def decode(path: Path, raw: bytes, warnings: list[str]) -> str:
    """UTF-8 (BOM allowed), UTF-16 with a BOM, else Windows-1252 with a warning.
    CRLF and CR become LF. Empty, blank and binary files are errors."""
    if raw.startswith(BOMS_16):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(path, "starts with a UTF-16 byte-order mark but is not valid UTF-16") from None
    elif b"\x00" in raw:
        raise InputError(path, "binary file, not text")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            try:
                text = raw.decode("cp1252")
            except UnicodeDecodeError:
                raise InputError(path, "not UTF-8, UTF-16 or Windows-1252 text", line) from None
            warnings.append(f"not UTF-8 (first bad byte on line {line}); read as Windows-1252")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(path, "empty file" if not text else "whitespace only, no text")
    return text


def read_source(path: Path, warnings: list[str] | None = None) -> tuple[str, str]:
    """Return (normalised text, sha256 of the raw bytes). Offsets index the returned text."""
    raw, digest = read_bytes(path)
    return decode(path, raw, warnings if warnings is not None else []), digest
