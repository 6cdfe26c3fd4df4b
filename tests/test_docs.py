"""The documentation that is generated from code stays in step with it."""

from __future__ import annotations

from pathlib import Path

from pcapkit.schema import columns_document

ROOT = Path(__file__).resolve().parent.parent


def test_columns_doc_is_current() -> None:
    assert (ROOT / "docs" / "columns.md").read_text() == columns_document(), \
        "docs/columns.md is stale: run `python -m pcapkit.schema > docs/columns.md`"


def test_readme_commands_are_the_ci_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("pip install -e '.[dev]'", "pytest -q"):
        assert command in readme and command in ci
