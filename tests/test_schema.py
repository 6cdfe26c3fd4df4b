"""The table registry: every table pcapkit builds has exactly its declared columns and dtypes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pcapkit
from pcapkit.schema import DTYPES, IDENTITY_FIELDS, KINDS, TABLES, Column, Table, table
from pcapkit.schema.convert import build_frame, empty_frame, has_kind, mismatches, to_kind

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"

#: incidents whose every table is checked: a two-node capture with a cluster (Service DNAT,
#: DNS, identities), the same without one, a crafted multi-interface pcapng, and a capture
#: with no packets at all (empty tables keep their dtypes too)
INCIDENTS = {
    "kernel-dnat+cluster": ([FIX / "kernel-dnat" / "node1-any.pcap",
                             FIX / "kernel-dnat" / "node2-eth0.pcap"],
                            FIX / "kernel-dnat" / "cluster.json"),
    "kernel": ([FIX / "kernel"], None),
    "gadget-pcapng": ([FIX / "crafted" / "pcapng-three-interfaces-gadget.pcapng"], None),
    "dns-tcp": ([FIX / "crafted" / "dns-tcp.pcap"], None),
}


def _tables(capture: pcapkit.Capture) -> dict[str, pd.DataFrame]:
    """Every registered table as the Capture builds it (``Capture.table``: the stages'
    tables and the analyses' derived ones), and the decoder's own packet table, checked
    against the declaration as it stands after the decode stage."""
    return {"packets@decode": capture.decoded.packets,
            **{name: capture.table(name) for name in TABLES}}


def _declaration(key: str) -> Table:
    name, _, stage = key.partition("@")
    return table(name).at(stage) if stage else table(name)


@pytest.fixture(scope="module", params=list(INCIDENTS))
def built(request) -> dict[str, pd.DataFrame]:
    paths, snapshot = INCIDENTS[request.param]
    for path in [*paths, *([snapshot] if snapshot else [])]:
        assert path.exists(), f"committed fixture {path} is missing"
    return _tables(pcapkit.open(paths, snapshot=snapshot))


CHECKED = ["packets@decode", *TABLES]


def test_the_checks_cover_every_registered_table() -> None:
    assert {key.partition("@")[0] for key in CHECKED} == set(TABLES)


@pytest.mark.parametrize("key", CHECKED)
def test_real_tables_match_their_declarations(built, key) -> None:
    assert list(built) == CHECKED
    assert mismatches(built[key], _declaration(key)) == []


def test_an_incident_without_packets_has_every_column(tmp_path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    tables = _tables(pcapkit.open([empty]))
    per_file = ("interfaces", "capture_points", "clock_offsets")  # one file, one node
    for key, frame in tables.items():
        assert len(frame) == (1 if key in per_file else 0), key
        assert mismatches(frame, _declaration(key)) == [], key


def test_mismatches_names_what_differs() -> None:
    declared = Table("t", "a row", (Column("a", "u16", "A."), Column("b", "str", "B.")))
    good = build_frame(declared, {"a": np.array([1, -1]), "b": ["x", None]})
    assert mismatches(good, declared) == []
    assert good["a"].isna().tolist() == [False, True]
    assert good["b"].isna().tolist() == [False, True]
    wrong = good.assign(a=good["a"].astype("Int64"))
    assert mismatches(wrong, declared) == ["t.a: dtype Int64 is not UInt16 (u16)"]
    assert mismatches(good[["b", "a"]], declared) == ["t: columns out of declared order"]
    assert mismatches(good.assign(c=1), declared) == ["t: undeclared columns ['c']"]
    assert mismatches(good[["a"]], declared) == ["t: missing columns ['b']"]
    with pytest.raises(ValueError, match="undeclared columns \\['c'\\]"):
        build_frame(declared, {"a": [1], "b": ["x"], "c": [2]})


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_converts_and_keeps_missing_values(kind) -> None:
    samples = {"ip": ["10.0.0.1", None], "mac": ["aa:bb:cc:dd:ee:ff", None],
               "category": ["x", None], "str": ["x", None],
               "ts": np.array([1_700_000_000_123_456_789, -1]), "bool": [True, None],
               "u8": np.array([7, -1]), "u16": np.array([7, -1]), "u32": np.array([7, -1]),
               "u64": np.array([7, -1]), "i64": [7, None], "f64": [0.5, None],
               "list": [[1, 2], None]}
    array = to_kind(samples[kind], kind)
    assert has_kind(pd.Series(array), kind), (kind, array.dtype)
    assert str(pd.Series(array).dtype) in (DTYPES[kind], "object") or kind in ("ip", "mac",
                                                                               "category")
    if kind != "list":
        assert pd.isna(pd.Series(array)[1])
    if kind == "ts":
        assert pd.Series(array)[0].value == 1_700_000_000_123_456_789  # every ns digit kept


def test_declarations_are_complete() -> None:
    for declared in TABLES.values():
        assert declared.row and declared.columns
        for column in declared.columns:
            assert column.doc.strip().endswith((".", ")")), (declared.name, column.name)
    assert empty_frame(table("flows")).columns.tolist() == table("flows").names


def test_both_conversation_tables_use_one_vocabulary() -> None:
    """orig_/resp_ ends with the same identity fields in flows and DNS transactions."""
    for name in ("flows", "dns"):
        declared = table(name)
        for end in ("orig", "resp"):
            assert f"{end}_h" in declared and f"{end}_p" in declared
            for field in IDENTITY_FIELDS:
                assert f"{end}_{field.name}" in declared, (name, end, field.name)
        assert not [c for c in declared.names if c.startswith(("client", "server"))]
    assert table("flows")["orig_p"].kind == table("dns")["orig_p"].kind
    assert table("flows")["backend_port"].kind == table("dns")["backend_port"].kind


def test_registry_imports_without_numpy_or_pandas() -> None:
    code = ("import sys, pcapkit.schema as s; assert s.TABLES; "
            "bad = [m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
