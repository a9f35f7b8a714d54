"""One exception type for bad input, rendered as a single `FILE[:LINE]: message` line."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input a user can fix. The CLI prints `str(err)` and exits 1, no traceback."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def format_location(loc: tuple[int | str, ...]) -> str:
    """`("codes", 3, "examples")` -> `codes[3].examples`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_messages(err) -> list[str]:
    """A pydantic ValidationError as `location: message` lines, one per problem.

    Model-level validators may report several problems joined by '; ', each already
    carrying its own location.
    """
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required field missing"
        loc = format_location(tuple(e["loc"]))
        for part in msg.split("; "):
            lines.append(f"{loc}: {part}" if loc else part)
    return lines


class InputErrors(Exception):
    """Every problem found in one input, each an `InputError`; nothing was written."""

    def __init__(self, errors: list[InputError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class UsageError(Exception):
    """Bad usage (options that do not make sense together): the CLI exits 2."""
