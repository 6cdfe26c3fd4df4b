"""docs/api.md lists every public name of the API, and its examples run, in order, on the
demo incident."""

from __future__ import annotations

import dataclasses
import os
import re

import pytest
from conftest import ROOT

import pcapkit
from pcapkit.explore import Explanation, Findings, FindingView

API = ROOT / "docs" / "api.md"


def public(cls: type, *instance_attributes: str) -> set[str]:
    """The public names a class defines itself (inherited Sequence helpers aside)."""
    names = {n for n in vars(cls) if not n.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    return names | set(instance_attributes)


def test_every_public_name_is_listed() -> None:
    text = API.read_text()
    listed = {word for quoted in re.findall(r"`([^`\n]+)`", text)
              for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", quoted)}
    capture = public(pcapkit.Capture, *[n for n in vars(pcapkit.open(ROOT / "fixtures"
                                                                     / "demo"))
                                         if not n.startswith("_")])
    view = public(FindingView, "finding", "capture", "rule")
    names = {"open", *pcapkit.__all__} | capture | public(Findings) | view | \
        public(Explanation)
    missing = sorted(names - listed)
    assert not missing, f"docs/api.md does not list {missing}"


def test_the_examples_run(tmp_path, monkeypatch) -> None:
    """Each python block, in order, in one namespace (outputs such as ladder.svg land in a
    scratch directory, not the checkout)."""
    os.symlink(ROOT / "fixtures", tmp_path / "fixtures")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", API.read_text(), flags=re.S)
    assert len(blocks) > 20
    namespace: dict = {}
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - the block and the error, together
            pytest.fail(f"docs/api.md block {number} failed: {exc!r}\n{block}")
    assert (tmp_path / "ladder.svg").stat().st_size > 0
