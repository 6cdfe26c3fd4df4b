"""The JSON report's text: the document ``json.dumps`` gives, laid out for people."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from pcapkit.cli import main
from pcapkit.report import report_json

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())

VALUES = [
    {}, [], "é\n\"", 1.5, None, True, {"a": {}}, {"a": []}, [[1], [[2]], []],
    {"a": [{"b": [1, {"c": 2.25}]}, {"d": None}], "e": {"f": "g"}},
    {1: [1], None: {"x": [1]}, 2.5: [{}], False: {"y": 1}},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_text_reads_back_as_the_value(value) -> None:
    text = report_json(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert json.dumps(json.loads(text)) == json.dumps(value)  # same key order


def test_nan_is_written_as_json_dumps_writes_it() -> None:
    assert math.isnan(json.loads(report_json({"x": [float("nan")], "y": {"z": []}}))["x"][0])


def test_layout_one_line_per_plain_object_indented_above() -> None:
    value = {"summary": {"files": 2, "by": {"high": 1}},
             "findings": [{"id": "a", "src": {"ip": "10.0.0.1", "port": 53},
                           "evidence": [{"frame": 1}, {"frame": 2}], "tags": []}]}
    assert report_json(value) == "\n".join([
        "{",
        '  "summary": {',
        '    "files": 2,',
        '    "by": {"high": 1}',
        "  },",
        '  "findings": [',
        "    {",
        '      "id": "a",',
        '      "src": {"ip": "10.0.0.1", "port": 53},',
        '      "evidence": [',
        '        {"frame": 1},',
        '        {"frame": 2}',
        "      ],",
        '      "tags": []',
        "    }",
        "  ]",
        "}"])


def test_the_demo_report_follows_the_schema_in_fewer_lines() -> None:
    result = CliRunner().invoke(main, ["analyze", str(ROOT / "fixtures" / "demo"),
                                       "--format", "json", "-q"])
    assert result.exit_code in (0, 1), result.stderr
    text = result.stdout
    report = json.loads(text)
    jsonschema.validate(report, SCHEMA)
    assert report["findings"] and text.endswith("}\n")
    assert text == report_json(report) + "\n"
    assert text.count("\n") < json.dumps(report, indent=2).count("\n") / 2
    packets = [line for line in text.splitlines() if '"frame": ' in line]
    assert packets and all(line.startswith('        {"file": ') and line.endswith(("},", "}"))
                           for line in packets)  # one evidence packet a line
