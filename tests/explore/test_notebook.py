"""docs/notebooks/investigate-incident.ipynb: executed with nbclient on a real ipykernel
(any error fails), and committed with its outputs, figures included."""

from __future__ import annotations

import nbformat
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOK = ROOT / "docs" / "notebooks" / "investigate-incident.ipynb"


def outputs(notebook) -> list[dict]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


def test_the_committed_copy_keeps_its_outputs() -> None:
    assert NOTEBOOK.is_file(), f"committed notebook missing: {NOTEBOOK}"
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs for cell in code), "a code cell without its output"
    assert not [o for o in outputs(notebook) if o.output_type == "error"]
    figures = [o for o in outputs(notebook) if "image/png" in o.get("data", {})]
    assert len(figures) >= 4                       # ladder, DNS, graph, traffic
    pages = [o["data"]["text/html"] for o in outputs(notebook) if "text/html" in
             o.get("data", {})]
    assert any("policy-drop" in page for page in pages)
    assert any("shop/db-ingress" in page for page in pages)


def test_it_runs_on_a_real_kernel() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    ran = outputs(notebook)
    assert len([o for o in ran if "image/png" in o.get("data", {})]) >= 4
    text = "".join(o.get("text", "") for o in ran if o.output_type == "stream")
    assert "['sll', 'ip', 'tcp']" in text           # the frame pyshark dissected
    assert "###[ TCP ]###" in text                  # the same frame in scapy
