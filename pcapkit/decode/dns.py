"""DNS message parser: one table row per DNS payload found by the packet decoder.

The decoder finds DNS payloads (UDP or TCP on port 53 or a configured port, also
inside tunnels) and calls :func:`parse_dns_batch` once per batch. Each row
describes one DNS message, like a line of Zeek's ``dns.log`` before query and
response are paired; the caller adds the file and frame columns.

What the table holds (see ``DNS_COLUMNS`` for every column):

* Header: ``dns_id``, the flag bits, ``rcode`` with its name, the four section
  counts. Fields are read as far as the captured bytes go: 2 bytes give the id,
  4 bytes the flags, 12 bytes the whole header.
* The first question: ``qname`` (case kept as sent, no trailing dot, the root is
  ``"."``, bytes outside printable ASCII and ``.``/``\\`` inside a label written as
  ``\\DDD`` in the RFC 1035 presentation format), ``qtype`` and ``qclass``.
* The answer section in full: ``answers`` (list of dicts), and the handy
  ``answer_addrs`` (A/AAAA addresses) and ``ttls``. Authority and additional
  records are walked and checked but not kept, except that an EDNS OPT record in
  the additional section sets ``edns_udp_size`` (it is still counted in
  ``arcount``).

Damage and incomplete captures
    ``malformed`` is True when the bytes that were on the wire are not a valid
    DNS message: a header shorter than 12 bytes, a section that runs past the
    end of the message (a count larger than the data), a compression pointer
    loop or a pointer past the end of the message, a label length byte over 63
    (reserved label types 0x40/0x80), a name longer than 255 bytes, or record
    data that overruns its RDLENGTH or has the wrong size (an A record that is
    not 4 bytes; a record of class NONE or ANY may have no data, as DNS UPDATE
    prerequisites and deletions do, RFC 2136). ``error`` says which, and the row
    keeps every field read before the damage. Bytes after the last record are
    ignored, as resolvers do.

    A message the *capture* did not hold in full is not malformed DNS, so
    ``malformed`` stays False, ``incomplete`` is True and ``error`` says why:
    ``"message truncated by snaplen"`` (the caller's ``captured_all`` is False
    and parsing reached the end of the captured bytes) or ``"incomplete TCP DNS
    message"`` (the 2-byte length prefix announces more bytes than the segment
    holds: the message continues in a later segment and pcapkit does not
    reassemble TCP for DNS). Damage found inside the bytes that *were* captured
    is still reported as malformed.

DNS over TCP
    A segment may carry several length-prefixed messages. The row describes the
    first one; ``tcp_messages`` counts the complete messages in the segment.

Speed
    Per-message work is plain Python, so two bounded caches keep it cheap: whole
    messages by their bytes without the 2-byte id (repeated queries and identical
    answers cost one dict look-up), and label runs by their bytes (so a name
    already seen, e.g. the query's name in its response, is not walked again).
    Flag, rcode and type-name columns are derived with numpy for the whole batch,
    and the cyclic garbage collector is paused while a batch is parsed. Cached
    list cells are shared between rows holding identical messages, so treat
    ``answers``, ``answer_addrs`` and ``ttls`` as read-only. Measured on 2 cores:
    about 300,000-500,000 messages/s on Kubernetes-like query/response traffic,
    about 70,000/s when every message is different.

The parser never raises on message content and never reads outside
``data[start[i]:start[i] + length[i]]``.
"""

from __future__ import annotations

import gc
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from struct import unpack_from

import numpy as np
import pandas as pd

DNS_COLUMNS: dict[str, str] = {
    "dns_id": "transaction id from the header (NA when under 2 bytes were captured)",
    "qr": "True for a response, False for a query (QR bit)",
    "opcode": "header OPCODE: 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE",
    "aa": "authoritative answer flag",
    "tc": "truncated flag: the server cut the answer, the client should retry over TCP",
    "rd": "recursion desired flag",
    "ra": "recursion available flag",
    "ad": "authentic data flag (DNSSEC)",
    "cd": "checking disabled flag (DNSSEC)",
    "rcode": "4-bit response code from the header (the EDNS extended bits are not added)",
    "rcode_name": "rcode as a name: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ..."
    " or RCODE<n>",
    "qdcount": "question count from the header",
    "ancount": "answer count from the header",
    "nscount": "authority count from the header",
    "arcount": "additional count from the header (an EDNS OPT record is counted here)",
    "qname": "first question name as sent (case kept, no trailing dot, root is '.')",
    "qtype": "first question type number",
    "qtype_name": "qtype as a name: A, AAAA, SRV, ... or TYPE<n> when unknown (RFC 3597)",
    "qclass": "first question class number (1 is IN; mDNS sets bit 15 for unicast replies)",
    "answers": "answer section as a list of dicts {name, type, ttl, data}; type is the type"
    " name; data is the address for A/AAAA, the target for CNAME/NS/PTR/DNAME,"
    " 'pref exchange' for MX, 'prio weight port target' for SRV, 'mname rname serial"
    " refresh retry expire minimum' for SOA, the strings concatenated for TXT, hex otherwise;"
    " '' for a record of class NONE or ANY without data (DNS UPDATE prerequisites, RFC 2136)",
    "answer_addrs": "list of the A and AAAA addresses in the answer section, in order",
    "ttls": "list of the answer section TTLs in seconds, in order",
    "edns_udp_size": "UDP payload size advertised by an EDNS OPT record (NA when there is none)",
    "malformed": "True when the bytes on the wire are not a valid DNS message (see error)",
    "incomplete": "True when the capture holds only part of the message (snaplen cut, or a TCP"
    " message that continues in another segment); not counted as malformed",
    "error": "why the row is malformed or incomplete, None when the message parsed cleanly",
    "tcp_messages": "DNS over TCP: complete length-prefixed messages in the segment (the row"
    " describes the first); NA for UDP",
}

DNS_DTYPES: dict[str, str] = {
    "dns_id": "UInt16",
    "qr": "boolean",
    "opcode": "UInt8",
    "aa": "boolean",
    "tc": "boolean",
    "rd": "boolean",
    "ra": "boolean",
    "ad": "boolean",
    "cd": "boolean",
    "rcode": "UInt8",
    "rcode_name": "string",
    "qdcount": "UInt16",
    "ancount": "UInt16",
    "nscount": "UInt16",
    "arcount": "UInt16",
    "qname": "string",
    "qtype": "UInt16",
    "qtype_name": "string",
    "qclass": "UInt16",
    "answers": "object",
    "answer_addrs": "object",
    "ttls": "object",
    "edns_udp_size": "UInt16",
    "malformed": "bool",
    "incomplete": "bool",
    "error": "string",
    "tcp_messages": "UInt16",
}
"""pandas dtype of every column; nullable types so a field that was not captured is NA."""

RCODE_NAMES: dict[int, str] = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 11: "DSOTYPENI",
}

TYPE_NAMES: dict[int, str] = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
    10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG",
    25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC",
    33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 40: "SINK",
    41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC",
    48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA",
    55: "HIP", 56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS", 60: "CDNSKEY",
    61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 99: "SPF",
    100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC", 104: "NID", 105: "L32", 106: "L64",
    107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR",
    253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA", 258: "AVC", 259: "DOA",
    260: "AMTRELAY", 261: "RESINFO", 262: "WALLET", 263: "CLA", 264: "IPN", 32768: "TA",
    32769: "DLV",
}

# Why parsing stopped at the end of the available bytes, by how the message ended.
_END_OF_MESSAGE, _SNAPLEN_CUT, _TCP_CONTINUES = 0, 1, 2
_INCOMPLETE_ERRORS = {
    _SNAPLEN_CUT: "message truncated by snaplen",
    _TCP_CONTINUES: "incomplete TCP DNS message",
}
_HEADER_LEN = 12
_MAX_NAME_WIRE_LEN = 255
# Cache bounds: a full cache is emptied and refilled. Worst case about 25 MB together.
_MESSAGE_CACHE_LIMIT = 1 << 14
_NAME_CACHE_LIMIT = 1 << 15
_OPT = 41
# Classes NONE and ANY: in a DNS UPDATE (RFC 2136) their records may carry no RDATA.
_UPDATE_CLASSES = (254, 255)
_A, _NS, _CNAME, _SOA, _PTR, _MX, _TXT, _AAAA, _SRV, _DNAME = 1, 2, 5, 6, 12, 15, 16, 28, 33, 39

# Cached parse of a message (without its id), keyed by (bytes after the id, end kind).
_message_cache: dict[tuple[bytes, int], tuple] = {}
# Label walks (text, label bytes, bytes consumed, pointer target or -1), keyed by the bytes
# from the walk's start up to the next zero byte.
_name_cache: dict[bytes, tuple[str, int, int, int]] = {}

# Bytes that need no escaping inside a label: printable ASCII except '.' and '\'.
_PLAIN_LABEL_BYTES = bytes(b for b in range(0x21, 0x7F) if b not in b".\\")
_PLAIN_NAME_BYTES = _PLAIN_LABEL_BYTES + b"."


class _RanPastEnd(Exception):
    """Parsing needed a byte beyond the available data."""


class _PointerPastEnd(_RanPastEnd):
    """A compression pointer aims beyond the available bytes."""


class _Malformed(Exception):
    """The message breaks a DNS rule; the argument says which."""


def type_name(rrtype: int) -> str:
    """Return the mnemonic of an RR type number, or ``TYPE<n>`` (RFC 3597) when unknown."""
    name = TYPE_NAMES.get(rrtype)
    return name if name is not None else f"TYPE{rrtype}"


def rcode_name(rcode: int) -> str:
    """Return the mnemonic of a response code, or ``RCODE<n>`` when unassigned."""
    name = RCODE_NAMES.get(rcode)
    return name if name is not None else f"RCODE{rcode}"


def _label_text(label: bytes) -> str:
    """Presentation form of one label: printable ASCII kept, anything else as ``\\DDD``."""
    if not label.translate(None, _PLAIN_LABEL_BYTES):
        return label.decode("ascii")
    return "".join(
        chr(b) if b in _PLAIN_LABEL_BYTES else f"\\{b:03d}" for b in label
    )


def _labels_text(labels: list[bytes]) -> str:
    """Presentation form of a run of labels joined by dots ("" for none)."""
    if not labels:
        return ""
    joined = b".".join(labels)
    if not joined.translate(None, _PLAIN_NAME_BYTES) and joined.count(b".") == len(labels) - 1:
        return joined.decode("ascii")
    return ".".join(_label_text(label) for label in labels)


def _walk_labels(msg: bytes, off: int, end: int, budget: int) -> tuple[str, int, int, int]:
    """Walk the labels at ``off`` up to the root label or a compression pointer.

    Returns (text, label bytes used, offset after the root label or the pointer,
    pointer target or -1). ``budget`` is how many label bytes the name may still use.
    """
    labels: list[bytes] = []
    used = 0
    while True:
        if off >= end:
            raise _RanPastEnd
        n = msg[off]
        if n == 0:
            return _labels_text(labels), used, off + 1, -1
        if n < 64:
            off += 1
            stop = off + n
            if stop > end:
                raise _RanPastEnd
            used += n + 1
            if used > budget:
                raise _Malformed("name longer than 255 bytes")
            labels.append(msg[off:stop])
            off = stop
        elif n >= 0xC0:
            if off + 1 >= end:
                raise _RanPastEnd
            return _labels_text(labels), used, off + 2, ((n & 0x3F) << 8) | msg[off + 1]
        else:
            raise _Malformed(
                f"invalid label length byte 0x{n:02x} (labels are at most 63 bytes;"
                " 0x40 and 0x80 label types are reserved)"
            )


def _read_name(msg: bytes, off: int, end: int, memo: dict) -> tuple[str, int]:
    """Read the (possibly compressed) name at ``off``; return it and the offset after it.

    Pointers may go forwards or backwards (RFC 1035 does not forbid either) but a
    pointer that revisits a target is a loop, and one past ``end`` is outside the
    message. ``end`` is the number of available bytes of ``msg``.

    Two caches keep this cheap. ``memo`` (one per message) maps an offset to the
    name already read there, so pointers to the question name cost one look-up.
    ``_name_cache`` maps the bytes up to the next zero byte to the result of
    walking the labels there (text, label bytes, bytes consumed, pointer target).
    A hit is exact: the walk depends only on the bytes it consumed, and an entry is
    stored only when those bytes lie inside the key.
    """
    known = memo.get(off)
    if known is not None:
        return known[0], known[2]
    if off < end:  # the two commonest names: the root, and one pointer to a name read before
        first = msg[off]
        if first == 0:
            return ".", off + 1
        if first >= 0xC0 and off + 1 < end:
            known = memo.get(((first & 0x3F) << 8) | msg[off + 1])
            if known is not None:
                return known[0], off + 2
    begin = off
    parts: list[str] = []
    budget = _MAX_NAME_WIRE_LEN - 1  # label bytes left once the root label is counted
    after = -1
    visited: set[int] | None = None
    while True:
        if off >= end:
            raise _RanPastEnd
        target = -1
        known = memo.get(off) if after >= 0 else None
        if known is not None:
            used = known[1]
            text = known[0] if used else ""
        elif msg[off] >= 0xC0:
            if off + 1 >= end:
                raise _RanPastEnd
            text, used, target = "", 0, ((msg[off] & 0x3F) << 8) | msg[off + 1]
            off += 2
        else:
            zero = msg.find(0, off, end)
            key = msg[off:zero + 1] if zero >= 0 else None
            hit = _name_cache.get(key) if key is not None else None
            if hit is not None:
                text, used, consumed, target = hit
                off += consumed
            else:
                text, used, after_walk, target = _walk_labels(msg, off, end, budget)
                if key is not None and after_walk <= zero + 1:
                    if len(_name_cache) >= _NAME_CACHE_LIMIT:
                        _name_cache.clear()
                    _name_cache[key] = (text, used, after_walk - off, target)
                off = after_walk
        if used > budget:
            raise _Malformed("name longer than 255 bytes")
        budget -= used
        if text:
            parts.append(text)
        if target < 0:
            break
        if visited is None:
            after = off
            visited = {target}
        elif target in visited:
            raise _Malformed("compression pointer loop")
        else:
            visited.add(target)
        if target >= end:
            raise _PointerPastEnd
        off = target
    name = ".".join(parts) if parts else "."
    if after < 0:
        after = off
    memo[begin] = (name, _MAX_NAME_WIRE_LEN - 1 - budget, after)
    return name, after


def _rdata_text(msg: bytes, rrtype: int, off: int, stop: int, memo: dict) -> str:
    """Readable form of the RDATA in ``msg[off:stop]``; names in it may use compression."""
    size = stop - off
    if rrtype == _A and size == 4:
        return socket.inet_ntop(socket.AF_INET, msg[off:stop])
    if rrtype == _AAAA and size == 16:
        return socket.inet_ntop(socket.AF_INET6, msg[off:stop])
    if rrtype in (_CNAME, _NS, _PTR, _DNAME):
        return _read_rdata_name(msg, off, stop, rrtype, memo)[0]
    if rrtype == _MX and size >= 3:
        target, _ = _read_rdata_name(msg, off + 2, stop, rrtype, memo)
        return f"{unpack_from('!H', msg, off)[0]} {target}"
    if rrtype == _SRV and size >= 7:
        prio, weight, port = unpack_from("!HHH", msg, off)
        target, _ = _read_rdata_name(msg, off + 6, stop, rrtype, memo)
        return f"{prio} {weight} {port} {target}"
    if rrtype == _TXT:
        return _txt_text(msg, off, stop)
    if rrtype == _SOA:
        mname, pos = _read_rdata_name(msg, off, stop, rrtype, memo)
        rname, pos = _read_rdata_name(msg, pos, stop, rrtype, memo)
        if pos + 20 > stop:
            raise _Malformed("SOA data overruns its RDLENGTH")
        numbers = " ".join(str(v) for v in unpack_from("!5I", msg, pos))
        return f"{mname} {rname} {numbers}"
    if rrtype in (_A, _AAAA, _MX, _SRV):
        raise _Malformed(f"{type_name(rrtype)} record with {size}-byte data")
    return msg[off:stop].hex()


def _read_rdata_name(
    msg: bytes, off: int, stop: int, rrtype: int, memo: dict
) -> tuple[str, int]:
    """Read a name inside RDATA; its uncompressed part must end by ``stop``."""
    try:
        name, after = _read_name(msg, off, len(msg), memo)
    except _PointerPastEnd:
        raise
    except _RanPastEnd:
        after = stop + 1
        name = ""
    if after > stop:
        raise _Malformed(f"{type_name(rrtype)} data overruns its RDLENGTH")
    return name, after


def _txt_text(msg: bytes, off: int, stop: int) -> str:
    """Concatenate the character-strings of a TXT record (RFC 7208 joins them without spaces)."""
    parts: list[bytes] = []
    while off < stop:
        n = msg[off]
        off += 1
        if off + n > stop:
            raise _Malformed("TXT data overruns its RDLENGTH")
        parts.append(msg[off:off + n])
        off += n
    return b"".join(parts).decode("utf-8", "backslashreplace")


def _parse_message(msg: bytes, end_kind: int) -> tuple:
    """Parse one DNS message (its id excluded) into the cached part of a row.

    Returns (flags, qdcount, ancount, nscount, arcount, qname, qtype, qclass, answers,
    answer_addrs, ttls, edns_udp_size, malformed, error, incomplete). Integers that
    could not be read are -1, strings None.
    """
    end = len(msg)
    if end < _HEADER_LEN:
        counts = [-1, -1, -1, -1, -1]
        for i in range(min(5, (end - 2) // 2)):
            counts[i] = (msg[2 + 2 * i] << 8) | msg[3 + 2 * i]
        if end_kind == _END_OF_MESSAGE:
            malformed, error = True, "message shorter than the 12-byte DNS header"
        else:
            malformed, error = False, _INCOMPLETE_ERRORS[end_kind]
        return (*counts, None, -1, -1, [], [], [], -1, malformed, error, not malformed)
    flags, qdcount, ancount, nscount, arcount = unpack_from("!5H", msg, 2)
    qname: str | None = None
    qtype = qclass = edns_udp_size = -1
    answers: list[dict] = []
    addrs: list[str] = []
    ttls: list[int] = []
    malformed = False
    error: str | None = None
    section = "question"
    off = _HEADER_LEN
    memo: dict[int, tuple[str, int, int]] = {}
    try:
        for _ in range(qdcount):
            name, off = _read_name(msg, off, end, memo)
            if off + 4 > end:
                raise _RanPastEnd
            if qname is None:
                qname = name
                qtype, qclass = unpack_from("!HH", msg, off)
            off += 4
        section = "answer"
        for _ in range(ancount):
            name, off = _read_name(msg, off, end, memo)
            if off + 10 > end:
                raise _RanPastEnd
            rrtype, rrclass, ttl, rdlength = unpack_from("!HHIH", msg, off)
            off += 10
            stop = off + rdlength
            if stop > end:
                raise _RanPastEnd
            if rdlength or rrclass not in _UPDATE_CLASSES:
                data = _rdata_text(msg, rrtype, off, stop, memo)
            else:  # an UPDATE prerequisite such as "RRset exists" (RFC 2136 section 2.4)
                data = ""
            answers.append({"name": name, "type": type_name(rrtype), "ttl": ttl, "data": data})
            ttls.append(ttl)
            if (rrtype == _A or rrtype == _AAAA) and data:
                addrs.append(data)
            off = stop
        section = "authority"
        for _ in range(nscount):
            _name, off = _read_name(msg, off, end, memo)
            if off + 10 > end:
                raise _RanPastEnd
            off += 10 + ((msg[off + 8] << 8) | msg[off + 9])
            if off > end:
                raise _RanPastEnd
        section = "additional"
        for _ in range(arcount):
            _name, off = _read_name(msg, off, end, memo)
            if off + 10 > end:
                raise _RanPastEnd
            if ((msg[off] << 8) | msg[off + 1]) == _OPT and edns_udp_size < 0:
                edns_udp_size = (msg[off + 2] << 8) | msg[off + 3]
            off += 10 + ((msg[off + 8] << 8) | msg[off + 9])
            if off > end:
                raise _RanPastEnd
    except _PointerPastEnd:
        if end_kind == _END_OF_MESSAGE:
            malformed, error = True, "compression pointer outside the message"
        else:
            error = _INCOMPLETE_ERRORS[end_kind]
    except _RanPastEnd:
        if end_kind == _END_OF_MESSAGE:
            malformed, error = True, f"{section} section runs past end of message"
        else:
            error = _INCOMPLETE_ERRORS[end_kind]
    except _Malformed as damage:
        malformed, error = True, str(damage)
    if error is None and end_kind == _TCP_CONTINUES:
        error = _INCOMPLETE_ERRORS[end_kind]
    incomplete = error is not None and not malformed
    return (flags, qdcount, ancount, nscount, arcount, qname, qtype, qclass, answers, addrs,
            ttls, edns_udp_size, malformed, error, incomplete)


def _parse_cached(msg: bytes, end_kind: int) -> tuple:
    """``_parse_message`` behind a bounded cache keyed by the bytes after the id."""
    key = (msg[2:], end_kind)
    parsed = _message_cache.get(key)
    if parsed is None:
        parsed = _parse_message(msg, end_kind)
        if len(_message_cache) >= _MESSAGE_CACHE_LIMIT:
            _message_cache.clear()
        _message_cache[key] = parsed
    return parsed


def _split_tcp(segment: bytes, captured_all: bool) -> tuple[bytes, int, int]:
    """Split a DNS-over-TCP segment: (first message, how it ends, complete messages)."""
    size = len(segment)
    complete = 0
    pos = 0
    while pos + 2 <= size:
        stop = pos + 2 + ((segment[pos] << 8) | segment[pos + 1])
        if stop > size:
            break
        complete += 1
        pos = stop
    if size < 2:
        return b"", (_TCP_CONTINUES if captured_all else _SNAPLEN_CUT), 0
    first_len = (segment[0] << 8) | segment[1]
    if first_len + 2 <= size:
        return segment[2:2 + first_len], _END_OF_MESSAGE, complete
    return segment[2:], (_TCP_CONTINUES if captured_all else _SNAPLEN_CUT), complete


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is parsed.

    A batch allocates many small lists and dicts that stay alive until the table is
    built; each allocation burst makes the collector rescan every live object in the
    process, which more than halves parsing speed. The parser creates no reference
    cycles, so nothing is leaked; the collector's previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _empty_frame() -> pd.DataFrame:
    """The table with every column and dtype but no rows."""
    return pd.DataFrame({name: pd.array([], dtype=dtype) for name, dtype in DNS_DTYPES.items()})


def _uint_column(values: list[int], dtype: str) -> pd.api.extensions.ExtensionArray:
    """Nullable unsigned integer column from Python ints where -1 means 'not read'."""
    raw = np.array(values, dtype=np.int64)
    missing = raw < 0
    return pd.arrays.IntegerArray(raw.astype(dtype.lower()), missing)


def _object_column(values: list) -> np.ndarray:
    """1-D object array holding each value as is (numpy would turn lists into a 2-D array)."""
    column = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        column[i] = value
    return column


def _name_column(
    numbers: np.ndarray, missing: np.ndarray, namer: Callable[[int], str]
) -> pd.api.extensions.ExtensionArray:
    """String column naming each number (rcode, qtype) via ``namer``; NA where missing."""
    names = np.full(len(numbers), None, dtype=object)
    present = ~missing
    if present.any():
        uniques, inverse = np.unique(numbers[present], return_inverse=True)
        names[present] = np.array([namer(int(u)) for u in uniques], dtype=object)[inverse]
    return pd.array(names, dtype="string")


def _build_frame(ids: list[int], parsed: list[tuple], tcp_messages: list[int]) -> pd.DataFrame:
    """Turn per-row parse results into the typed table, deriving flag columns vectorised."""
    (flags, qdcount, ancount, nscount, arcount, qname, qtype, qclass, answers, addrs, ttls,
     edns, malformed, error, incomplete) = zip(*parsed, strict=True)
    flag_bits = np.array(flags, dtype=np.int64)
    no_flags = flag_bits < 0
    flag_bits[no_flags] = 0

    def flag(bit: int) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray((flag_bits >> bit) & 1 == 1, no_flags.copy())

    rcode = flag_bits & 0xF
    qtype_column = _uint_column(qtype, "UInt16")
    columns = {
        "dns_id": _uint_column(ids, "UInt16"),
        "qr": flag(15),
        "opcode": pd.arrays.IntegerArray(
            ((flag_bits >> 11) & 0xF).astype(np.uint8), no_flags.copy()
        ),
        "aa": flag(10),
        "tc": flag(9),
        "rd": flag(8),
        "ra": flag(7),
        "ad": flag(5),
        "cd": flag(4),
        "rcode": pd.arrays.IntegerArray(rcode.astype(np.uint8), no_flags.copy()),
        "rcode_name": _name_column(rcode, no_flags, rcode_name),
        "qdcount": _uint_column(qdcount, "UInt16"),
        "ancount": _uint_column(ancount, "UInt16"),
        "nscount": _uint_column(nscount, "UInt16"),
        "arcount": _uint_column(arcount, "UInt16"),
        "qname": pd.array(qname, dtype="string"),
        "qtype": qtype_column,
        "qtype_name": _name_column(
            np.array(qtype, dtype=np.int64), np.asarray(qtype_column.isna()), type_name
        ),
        "qclass": _uint_column(qclass, "UInt16"),
        "answers": _object_column(answers),
        "answer_addrs": _object_column(addrs),
        "ttls": _object_column(ttls),
        "edns_udp_size": _uint_column(edns, "UInt16"),
        "malformed": np.array(malformed, dtype=bool),
        "incomplete": np.array(incomplete, dtype=bool),
        "error": pd.array(error, dtype="string"),
        "tcp_messages": _uint_column(tcp_messages, "UInt16"),
    }
    return pd.DataFrame(columns)


def _as_array(values: np.ndarray, name: str, dtype: type) -> np.ndarray:
    """Check that a per-message argument is 1-D and give it the expected dtype."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"parse_dns_batch: {name} must be a 1-D array, got shape {array.shape}")
    return array.astype(dtype, copy=False)


def parse_dns_batch(data: np.ndarray, start: np.ndarray, length: np.ndarray,
                    tcp: np.ndarray, captured_all: np.ndarray) -> pd.DataFrame:
    """Parse a batch of DNS message candidates into one table row each.

    data: uint8 buffer; start/length: int64 arrays, the DNS payload bytes of each message
    candidate are data[start[i]:start[i]+length[i]] (already limited to captured bytes; never
    read outside); tcp: bool array (payload begins with the 2-byte DNS-over-TCP length prefix);
    captured_all: bool array, False when snaplen cut the payload short.
    Returns one row per input element, in input order (the caller attaches file/frame), with
    the columns of DNS_COLUMNS (dtypes in DNS_DTYPES).

    Message content never raises. Arrays of different lengths are a caller bug and
    raise ``ValueError``; a payload range outside ``data`` gives a malformed row.
    """
    buffer = np.ascontiguousarray(np.asarray(data).reshape(-1)).view(np.uint8)
    starts = _as_array(start, "start", np.int64)
    lengths = _as_array(length, "length", np.int64)
    is_tcp = _as_array(tcp, "tcp", bool)
    whole = _as_array(captured_all, "captured_all", bool)
    count = len(starts)
    if not (len(lengths) == len(is_tcp) == len(whole) == count):
        raise ValueError(
            "parse_dns_batch: start, length, tcp and captured_all must have the same length, got "
            f"{count}, {len(lengths)}, {len(is_tcp)}, {len(whole)}"
        )
    if count == 0:
        return _empty_frame()
    with _cyclic_gc_paused():
        ids, parsed, tcp_counts = _parse_rows(buffer, starts, lengths, is_tcp, whole)
        return _build_frame(ids, parsed, tcp_counts)


def _parse_rows(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                is_tcp: np.ndarray, whole: np.ndarray) -> tuple[list, list, list]:
    """Per-message loop: (ids, cached parse tuples, TCP message counts), -1 for 'none'."""
    out_of_bounds = (starts < 0) | (lengths < 0) | (starts + lengths > len(buffer))
    view = memoryview(buffer)
    ids: list[int] = []
    parsed: list[tuple] = []
    tcp_counts: list[int] = []
    bad_range = (-1, -1, -1, -1, -1, None, -1, -1, [], [], [], -1, True,
                 "payload range lies outside the data buffer", False)
    for s, n, over_tcp, all_captured, outside in zip(
        starts.tolist(), lengths.tolist(), is_tcp.tolist(), whole.tolist(),
        out_of_bounds.tolist(), strict=True,
    ):
        if outside:
            ids.append(-1)
            parsed.append(bad_range)
            tcp_counts.append(-1)
            continue
        payload = view[s:s + n].tobytes()
        if over_tcp:
            msg, end_kind, complete = _split_tcp(payload, all_captured)
            tcp_counts.append(complete)
        else:
            msg = payload
            end_kind = _END_OF_MESSAGE if all_captured else _SNAPLEN_CUT
            tcp_counts.append(-1)
        ids.append(((msg[0] << 8) | msg[1]) if len(msg) >= 2 else -1)
        parsed.append(_parse_cached(msg, end_kind))
    return ids, parsed, tcp_counts
