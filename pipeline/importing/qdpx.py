"""REFI-QDA projects (`.qdpx`, or a bare `project.qde` beside its `sources/`), as NVivo,
ATLAS.ti, MAXQDA, QualCoder and qcode write them: the codebook (nested codes -> themes),
every text source, and every coded text selection with its coder.

Sources are read from `plainTextPath` (`internal://` inside the zip, `relative://` or
`absolute://` on disk) or inline `PlainTextContent`; offsets are code points into that
text (REFI-QDA 1.0). A path on disk is read only inside the folder the project lies in,
and no source over MAX_SOURCE_BYTES: a project file from someone else cannot make qcode
import a file from elsewhere on the machine (a pseudonym key, say), nor unpack a zip bomb.
Two sources of one name keep both: the second is renamed, with a problem line. Codings by qcode's own machine user are its suggestions, not
decisions; `qcode review: {...}` lines in a selection's Description carry qcode's
decisions exactly.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

from ..codebook.qdc import codes_to_book, namespace
from ..errors import InputError
from ..export.refi import REVIEW_PREFIX
from ..schemas import Review
from .project import Document, ImportedProject, Selection

IMPORTED = "imported"
MAX_SOURCE_BYTES = 50 * 2**20  # one text source: about ten million words
MAX_PROJECT_BYTES = 200 * 2**20  # project.qde itself


class _Files:
    """The project's XML and its source files, from a zip or a folder."""

    def __init__(self, path: Path):
        self.path = path
        if zipfile.is_zipfile(path):
            self.zip = zipfile.ZipFile(path)
            names = [n for n in self.zip.namelist() if n.lower().endswith(".qde")]
            if not names:
                raise InputError(path, "no project.qde inside: not a REFI-QDA project")
            if self.zip.getinfo(names[0]).file_size > MAX_PROJECT_BYTES:
                raise InputError(path, f"{names[0]} is over {MAX_PROJECT_BYTES // 2**20} MiB: refused")
            with self.zip.open(names[0]) as f:
                self.xml = f.read(MAX_PROJECT_BYTES + 1)
            if len(self.xml) > MAX_PROJECT_BYTES:
                raise InputError(path, f"{names[0]} is over {MAX_PROJECT_BYTES // 2**20} MiB: refused")
            self.entries = {n.lower(): n for n in self.zip.namelist()}
        else:
            self.zip = None
            try:
                self.xml = path.read_bytes()
            except OSError as err:
                raise InputError(path, f"cannot read: {err.strerror or err}") from None

    def read(self, target: str) -> tuple[bytes | None, str | None]:
        """(the bytes a plainTextPath names, None) or (None, why not): a source is read
        only from inside the project file, or from the folder the project lies in, and
        only up to MAX_SOURCE_BYTES (a zip's declared size and its real size alike)."""
        scheme, _, rest = target.partition("://")
        if scheme == "internal" and self.zip is not None:
            for candidate in (f"sources/{rest}", rest):
                if candidate.lower() in self.entries:
                    return self._entry(self.entries[candidate.lower()])
            return None, "is missing"
        base = self.path.parent
        local = {"internal": base / "sources" / rest, "relative": base / rest, "absolute": Path(rest)}.get(
            scheme, base / target
        )
        try:
            inside = local.resolve().is_relative_to(base.resolve())
        except (OSError, ValueError):
            inside = False
        if not inside:
            return None, "lies outside the project's folder: refused"
        if not local.is_file():
            return None, "is missing"
        if local.stat().st_size > MAX_SOURCE_BYTES:
            return None, f"is too large (over {MAX_SOURCE_BYTES // 2**20} MiB): refused"
        return local.read_bytes(), None

    def _entry(self, name: str) -> tuple[bytes | None, str | None]:
        too_large = f"is too large (over {MAX_SOURCE_BYTES // 2**20} MiB): refused"
        if self.zip.getinfo(name).file_size > MAX_SOURCE_BYTES:
            return None, too_large
        with self.zip.open(name) as f:
            data = f.read(MAX_SOURCE_BYTES + 1)  # a lying header cannot make it read more
        return (None, too_large) if len(data) > MAX_SOURCE_BYTES else (data, None)


def _decode(raw: bytes, name: str, problems: list[str]) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(f"source {name!r}: not UTF-8 as REFI-QDA asks; read as Windows-1252")
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_qdpx(path: Path) -> ImportedProject:
    """A REFI-QDA project as an `ImportedProject`; each problem is one line, the rest read."""
    path = Path(path)
    files = _Files(path)
    try:
        root = ET.fromstring(files.xml)
    except ET.ParseError as err:
        raise InputError(path, f"project.qde is not readable XML: {err}") from None
    ns = namespace(root)
    q = lambda tag: f"{{{ns}}}{tag}"  # noqa: E731
    if root.tag != q("Project"):
        raise InputError(path, f"root element is {root.tag}, not a REFI-QDA Project")
    problems = _duplicate_guids(root)
    book, code_ids = codes_to_book(root.find(f"{q('CodeBook')}/{q('Codes')}"), ns, path)
    book.update(
        name=root.get("name") or path.stem,
        description=f"Imported from {path.name} ({root.get('origin') or 'REFI-QDA'}).",
    )
    users = {u.get("guid"): u for u in root.iter(q("User"))}
    machine = {g for g, u in users.items() if u.get("id") == "qcode" or u.get("name") == "qcode (machine)"}
    names = {g: u.get("name") or IMPORTED for g, u in users.items()}
    attributes = _case_attributes(root, q)
    project = ImportedProject(origin=root.get("origin") or "unknown", codebook=book, problems=problems)
    for source in root.iter(q("TextSource")):
        _read_source(source, q, files, project, code_ids, names, machine, attributes)
    for kind in ("PictureSource", "PDFSource", "AudioSource", "VideoSource"):
        for other in root.iter(q(kind)):
            project.problems.append(f"source {other.get('name')!r}: a {kind[:-6].lower()} source, not text: skipped")
    return project


def _duplicate_guids(root: ET.Element) -> list[str]:
    seen = Counter(el.get("guid") for el in root.iter() if el.get("guid"))
    return [f"GUID {g} is used {n} times: the first is used" for g, n in sorted(seen.items()) if n > 1]


def _case_attributes(root: ET.Element, q) -> dict[str, dict[str, str]]:
    """Source GUID -> the attributes of the case(s) it belongs to (Variables by name)."""
    variables = {v.get("guid"): v.get("name") for v in root.iter(q("Variable"))}
    out: dict[str, dict[str, str]] = {}
    for case in root.iter(q("Case")):
        values = {}
        for vv in case.findall(q("VariableValue")):
            ref = vv.find(q("VariableRef"))
            name = variables.get(ref.get("targetGUID")) if ref is not None else None
            value = next((c.text for c in vv if c.tag != q("VariableRef") and c.text), None)
            if name and value is not None:
                values[name] = value.strip()
        for ref in case.findall(q("SourceRef")):
            out.setdefault(ref.get("targetGUID"), {}).update(values)
    return out


def _unique_name(name: str, project: ImportedProject) -> str:
    """`name`, or where another source already has it, `name (2)`, `name (3)`...: two
    sources of one name would overwrite each other's text and codes."""
    taken = {d.name for d in project.documents}
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    project.problems.append(f"source {name[:200]!r}: another source has the same name: imported as {name[:200]} ({n})")
    return f"{name} ({n})"


def _read_source(source, q, files: _Files, project: ImportedProject, code_ids, names, machine, attributes) -> None:
    name = _unique_name(source.get("name") or source.get("guid") or "source", project)
    inline = source.find(q("PlainTextContent"))
    if inline is not None and inline.text is not None:
        text = inline.text
    elif source.get("plainTextPath"):
        raw, why = files.read(source.get("plainTextPath"))
        if raw is None:
            shown = source.get("plainTextPath")[:200]
            project.problems.append(f"source {name!r}: its text {shown} {why}: skipped, with its codings")
            return
        text = _decode(raw, name, project.problems)
    else:
        project.problems.append(f"source {name!r}: no plain text (rich text only): skipped, with its codings")
        return
    description = source.findtext(q("Description"), default="")
    project.documents.append(
        Document(
            name=name,
            text=text,
            attributes=attributes.get(source.get("guid"), {}),
            survey="qcode source: survey" in description,
        )
    )
    for sel in source.findall(q("PlainTextSelection")):
        project.selections += _selection(sel, q, name, text, code_ids, names, machine, project.problems)


def _selection(sel, q, document: str, text: str, code_ids, names, machine, problems: list[str]) -> list[Selection]:
    """The selection's codings, one `Selection` per coder (several coders may code the
    same stretch); none where it has neither a coding nor a qcode decision."""
    try:
        start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
    except (TypeError, ValueError):
        problems.append(f"source {document!r}: selection {sel.get('guid')} has no numeric start and end: skipped")
        return []
    if not 0 <= start < end <= len(text):
        problems.append(
            f"source {document!r}: selection {sel.get('guid')} [{start}, {end}) lies outside its text of {len(text)}"
            " characters: skipped"
        )
        return []
    by_coder: dict[str | None, list[str]] = {}
    for coding in sel.findall(q("Coding")):
        ref = coding.find(q("CodeRef"))
        target = ref.get("targetGUID") if ref is not None else None
        if target not in code_ids:
            problems.append(
                f"source {document!r}: selection {sel.get('guid')} codes {target}, which is not a code in the codebook:"
                " that coding skipped"
            )
            continue
        by_coder.setdefault(coding.get("creatingUser") or sel.get("creatingUser"), []).append(code_ids[target])
    decisions = _decisions(sel.findtext(q("Description"), default=""))
    where = {"document": document, "start": start, "end": end, "text": text[start:end]}
    if decisions:  # qcode's own export: its decisions, exactly
        codes = sorted({c for cs in by_coder.values() for c in cs})
        return [Selection(**where, codes=codes, coder=decisions[0].reviewer or IMPORTED, decisions=decisions)]
    return [
        Selection(**where, codes=sorted(set(codes)), coder=names.get(user, IMPORTED), machine=user in machine)
        for user, codes in by_coder.items()
    ]


def _decisions(description: str) -> list[Review]:
    out = []
    for line in description.splitlines():
        if line.startswith(REVIEW_PREFIX):
            try:
                out.append(Review.model_validate(json.loads(line[len(REVIEW_PREFIX) :])))
            except ValueError:
                continue
    return out
