"""The house rules, checked on the source: no import cycle in `pipeline/` (imports inside
functions count too), nothing below the CLI imports the CLI, no module imports the
package root, no function longer than 60 lines, and a wheel that holds every module."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "pipeline"
MAX_LINES = 60


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The pipeline modules `name` imports, at the top or inside functions."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
            submodules = {f"{target}.{a.name}" for a in node.names} & set(known)
            out |= submodules  # `from . import common`: the module common, not the package
            if len(submodules) < len(node.names) and target in known:
                out.add(target)
            out.discard(name)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known and a.name != name}
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                return stack[stack.index(w) :] + [w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(edges):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_no_import_cycle_and_layers_point_down():
    edges = graph()
    assert cycle(edges) is None, " -> ".join(cycle(edges))
    for name, targets in edges.items():
        if not name.startswith("pipeline.cli") and name != "pipeline.__main__":
            assert not {t for t in targets if t.startswith("pipeline.cli")}, f"{name} imports the CLI"
        if name != "pipeline" and name != "pipeline.__main__":
            assert "pipeline" not in targets, f"{name} imports the package root (import from its module instead)"


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_function_over_60_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "\n".join(long)


def test_a_wheel_of_the_project_holds_every_module_and_data_file(tmp_path):
    """`pip install .` (not only the editable install the Makefile makes) gets the whole
    package: a wheel built from a clean copy of the source (no egg-info or build folder
    left by an earlier install) holds every module and packaged data file."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "pipeline", source / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        check=True,
        capture_output=True,
        cwd=source,
    )
    (wheel,) = tmp_path.glob("qcode-*.whl")
    held = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        p.relative_to(REPO).as_posix()
        for p in PACKAGE.rglob("*")
        if p.suffix in {".py", ".yaml", ".js", ".css", ".html"}
    }
    assert wanted and not wanted - held, sorted(wanted - held)
