"""A partitioned run (every per-packet table on disk, shares on worker processes or a
Dask cluster) gives the tables and findings of one pass over the whole incident."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.errors import PcapkitError
from pcapkit.partition.scale import SHARE_BYTES_PER_INPUT_BYTE, Scale

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLES = ("packets", "sightings", "distinct", "clock_offsets", "flows", "dns", "points")


def _open(path: Path, **scale) -> pcapkit.Capture:
    assert path.exists(), f"missing committed fixture {path}"
    snapshot = path / "cluster.json" if path.is_dir() else None
    return pcapkit.open(path, snapshot=snapshot if snapshot and snapshot.exists() else None,
                        **scale)


def assert_same(one: pcapkit.Capture, two: pcapkit.Capture, *, findings: bool = False):
    for name in TABLES:
        # categories may list values in another order; values, dtypes and rows may not
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name), obj=name,
                                      check_categorical=name in ("flows", "dns"))
    assert [str(e) for e in one.errors] == [str(e) for e in two.errors]
    if findings:
        pd.testing.assert_frame_equal(one.findings.frame, two.findings.frame, obj="findings")


@pytest.mark.parametrize(("name", "shares"), [
    ("demo", 1), ("demo", 3), ("kernel-dnat", 3), ("dnstx", 2), ("vantage/skew", 3),
    ("overlay", 2)])
def test_same_tables_as_one_pass(name, shares):
    # demo: three nodes, a policy drop, DNS timeouts; kernel-dnat: Service DNAT across
    # shares; dnstx: retries, search paths, resolver chains; skew: clocks 2.5 s apart
    one = _open(FIXTURES / name)
    two = _open(FIXTURES / name, shares=shares, workers=2)
    assert_same(one, two, findings=name == "demo")
    assert two._run is not None and two._run.plan.shares == shares


def test_dns_a_share_at_a_time_on_worker_processes(monkeypatch):
    # the DNS step's shares go to the workers only when there are many messages: here all
    import pcapkit.engines.forked

    monkeypatch.setattr(pcapkit.engines.forked, "MIN_SHARE", 1)
    for name in ("dnstx", "demo"):
        one = _open(FIXTURES / name)
        two = _open(FIXTURES / name, shares=3, workers=2)
        pd.testing.assert_frame_equal(one.dns, two.dns, obj=name)
        assert len(two.dns) > 0


@pytest.mark.parametrize("name", ["demo", "dnstx"])
def test_files_decoded_in_many_batches_and_writes(name, monkeypatch):
    # a decode task reads a file a batch at a time and writes each share's rows every
    # FLUSH_ROWS rows: batches with other categories (or none, all null) are united
    import pcapkit.partition.run
    import pcapkit.partition.store

    monkeypatch.setattr(pcapkit.partition.run, "BATCH", 3)
    monkeypatch.setattr(pcapkit.partition.store, "FLUSH_ROWS", 10)
    one = _open(FIXTURES / name)
    two = _open(FIXTURES / name, shares=3, workers=1)
    assert_same(one, two, findings=name == "demo")
    store = two._run.store
    parts = {n for s in range(3) for n in store.names("decoded", s)}
    # rows are written once 10 are gathered (4 batches: 12), never once per batch
    assert {f"f{f.index:06d}p00001" for f in two._run.files if f.rows > 12} <= parts
    assert len(parts) < sum(-(-f.rows // 3) for f in two._run.files)
    assert any(f.rows > 12 for f in two._run.files)


def _damaged_incident(tmp_path: Path) -> Path:
    """The demo incident plus a truncated capture, a garbage one and an empty one."""
    incident = tmp_path / "incident"
    shutil.copytree(FIXTURES / "demo", incident)
    good = sorted(incident.rglob("*.pcap*"))[0]
    data = good.read_bytes()
    (good.parent / "cut.pcap").write_bytes(data[: len(data) // 2 + 7])
    (incident / "garbage.pcap").write_bytes(b"this is not a capture" * 10)
    (incident / "empty.pcap").write_bytes(b"")
    return incident


def test_corrupt_files_are_reported_and_the_rest_analysed(tmp_path):
    incident = _damaged_incident(tmp_path)
    one = _open(incident)
    two = _open(incident, shares=2, workers=2)
    assert {Path(e.file).name for e in two.errors} >= {"cut.pcap", "garbage.pcap",
                                                       "empty.pcap"}
    assert_same(one, two, findings=True)


def _profiler_enabled() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


def test_the_dask_engine_gives_the_same_tables_and_findings(tmp_path):
    from pcapkit.engines.dask import DaskEngine  # dask is in the dev extra: no skip

    with DaskEngine(workers=2) as engine:
        assert engine.workers == 2
        # a cluster made for the run has its workers' profiler off (it costs the tasks)
        assert set(engine.client.run(_profiler_enabled).values()) == {False}
        for path in (FIXTURES / "demo", _damaged_incident(tmp_path)):
            assert_same(_open(path), _open(path, engine=engine, shares=3), findings=True)


def test_the_share_count_follows_the_memory_limit():
    scale = Scale.of("local", None, 1 << 30, None, 2)
    assert scale.share_count(100 << 20, 2) == 1
    many = scale.share_count(10 << 30, 2)
    assert many == int(2 * SHARE_BYTES_PER_INPUT_BYTE * 10)
    assert Scale.of("local", None, 2 << 30, None, 2).share_count(10 << 30, 2) == many // 2
    assert Scale.of("local", None, None, 5, 2).share_count(10 << 30, 2) == 5
    assert not Scale.of(None, None, None, None, None).partitioned
    assert not Scale.of("local", None, None, None, 2).partitioned  # the CLI's default


def test_the_default_budget_cuts_only_an_incident_bigger_than_it(monkeypatch, tmp_path):
    import pcapkit.partition.scale as scale

    small = _open(FIXTURES / "demo")  # a few hundred kilobytes: one pass
    assert small._run is None
    # a machine whose default budget is a third of what one share of it would need
    size = sum(scale._data_bytes(p) for p in small.inputs.paths)
    budget = scale.SHARE_BYTES_PER_INPUT_BYTE * size / 3
    monkeypatch.setattr(scale, "machine_memory",
                        lambda: int(budget / scale.DEFAULT_MEMORY_FRACTION) + 1)
    cut = _open(FIXTURES / "demo", workers=1)
    try:
        assert cut._run is not None and cut._run.plan.shares > 1
        assert_same(small, cut, findings=True)
    finally:
        cut.close()
    # with a decode cache (one pass's decoded tables) and no limit given: one pass
    assert pcapkit.open(FIXTURES / "demo", cache=tmp_path / "cache")._run is None
    assert pcapkit.open(FIXTURES / "demo", cache=tmp_path / "cache", workers=1,
                        memory_limit=int(budget) + 1)._run is not None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"engine": "spark"}, "engine must be one of local, dask"),
    ({"engine": 3}, "engine must be 'local', 'dask' or an object"),
    ({"scheduler": "tcp://x:8786"}, "needs engine='dask'"),
    ({"memory_limit": 0}, "memory_limit must be a positive"),
    ({"shares": -1}, "shares must be a positive"),
])
def test_bad_scale_settings_are_refused(kwargs, message):
    with pytest.raises(PcapkitError, match=message):
        pcapkit.open(FIXTURES / "demo", **kwargs)


def _report(tmp_path: Path, name: str, *options: str) -> dict:
    import json

    from click.testing import CliRunner

    from pcapkit.cli import main

    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(main, ["analyze", str(FIXTURES / "demo"), "-q", "--format",
                                       "json", "-o", str(out), *options])
    assert result.exit_code == 1, result.output  # the demo has high findings
    return json.loads(out.read_text())


def test_analyze_in_shares_reports_what_one_pass_reports(tmp_path):
    one = _report(tmp_path, "one")
    # a limit far below the demo's size: the run is cut into shares, on two processes
    two = _report(tmp_path, "two", "--memory-limit", "100kB", "--jobs", "2",
                  "--work-dir", str(tmp_path / "work"))
    assert one["findings"] == two["findings"] and one["inputs"] == two["inputs"]
    for key in ("files", "packets", "flows", "dns_transactions", "by_severity"):
        assert one["summary"][key] == two["summary"][key]
    assert not any((tmp_path / "work").iterdir())  # the run's tables went with it


@pytest.mark.parametrize(("options", "message"), [
    (["--memory-limit", "4XB"], "is not a size"),
    (["--memory-limit", "0"], "at least one byte"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --engine dask"),
    (["--engine", "spark"], "Invalid value for '--engine'"),
])
def test_bad_scale_options_are_one_line_and_exit_2(options, message):
    from click.testing import CliRunner

    from pcapkit.cli import main

    result = CliRunner().invoke(main, ["analyze", str(FIXTURES / "demo"), *options])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_rotated_captures_in_shares(tmp_path):
    # two nodes' rotated files: streams decided from the files' spans, as in one pass
    from scapy.utils import PcapReader, wrpcap

    for node in ("node1", "node2"):
        with PcapReader(str(FIXTURES / "demo" / f"{node}-any.pcap")) as reader:
            frames, linktype = list(reader), reader.linktype   # SLL2, kept as it is
        (tmp_path / node).mkdir()
        third = len(frames) // 3
        for i, part in enumerate((frames[:third], frames[third:2 * third],
                                  frames[2 * third:])):
            wrpcap(str(tmp_path / node / ("any.pcap" + (str(i) if i else ""))), part,
                   linktype=linktype)
    one = _open(tmp_path)
    assert one.points["stream"].nunique() == 2 and len(one.flows) == 10
    assert_same(one, _open(tmp_path, shares=3, workers=2))


def test_nothing_readable_in_shares(tmp_path):
    (tmp_path / "garbage.pcap").write_bytes(b"garbage" * 20)
    (tmp_path / "empty.pcap").write_bytes(b"")
    one, two = _open(tmp_path), _open(tmp_path, shares=2, workers=1)
    assert len(two.errors) == 2 and not len(two.packets) and not len(two.flows)
    assert_same(one, two)


@pytest.mark.parametrize(("name", "options"), [
    ("retina/demo/shop-incident", {}),            # tarballs: members, host files, nodes
    ("gadget", {}),                               # pods named by pcapng interfaces
    ("demo", {"since": "2026-12-02T21:04:04Z", "until": "2026-12-02T21:04:10Z"}),
    ("kernel", {"nodes": {"node1-any.pcap": "worker-a"}}),
])
def test_inputs_and_options_in_shares(name, options):
    path = FIXTURES / name
    assert_same(_open(path, **options), _open(path, shares=2, workers=2, **options))
