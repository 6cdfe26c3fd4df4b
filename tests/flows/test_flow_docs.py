"""docs/flows.md lists exactly the flow columns the code produces."""

from __future__ import annotations

from flows_helpers import ROOT

from pcapkit.flows.columns import columns_markdown


def test_flow_column_table_is_current():
    doc = (ROOT / "docs" / "flows.md").read_text()
    assert doc.endswith(columns_markdown()), \
        "docs/flows.md column table is stale: regenerate it from pcapkit.flows.columns"
