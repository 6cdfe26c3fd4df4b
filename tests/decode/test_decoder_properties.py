"""Property tests: the decoder never crashes and never reads outside a record."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

from pcapkit.decode.packets import decode_batch
from pcapkit.decode.table import packet_frame
from pcapkit.io.records import Interface, RecordBatch

LINKTYPES = [0, 1, 12, 101, 108, 113, 228, 229, 276, 147]


def batch_of(packets: list[bytes], linktypes: list[int], guard: int = 0) -> RecordBatch:
    """Pack packets into one buffer; ``guard`` poison bytes (0xAB) sit between records."""
    chunks, offsets, pos = [], [], 0
    for p in packets:
        offsets.append(pos)
        chunks.append(p + b"\xab" * guard)
        pos += len(p) + guard
    data = np.frombuffer(b"".join(chunks) or b"", dtype=np.uint8)
    n = len(packets)
    caplen = np.array([len(p) for p in packets], np.int64)
    return RecordBatch(
        file="t.pcap", data=data, offset=np.array(offsets, np.int64), caplen=caplen,
        wirelen=caplen + 10, ts_ns=np.arange(n, dtype=np.int64), interface=np.zeros(n, np.int32),
        linktype=np.array(linktypes, np.int32), frame=np.arange(1, n + 1),
        file_offset=np.zeros(n, np.int64),
        interfaces=[Interface(index=0, linktype=1, snaplen=65535)])


packet_bytes = st.lists(st.binary(max_size=200), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet_bytes, st.data())
def test_random_bytes_never_crash(packets: list[bytes], data: st.DataObject) -> None:
    linktypes = [data.draw(st.sampled_from(LINKTYPES)) for _ in packets]
    result = decode_batch(batch_of(packets, linktypes))
    frame = packet_frame(result.columns, len(packets), "t.pcap", [Interface(0, 1, 65535)])
    assert len(frame) == len(packets)


VXLAN_TCP = bytes(Ether() / IP(src="192.168.100.1", dst="192.168.100.2") /
                  UDP(sport=40000, dport=8472) / VXLAN(vni=1) / Ether() /
                  IP(src="10.244.1.2", dst="10.244.2.3") / TCP(sport=1234, dport=80, flags="S"))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(VXLAN_TCP)))
def test_truncation_never_reads_past_the_record(cut: int) -> None:
    """A packet cut anywhere, followed by poison bytes, decodes the same as it would
    alone: nothing after the captured bytes may influence the result."""
    packet = VXLAN_TCP[:cut]
    guarded = packet_frame(decode_batch(batch_of([packet], [1], guard=64)).columns, 1, "t", [])
    alone = packet_frame(decode_batch(batch_of([packet], [1])).columns, 1, "t", [])
    assert guarded.drop(columns=["file"]).equals(alone.drop(columns=["file"]))
    if cut >= len(VXLAN_TCP) - 20 + 4:  # inner ports captured
        assert guarded["sport"].iloc[0] == 1234
        assert guarded["encap"].iloc[0] == "vxlan"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VXLAN_TCP) - 1), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_random_header_fields_never_crash(mutations: list[tuple[int, int]]) -> None:
    packet = bytearray(VXLAN_TCP)
    for index, value in mutations:
        packet[index] = value
    guarded = packet_frame(decode_batch(batch_of([bytes(packet)], [1], guard=64)).columns, 1, "t", [])
    alone = packet_frame(decode_batch(batch_of([bytes(packet)], [1])).columns, 1, "t", [])
    assert guarded.drop(columns=["file"]).equals(alone.drop(columns=["file"]))
