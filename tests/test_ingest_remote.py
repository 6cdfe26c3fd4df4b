"""Captures at fsspec URLs: copied in, shown by their URL, analysed like local files (on
the local engine and on a Dask cluster), a URL that cannot be read reported as such."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pandas as pd
from click.testing import CliRunner

import pcapkit
from pcapkit.cli import main
from pcapkit.ingest import Inputs

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
SNAPSHOT = DEMO / "cluster.json"


def _captures() -> list[Path]:
    found = sorted(p for p in DEMO.rglob("*") if p.suffix in (".pcap", ".pcapng", ".gz"))
    assert found, f"missing committed fixture {DEMO}"
    return found


def test_a_memory_url_is_read_like_the_local_directory():
    memory = fsspec.filesystem("memory")
    for path in [*_captures(), *sorted(DEMO.glob("*-ifindex.txt"))]:
        memory.pipe(f"/incident/{path.relative_to(DEMO).as_posix()}", path.read_bytes())
    with Inputs(["memory://incident/"]) as inputs:
        assert [f.name for f in inputs.files] == [
            f"memory://incident/{p.relative_to(DEMO).as_posix()}" for p in _captures()]
        assert not inputs.problems
        # each node's ifindex list came along with its capture, and only its own
        assert [f.links.names[4] for f in inputs.files] == ["flannel.1", "flannel.1"]
        assert [f.links.names.get(9) for f in inputs.files] == [None, "veth9a7e0050"]
    remote = pcapkit.open("memory://incident/", snapshot=SNAPSHOT)
    local = pcapkit.open(DEMO, snapshot=SNAPSHOT)
    pd.testing.assert_frame_equal(local.flows, remote.flows)
    assert set(remote.packets["file"].astype(str)) == {f.name for f in remote.inputs.files}
    assert [f.category for f in remote.findings] == [f.category for f in local.findings]


def test_a_file_url_on_a_dask_cluster_gives_what_one_pass_gives(tmp_path):
    from pcapkit.engines.dask import DaskEngine

    url = DEMO.as_uri() + "/"
    one = pcapkit.open(url, snapshot=SNAPSHOT)
    with DaskEngine(workers=2) as engine:
        two = pcapkit.open(url, snapshot=SNAPSHOT, engine=engine, shares=2,
                           work_dir=tmp_path / "shared")
        for name in ("flows", "dns", "points"):
            pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name), obj=name)
        pd.testing.assert_frame_equal(one.findings.frame, two.findings.frame)
        assert all(str(f).startswith(url) for f in two.points["file"])


def test_a_url_that_cannot_be_read_is_reported(tmp_path):
    missing = (tmp_path / "nothing-here").as_uri() + "/"
    with Inputs([missing, str(_captures()[0])]) as inputs:
        assert [str(p) for p in inputs.problems] == [f"{missing}: no such file or directory"]
        assert len(inputs.files) == 1
    result = CliRunner().invoke(main, ["analyze", missing, "-q"])
    assert result.exit_code == 2
    assert "no such file or directory" in result.output
    assert "Traceback" not in result.output
