"""Capture.packet (scapy) and Capture.dissect (pyshark/tshark) on the demo incident: the
frame's own bytes and time, by the names the tables use (archive members included)."""

from __future__ import annotations

import tarfile

import pytest
from conftest import DEMO, NODE1
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import CookedLinuxV2
from scapy.utils import RawPcapReader

import pcapkit


def raw_frame(path: str, number: int) -> tuple[bytes, int, int]:
    """(bytes, time in ns, wire length) of frame ``number``, read by scapy, not pcapkit."""
    with RawPcapReader(path) as reader:
        for index, (data, meta) in enumerate(reader, start=1):
            if index == number:
                scale = 1 if reader.nano else 1000
                ns = (meta.sec * 1_000_000_000 + meta.usec * scale)
                return data, ns, meta.wirelen
    raise AssertionError(f"{path} has no frame {number}")


def dns_frame(demo) -> tuple[str, int]:
    """A frame of node1's file holding a DNS query (from the DNS table)."""
    row = demo.dns.iloc[0]
    return str(row["query_file"]), int(row["query_frame"])


def test_packet_is_the_frames_bytes(demo) -> None:
    file, frame = dns_frame(demo)
    packet = demo.packet(file, frame)
    data, ns, wirelen = raw_frame(file, frame)
    assert bytes(packet) == data
    assert int(packet.time * 1_000_000_000) == ns
    assert packet.wirelen == wirelen
    assert isinstance(packet, CookedLinuxV2)           # the file's link type: SLL2
    assert packet[IP].src == demo.dns.iloc[0]["orig_h"] and packet[UDP].dport == 53


def test_every_frame_number_agrees(demo) -> None:
    for frame in (1, 42, 177):
        assert bytes(demo.packet(NODE1, frame)) == raw_frame(NODE1, frame)[0]


def test_packet_of_an_archive_member(tmp_path) -> None:
    archive = tmp_path / "node1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(NODE1, arcname="node1-any.pcap")
    capture = pcapkit.open(archive)
    name = f"{archive}!node1-any.pcap"
    assert name in set(capture.packets["file"].astype(str))
    assert bytes(capture.packet(name, 42)) == raw_frame(NODE1, 42)[0]


def test_bad_file_or_frame_is_one_clear_error(demo) -> None:
    with pytest.raises(pcapkit.PcapkitError, match="not a file of this capture; its files"):
        demo.packet("node-a/eth0.pcap", 1)
    with pytest.raises(pcapkit.PcapkitError, match="frame 100000 .it ends before"):
        demo.packet(NODE1, 100000)
    for frame in (0, -3, "7", 1.5, True):
        with pytest.raises(pcapkit.PcapkitError, match="not a frame number"):
            demo.packet(NODE1, frame)


def test_dissect_is_wiresharks_view(demo) -> None:
    file, frame = dns_frame(demo)
    packet = demo.dissect(file, frame)
    assert [layer.layer_name for layer in packet.layers] == ["sll", "ip", "udp", "dns"]
    assert int(packet.frame_info.number) == frame
    assert packet.ip.src == demo.dns.iloc[0]["orig_h"]
    assert packet.dns.qry_name == demo.dns.iloc[0]["qname"]


def test_dissect_inside_a_running_event_loop(demo) -> None:
    """A notebook runs an asyncio loop; pyshark must not trip over it."""
    import asyncio

    async def inside() -> object:
        return demo.dissect(NODE1, 42)

    assert int(asyncio.run(inside()).frame_info.number) == 42


def test_dissect_errors(demo, monkeypatch) -> None:
    with pytest.raises(pcapkit.PcapkitError, match="there is no frame 100000"):
        demo.dissect(NODE1, 100000)
    monkeypatch.setattr("pcapkit.explore.frames.shutil.which", lambda name: None)
    with pytest.raises(pcapkit.PcapkitError, match="tshark is not installed"):
        demo.dissect(NODE1, 1)


def test_files_are_named_as_the_tables_name_them(demo) -> None:
    assert DEMO.name in NODE1
    for file in demo.sightings["file"].astype(str).unique():
        assert len(bytes(demo.packet(file, 1))) > 0
