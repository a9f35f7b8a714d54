"""Walks through the code, traced while it runs: which modules (rooms) a thing passes
through on its way. A room is a pipeline module one of whose functions is handed the
thing (or a container holding it) as an argument; a method of the thing itself (its
`self`) is the thing, not a room. The walk ends when `stop` returns."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


class _Stop(Exception):
    pass


def _holds(value, tracked: Callable[[object], bool], depth: int = 0) -> bool:
    if tracked(value):
        return True
    if depth < 2 and isinstance(value, list | tuple | set | frozenset):
        return any(_holds(v, tracked, depth + 1) for v in list(value)[:50])
    return False


def walk(run: Callable[[], object], tracked: Callable[[object], bool], stop: tuple[str, str]) -> list[str]:
    """The rooms, in the order first entered, from the start of `run` until the function
    `stop` = (module, name) returns."""
    rooms: list[str] = []

    def profile(frame, event, arg):
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module.startswith("pipeline") and module not in rooms:
            code = frame.f_code
            names = [
                n for n in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] if n not in ("self", "cls")
            ]
            if any(_holds(frame.f_locals.get(n), tracked) for n in names):
                rooms.append(module)
        if event == "return" and (module, frame.f_code.co_name) == stop:
            sys.setprofile(None)
            raise _Stop

    sys.setprofile(profile)
    try:
        run()
    except _Stop:
        pass
    finally:
        sys.setprofile(None)
    return rooms


def same_path(target: Path) -> Callable[[object], bool]:
    """Tracks a path however it is spelt (Path or str)."""
    target = Path(target).resolve()

    def tracked(value) -> bool:
        if isinstance(value, str | Path) and len(str(value)) < 4096:
            try:
                return Path(value).resolve() == target
            except (OSError, ValueError):
                return False
        return False

    return tracked


def rooms_of(modules: list[str]) -> list[str]:
    """Modules as rooms: `pipeline.study` -> study; a sub-package is one room
    (`pipeline.cli.learn`, `pipeline.cli.common` -> cli)."""
    out: list[str] = []
    for module in modules:
        room = module.split(".")[1] if "." in module else module
        if room not in out:
            out.append(room)
    return out
