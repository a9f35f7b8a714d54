"""benchmarks/highlights_import.py: the codebook as a team exports it from Taguette."""

from benchmarks.highlights_import import split, write_codebook_table
from pipeline import load_codebook
from pipeline.codebook import thin_codes


def test_the_codebook_table_reads_back_as_the_codes_ids_and_definitions_alone(tmp_path):
    full = load_codebook("codebook/mi_client_talk.yaml")
    table = load_codebook(write_codebook_table("codebook/mi_client_talk.yaml", tmp_path / "codebook.csv"))
    assert table.code_ids == full.code_ids
    assert [" ".join(c.definition.split()) for c in table.codes] == [" ".join(c.definition.split()) for c in full.codes]
    assert any(c.examples for c in full.codes)  # the YAML has more than the table carries
    assert thin_codes(table) == table.code_ids


def test_only_coded_rows_are_highlights_and_the_first_documents_are_imported():
    rows = [
        {"id": str(i), "text": f"t{i}", "labels": labels, "source": doc}
        for i, (doc, labels) in enumerate([("a", ["x"]), ("a", []), ("b", ["y"]), ("c", ["x"]), ("d", [])])
    ]
    first, rest = split(rows, 0.5)
    assert [r["id"] for r in first] == ["0", "2"]
    assert [r["id"] for r in rest] == ["3"]


def test_the_first_n_documents_can_be_imported_instead_of_a_fraction():
    rows = [{"id": str(i), "text": f"t{i}", "labels": ["x"], "source": doc} for i, doc in enumerate("aabbbcd")]
    first, rest = split(rows, 0.0, documents=2)
    assert [r["id"] for r in first] == ["0", "1", "2", "3", "4"]
    assert [r["source"] for r in rest] == ["c", "d"]
