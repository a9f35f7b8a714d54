"""REFI-QDA codebooks read as qcode codebooks: a `.qdc` file, or the `<Codes>` of a
project (importing/qdpx.py). A code's Description is split back into its fields where
qcode's own export wrote them in labelled sections (export/refi.py `describe`)."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from ..errors import InputError

SECTIONS = ("Include", "Exclude", "Examples", "Counterexamples", "Keywords")


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return s or "code"


def parse_description(text: str) -> dict:
    """Split a Description written by `describe` (or any plain text) into codebook fields."""
    fields: dict = {"definition": [], "id": None}
    current = "definition"
    for line in (text or "").splitlines():
        stripped = line.strip()
        header = stripped.rstrip(":")
        if stripped.endswith(":") and header in SECTIONS:
            current = header.lower()
            fields[current] = []
        elif stripped.startswith("qcode id:"):
            fields["id"] = stripped.split(":", 1)[1].strip()
        elif current == "definition":
            fields["definition"].append(line)
        elif stripped.startswith("- "):
            fields[current].append(stripped[2:])
        elif stripped and fields[current]:
            fields[current][-1] += " " + stripped
    fields["definition"] = "\n".join(fields["definition"]).strip()
    return fields


def import_qdc(path: Path) -> dict:
    """A `.qdc` file as a qcode codebook (a dict ready for YAML)."""
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as err:
        raise InputError(path, f"not a readable .qdc file: {err}") from None
    root = tree.getroot()
    ns = namespace(root)
    if root.tag != f"{{{ns}}}CodeBook":
        raise InputError(path, f"root element is {root.tag}, not a REFI-QDA CodeBook")
    book, _ = codes_to_book(root.find(f"{{{ns}}}Codes"), ns, path)
    book["description"] = f"Imported from {path.name} (REFI-QDA codebook)."
    return book


def namespace(root: ET.Element) -> str:
    """The element's namespace (REFI files use 1.0, some tools still write 0:4)."""
    return root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""


def codes_to_book(codes_el: ET.Element | None, ns: str, path: Path) -> tuple[dict, dict[str, str]]:
    """A REFI `<Codes>` tree as a qcode codebook, and each codable code's GUID -> code id.
    Top-level codes that cannot be coded become themes; nested codes stay under their
    top-level theme."""
    used: set[str] = set()
    themes, codes, ids = [], [], {}

    def unique(base: str) -> str:
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        return candidate

    def own_id(parsed: dict, name: str) -> str:
        return unique(parsed["id"] if parsed["id"] and re.fullmatch(r"[a-z0-9_]+", parsed["id"]) else slug(name))

    def walk(el: ET.Element, theme: str | None) -> None:
        for child in el.findall(f"{{{ns}}}Code"):
            name = child.get("name", "").strip() or "unnamed"
            parsed = parse_description(child.findtext(f"{{{ns}}}Description", default=""))
            codable = child.get("isCodable", "true").lower() in ("true", "1")
            if not codable and theme is None:
                entry = {"id": own_id(parsed, name), "name": name}
                if parsed["definition"]:
                    entry["description"] = parsed["definition"]
                themes.append(entry)
                walk(child, entry["id"])
                continue
            if codable:
                entry = {"id": own_id(parsed, name), "name": name}
                if theme:
                    entry["theme"] = theme
                entry["definition"] = parsed["definition"] or name
                for key in ("include", "exclude", "examples", "counterexamples", "keywords"):
                    if parsed.get(key):
                        entry[key] = parsed[key]
                codes.append(entry)
                ids[child.get("guid", "")] = entry["id"]
            walk(child, theme)

    if codes_el is not None:
        walk(codes_el, None)
    if not codes:
        raise InputError(path, "no codable codes")
    book = {"name": path.stem, "version": "1"}
    if themes:
        book["themes"] = themes
    book["codes"] = codes
    return book, ids
