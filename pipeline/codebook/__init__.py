"""Load and validate YAML codebooks; the King's Fund 2023 codebook is the default."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import InputError, validation_messages
from ..schemas import Codebook
from .qdc import import_qdc
from .table import TABLE_SUFFIXES, table_codebook

DEFAULT_CODEBOOK_NAME = "kings_fund_2023.yaml"


def default_codebook_path() -> Path:
    """The codebook shipped inside the package (also at `codebook/` in the repository)."""
    return Path(str(resources.files("pipeline.codebook") / DEFAULT_CODEBOOK_NAME))


def resolve_codebook(path: str | Path | None) -> Path:
    """The codebook a command reads: the one given, else the packaged default (the one place
    the default is chosen)."""
    return Path(path) if path else default_codebook_path()


def codebook_problems(data: object) -> list[str]:
    """Every problem in a parsed codebook, each as `location: message`."""
    try:
        Codebook.model_validate(data)
    except ValidationError as err:
        return validation_messages(err)
    return []


def parse_yaml(path: Path) -> object:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    try:
        return yaml.safe_load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(path, f"not valid YAML: {problem}", line) from None


def parse_codebook(path: Path) -> object:
    """A codebook file's data: YAML, a CSV/XLSX table of codes (`table.py`) or a REFI-QDA
    `.qdc` (`qdc.py`)."""
    if path.suffix.lower() in TABLE_SUFFIXES:
        return table_codebook(path)
    if path.suffix.lower() == ".qdc":
        return import_qdc(path)
    return parse_yaml(path)


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load a codebook (YAML, or a CSV/XLSX table), raising `InputError` naming the file
    and every problem in it.

    >>> load_codebook().code_ids[:2]
    ['safe_environment', 'healthy_relationships']
    """
    path = resolve_codebook(path)
    codebook, problems = read_codebook(path)
    if problems:
        raise InputError(path, "; ".join(problems))
    return codebook


def read_codebook(path: Path) -> tuple[Codebook | None, list[str]]:
    """The one codebook reader: a YAML file or a table of codes as a `Codebook`, or None
    and every problem in it as `location: message` (an unreadable file raises)."""
    data = parse_codebook(Path(path))
    if not isinstance(data, dict):
        raise InputError(path, "a codebook is a YAML mapping with name, version and codes")
    problems = codebook_problems(data)
    return (None, problems) if problems else (Codebook.model_validate(data), [])


def is_thin(code) -> bool:
    """Whether a code has a definition and nothing else to tag by (no examples, include
    rules or keywords)."""
    return not (code.examples or code.include or code.keywords)


def thin_codes(codebook: Codebook) -> list[str]:
    """Ids of the thin codes (`is_thin`)."""
    return [c.id for c in codebook.codes if is_thin(c)]


def definitions_only(codebook: Codebook) -> Codebook:
    """The codebook as most researchers keep one: each code's name and definition alone
    (benchmarks use it to show how tagging degrades with codebook richness)."""
    return codebook.model_copy(
        update={
            "name": f"{codebook.name} (definitions only)",
            "codes": [
                c.model_copy(update={k: [] for k in ("include", "exclude", "examples", "counterexamples", "keywords")})
                for c in codebook.codes
            ],
        }
    )


def recorded_path(path: Path) -> str:
    """How a manifest names a codebook: as given, or `(default) NAME` for the packaged one,
    so manifests do not carry this machine's site-packages path."""
    path = Path(path)
    return f"(default) {path.name}" if path.resolve() == default_codebook_path().resolve() else str(path)
