"""One DNS message: header, question, answer records, the EDNS OPT record.

:func:`parse_message` gives the part of a table row that depends on the message
bytes after the 2-byte id, behind a bounded cache (repeated queries and
identical answers cost one dict look-up). :func:`split_tcp` cuts the first
message out of a DNS-over-TCP segment. What ``malformed`` and ``incomplete``
mean is described in :mod:`pcapkit.decode.dns.table`.
"""

from __future__ import annotations

import socket
from struct import unpack_from

from pcapkit.decode.dns.names import Malformed, PointerPastEnd, RanPastEnd, read_name

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
END_OF_MESSAGE, SNAPLEN_CUT, TCP_CONTINUES = 0, 1, 2
_INCOMPLETE_ERRORS = {
    SNAPLEN_CUT: "message truncated by snaplen",
    TCP_CONTINUES: "incomplete TCP DNS message",
}
_HEADER_LEN = 12
# Cache bound: a full cache is emptied and refilled. With the name cache, worst case
# about 25 MB together.
_MESSAGE_CACHE_LIMIT = 1 << 14
_OPT = 41
# Classes NONE and ANY: in a DNS UPDATE (RFC 2136) their records may carry no RDATA.
_UPDATE_CLASSES = (254, 255)
_A, _NS, _CNAME, _SOA, _PTR, _MX, _TXT, _AAAA, _SRV, _DNAME = 1, 2, 5, 6, 12, 15, 16, 28, 33, 39

# Cached parse of a message (without its id), keyed by (bytes after the id, end kind).
_message_cache: dict[tuple[bytes, int], tuple] = {}


def type_name(rrtype: int) -> str:
    """Return the mnemonic of an RR type number, or ``TYPE<n>`` (RFC 3597) when unknown."""
    name = TYPE_NAMES.get(rrtype)
    return name if name is not None else f"TYPE{rrtype}"


def rcode_name(rcode: int) -> str:
    """Return the mnemonic of a response code, or ``RCODE<n>`` when unassigned."""
    name = RCODE_NAMES.get(rcode)
    return name if name is not None else f"RCODE{rcode}"


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
            raise Malformed("SOA data overruns its RDLENGTH")
        numbers = " ".join(str(v) for v in unpack_from("!5I", msg, pos))
        return f"{mname} {rname} {numbers}"
    if rrtype in (_A, _AAAA, _MX, _SRV):
        raise Malformed(f"{type_name(rrtype)} record with {size}-byte data")
    return msg[off:stop].hex()


def _read_rdata_name(
    msg: bytes, off: int, stop: int, rrtype: int, memo: dict
) -> tuple[str, int]:
    """Read a name inside RDATA; its uncompressed part must end by ``stop``."""
    try:
        name, after = read_name(msg, off, len(msg), memo)
    except PointerPastEnd:
        raise
    except RanPastEnd:
        after = stop + 1
        name = ""
    if after > stop:
        raise Malformed(f"{type_name(rrtype)} data overruns its RDLENGTH")
    return name, after


def _txt_text(msg: bytes, off: int, stop: int) -> str:
    """Concatenate the character-strings of a TXT record (RFC 7208 joins them without spaces)."""
    parts: list[bytes] = []
    while off < stop:
        n = msg[off]
        off += 1
        if off + n > stop:
            raise Malformed("TXT data overruns its RDLENGTH")
        parts.append(msg[off:off + n])
        off += n
    return b"".join(parts).decode("utf-8", "backslashreplace")


def _parse_uncached(msg: bytes, end_kind: int) -> tuple:
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
        if end_kind == END_OF_MESSAGE:
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
            name, off = read_name(msg, off, end, memo)
            if off + 4 > end:
                raise RanPastEnd
            if qname is None:
                qname = name
                qtype, qclass = unpack_from("!HH", msg, off)
            off += 4
        section = "answer"
        for _ in range(ancount):
            name, off = read_name(msg, off, end, memo)
            if off + 10 > end:
                raise RanPastEnd
            rrtype, rrclass, ttl, rdlength = unpack_from("!HHIH", msg, off)
            off += 10
            stop = off + rdlength
            if stop > end:
                raise RanPastEnd
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
            _name, off = read_name(msg, off, end, memo)
            if off + 10 > end:
                raise RanPastEnd
            off += 10 + ((msg[off + 8] << 8) | msg[off + 9])
            if off > end:
                raise RanPastEnd
        section = "additional"
        for _ in range(arcount):
            _name, off = read_name(msg, off, end, memo)
            if off + 10 > end:
                raise RanPastEnd
            if ((msg[off] << 8) | msg[off + 1]) == _OPT and edns_udp_size < 0:
                edns_udp_size = (msg[off + 2] << 8) | msg[off + 3]
            off += 10 + ((msg[off + 8] << 8) | msg[off + 9])
            if off > end:
                raise RanPastEnd
    except PointerPastEnd:
        if end_kind == END_OF_MESSAGE:
            malformed, error = True, "compression pointer outside the message"
        else:
            error = _INCOMPLETE_ERRORS[end_kind]
    except RanPastEnd:
        if end_kind == END_OF_MESSAGE:
            malformed, error = True, f"{section} section runs past end of message"
        else:
            error = _INCOMPLETE_ERRORS[end_kind]
    except Malformed as damage:
        malformed, error = True, str(damage)
    if error is None and end_kind == TCP_CONTINUES:
        error = _INCOMPLETE_ERRORS[end_kind]
    incomplete = error is not None and not malformed
    return (flags, qdcount, ancount, nscount, arcount, qname, qtype, qclass, answers, addrs,
            ttls, edns_udp_size, malformed, error, incomplete)


def parse_message(msg: bytes, end_kind: int) -> tuple:
    """``_parse_uncached`` behind a bounded cache keyed by the bytes after the id."""
    key = (msg[2:], end_kind)
    parsed = _message_cache.get(key)
    if parsed is None:
        parsed = _parse_uncached(msg, end_kind)
        if len(_message_cache) >= _MESSAGE_CACHE_LIMIT:
            _message_cache.clear()
        _message_cache[key] = parsed
    return parsed


def split_tcp(segment: bytes, captured_all: bool) -> tuple[bytes, int, int]:
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
        return b"", (TCP_CONTINUES if captured_all else SNAPLEN_CUT), 0
    first_len = (segment[0] << 8) | segment[1]
    if first_len + 2 <= size:
        return segment[2:2 + first_len], END_OF_MESSAGE, complete
    return segment[2:], (TCP_CONTINUES if captured_all else SNAPLEN_CUT), complete
