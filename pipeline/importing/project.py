"""What any imported project becomes before qcode writes it: documents (full texts, with
their participants' attributes), the exact coded selections, and the codebook.

Readers (`qdpx.py`, `segments.py`) produce an `ImportedProject`; `write.py` turns it into
a folder qcode reads. A problem in the file (an unknown code, a selection outside its
source, a missing source) is one line in `problems`, and the rest is imported.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..schemas import Review


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(_Part):
    name: str  # the document's name in the tool: the transcript id qcode gives it
    text: str
    attributes: dict[str, str] = {}
    survey: bool = False  # a respondent's answer (qcode's own survey sources): one passage


class Selection(_Part):
    """A coded stretch of a document: `document.text[start:end]` (code points, end
    exclusive), or only its `text` where the tool exported no document (a segment table)."""

    document: str
    start: int | None = None
    end: int | None = None
    text: str
    codes: list[str] = []
    coder: str  # the tool's user, else "imported"
    machine: bool = False  # qcode's own machine codes, exported: not a decision
    decisions: list[Review] = []  # decisions written by qcode's export, carried exactly


class ImportedProject(_Part):
    origin: str  # the tool that wrote the file, as it says
    codebook: dict
    documents: list[Document] = []
    selections: list[Selection] = []
    problems: list[str] = Field(default_factory=list)
