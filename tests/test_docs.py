from pipeline.cli.docs import render

from .conftest import REPO


def test_cli_reference_is_generated_from_help():
    assert (REPO / "docs" / "cli.md").read_text() == render(), "run: python -m pipeline.cli.docs > docs/cli.md"


def test_readme_opens_with_the_two_commands():
    head = (REPO / "README.md").read_text()[:1200]
    assert "make demo" in head and "make test" in head
