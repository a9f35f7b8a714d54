"""REFI-QDA 1.0 exchange files, read by NVivo, ATLAS.ti, MAXQDA, QualCoder and Taguette.

- `.qdc`: a codebook (namespace urn:QDA-XML:codebook:1.0). Themes become non-codable
  parent codes, codes their codable children; the single Description of a code holds the
  definition, rules, examples and keywords in labelled sections (and the qcode id), so
  `import_qdc` can read them back.
- `.qdpx`: a zip of `project.qde` (urn:QDA-XML:project:1.0) and `sources/`: every
  transcript's normalised text as a TextSource, each coded passage a PlainTextSelection
  (code-point offsets into that text, end exclusive) with one Coding per code; the
  machine and each reviewer are separate Users; each reviewer's decision is also a
  `qcode review: {...}` line in the selection's Description (a rejected passage is a
  selection without Codings); participants are Cases whose attributes are Variables.

GUIDs are uuid5 of stable names, and zip entries have fixed dates, so the same inputs
give byte-identical files.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from ..codebook.qdc import SECTIONS
from ..errors import InputError
from ..ingest import SURVEY_SUFFIXES
from ..outputs import text_file_name
from ..reviewing.reviews import codes_for, decisions_of
from ..schemas import Codebook
from ..store import read_excerpts
from ..version import __version__

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"
GUID_NAMESPACE = uuid.UUID("8f2b7f0e-6c1e-5b3a-9d7e-2f4a6c8e0b1d")
PALETTE = ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF"]
ZIP_DATE = (2000, 1, 1, 0, 0, 0)


def guid(*parts: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(parts)))


def describe(code) -> str:
    """One Description holding every part of a code entry, in labelled sections."""
    lines = [code.definition.strip()]
    for title, items in zip(SECTIONS, (code.include, code.exclude, code.examples, code.counterexamples, code.keywords)):
        if items:
            lines += ["", f"{title}:"] + [f"- {' '.join(item.split())}" for item in items]
    lines += ["", f"qcode id: {code.id}"]
    return "\n".join(lines)


def _codes_element(parent: ET.Element, codebook: Codebook, ns: str) -> dict[str, str]:
    """Append <Codes> to parent; return code id -> guid."""
    codes_el = ET.SubElement(parent, f"{{{ns}}}Codes")
    ids: dict[str, str] = {}
    themes = {t.id: t for t in codebook.themes}
    theme_el: dict[str, ET.Element] = {}
    for i, theme in enumerate(codebook.themes):
        el = ET.SubElement(
            codes_el,
            f"{{{ns}}}Code",
            guid=guid("theme", theme.id),
            name=theme.name,
            isCodable="false",
            color=PALETTE[i % len(PALETTE)],
        )
        description = (theme.description or "").strip()
        ET.SubElement(el, f"{{{ns}}}Description").text = f"{description}\n\nqcode id: {theme.id}".strip()
        theme_el[theme.id] = el
    for i, code in enumerate(codebook.codes):
        parent_el = theme_el[code.theme] if code.theme in themes else codes_el
        ids[code.id] = guid("code", code.id)
        el = ET.SubElement(
            parent_el,
            f"{{{ns}}}Code",
            guid=ids[code.id],
            name=code.name,
            isCodable="true",
            color=PALETTE[i % len(PALETTE)],
        )
        ET.SubElement(el, f"{{{ns}}}Description").text = describe(code)
    return ids


def _serialise(root: ET.Element, ns: str) -> bytes:
    ET.register_namespace("", ns)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def codebook_qdc(codebook: Codebook) -> bytes:
    root = ET.Element(f"{{{CODEBOOK_NS}}}CodeBook", origin=f"qcode {__version__}")
    _codes_element(root, codebook, CODEBOOK_NS)
    return _serialise(root, CODEBOOK_NS)


def _q(tag: str) -> str:
    return f"{{{PROJECT_NS}}}{tag}"


MACHINE = guid("user", "qcode machine")


def project_qde(out_dir: Path, codebook: Codebook, source: str = "final") -> tuple[bytes, dict[str, str]]:
    """(project.qde bytes, {path in zip: text}) for a qcode output folder."""
    excerpts = read_excerpts(out_dir / "excerpts.jsonl")
    root = ET.Element(_q("Project"), name=f"qcode: {codebook.name}", origin=f"qcode {__version__}")
    user_guid = _users(root, excerpts)
    code_guid = _codes_element(ET.SubElement(root, _q("CodeBook")), codebook, PROJECT_NS)
    by_transcript: dict[str, list] = {}
    for e in excerpts:
        by_transcript.setdefault(e.transcript, []).append(e)
    _cases(root, excerpts, by_transcript)
    sources = ET.SubElement(root, _q("Sources"))
    files: dict[str, str] = {}
    for t in sorted(by_transcript):
        text_path = out_dir / "sources" / text_file_name(t)
        try:
            text = text_path.read_text(encoding="utf-8")
        except OSError:
            raise InputError(text_path, "normalised text missing: rerun `qcode code` into this folder") from None
        files[f"sources/{guid('source', t)}.txt"] = text
        src = ET.SubElement(
            sources,
            _q("TextSource"),
            guid=guid("source", t),
            name=t,
            plainTextPath=f"internal://{guid('source', t)}.txt",
        )
        if Path(by_transcript[t][0].source).suffix.lower() in SURVEY_SUFFIXES:  # read back as an answer
            ET.SubElement(src, _q("Description")).text = "qcode source: survey"
        for e in sorted(by_transcript[t], key=lambda x: (x.start, x.id)):
            if text[e.start : e.end] != e.text:
                raise InputError(
                    text_path, f"excerpt {e.id} does not match the stored text (was the transcript recoded elsewhere?)"
                )
            _selection(src, e, source, user_guid, code_guid)
    return _serialise(root, PROJECT_NS), files


def _users(root: ET.Element, excerpts) -> dict[str, str]:
    """The machine and each reviewer as Users; reviewer -> GUID."""
    reviewers = sorted(
        {d.reviewer or "(unnamed)" for e in excerpts for d in decisions_of(e, "(unnamed)") if d.status != "pending"}
    )
    users = ET.SubElement(root, _q("Users"))
    ET.SubElement(users, _q("User"), guid=MACHINE, name="qcode (machine)", id="qcode")
    for r in reviewers:
        ET.SubElement(users, _q("User"), guid=guid("user", r), name=r)
    return {r: guid("user", r) for r in reviewers}


def _cases(root: ET.Element, excerpts, by_transcript: dict[str, list]) -> None:
    """Participants as Cases, their attributes as Variables."""
    attr_names = sorted({k for e in excerpts for k in e.attributes})
    if attr_names:
        variables = ET.SubElement(root, _q("Variables"))
        for name in attr_names:
            ET.SubElement(variables, _q("Variable"), guid=guid("variable", name), name=name, typeOfVariable="Text")
    cases = ET.SubElement(root, _q("Cases"))
    for t in sorted(by_transcript):
        case = ET.SubElement(cases, _q("Case"), guid=guid("case", t), name=t)
        for name, value in sorted(by_transcript[t][0].attributes.items()):
            vv = ET.SubElement(case, _q("VariableValue"))
            ET.SubElement(vv, _q("VariableRef"), targetGUID=guid("variable", name))
            ET.SubElement(vv, _q("TextValue")).text = value
        ET.SubElement(case, _q("SourceRef"), targetGUID=guid("source", t))


def _selection(src: ET.Element, e, source: str, user_guid: dict[str, str], code_guid: dict[str, str]) -> None:
    """A passage with codes or decisions as a PlainTextSelection: a Coding per code, each
    decision a `qcode review:` line of its Description."""
    codings = _codings(e, source)
    decided = [d for d in (e.reviews or [e.review]) if d.status != "pending"] if source in ("reviewed", "final") else []
    if not codings and not decided:
        return
    sel = ET.SubElement(
        src, _q("PlainTextSelection"), guid=guid("selection", e.id), name=e.id,
        startPosition=str(e.start), endPosition=str(e.end), creatingUser=MACHINE,
    )  # fmt: skip
    lines = [f"speaker: {e.speaker}"] + ([f"question: {e.context}"] if e.context else [])
    ET.SubElement(sel, _q("Description")).text = "\n".join(lines + [review_line(d) for d in decided])
    for who, code in codings:
        user = MACHINE if who is None else user_guid[who]
        c = ET.SubElement(sel, _q("Coding"), guid=guid("coding", e.id, who or "machine", code), creatingUser=user)
        ET.SubElement(c, _q("CodeRef"), targetGUID=code_guid[code])


REVIEW_PREFIX = "qcode review: "


def review_line(review) -> str:
    """A decision in a selection's Description, so `qcode import project` gets back its
    status, codes, note and time exactly (a rejected passage has no Coding to carry it)."""
    import json

    keep = review.model_dump(include={"status", "codes", "reviewer", "note", "reviewed_at"})
    return REVIEW_PREFIX + json.dumps(keep, ensure_ascii=False, sort_keys=True)


def _codings(excerpt, source: str) -> list[tuple[str | None, str]]:
    """(reviewer or None for the machine, code) pairs to export for one excerpt."""
    decisions = [d for d in decisions_of(excerpt, "(unnamed)") if d.status != "pending"]
    out: list[tuple[str | None, str]] = []
    if source in ("reviewed", "final") and decisions:
        for d in decisions:
            out += [(d.reviewer or "(unnamed)", c) for c in sorted(d.codes or [])]
    elif source in ("machine", "final"):
        out += [(None, c) for c in codes_for(excerpt, "machine") or []]
    return out


def write_qdpx(path: Path, project: bytes, files: dict[str, str]) -> None:
    """A deterministic zip: fixed dates, sorted entries."""
    from ..io import atomic_write

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        entries = {"project.qde": project, **{k: v.encode("utf-8") for k, v in files.items()}}
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, entries[name])
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


# --- import -----------------------------------------------------------------------------
