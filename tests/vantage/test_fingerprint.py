"""The fingerprint ignores what changes hop by hop and keeps what identifies a packet."""

from __future__ import annotations

import pandas as pd
import pytest
from vantage_cases import table

from pcapkit.decode.table import concat_tables
from pcapkit.vantage import FINGERPRINT_COLUMNS, packet_fingerprints

BASE = dict(file="a.pcap", frame=1, ts=0.0, src="10.244.1.10", dst="10.244.2.10", proto=6,
            ttl=64, ip_id=7, ip_len=60, frag_offset=0, more_fragments=False, sport=40000,
            dport=8080, tcp_seq=1000, tcp_ack=0, tcp_flags=2, tcp_window=64240,
            payload_len=0)


def _hash(**changes) -> int:
    hashes, _ = packet_fingerprints(table([BASE, dict(BASE, **changes)]).packets)
    return int(hashes[0]) == int(hashes[1])


@pytest.mark.parametrize("changes", [
    dict(ttl=63),
    dict(encap="vxlan", vni=1, outer_src="192.168.100.11", outer_dst="192.168.100.12",
         outer_ttl=64, outer_sport=51234, outer_dport=8472),
    dict(interface="eth0", if_index=2, pkt_type="outgoing", linktype=276, caplen=110,
         wirelen=110, inner_src_mac="02:f1:00:00:01:00"),
    dict(file="b.pcap", frame=99, ts=5.0),
])
def test_hop_by_hop_changes_keep_the_fingerprint(changes):
    assert _hash(**changes)


@pytest.mark.parametrize("changes", [
    dict(src="10.244.1.11"), dict(dst="10.96.0.10"), dict(ip_id=8), dict(ip_len=61),
    dict(frag_offset=1480), dict(more_fragments=True), dict(sport=40001), dict(dport=8443),
    dict(tcp_seq=1001), dict(tcp_ack=1), dict(tcp_flags=18), dict(tcp_window=502),
    dict(payload_len=10), dict(payload_head=0x4745542F), dict(icmp_type=3),
    dict(icmp_orig_src="10.0.0.1"),
])
def test_identifying_fields_change_the_fingerprint(changes):
    assert not _hash(**changes)


def test_null_differs_from_zero():
    zero = dict(BASE, ip_id=0)
    hashes, _ = packet_fingerprints(table([zero, dict(BASE, ip_id=None)]).packets)
    assert hashes[0] != hashes[1]


def test_text_columns_hash_by_value_not_by_category_code():
    # Two files whose address categories are in a different order still hash alike.
    one = table([BASE, dict(BASE, src="10.0.0.9", dst="10.0.0.8", frame=2)]).packets
    two = table([dict(BASE, src="10.0.0.9", dst="10.0.0.8", file="b.pcap"),
                 dict(BASE, file="b.pcap", frame=2)]).packets
    both = concat_tables([one, two])
    hashes, has = packet_fingerprints(both)
    assert hashes[0] == hashes[3] and hashes[1] == hashes[2] and has.all()


def test_non_ip_rows_have_no_fingerprint():
    rows = [BASE, dict(file="a.pcap", frame=2, ts=0.1, ethertype=0x0806)]
    _, has = packet_fingerprints(table(rows).packets)
    assert list(has) == [True, False]


def test_every_fingerprint_column_is_a_packet_column():
    from pcapkit.schema.decode import DECODED_PACKET_COLUMNS

    assert set(FINGERPRINT_COLUMNS) <= {c.name for c in DECODED_PACKET_COLUMNS}
    assert not {"ttl", "outer_src", "outer_dst", "outer_ttl", "ts"} & set(FINGERPRINT_COLUMNS)


def test_object_columns_hash_like_categoricals():
    frame = table([BASE]).packets
    as_object = frame.assign(src=frame["src"].astype(object), dst=frame["dst"].astype(object))
    assert packet_fingerprints(frame)[0][0] == packet_fingerprints(as_object)[0][0]
    assert isinstance(frame["src"].dtype, pd.CategoricalDtype)
