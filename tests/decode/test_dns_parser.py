"""Tests for the DNS message parser (pcapkit.decode.dns)."""

from __future__ import annotations

import gc
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import (
    DNS,
    DNSQR,
    DNSRR,
    DNSRRMX,
    DNSRROPT,
    DNSRRSOA,
    DNSRRSRV,
    UDP,
    raw,
    rdpcap,
)

from pcapkit.decode.dns import message as dns_message
from pcapkit.decode.dns import names as dns_names
from pcapkit.decode.dns.table import parse_dns_batch
from pcapkit.schema import Table
from pcapkit.schema.convert import mismatches
from pcapkit.schema.decode import DNS_MESSAGE_COLUMNS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "public"
# Filler around every payload: compression-pointer bytes, so a read outside the
# payload would change the result instead of passing unnoticed.
FILLER = b"\xc0\x0c\xc0"


def parse(messages: list[bytes], tcp: bool | list[bool] = False,
          captured_all: bool | list[bool] = True, filler: bytes = FILLER) -> pd.DataFrame:
    """Lay the messages out in one buffer, with filler around each, and parse them."""
    buffer = bytearray(filler)
    starts = []
    for message in messages:
        starts.append(len(buffer))
        buffer += message + filler
    count = len(messages)
    tcp_flags = [tcp] * count if isinstance(tcp, bool) else tcp
    whole_flags = [captured_all] * count if isinstance(captured_all, bool) else captured_all
    return parse_dns_batch(
        np.frombuffer(bytes(buffer), dtype=np.uint8),
        np.array(starts, dtype=np.int64),
        np.array([len(m) for m in messages], dtype=np.int64),
        np.array(tcp_flags, dtype=bool),
        np.array(whole_flags, dtype=bool),
    )


def parse_one(message: bytes, **kwargs) -> pd.Series:
    return parse([message], **kwargs).iloc[0]


def tcp_framed(*messages: bytes) -> bytes:
    return b"".join(struct.pack("!H", len(m)) + m for m in messages)


def header(ident: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0,
           ar: int = 0) -> bytes:
    return struct.pack("!6H", ident, flags, qd, an, ns, ar)


CNAME_RESPONSE = raw(DNS(
    id=0xBEEF, qr=1, rd=1, ra=1,
    qd=[DNSQR(qname="www.Example.com", qtype="A")],
    an=[
        DNSRR(rrname="www.Example.com", type="CNAME", ttl=300, rdata="edge.example.net"),
        DNSRR(rrname="edge.example.net", type="CNAME", ttl=60, rdata="ip.example.net"),
        DNSRR(rrname="ip.example.net", type="A", ttl=30, rdata="192.0.2.7"),
        DNSRR(rrname="ip.example.net", type="AAAA", ttl=30, rdata="2001:db8::7"),
    ],
    ar=[DNSRROPT(rclass=1232)],
).compress())


# --- table shape --------------------------------------------------------------------------

BODY = Table("dns_message_body", "one parsed message", DNS_MESSAGE_COLUMNS)


def test_columns_and_dtypes_match_the_registry():
    frame = parse([CNAME_RESPONSE])
    assert mismatches(frame, BODY) == []


def test_empty_batch_gives_empty_table_with_all_columns():
    frame = parse([])
    assert len(frame) == 0
    assert mismatches(frame, BODY) == []


def test_mismatched_argument_lengths_raise_a_clear_error():
    with pytest.raises(ValueError, match="same length"):
        parse_dns_batch(np.zeros(20, np.uint8), np.array([0]), np.array([12, 1]),
                        np.array([False]), np.array([True]))


def test_payload_range_outside_the_buffer_is_reported_not_read():
    frame = parse_dns_batch(np.zeros(20, np.uint8), np.array([0, 15, -1]), np.array([12, 10, 4]),
                            np.zeros(3, bool), np.ones(3, bool))
    assert frame.loc[1, "malformed"] and frame.loc[2, "malformed"]
    assert frame.loc[1, "error"] == "payload range lies outside the data buffer"
    assert not frame.loc[0, "malformed"]


# --- well-formed messages ---------------------------------------------------------------

def test_query_header_and_question():
    query = raw(DNS(id=0x0A0B, rd=1, qd=[DNSQR(qname="web.default.svc.cluster.local.",
                                                qtype="AAAA")]))
    row = parse_one(query)
    assert row.dns_id == 0x0A0B
    assert not row.qr and row.rd and not row.ra and not row.aa and not row.tc
    assert (row.opcode, row.rcode, row.rcode_name) == (0, 0, "NOERROR")
    assert (row.qdcount, row.ancount, row.nscount, row.arcount) == (1, 0, 0, 0)
    assert row.qname == "web.default.svc.cluster.local"
    assert (row.qtype, row.qtype_name, row.qclass) == (28, "AAAA", 1)
    assert row.answers == [] and row.answer_addrs == [] and row.ttls == []
    assert pd.isna(row.edns_udp_size) and pd.isna(row.tcp_messages) and pd.isna(row.error)
    assert not row.malformed and not row.incomplete


def test_compressed_cname_chain_with_addresses_and_edns():
    assert b"\xc0" in CNAME_RESPONSE  # scapy really compressed the names
    row = parse_one(CNAME_RESPONSE)
    assert row.qr and row.ra and row.dns_id == 0xBEEF
    assert row.qname == "www.Example.com"  # case kept as sent
    assert row.answers == [
        {"name": "www.Example.com", "type": "CNAME", "ttl": 300, "data": "edge.example.net"},
        {"name": "edge.example.net", "type": "CNAME", "ttl": 60, "data": "ip.example.net"},
        {"name": "ip.example.net", "type": "A", "ttl": 30, "data": "192.0.2.7"},
        {"name": "ip.example.net", "type": "AAAA", "ttl": 30, "data": "2001:db8::7"},
    ]
    assert row.answer_addrs == ["192.0.2.7", "2001:db8::7"]
    assert row.ttls == [300, 60, 30, 30]
    assert row.arcount == 1 and row.edns_udp_size == 1232
    assert not row.malformed and pd.isna(row.error)


def test_srv_txt_mx_ptr_soa_and_unknown_type_data():
    messages = [
        DNS(qr=1, qd=[DNSQR(qname="_http._tcp.api.ns.svc", qtype="SRV")],
            an=[DNSRRSRV(rrname="_http._tcp.api.ns.svc", priority=0, weight=100, port=8080,
                         target="api-0.api.ns.svc")]),
        DNS(qr=1, qd=[DNSQR(qname="t.example", qtype="TXT")],
            an=[DNSRR(rrname="t.example", type="TXT", rdata=["v=spf1 ", "-all"])]),
        DNS(qr=1, qd=[DNSQR(qname="m.example", qtype="MX")],
            an=[DNSRRMX(rrname="m.example", preference=10, exchange="mx.m.example")]),
        DNS(qr=1, qd=[DNSQR(qname="7.2.0.192.in-addr.arpa", qtype="PTR")],
            an=[DNSRR(rrname="7.2.0.192.in-addr.arpa", type="PTR", rdata="host.example")]),
        DNS(qr=1, qd=[DNSQR(qname="example", qtype="SOA")],
            an=[DNSRRSOA(rrname="example", mname="ns.example", rname="admin.example",
                         serial=7, refresh=1, retry=2, expire=3, minimum=4)]),
        DNS(qr=1, qd=[DNSQR(qname="x.example", qtype=65534)],
            an=[DNSRR(rrname="x.example", type=65534, rdata=b"\x01\xab")]),
    ]
    frame = parse([raw(m.compress()) for m in messages])
    data = [answers[0]["data"] for answers in frame.answers]
    assert data == [
        "0 100 8080 api-0.api.ns.svc",
        "v=spf1 -all",
        "10 mx.m.example",
        "host.example",
        "ns.example admin.example 7 1 2 3 4",
        "01ab",
    ]
    assert list(frame.qtype_name) == ["SRV", "TXT", "MX", "PTR", "SOA", "TYPE65534"]
    assert frame.answers[5][0]["type"] == "TYPE65534"
    assert not frame.malformed.any()


@pytest.mark.parametrize(("rcode", "name"), [
    (0, "NOERROR"), (2, "SERVFAIL"), (3, "NXDOMAIN"), (5, "REFUSED"), (12, "RCODE12"),
])
def test_rcode_names(rcode, name):
    response = DNS(qr=1, rcode=rcode, qd=[DNSQR(qname="nope.example")],
                   ns=[DNSRRSOA(rrname="example", mname="ns.example", rname="h.example")])
    row = parse_one(raw(response.compress()))
    assert (row.rcode, row.rcode_name, row.nscount) == (rcode, name, 1)
    assert not row.malformed


def test_every_header_flag_is_decoded():
    flags = 0x8000 | (4 << 11) | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0020 | 0x0010 | 3
    row = parse_one(header(flags=flags, qd=0))
    assert row.qr and row.aa and row.tc and row.rd and row.ra and row.ad and row.cd
    assert (row.opcode, row.rcode_name) == (4, "NXDOMAIN")
    assert pd.isna(row.qname) and pd.isna(row.qtype) and not row.malformed


def test_root_name_and_escaped_label_bytes():
    odd = b"\x05a.b \xff\x01x\x00"  # label with a dot, a space and byte 255
    frame = parse([header() + b"\x00" + b"\x00\x02\x00\x01", header() + odd + b"\x00\x01\x00\x01"])
    assert frame.qname[0] == "."
    assert frame.qname[1] == "a\\046b\\032\\255.x"


def test_label_holding_a_zero_byte_is_read_exactly_every_time():
    # The name cache keys on the bytes up to the first zero byte; here that zero is
    # inside a label, so the walk must not be cached under the shorter key.
    binary = header() + b"\x03a\x00b\x01c\x00" + b"\x00\x01\x00\x01"
    same_start = header() + b"\x03a\x00d\x00" + b"\x00\x01\x00\x01"
    plain = header() + b"\x01a\x00" + b"\x00\x01\x00\x01"
    frame = parse([binary, same_start, plain, binary, same_start])
    assert list(frame.qname) == ["a\\000b.c", "a\\000d", "a", "a\\000b.c", "a\\000d"]
    assert not frame.malformed.any()


def test_garbage_collector_state_is_restored():
    assert gc.isenabled()
    parse([CNAME_RESPONSE])
    assert gc.isenabled()
    gc.disable()
    try:
        parse([CNAME_RESPONSE])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_identical_messages_with_different_ids_keep_their_ids():
    base = raw(DNS(id=1, qd=[DNSQR(qname="repeat.example")]))
    frame = parse([base, b"\x00\x02" + base[2:], base])
    assert list(frame.dns_id) == [1, 2, 1]
    assert list(frame.qname) == ["repeat.example"] * 3


def test_forward_compression_pointer_is_followed():
    # The question name points forward to a name stored after the question.
    message = header() + b"\xc0\x12" + b"\x00\x01\x00\x01" + b"\x03foo\x00"
    row = parse_one(message)
    assert row.qname == "foo" and not row.malformed


# --- DNS over TCP -----------------------------------------------------------------------

def test_tcp_single_and_two_messages_in_one_segment():
    query = raw(DNS(id=5, qd=[DNSQR(qname="a.example")]))
    frame = parse([tcp_framed(query), tcp_framed(CNAME_RESPONSE, query)], tcp=True)
    assert list(frame.tcp_messages) == [1, 2]
    assert list(frame.dns_id) == [5, 0xBEEF]  # the row describes the first message
    assert frame.answer_addrs[1] == ["192.0.2.7", "2001:db8::7"]
    assert not frame.malformed.any() and frame.error.isna().all()


def test_tcp_message_continuing_in_another_segment_is_incomplete_not_malformed():
    segment = tcp_framed(CNAME_RESPONSE)[:60]
    row = parse_one(segment, tcp=True)
    assert row.error == "incomplete TCP DNS message"
    assert row.incomplete and not row.malformed
    assert row.tcp_messages == 0
    assert row.dns_id == 0xBEEF and row.qname == "www.Example.com"  # what was there is read


def test_tcp_segment_cut_by_snaplen_and_one_byte_segment():
    frame = parse([tcp_framed(CNAME_RESPONSE)[:40], b"\x00"], tcp=True, captured_all=[False, True])
    assert list(frame.error) == ["message truncated by snaplen", "incomplete TCP DNS message"]
    assert not frame.malformed.any() and frame.incomplete.all()
    assert pd.isna(frame.dns_id[1])


def test_tcp_trailing_partial_message_does_not_count():
    query = raw(DNS(id=9, qd=[DNSQR(qname="a.example")]))
    row = parse_one(tcp_framed(query, query)[:-3], tcp=True)
    assert row.tcp_messages == 1 and pd.isna(row.error) and not row.malformed


# --- damage -----------------------------------------------------------------------------

def test_truncation_at_every_byte_boundary():
    cuts = [CNAME_RESPONSE[:k] for k in range(len(CNAME_RESPONSE))]
    frame = parse(cuts)
    assert len(frame) == len(cuts)
    assert frame.malformed.all() and frame.error.notna().all() and not frame.incomplete.any()
    for k, row in frame.iterrows():
        assert pd.isna(row.dns_id) == (k < 2)
        assert pd.isna(row.qr) == (k < 4)
        if k >= 4:
            assert row.qr and row.rd and row.ra and row.rcode_name == "NOERROR"
        if k < 12:
            assert row.error == "message shorter than the 12-byte DNS header"
        else:
            assert row.error.endswith("section runs past end of message")
        assert row.answers == parse_one(CNAME_RESPONSE).answers[:len(row.answers)]

    snaplen_cut = parse(cuts[1:], captured_all=False)
    assert not snaplen_cut.malformed.any() and snaplen_cut.incomplete.all()
    assert (snaplen_cut.error == "message truncated by snaplen").all()


def test_counts_larger_than_the_data_keep_what_was_read():
    one_answer = raw(DNS(qr=1, qd=[DNSQR(qname="a.example")],
                         an=[DNSRR(rrname="a.example", rdata="192.0.2.1")]))
    message = one_answer[:6] + b"\x00\x05" + one_answer[8:]  # ancount 5, data for 1
    row = parse_one(message)
    assert row.malformed and row.error == "answer section runs past end of message"
    assert row.ancount == 5 and row.answer_addrs == ["192.0.2.1"] and row.qname == "a.example"


def test_section_names_in_errors():
    base = raw(DNS(qr=1, qd=[DNSQR(qname="a.example")]))
    frame = parse([base[:4] + b"\x00\x02" + base[6:],               # qdcount 2, one question
                   base[:8] + b"\x00\x01" + base[10:],              # nscount 1, none there
                   base[:10] + b"\x00\x01" + base[12:]])            # arcount 1, none there
    assert list(frame.error) == [
        "question section runs past end of message",
        "authority section runs past end of message",
        "additional section runs past end of message",
    ]


@pytest.mark.parametrize("name_bytes", [
    b"\xc0\x0c",                      # points at itself
    b"\xc0\x0e\xc0\x0c",              # two pointers pointing at each other
    b"\x01a\xc0\x0c",                 # a label, then back to the start
])
def test_compression_pointer_loops(name_bytes):
    row = parse_one(header() + name_bytes + b"\x00\x01\x00\x01")
    assert row.malformed and row.error == "compression pointer loop"
    assert row.dns_id == 0x1234 and row.qdcount == 1 and pd.isna(row.qname)


def test_pointer_outside_the_message():
    message = header() + b"\xc1\x00" + b"\x00\x01\x00\x01"
    assert parse_one(message).error == "compression pointer outside the message"
    cut = parse_one(message, captured_all=False)
    assert cut.error == "message truncated by snaplen" and not cut.malformed


def test_name_length_limit_is_255_bytes():
    longest = b"\x3f" + b"a" * 63
    ok_name = longest * 3 + b"\x3d" + b"b" * 61 + b"\x00"           # exactly 255 bytes
    too_long = longest * 3 + b"\x3e" + b"b" * 62 + b"\x00"          # 256 bytes
    assert len(ok_name) == 255
    frame = parse([header() + n + b"\x00\x01\x00\x01" for n in (ok_name, too_long)])
    assert not frame.malformed[0] and len(frame.qname[0]) == 253
    assert frame.malformed[1] and frame.error[1] == "name longer than 255 bytes"


@pytest.mark.parametrize("length_byte", [0x40, 0x7F, 0x80, 0xBF])
def test_label_length_over_63_is_invalid(length_byte):
    row = parse_one(header() + bytes([length_byte]) + b"x" * 70 + b"\x00\x00\x01\x00\x01")
    assert row.malformed and row.error.startswith("invalid label length byte")


def test_rdata_that_overruns_rdlength():
    question = b"\x01a\x00\x00\x01\x00\x01"
    cname = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02" + b"\x03foo\x00"
    short_a = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x05" + b"\x01\x02\x03\x04\x05"
    frame = parse([header(flags=0x8100, an=1) + question + cname,
                   header(flags=0x8100, an=1) + question + short_a])
    assert list(frame.error) == ["CNAME data overruns its RDLENGTH", "A record with 5-byte data"]
    assert frame.malformed.all()


# --- cross-check with tshark on real captures ------------------------------------------

def _udp_payloads(path: Path) -> tuple[list[int], list[bytes]]:
    frames, payloads = [], []
    for number, packet in enumerate(rdpcap(str(path)), start=1):
        if UDP in packet:
            frames.append(number)
            payloads.append(raw(packet[UDP])[8:])
    return frames, payloads


def _tshark_rows(path: Path) -> list[list[str]]:
    fields = ["frame.number", "dns.id", "dns.flags.response", "dns.flags.rcode", "dns.qry.name",
              "dns.qry.type", "dns.count.answers", "dns.a", "dns.aaaa", "dns.resp.type"]
    command = ["tshark", "-r", str(path), "-Y", "dns", "-T", "fields", "-E", "aggregator=|"]
    for field in fields:
        command += ["-e", field]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in output.splitlines()]


def _split(value: str) -> list[str]:
    return value.split("|") if value else []


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize(("fixture", "expected_messages"), [
    ("arkime-dns-wiresharkrepo.pcap", 38),
    ("ndpi-bad-dns-traffic.pcap", 382),
])
def test_matches_tshark_on_real_captures(fixture, expected_messages):
    path = FIXTURES / fixture
    frames, payloads = _udp_payloads(path)
    table = parse(payloads)
    table.index = frames
    tshark_rows = _tshark_rows(path)
    assert len(tshark_rows) == expected_messages
    for number, ident, response, rcode, qname, qtype, ancount, a, aaaa, rtypes in tshark_rows:
        row = table.loc[int(number)]
        where = f"{fixture} frame {number}"
        assert not row.malformed, where
        assert row.dns_id == int(ident, 16), where
        assert row.qr == (response == "1"), where
        if rcode:  # tshark 4.0 shows the rcode for responses only
            assert row.rcode == int(rcode), where
        assert row.qname == qname and row.qtype == int(qtype), where
        assert row.ancount == int(ancount), where
        # dns.a / dns.aaaa list every section; the answer section comes first.
        answer_types = _split(rtypes)[:int(ancount)]
        expected_v4 = _split(a)[:answer_types.count("1")]
        expected_v6 = _split(aaaa)[:answer_types.count("28")]
        assert [x for x in row.answer_addrs if ":" not in x] == expected_v4, where
        assert [x for x in row.answer_addrs if ":" in x] == expected_v6, where


# --- robustness -------------------------------------------------------------------------

VALID_MESSAGES = [
    CNAME_RESPONSE,
    raw(DNS(qd=[DNSQR(qname="q.example")])),
    raw(DNS(qr=1, rcode=3, qd=[DNSQR(qname="n.example")],
            ns=[DNSRRSOA(rrname="example", mname="ns.example", rname="h.example")],
            ar=[DNSRROPT()]).compress()),
    raw(DNS(qr=1, qd=[DNSQR(qname="_s._tcp.example", qtype="SRV")],
            an=[DNSRRSRV(rrname="_s._tcp.example", port=53, target="t.example")],
            ar=[DNSRR(rrname="t.example", rdata="192.0.2.9")]).compress()),
    raw(DNS(qr=1, qd=[DNSQR(qname="t.example", qtype="TXT")],
            an=[DNSRR(rrname="t.example", type="TXT", rdata=["abc", "def"])]).compress()),
]


@st.composite
def mutated_messages(draw) -> bytes:
    message = bytearray(draw(st.sampled_from(VALID_MESSAGES)))
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(message) - 1))
        message[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        message = message[:draw(st.integers(0, len(message)))]
    if draw(st.booleans()):
        position = draw(st.integers(0, len(message)))
        message[position:position] = draw(st.binary(max_size=8))
    return bytes(message)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.booleans(), st.booleans()), max_size=20))
def test_random_bytes_never_raise(items):
    frame = parse([m for m, _, _ in items], tcp=[t for _, t, _ in items],
                  captured_all=[c for _, _, c in items])
    assert len(frame) == len(items)
    assert (frame.malformed & frame.incomplete).sum() == 0


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(mutated_messages(), st.booleans()), min_size=1, max_size=10),
       st.binary(min_size=1, max_size=64))
def test_mutated_messages_never_raise_nor_read_outside_their_bytes(items, filler):
    messages = [m for m, _ in items]
    tcp_messages = [tcp_framed(m) if over_tcp else m for m, over_tcp in items]
    tcp_flags = [over_tcp for _, over_tcp in items]
    # First run with empty caches (every name walked), second with only the name
    # cache kept: the results must agree, and no cache hit may hide an outside read.
    dns_message._message_cache.clear()
    dns_names._name_cache.clear()
    surrounded = parse(tcp_messages, tcp=tcp_flags, filler=filler)
    dns_message._message_cache.clear()
    packed = parse(tcp_messages, tcp=tcp_flags, filler=b"")
    assert len(surrounded) == len(messages)
    pd.testing.assert_frame_equal(surrounded, packed)
    assert surrounded.error[surrounded.malformed | surrounded.incomplete].notna().all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(6)), st.integers(0, 0xFFFF), st.booleans(),
                          st.booleans()), min_size=1, max_size=30),
       st.lists(mutated_messages(), min_size=6, max_size=6))
def test_a_batch_of_repeated_messages_is_each_message_parsed_alone(items, pool):
    """The table builds each column once per distinct message and spreads it to the rows
    holding that message: the rows must be what parsing every message alone gives (ids,
    TCP counts and capture cuts kept per row)."""
    messages, tcp_flags, whole = [], [], []
    for pick, ident, over_tcp, captured_all in items:
        message = struct.pack("!H", ident) + pool[pick][2:] if len(pool[pick]) >= 2 \
            else pool[pick]
        messages.append(tcp_framed(message) if over_tcp else message)
        tcp_flags.append(over_tcp)
        whole.append(captured_all)
    batch = parse(messages, tcp=tcp_flags, captured_all=whole)
    alone = pd.concat([parse([m], tcp=t, captured_all=c)
                       for m, t, c in zip(messages, tcp_flags, whole, strict=True)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(batch, alone)
    assert mismatches(batch, BODY) == []
