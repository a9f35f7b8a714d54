"""Run with Taguette's own Python (the .venv-taguette that `make test` installs): make a
Taguette project in Taguette's own database, highlight passages of fictional documents
with tags, and write what Taguette's export code writes (highlights CSV, codebook CSV and
.qdc), so qcode's importer is tested on Taguette's real output.

    .venv-taguette/bin/python tests/tools/taguette_export.py OUT_DIR
"""

import sys
from pathlib import Path

from taguette import database, export

DOCUMENTS = {
    "ICB director": [
        ("We meet the council every fortnight and people say what they really think in that room.", ["trust"]),
        ("The hard part is money: the trust lost two beds and the council lost a post.", ["money", "conflict"]),
        ("Everyone signed up to keeping older people out of hospital, that is our common goal.", ["purpose"]),
    ],
    "VCSE lead": [
        ("We were invited late and felt like the junior partner at the table.", ["power"]),
        ("Once we had a shared aim for the estate, the arguments about who pays got quieter.", ["purpose", "money"]),
        ("There was a row about the contract, but we said it out loud and settled it.", ["conflict"]),
    ],
}
DESCRIPTIONS = {
    "trust": "People feel safe to speak openly and trust each other.",
    "money": "Budgets, funding and posts lost or protected.",
    "conflict": "Disagreements surfaced and worked through.",
    "purpose": "A goal or identity the partners share.",
    "power": "Who holds power, and how it is managed.",
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    db = database.connect("sqlite:///" + str(out / "taguette.sqlite3"))()
    user = database.User(login="admin")
    project = database.Project(name="Collaboration study", description="fictional")
    db.add_all([user, project])
    db.flush()
    tags = {name: database.Tag(project=project, path=name, description=text) for name, text in DESCRIPTIONS.items()}
    db.add_all(tags.values())
    for name, passages in DOCUMENTS.items():
        html = "".join(f"<p>{text}</p>" for text, _ in passages)
        doc = database.Document(
            name=name,
            description="",
            filename=f"{name}.txt",
            project=project,
            text_direction=database.TextDirection.LEFT_TO_RIGHT,
            contents=html,
        )
        db.add(doc)
        db.flush()
        offset = 0
        for text, codes in passages:
            db.add(
                database.Highlight(
                    document_id=doc.id,
                    start_offset=offset,
                    end_offset=offset + len(text),
                    snippet=text,
                    tags=[tags[c] for c in codes],
                )
            )
            offset += len(text)
    db.commit()
    with open(out / "all_tags.csv", "w", newline="") as f:
        export.highlights_csv(db, project.id, "", f)
    for tag in tags.values():
        tag.highlights_count = len(tag.highlights)
        tag.documents_count = len({h.document_id for h in tag.highlights})
    with open(out / "codebook.csv", "w", newline="") as f:
        export.codebook_csv(list(tags.values()), f)
    with open(out / "codebook.qdc", "wb") as f:
        export.codebook_xml(list(tags.values()), f)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
