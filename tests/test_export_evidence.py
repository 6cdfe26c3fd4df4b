"""``pcapkit export-evidence`` and ``analyze --evidence``: a finding's evidence packets from
every capture point in one pcapng, checked with tshark against the original captures.

The demo incident has a finding with more sightings (40) than a report lists (20), so the
export must go through ``details.evidence_frames``; the policy captures mix an SLL2
``any`` pcap with a two-interface Ethernet pcapng, so one export holds several link types
and interfaces.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from oracle import TSHARK

from pcapkit.cli import main
from pcapkit.evidence import frame_range_texts, frame_ranges, parse_frame_ranges
from pcapkit.io.pcapng_writer import PacketColumns, WriterInterface, write_pcapng

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"
POLICY = ROOT / "fixtures" / "policy"
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def analyze(tmp: Path, *args: str) -> dict:
    out = tmp / "report.json"
    code, _, err = run("analyze", *args, "--format", "json", "-o", str(out))
    assert code in (0, 1), err
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("demo")
    for name in ("node1-any.pcap", "node2-any.pcap"):
        shutil.copy(DEMO / name, tmp / name)
    report = analyze(tmp, str(tmp), "--snapshot", str(DEMO / "cluster.json"))
    return tmp, report


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("policy")
    report = analyze(tmp, str(POLICY / "kernel"), "--snapshot", str(POLICY / "cluster.json"))
    return tmp, report


def tshark_packets(path: Path, frames: list[int] | None = None) -> list[dict]:
    """tshark's view of each frame: number, interface, comment, time, lengths, protocol
    chain and raw bytes."""
    args = [TSHARK, "-n", "-r", str(path), "-T", "json", "-x"]
    if frames is not None:
        args += ["-Y", "frame.number in {" + ",".join(map(str, frames)) + "}"]
    layers = [p["_source"]["layers"] for p in json.loads(
        subprocess.run(args, check=True, capture_output=True, text=True).stdout)]
    out = []
    for layer in layers:
        frame = layer["frame"]
        out.append({
            "number": int(frame["frame.number"]),
            "interface": frame.get("frame.interface_id_tree", {}).get("frame.interface_name"),
            "comment": (layer.get("pkt_comment") or {}).get("frame.comment"),
            "time": Decimal(frame["frame.time_epoch"]), "len": int(frame["frame.len"]),
            "cap_len": int(frame["frame.cap_len"]), "protocols": frame["frame.protocols"],
            "raw": layer["frame_raw"][0]})
    return out


def finding_by(report: dict, category: str, more_than: int = 0) -> dict:
    found = [f for f in report["findings"] if f["category"] == category
             and f["details"]["evidence_total"] > more_than]
    assert found, [(f["category"], f["details"]["evidence_total"]) for f in report["findings"]]
    return found[0]


def check_export(report: dict, finding: dict, exported: Path) -> None:
    """Every sighting of ``finding`` is in ``exported`` once, on its (node, interface),
    commented with the finding, with the original bytes, lengths and time; in time order."""
    nodes = {i["file"]: i["node"] for i in report["inputs"]}
    packets = tshark_packets(exported)
    assert len(packets) == finding["details"]["evidence_total"]
    label = f"pcapkit finding {finding['id']}: {finding['rule']} {finding['title']}"
    assert {p["comment"] for p in packets} == {label}
    times = [p["time"] for p in packets]
    assert times == sorted(times)
    expected: Counter = Counter()
    for file, text in finding["details"]["evidence_frames"].items():
        originals = tshark_packets(Path(file), parse_frame_ranges(text).tolist())
        assert len(originals) == len(parse_frame_ranges(text))
        # the interface of each original frame: its if_name (pcap: '0'), as the report says
        names = {e["frame"]: e["interface"] for e in finding["evidence"] if e["file"] == file}
        for original in originals:
            interface = f"{nodes[file]}:{original['interface'] or names.get(original['number'], '0')}"
            expected[(interface, original["time"], original["len"], original["cap_len"],
                      original["protocols"], original["raw"])] += 1
    got = Counter((p["interface"], p["time"], p["len"], p["cap_len"], p["protocols"], p["raw"])
                  for p in packets)
    assert got == expected


def capinfos_interfaces(path: Path) -> list[str]:
    text = subprocess.run([shutil.which("capinfos") or "capinfos", str(path)], check=True,
                          capture_output=True, text=True).stdout
    return [line.split("=", 1)[1].strip() for line in text.splitlines()
            if line.strip().startswith("Name =")]


# -- the compact frame lists ------------------------------------------------------------

def test_frame_ranges_round_trip() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        frames = np.unique(rng.integers(1, 400, rng.integers(1, 120)))
        text = frame_ranges(rng.permutation(frames).tolist())
        assert parse_frame_ranges(text).tolist() == frames.tolist()
    assert frame_ranges([5, 1, 2, 3, 9, 10, 3]) == "1-3,5,9-10"
    groups, files, texts = frame_range_texts(np.array([1, 0, 1, 0]), np.array([0, 2, 0, 1]),
                                             np.array([4, 7, 5, 7]))
    assert list(zip(groups.tolist(), files.tolist(), texts, strict=True)) == \
        [(0, 1, "7"), (0, 2, "7"), (1, 0, "4-5")]


@pytest.mark.parametrize("text", ["", "1-", "3-1", "1,1", "2,1", "0", "1;2", "a", "1-2-3"])
def test_bad_frame_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_frame_ranges(text)


def test_report_keeps_every_sighting_of_every_finding(demo) -> None:
    _, report = demo
    truncated = 0
    for finding in report["findings"]:
        frames = {f: parse_frame_ranges(t)
                  for f, t in finding["details"].get("evidence_frames", {}).items()}
        assert sum(len(v) for v in frames.values()) == finding["details"]["evidence_total"]
        for item in finding["evidence"]:
            assert item["frame"] in frames[item["file"]]
        truncated += finding["details"]["evidence_total"] > len(finding["evidence"])
    assert truncated, "the demo has a finding with more sightings than the report lists"
    assert all(i["size"] == Path(i["file"]).stat().st_size for i in report["inputs"])


# -- export -----------------------------------------------------------------------------

@needs_tshark
def test_export_writes_every_sighting_past_the_listed_ones(demo, tmp_path) -> None:
    folder, report = demo
    finding = finding_by(report, "asymmetric-route", more_than=20)
    assert len(finding["evidence"]) < finding["details"]["evidence_total"]
    out = tmp_path / "evidence.pcapng"
    code, _, err = run("export-evidence", str(folder / "report.json"), finding["id"],
                       "-o", str(out))
    assert code == 0, err
    assert f"{finding['details']['evidence_total']} packet(s)" in err
    check_export(report, finding, out)
    assert capinfos_interfaces(out) == ["node1:0", "node2:0"]


@needs_tshark
def test_export_keeps_each_link_type_and_interface(policy, tmp_path) -> None:
    folder, report = policy
    finding = finding_by(report, "policy-drop", more_than=10)
    out = tmp_path / "drop.pcapng"
    code, _, err = run("export-evidence", str(folder / "report.json"), finding["id"],
                       "-o", str(out))
    assert code == 0, err
    check_export(report, finding, out)
    interfaces = capinfos_interfaces(out)
    assert sorted(interfaces) == sorted({f"{e['node']}:{e['interface']}"
                                         for e in finding["evidence"]})
    assert len(interfaces) >= 3      # node1's SLL2 'any' and node2's eth0 and flannel.1
    protocols = {p["protocols"].split(":")[0] for p in tshark_packets(out)}
    assert protocols == {"sll", "eth"}


@needs_tshark
def test_analyze_writes_one_file_per_finding(policy, tmp_path) -> None:
    _, report = policy
    names = []
    for attempt in ("first", "second"):
        folder = tmp_path / attempt
        code, _, err = run("analyze", str(POLICY / "kernel"), "--snapshot",
                           str(POLICY / "cluster.json"), "--evidence", str(folder))
        assert code == 1, err
        with_evidence = [f for f in report["findings"] if f["details"]["evidence_total"]]
        assert f"evidence of {len(with_evidence)} finding(s)" in err
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted(f"{f['category']}-{f['id']}.pcapng" for f in with_evidence)
        names.append(files)
        for finding in with_evidence:
            packets = tshark_packets(folder / f"{finding['category']}-{finding['id']}.pcapng")
            assert len(packets) == finding["details"]["evidence_total"]
            assert {p["comment"].split(":")[0] for p in packets} == \
                {f"pcapkit finding {finding['id']}"}
    assert names[0] == names[1]
    for name in names[0]:
        assert (tmp_path / "first" / name).read_bytes() == \
            (tmp_path / "second" / name).read_bytes()


@needs_tshark
def test_relative_paths_resolve_under_base(tmp_path, monkeypatch) -> None:
    shutil.copytree(DEMO, tmp_path / "incident", ignore=shutil.ignore_patterns("*.sh"))
    monkeypatch.chdir(tmp_path)
    report = analyze(tmp_path, "incident", "--snapshot", "incident/cluster.json")
    assert report["inputs"][0]["file"] == "incident/node1-any.pcap"
    finding = report["findings"][0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run("export-evidence", "../report.json", finding["id"])
    assert code == 2 and "missing" in err and "--base" in err
    code, _, err = run("export-evidence", "../report.json", finding["id"], "--base", "..")
    assert code == 0, err
    assert (elsewhere / f"{finding['category']}-{finding['id']}.pcapng").stat().st_size > 0


# -- bad input --------------------------------------------------------------------------

def one_error_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcapkit: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], err


def test_unknown_finding_lists_some_ids(demo) -> None:
    folder, report = demo
    code, _, err = run("export-evidence", str(folder / "report.json"), "0123456789abcdef")
    one_error_line(code, err, "0123456789abcdef", report["findings"][0]["id"])


def test_not_a_report(tmp_path) -> None:
    text = tmp_path / "notes.json"
    text.write_text("this is not json")
    one_error_line(*run("export-evidence", str(text), "x")[::2], "not JSON")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"findings": []}))
    one_error_line(*run("export-evidence", str(other), "x")[::2], "not a pcapkit report")
    one_error_line(*run("export-evidence", str(tmp_path / "absent.json"), "x")[::2],
                   "cannot read report")


def test_finding_without_evidence(policy) -> None:
    folder, report = policy
    bare = [f for f in report["findings"] if not f["details"]["evidence_total"]]
    assert bare
    one_error_line(*run("export-evidence", str(folder / "report.json"), bare[0]["id"])[::2],
                   "no evidence packets")


def _copy_incident(demo, tmp_path) -> tuple[dict, dict, Path]:
    """The demo report rewritten to point at copies of its captures in ``tmp_path``."""
    folder, report = demo
    report = json.loads(json.dumps(report).replace(str(folder), str(tmp_path)))
    for name in ("node1-any.pcap", "node2-any.pcap"):
        shutil.copy(folder / name, tmp_path / name)
    finding = finding_by(report, "asymmetric-route", more_than=20)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return report, finding, path


def _pcap_record_offset(data: bytes, frame: int) -> int:
    at = 24
    for _ in range(frame - 1):
        at += 16 + struct.unpack_from("<I", data, at + 8)[0]
    return at


def test_missing_capture_file(demo, tmp_path) -> None:
    _, finding, path = _copy_incident(demo, tmp_path)
    (tmp_path / "node2-any.pcap").unlink()
    one_error_line(*run("export-evidence", str(path), finding["id"])[::2],
                   "node2-any.pcap", "missing")


def test_capture_changed_since_the_report(demo, tmp_path) -> None:
    report, finding, path = _copy_incident(demo, tmp_path)
    capture = tmp_path / "node1-any.pcap"
    with open(capture, "ab") as handle:
        handle.write(b"\0" * 16)
    one_error_line(*run("export-evidence", str(path), finding["id"])[::2],
                   "changed since the report")
    # same size, one cited packet's timestamp moved: the times no longer agree
    shutil.copy(demo[0] / "node1-any.pcap", capture)
    listed = [e["frame"] for e in finding["evidence"] if e["file"] == str(capture)]
    assert len(listed) >= 2
    data = bytearray(capture.read_bytes())
    at = _pcap_record_offset(bytes(data), listed[-1])
    struct.pack_into("<I", data, at + 4, struct.unpack_from("<I", data, at + 4)[0] ^ 1)
    capture.write_bytes(bytes(data))
    one_error_line(*run("export-evidence", str(path), finding["id"])[::2],
                   "changed since the report")
    # a report without sizes: a file cut short is caught by the frames it lacks
    shutil.copy(demo[0] / "node1-any.pcap", capture)
    for item in report["inputs"]:
        item.pop("size")
    path.write_text(json.dumps(report))
    data = capture.read_bytes()
    capture.write_bytes(data[:_pcap_record_offset(data, min(listed))])
    one_error_line(*run("export-evidence", str(path), finding["id"])[::2],
                   "cannot read evidence frame", "changed since the report")


def test_older_report_without_frame_lists(demo, tmp_path) -> None:
    report, finding, path = _copy_incident(demo, tmp_path)
    for item in report["findings"]:
        item["details"].pop("evidence_frames", None)
    path.write_text(json.dumps(report))
    one_error_line(*run("export-evidence", str(path), finding["id"])[::2],
                   "run pcapkit analyze again")


# -- the writer -------------------------------------------------------------------------

@needs_tshark
def test_writer_chunks_link_types_and_comments(tmp_path, monkeypatch) -> None:
    """Packets written in several chunks, on two link types, some without a comment, read
    back by tshark with the same bytes, lengths, times and comments."""
    import pcapkit.io.pcapng_writer as writer

    monkeypatch.setattr(writer, "_CHUNK_BYTES", 100)
    rng = np.random.default_rng(3)
    n = 60
    caplen = rng.integers(1, 90, n)
    wirelen = caplen + rng.integers(0, 3, n)
    data = rng.integers(0, 256, int(caplen.sum()), dtype=np.uint8)
    ts = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(1, 10**6, n))
    interface = rng.integers(0, 2, n)
    comment = rng.integers(-1, 2, n)
    packets = PacketColumns(data, np.cumsum(caplen) - caplen, caplen, wirelen, ts,
                            interface, comment)
    path = tmp_path / "w.pcapng"
    with open(path, "wb") as handle:
        size = write_pcapng(handle, [WriterInterface(147, 65535, "a:x", "user 0"),
                                     WriterInterface(148, 0, "b:y")],
                            packets, ["first comment", "second, longer comment ünïcode"])
    assert size == path.stat().st_size
    got = tshark_packets(path)
    assert len(got) == n
    comments = [None, "first comment", "second, longer comment ünïcode"]
    for i, p in enumerate(got):
        a, b = int(np.cumsum(caplen)[i] - caplen[i]), int(np.cumsum(caplen)[i])
        assert p["raw"] == data[a:b].tobytes().hex()
        assert (p["cap_len"], p["len"]) == (caplen[i], wirelen[i])
        assert p["time"] == Decimal(int(ts[i])) / 10**9
        assert p["interface"] == ("a:x", "b:y")[interface[i]]
        assert p["comment"] == comments[comment[i] + 1]
    with pytest.raises(ValueError):
        write_pcapng(open(tmp_path / "x", "wb"), [], packets)
