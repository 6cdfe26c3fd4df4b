"""Differential fuzzing: pcapkit's DNS parser against tshark on random valid messages.

A seeded ``random.Random`` builds valid DNS messages byte by byte (so the test
knows every label, every compression pointer and every record), scapy wraps them
in Ethernet/IPv4/UDP, Ethernet/IPv6/UDP or Ethernet/IPv4/TCP (with the 2-byte
length prefix) and writes one pcap. ``pcapkit.decode_file`` and one tshark run
read it, and every message is compared field by field: header, counts, the first
question, and the answer section's names, types, TTLs and data.

Names are checked twice:

* pcapkit's ``qname`` and record names must equal the RFC 1035 presentation
  format computed from the generated labels (see ``presentation``).
* pcapkit and tshark must agree once pcapkit's name is rendered the way
  Wireshark 4.0 displays names (see ``wireshark_display``). tshark's display is
  lossy (a dot inside a label is not escaped, invalid UTF-8 becomes U+FFFD), so
  the mapping goes from pcapkit to tshark, not back.

Generation avoids only what Wireshark renders in its own non-UTF-8 ways (see
``LABEL_CHUNKS``); nothing that pcapkit might get wrong is left out.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import subprocess
import unicodedata
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from random import Random

import numpy as np
import pandas as pd
import pytest
from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, wrpcap

import pcapkit
from pcapkit.decode.dns.message import type_name
from pcapkit.decode.dns.table import parse_dns_batch

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None,
                                  reason="tshark is not installed")

SEED = 0x5EED_D45
MESSAGES = 1500
MAX_NAME_WIRE = 255
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT = 1, 2, 5, 6, 12, 15, 16, 28, 33, 41
SVCB, HTTPS, CAA, PRIVATE = 64, 65, 257, 65280
RECORD_TYPES = [A, AAAA, CNAME, NS, PTR, MX, TXT, SRV, SOA, CAA, HTTPS, SVCB, PRIVATE]
QUESTION_TYPES = RECORD_TYPES + [255]

# Pieces a label is built from, with weights. Plain LDH characters dominate; the rest are
# the bytes RFC 1035 presentation has to escape (dot, backslash, space, controls, non-ASCII)
# and zone-file specials. Non-ASCII bytes are either whole printable or format/control UTF-8
# characters, or lone continuation bytes 0x80-0xBF and 0xFF, which are invalid UTF-8 on
# their own. Excluded: the lead bytes 0xC0/0xC1 and 0xF5-0xFE followed by continuation
# bytes, because Wireshark 4.0's UTF-8 decoder accepts overlong and out-of-range sequences
# (it shows C0 AF as "/" and F4 90 80 80 as one U+FFFD), which no standard decoder does; a
# lead byte of a valid sequence never appears without its continuation bytes for the same
# reason (Wireshark folds the whole broken sequence into one U+FFFD).
LABEL_CHUNKS: list[tuple[bytes, int]] = (
    [(bytes([c]), 40) for c in b"abcdefghijklmnopqrstuvwxyz0123456789"]
    + [(b"-", 20), (b"_", 10), (b"A", 10), (b"Z", 10)]
    + [(c.encode(), 6) for c in ". \\\"();@$*<>|,"]
    + [(bytes([c]), 2) for c in [*range(0x00, 0x20), 0x7F]]
    + [(c.encode(), 4) for c in "éжß日本😀\u00a0\u0085\u200b\ufeff"]
    + [(bytes([c]), 1) for c in [*range(0x80, 0xC0), 0xFF]]
)
CHUNKS = [chunk for chunk, _ in LABEL_CHUNKS]
CHUNK_CUMULATIVE = list(accumulate(weight for _, weight in LABEL_CHUNKS))
# TXT strings: pcapkit joins them and decodes UTF-8 (not RFC 1035 presentation), so they
# hold printable text only; each string is whole characters.
TXT_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 =-_.;:\\\"'/+éж日😀"

# Wireshark shows control characters the way C source writes them, others in octal.
C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
             "\r": "\\r"}
TSHARK_FIELDS = [
    "frame.number", "dns.id", "dns.flags.response", "dns.flags.opcode", "dns.flags.rcode",
    "dns.flags.truncated", "dns.flags.authoritative", "dns.flags.recdesired",
    "dns.flags.recavail", "dns.flags.authenticated", "dns.flags.checkdisable",
    "dns.qry.name", "dns.qry.type", "dns.qry.class",
    "dns.count.queries", "dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr",
    "dns.count.zones", "dns.count.prerequisites", "dns.count.updates",
    "dns.resp.name", "dns.resp.type", "dns.resp.ttl", "dns.a", "dns.aaaa", "dns.cname",
    "dns.ns", "dns.ptr.domain_name", "dns.mx.preference", "dns.mx.mail_exchange",
    "dns.srv.service", "dns.srv.priority", "dns.srv.weight", "dns.srv.port", "dns.srv.target",
    "dns.soa.mname", "dns.soa.rname", "dns.soa.serial_number", "dns.soa.refresh_interval",
    "dns.soa.retry_interval", "dns.soa.expire_limit", "dns.soa.minimum_ttl", "dns.txt",
    "dns.rr.udp_payload_size",
]


# --- expected renderings of a name ----------------------------------------------------------

def presentation(labels: tuple[bytes, ...]) -> str:
    """RFC 1035 presentation as pcapkit documents it: printable ASCII kept, except that
    ``.`` and ``\\`` inside a label and every other byte are ``\\DDD``; no trailing dot."""
    if not labels:
        return "."
    return ".".join(
        "".join(chr(b) if 0x21 <= b <= 0x7E and b not in b".\\" else f"\\{b:03d}" for b in label)
        for label in labels
    )


def presentation_labels(name: str) -> list[bytes]:
    """Inverse of ``presentation``: the label bytes of a presentation-format name."""
    if name == ".":
        return []
    labels, current, i = [], bytearray(), 0
    while i < len(name):
        char = name[i]
        if char == "\\" and re.fullmatch(r"\d{3}", name[i + 1:i + 4]):
            current.append(int(name[i + 1:i + 4]))
            i += 4
            continue
        if char == "\\":
            current += name[i + 1].encode()
            i += 2
            continue
        if char == ".":
            labels.append(bytes(current))
            current = bytearray()
        else:
            current += char.encode()
        i += 1
    labels.append(bytes(current))
    return labels


def wireshark_text(raw: bytes) -> str:
    """Wireshark 4.0's display of a string (format_text): UTF-8 decoded, each invalid byte
    shown as U+FFFD, C0 controls as C escapes or 3-digit octal, DEL as octal, other
    control and format characters (Unicode Cc, Cf) as ``\\uXXXX``."""
    out = []
    for char in raw.decode("utf-8", "replace"):
        code = ord(char)
        if char in C_ESCAPES:
            out.append(C_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        elif unicodedata.category(char) in ("Cc", "Cf"):
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    return "".join(out)


def wireshark_ascii_text(raw: bytes) -> str:
    """Wireshark 4.0's display of a TXT character-string: read as ASCII, so every byte
    over 0x7F is one U+FFFD (no UTF-8 decoding), controls escaped as in ``wireshark_text``."""
    return "".join("\ufffd" if b > 0x7F else wireshark_text(bytes([b])) for b in raw)


def wireshark_display(name: str) -> str:
    """How tshark shows the name pcapkit gives as ``name``: the labels joined by plain dots
    (no escaping of a dot inside a label), rendered by ``wireshark_text``; the root is
    ``<Root>``."""
    if name == ".":
        return "<Root>"
    return wireshark_text(b".".join(presentation_labels(name)))


# --- message generation ---------------------------------------------------------------------

@dataclass
class Record:
    """One generated resource record and what a reader should see in it."""

    labels: tuple[bytes, ...]
    rrtype: int
    ttl: int
    rdata: bytes
    expected: dict = field(default_factory=dict)
    rrclass: int = 1


@dataclass
class Message:
    """One generated DNS message, its wire form and the facts to check."""

    ident: int
    flags: int
    questions: list[tuple[tuple[bytes, ...], int, int]]  # labels, type, class
    answers: list[Record]
    authority: list[Record]
    additional: list[Record]
    wire: bytes = b""
    edns_udp_size: int | None = None
    carrier: str = ""  # udp4, udp6 or tcp4, set when the message is put in a packet


class Writer:
    """DNS wire writer that remembers where every name suffix was written, so a later
    name can point at it (into the question, an earlier owner name or RDATA)."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.buf = bytearray(12)
        self.suffixes: dict[tuple[bytes, ...], int] = {}
        self.pointers = 0

    def name(self, labels: tuple[bytes, ...], compress: bool) -> None:
        for i in range(len(labels)):
            suffix = labels[i:]
            if compress and suffix in self.suffixes:
                self.buf += struct.pack("!H", 0xC000 | self.suffixes[suffix])
                self.pointers += 1
                return
            if len(self.buf) < 0x4000:
                self.suffixes.setdefault(suffix, len(self.buf))
            self.buf += bytes([len(labels[i])]) + labels[i]
        self.buf.append(0)


def random_label(rng: Random, length: int) -> bytes:
    label = bytearray()
    for chunk in rng.choices(CHUNKS, cum_weights=CHUNK_CUMULATIVE, k=length):
        if len(label) + len(chunk) > length:
            break
        label += chunk
    label += b"x" * (length - len(label))  # a multi-byte character did not fit
    # Excluded: a label starting with a zero byte. Wireshark 4.0 keeps names as C strings,
    # so a name whose first byte is 0x00 becomes empty: it shows "<Root>" for such a name
    # in CNAME/NS/PTR/MX/SOA data and leaves the owner name out of dns.resp.name. Zero
    # bytes later in a label are generated (and compared).
    if label[0] == 0:
        label[0] = ord("z")
    return bytes(label)


def wire_size(labels: tuple[bytes, ...]) -> int:
    return sum(len(label) + 1 for label in labels) + 1


def random_labels(rng: Random, count: int, room: int) -> tuple[bytes, ...]:
    """``count`` labels taking at most ``room`` wire bytes (length bytes included)."""
    labels = []
    for left in range(count, 0, -1):
        most = min(63, room - 2 * left + 1)
        if most < 1:
            break
        kind = rng.random()
        length = most if kind < 0.15 else rng.randint(1, min(most, 12 if kind < 0.8 else 63))
        labels.append(random_label(rng, length))
        room -= length + 1
    return tuple(labels)


def random_name(rng: Random, known: list[tuple[bytes, ...]]) -> tuple[bytes, ...]:
    """A fresh name, a name seen before in the message, or labels in front of one."""
    choice = rng.random()
    if known and choice < 0.3:
        return rng.choice(known)
    if choice < 0.02:
        return ()  # the root
    if known and choice < 0.55:
        base = rng.choice(known)
        room = MAX_NAME_WIRE - wire_size(base)
        if room >= 2:
            return random_labels(rng, rng.randint(1, 2), room) + base
    if choice < 0.65:  # as long as a name may be: 255 bytes on the wire
        labels = random_labels(rng, 4, MAX_NAME_WIRE - 1)
        missing = MAX_NAME_WIRE - wire_size(labels)
        if missing >= 2:
            labels += (random_label(rng, min(63, missing - 1)),)
        return labels
    return random_labels(rng, rng.randint(1, 6), MAX_NAME_WIRE - 1)


def txt_strings(rng: Random) -> list[bytes]:
    return [
        "".join(rng.choice(TXT_ALPHABET) for _ in range(rng.randint(0, 30))).encode()
        for _ in range(rng.randint(1, 4))
    ]


def write_rdata(w: Writer, rrtype: int, known: list, rng: Random) -> tuple[dict, tuple]:
    """Write RDATA for ``rrtype``; return what pcapkit and tshark should show."""
    compress = rng.random() < 0.6

    def target() -> tuple[bytes, ...]:
        labels = random_name(rng, known)
        known.append(labels)
        return labels

    if rrtype == A:
        raw = rng.randbytes(4)
        w.buf += raw
        return {"data": socket.inet_ntop(socket.AF_INET, raw)}, ()
    if rrtype == AAAA:
        raw = rng.randbytes(16)
        w.buf += raw
        return {"data": socket.inet_ntop(socket.AF_INET6, raw)}, ()
    if rrtype in (CNAME, NS, PTR):
        labels = target()
        w.name(labels, compress)
        return {"data": presentation(labels)}, (labels,)
    if rrtype == MX:
        pref = rng.randrange(1 << 16)
        labels = target()
        w.buf += struct.pack("!H", pref)
        w.name(labels, compress)
        return {"data": f"{pref} {presentation(labels)}", "numbers": (pref,)}, (labels,)
    if rrtype == SRV:
        numbers = tuple(rng.randrange(1 << 16) for _ in range(3))
        labels = target()
        w.buf += struct.pack("!3H", *numbers)
        # RFC 2782 forbids compressing the target but RFC 3597 asks readers to accept it.
        w.name(labels, compress and rng.random() < 0.3)
        text = " ".join(map(str, numbers))
        return {"data": f"{text} {presentation(labels)}", "numbers": numbers}, (labels,)
    if rrtype == SOA:
        mname, rname = target(), target()
        numbers = tuple(rng.randrange(1 << 32) for _ in range(5))
        w.name(mname, compress)
        w.name(rname, compress)
        w.buf += struct.pack("!5I", *numbers)
        text = f"{presentation(mname)} {presentation(rname)} {' '.join(map(str, numbers))}"
        return {"data": text, "numbers": numbers}, (mname, rname)
    if rrtype == TXT:
        strings = txt_strings(rng)
        for s in strings:
            w.buf += bytes([len(s)]) + s
        return {"data": b"".join(strings).decode(), "strings": strings}, ()
    start = len(w.buf)
    if rrtype == CAA:
        tag = rng.choice([b"issue", b"issuewild", b"iodef"])
        w.buf += bytes([rng.choice([0, 128]), len(tag)]) + tag + b"ca.example.net"
    elif rrtype in (SVCB, HTTPS):
        # RFC 9460: the TargetName is never compressed. Keys in ascending order.
        w.buf += struct.pack("!H", rng.randrange(1, 1 << 16))
        w.name(random_labels(rng, rng.randint(0, 3), 100), compress=False)
        w.buf += struct.pack("!HH", 1, 3) + b"\x02h2"                    # alpn
        w.buf += struct.pack("!HHH", 3, 2, rng.randrange(1 << 16))      # port
        w.buf += struct.pack("!HH", 4, 4) + rng.randbytes(4)            # ipv4hint
    else:
        w.buf += rng.randbytes(rng.randint(0, 24))
    return {"data": bytes(w.buf[start:]).hex()}, ()


def write_record(w: Writer, rrtype: int, known: list, rng: Random, owner=None,
                 rrclass: int = 1) -> Record:
    """A record of class IN, or with ``rrclass`` NONE/ANY one without RDATA as DNS UPDATE
    prerequisites and RRset deletions have (RFC 2136 sections 2.4 and 2.5)."""
    labels = random_name(rng, known) if owner is None else owner
    known.append(labels)
    w.name(labels, rng.random() < 0.7)
    ttl = rng.choice([0, 1, 30, 300, (1 << 31) - 1, rng.randrange(1 << 31)])
    if rrclass != 1:
        w.buf += struct.pack("!HHIH", rrtype, rrclass, 0, 0)
        return Record(labels, rrtype, 0, b"", {"data": "", "names": (), "strings": []}, rrclass)
    w.buf += struct.pack("!HHI", rrtype, rrclass, ttl)
    length_at = len(w.buf)
    w.buf += b"\0\0"
    expected, names = write_rdata(w, rrtype, known, rng)
    struct.pack_into("!H", w.buf, length_at, len(w.buf) - length_at - 2)
    record = Record(labels, rrtype, ttl, bytes(w.buf[length_at + 2:]), expected)
    record.expected["names"] = names
    return record


def record_class(rng: Random, opcode: int) -> int:
    """IN, except that a DNS UPDATE's records are often RDATA-less NONE or ANY ones."""
    if opcode == 5 and rng.random() < 0.4:
        return rng.choice([254, 255])
    return 1


def write_opt(w: Writer, rng: Random) -> int:
    udp_size = rng.choice([512, 1232, 4096, rng.randrange(512, 1 << 16)])
    options = bytearray()
    for _ in range(rng.randint(0, 3)):
        code, data = rng.choice([
            (10, rng.randbytes(rng.choice([8, 24]))),                 # cookie
            (12, bytes(rng.randint(0, 40))),                          # padding
            (8, struct.pack("!HBB", 1, 24, 0) + rng.randbytes(3)),    # client subnet
            (65001, rng.randbytes(rng.randint(0, 10))),               # unknown option
        ])
        options += struct.pack("!HH", code, len(data)) + data
    flags = rng.choice([0, 0x8000])  # DO bit
    w.buf += b"\0" + struct.pack("!HHIH", OPT, udp_size, flags, len(options)) + options
    return udp_size


def random_message(rng: Random) -> Message:
    w = Writer(rng)
    known: list[tuple[bytes, ...]] = []
    opcode = rng.choice([0, 0, 0, 4, 5])
    flags = (rng.getrandbits(1) << 15) | (opcode << 11) | rng.randint(0, 5)
    for bit in (10, 9, 8, 7, 5, 4):  # AA TC RD RA AD CD
        flags |= rng.getrandbits(1) << bit
    qdcount = rng.choices([1, 0, 2], [8, 1, 1])[0]
    questions = []
    for _ in range(qdcount):
        labels = random_name(rng, known)
        known.append(labels)
        qtype = rng.choice(QUESTION_TYPES)
        qclass = rng.choices([1, 3, 254, 255], [12, 1, 1, 1])[0]
        w.name(labels, rng.random() < 0.7)
        w.buf += struct.pack("!HH", qtype, qclass)
        questions.append((labels, qtype, qclass))
    answers = []
    for _ in range(rng.choices([0, 1, 2, 3, 5], [3, 4, 2, 2, 1])[0]):
        # A CNAME chain: the next owner is the previous target (a pointer into RDATA).
        owner = None
        if answers and answers[-1].rrtype == CNAME and answers[-1].rdata and rng.random() < 0.7:
            owner = answers[-1].expected["names"][0]
        answers.append(write_record(w, rng.choice(RECORD_TYPES), known, rng, owner,
                                    record_class(rng, opcode)))
    authority = [write_record(w, rng.choice([SOA, NS]), known, rng,
                              rrclass=record_class(rng, opcode))
                 for _ in range(rng.choices([0, 1, 2], [5, 3, 1])[0])]
    additional = [write_record(w, rng.choice([A, AAAA, TXT]), known, rng)
                  for _ in range(rng.choices([0, 1, 2], [5, 3, 1])[0])]
    edns_udp_size = None
    arcount = len(additional)
    if rng.random() < 0.4:
        edns_udp_size = write_opt(w, rng)
        arcount += 1
    ident = rng.randrange(1 << 16)
    struct.pack_into("!6H", w.buf, 0, ident, flags, qdcount, len(answers), len(authority),
                     arcount)
    return Message(ident, flags, questions, answers, authority, additional, bytes(w.buf),
                   edns_udp_size)


# Fixed addresses: without them scapy looks up the destination MAC (ARP) for every frame.
ETHERNET = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def packet(message: Message, index: int, rng: Random):
    """Wrap a message: mostly UDP over IPv4, some over IPv6, some TCP with a length prefix."""
    client = 20000 + index  # one client port per message: every TCP segment its own stream
    sport, dport = (53, client) if message.flags & 0x8000 else (client, 53)
    message.carrier = rng.choices(["udp4", "udp6", "tcp4"], [6, 2, 2])[0]
    if message.carrier == "tcp4":
        return (ETHERNET / IP(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=sport, dport=dport, flags="PA", seq=rng.randrange(1 << 32))
                / Raw(struct.pack("!H", len(message.wire)) + message.wire))
    ip = (IPv6(src="fd00::1", dst="fd00::2") if message.carrier == "udp6"
          else IP(src="10.0.0.1", dst="10.0.0.2"))
    return ETHERNET / ip / UDP(sport=sport, dport=dport) / Raw(message.wire)


# --- reading both sides -----------------------------------------------------------------------

def tshark_layers(path: Path) -> dict[int, dict[str, list[str]]]:
    command = ["tshark", "-r", str(path), "-T", "json"]
    for name in TSHARK_FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, check=True)
    packets = json.loads(result.stdout.decode("utf-8"))
    layers = [p["_source"]["layers"] for p in packets]
    return {int(layer["frame.number"][0]): layer for layer in layers}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[list[Message], pd.DataFrame, dict]:
    rng = Random(SEED)
    messages = [random_message(rng) for _ in range(MESSAGES)]
    path = tmp_path_factory.mktemp("dns_fuzz") / "random_dns.pcap"
    wrpcap(str(path), [packet(m, i, rng) for i, m in enumerate(messages)])
    table = pcapkit.decode_file(path).dns.set_index("frame")
    return messages, table, tshark_layers(path)


@needs_tshark
def test_generated_corpus_covers_what_it_should(corpus):
    messages, _, _ = corpus
    records = [r for m in messages for r in m.answers]
    names = [q[0] for m in messages for q in m.questions]
    assert {r.rrtype for r in records} == set(RECORD_TYPES)
    assert any(wire_size(n) == MAX_NAME_WIRE for n in names)
    assert any(len(label) == 63 for n in names for label in n)
    assert any(b"." in label for n in names for label in n)
    assert any(b" " in label for n in names for label in n)
    assert any(max(label, default=0) >= 0x80 for n in names for label in n)
    assert sum(b"\xc0" in m.wire[12:] for m in messages) > MESSAGES // 2  # pointers used
    assert {m.flags >> 11 & 0xF for m in messages} == {0, 4, 5}
    assert {len(m.questions) for m in messages} == {0, 1, 2}
    assert {m.carrier for m in messages} == {"udp4", "udp6", "tcp4"}
    assert {r.rrclass for r in records} == {1, 254, 255}
    assert {q[2] for m in messages for q in m.questions} == {1, 3, 254, 255}
    assert sum(m.edns_udp_size is not None for m in messages) > MESSAGES // 4


def _field(layer: dict, name: str) -> list[str]:
    return layer.get(name, [])


def _check_message(message: Message, row: pd.Series, layer: dict) -> None:
    flags = message.flags
    is_update = (flags >> 11 & 0xF) == 5
    # Ground truth first: what was generated.
    assert not row.malformed and pd.isna(row.error)
    assert (row.dns_id, row.qdcount, row.ancount, row.nscount, row.arcount) == (
        message.ident, len(message.questions), len(message.answers), len(message.authority),
        len(message.additional) + (message.edns_udp_size is not None))
    first = message.questions[0] if message.questions else None
    if first is None:
        assert pd.isna(row.qname) and pd.isna(row.qtype)
    else:
        assert (row.qname, row.qtype, row.qclass) == (presentation(first[0]), *first[1:])
    expected_answers = [
        {"name": presentation(r.labels), "type": type_name(r.rrtype), "ttl": r.ttl,
         "data": r.expected["data"]}
        for r in message.answers
    ]
    assert row.answers == expected_answers
    assert row.answer_addrs == [a["data"] for a in expected_answers
                                if a["type"] in ("A", "AAAA") and a["data"]]
    assert row.ttls == [r.ttl for r in message.answers]
    if message.edns_udp_size is None:
        assert pd.isna(row.edns_udp_size)
    else:
        assert row.edns_udp_size == message.edns_udp_size
    over_tcp = message.carrier == "tcp4"
    assert row.transport == ("tcp" if over_tcp else "udp")
    assert row.tcp_messages == 1 if over_tcp else pd.isna(row.tcp_messages)

    # tshark.
    assert int(layer["dns.id"][0], 16) == row.dns_id
    assert layer["dns.flags.response"] == [str(int(row.qr))]
    assert int(layer["dns.flags.opcode"][0]) == row.opcode
    if row.qr:  # tshark 4.0 shows the rcode of responses only
        assert int(layer["dns.flags.rcode"][0]) == row.rcode
    # tshark shows a flag only where it applies (AA and RA in responses, AD in some
    # queries, none of them for some opcodes): compare every flag it shows.
    for flag, column in [("truncated", "tc"), ("recdesired", "rd"), ("authoritative", "aa"),
                         ("recavail", "ra"), ("authenticated", "ad"),
                         ("checkdisable", "cd")]:
        if f"dns.flags.{flag}" in layer:
            assert layer[f"dns.flags.{flag}"] == [str(int(row[column]))], flag
    assert "dns.flags.truncated" in layer or row.opcode != 0
    counts = (["dns.count.zones", "dns.count.prerequisites", "dns.count.updates"] if is_update
              else ["dns.count.queries", "dns.count.answers", "dns.count.auth_rr"])
    counts.append("dns.count.add_rr")
    assert [int(_field(layer, c)[0]) for c in counts] == [
        row.qdcount, row.ancount, row.nscount, row.arcount]
    if row.qdcount:
        assert _field(layer, "dns.qry.name")[0] == wireshark_display(row.qname)
        assert int(_field(layer, "dns.qry.type")[0]) == row.qtype
        assert int(_field(layer, "dns.qry.class")[0], 16) == row.qclass
    else:
        assert not _field(layer, "dns.qry.name")

    udp_sizes = [int(v) for v in _field(layer, "dns.rr.udp_payload_size")]
    assert udp_sizes[:1] == ([] if pd.isna(row.edns_udp_size) else [row.edns_udp_size])

    # Answer section: dns.resp.* list every section in order, answers first. OPT records
    # have no dns.resp.ttl, but they sit in the additional section, after the answers.
    # tshark 4.0 shows an SRV record's owner not as dns.resp.name but split at its first
    # two dots into dns.srv.service, .proto and .name, leaving out empty parts (so only
    # .service, the part before the first dot, is there for every SRV record).
    n = len(row.answers)
    named = [wireshark_display(a["name"]) for a in row.answers if a["type"] != "SRV"]
    assert named == _field(layer, "dns.resp.name")[:len(named)]
    services = [wireshark_display(a["name"]).split(".")[0] for a in row.answers
                if a["type"] == "SRV"]
    assert services == _field(layer, "dns.srv.service")[:len(services)]
    assert [a["type"] for a in row.answers] == [
        type_name(int(t)) for t in _field(layer, "dns.resp.type")[:n]]
    assert row.ttls == [int(t) for t in _field(layer, "dns.resp.ttl")[:n]]
    # Data: tshark shows nothing for an RDATA-less UPDATE record.
    with_data = [(a, r) for a, r in zip(row.answers, message.answers, strict=True) if r.rdata]
    _check_answer_data([a for a, _ in with_data], [r for _, r in with_data], layer)


def _answer_values(layer: dict, name: str, count: int) -> list[str]:
    """The first ``count`` values of a data field: those of the answer section."""
    values = _field(layer, name)
    assert len(values) >= count, name
    return values[:count]


def _check_answer_data(answers: list[dict], records: list[Record], layer: dict) -> None:
    by_type: dict[str, list[dict]] = {}
    for answer in answers:
        by_type.setdefault(answer["type"], []).append(answer)
    assert [a["data"] for a in by_type.get("A", [])] == _answer_values(
        layer, "dns.a", len(by_type.get("A", [])))
    assert [a["data"] for a in by_type.get("AAAA", [])] == _answer_values(
        layer, "dns.aaaa", len(by_type.get("AAAA", [])))
    for rtype, tshark_field in [("CNAME", "dns.cname"), ("NS", "dns.ns"),
                                ("PTR", "dns.ptr.domain_name")]:
        shown = [wireshark_display(a["data"]) for a in by_type.get(rtype, [])]
        assert shown == _answer_values(layer, tshark_field, len(shown)), rtype
    mx = [a["data"].split(" ") for a in by_type.get("MX", [])]
    assert [m[0] for m in mx] == _answer_values(layer, "dns.mx.preference", len(mx))
    assert [wireshark_display(m[1]) for m in mx] == _answer_values(
        layer, "dns.mx.mail_exchange", len(mx))
    srv = [a["data"].split(" ") for a in by_type.get("SRV", [])]
    for i, part in enumerate(["priority", "weight", "port"]):
        assert [s[i] for s in srv] == _answer_values(layer, f"dns.srv.{part}", len(srv))
    assert [wireshark_display(s[3]) for s in srv] == _answer_values(
        layer, "dns.srv.target", len(srv))
    soa = [a["data"].split(" ") for a in by_type.get("SOA", [])]
    assert [wireshark_display(s[0]) for s in soa] == _answer_values(
        layer, "dns.soa.mname", len(soa))
    assert [wireshark_display(s[1]) for s in soa] == _answer_values(
        layer, "dns.soa.rname", len(soa))
    for i, part in enumerate(["serial_number", "refresh_interval", "retry_interval",
                              "expire_limit", "minimum_ttl"]):
        assert [s[2 + i] for s in soa] == _answer_values(layer, f"dns.soa.{part}", len(soa))
    # tshark lists each TXT string, pcapkit joins a record's strings (decoded as UTF-8).
    strings = [r.expected["strings"] for r in records if r.rrtype == TXT]
    shown = _answer_values(layer, "dns.txt", sum(len(s) for s in strings))
    joined, pos = [], 0
    for record_strings in strings:
        joined.append("".join(shown[pos:pos + len(record_strings)]))
        pos += len(record_strings)
    assert [wireshark_ascii_text(a["data"].encode()) for a in by_type.get("TXT", [])] == joined


@needs_tshark
def test_pcapkit_agrees_with_generation_and_tshark(corpus):
    messages, table, layers = corpus
    assert len(table) == len(messages) == len(layers)
    for frame, message in enumerate(messages, start=1):
        row = table.loc[frame]
        try:
            _check_message(message, row, layers[frame])
        except AssertionError as failure:
            raise AssertionError(
                f"frame {frame}: {failure}\nwire={message.wire.hex()}\n"
                f"pcapkit={row.to_dict()}\ntshark={layers[frame]}") from failure


def test_name_normalisation_examples():
    # A dot, a space and byte 255 in one label, then a tab: pcapkit escapes all but the
    # label separator; tshark leaves the dot as it is and shows 0xFF as U+FFFD.
    name = presentation((b"a.b \xff", b"x\ty"))
    assert name == "a\\046b\\032\\255.x\\009y"
    assert presentation_labels(name) == [b"a.b \xff", b"x\ty"]
    assert wireshark_display(name) == "a.b \ufffd.x\\ty"
    assert wireshark_display(presentation((b"\x0e\x7f\xc2\x85",))) == "\\016\\177\\u0085"
    assert wireshark_display(".") == "<Root>"
    assert wireshark_ascii_text("é\t".encode()) == "\ufffd\ufffd\\t"


# --- regressions found by the comparison ------------------------------------------------------

def _parse_single(message: bytes) -> pd.Series:
    return parse_dns_batch(np.frombuffer(message, dtype=np.uint8), np.array([0]),
                           np.array([len(message)]), np.array([False]), np.array([True])).iloc[0]


def test_update_prerequisites_without_rdata_are_not_malformed():
    # RFC 2136 section 2.4: "RRset exists" (class ANY) and "RRset does not exist" (class
    # NONE) prerequisites carry no RDATA. pcapkit used to call the A one "A record with
    # 0-byte data" and the CNAME one "CNAME data overruns its RDLENGTH"; tshark reads them.
    header = struct.pack("!6H", 7, 5 << 11, 1, 3, 0, 0)
    zone = b"\x07example\x00" + struct.pack("!HH", SOA, 1)
    prerequisites = [(b"\x03www\xc0\x0c", A, 255), (b"\x03ftp\xc0\x0c", AAAA, 254),
                     (b"\x03old\xc0\x0c", CNAME, 255)]
    message = header + zone + b"".join(
        name + struct.pack("!HHIH", rrtype, rrclass, 0, 0) for name, rrtype, rrclass in
        prerequisites)
    row = _parse_single(message)
    assert not row.malformed and pd.isna(row.error)
    assert row.answers == [
        {"name": "www.example", "type": "A", "ttl": 0, "data": ""},
        {"name": "ftp.example", "type": "AAAA", "ttl": 0, "data": ""},
        {"name": "old.example", "type": "CNAME", "ttl": 0, "data": ""},
    ]
    assert row.answer_addrs == [] and row.ttls == [0, 0, 0]


def test_class_in_record_without_rdata_is_still_malformed():
    header = struct.pack("!6H", 7, 0x8180, 1, 1, 0, 0)
    question = b"\x01a\x00" + struct.pack("!HH", A, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", A, 1, 60, 0)
    row = _parse_single(header + question + answer)
    assert row.malformed and row.error == "A record with 0-byte data"
