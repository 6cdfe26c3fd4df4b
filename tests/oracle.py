"""Wireshark's dissection of a capture, via tshark, as the test oracle.

For every frame it works out what pcapkit should report: the innermost IP
addresses and transport, the tunnel stack and VNI, and the header quoted in an
ICMP error, all from tshark's own field values and protocol chain.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import pandas as pd

TSHARK = shutil.which("tshark")

FIELDS = ("frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
          "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport",
          "sctp.dstport", "vxlan.vni", "geneve.vni", "gre.key", "gre.flags.key",
          "gre.flags.version", "gre.key.call_id", "erspan.spanid", "mpls.label", "mpls.bottom",
          "icmp.type",
          "icmpv6.type", "frame.len", "frame.cap_len", "ip.ttl", "ip.id", "ipv6.hlim", "tcp.flags",
          "tcp.seq_raw", "tcp.ack_raw", "eth.src", "eth.dst")
TRANSPORT_PROTO = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58}
TUNNEL_TOKENS = {"vxlan": "vxlan", "geneve": "geneve", "gre": "gre", "erspan": "erspan",
                 "mpls": "mpls", "ppp": "ppp"}
#: tunnels that may sit right on the capture link, before any IP header
LINK_TUNNELS = {"mpls"}
IPV6_EXTENSION_TOKENS = {"ipv6.hopopts", "ipv6.routing", "ipv6.dstopts", "ipv6.fraghdr", "ah",
                         "ipv6.shim6"}


@dataclass
class Expected:
    frame: int
    src: str | None
    dst: str | None
    proto: int | None
    sport: int | None
    dport: int | None
    encap: str
    vni: int | None
    icmp_orig_src: str | None
    icmp_orig_dst: str | None
    protocols: str
    wirelen: int
    caplen: int
    ttl: int | None          # of the innermost IP header
    ip_id: int | None        # of the innermost IPv4 header
    tcp_flags: int | None
    tcp_seq: int | None
    tcp_ack: int | None
    eth_src: str | None = None   # of the capture link's Ethernet header (the first eth layer)
    eth_dst: str | None = None
    on_ethernet: bool = False    # the capture link is Ethernet


def _split(value: str) -> list[str]:
    return [v for v in value.split(",") if v != ""] if value else []


def _innermost_vni(tunnels: list[str], row: dict[str, str]) -> int | None:
    """VNI, GRE key (PPTP call id), ERSPAN session or bottom MPLS label of the
    innermost tunnel that has one (a keyless GRE, ERSPAN type I, PPP, or a tunnel
    header cut before its VNI, leaves the outer tunnel's)."""
    values = {"vxlan": _split(row["vxlan.vni"]), "geneve": _split(row["geneve.vni"]),
              "erspan": _split(row["erspan.spanid"]), "ppp": []}
    # one bottom label per stack (the labels of a stack end at its bottom-of-stack bit)
    labels = _split(row["mpls.label"])
    bottoms = [b not in ("0", "False") for b in _split(row["mpls.bottom"])]
    values["mpls"] = [label for label, bottom in zip(labels, bottoms, strict=False) if bottom]
    key_flags = [f in ("1", "True") for f in _split(row["gre.flags.key"])]
    versions = [int(v, 0) for v in _split(row["gre.flags.version"])]
    keys, call_ids = _split(row["gre.key"]), _split(row["gre.key.call_id"])
    for i in reversed(range(len(tunnels))):
        kind, nth = tunnels[i], tunnels[:i].count(tunnels[i])
        if kind == "gre":
            if nth >= len(key_flags) or not key_flags[nth]:
                continue
            version = versions[nth] if nth < len(versions) else 0
            same = [k for k, v in zip(key_flags[:nth], versions[:nth], strict=False)
                    if k and v == version]
            found = call_ids if version == 1 else keys
            if len(same) < len(found):
                return int(found[len(same)], 0)
        elif kind == "erspan":
            # type I has no session id; the ids line up with the layers when none is type I
            if len(values["erspan"]) == tunnels.count("erspan"):
                return int(values["erspan"][nth], 0)
        elif nth < len(values[kind]):
            return int(values[kind][nth], 0)
    return None


def tshark_expectations(path: str, extra_args: tuple[str, ...] = ()) -> list[Expected]:
    """Run tshark on ``path`` and derive pcapkit's expected columns frame by frame."""
    assert TSHARK, "tshark is not installed"
    cmd = [TSHARK, "-n", "-r", path, "-d", "udp.port==8472,vxlan",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.desegment_tcp_streams:FALSE", *extra_args,
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=\t"]
    for field in FIELDS:
        cmd += ["-e", field]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return [_expect(dict(zip(FIELDS, line.split("\t"), strict=True)))
            for line in out.splitlines() if line]


def _expect(row: dict[str, str]) -> Expected:
    tokens = row["frame.protocols"].split(":")
    # Anything after an ICMP layer is the header the ICMP error quotes.
    cut = next((i for i, t in enumerate(tokens) if t in ("icmp", "icmpv6")), len(tokens))
    own, quoted = tokens[:cut + 1], tokens[cut + 1:]
    ips = [t for t in own if t in ("ip", "ipv6")]
    encap: list[str] = []
    seen_ip = False
    # IPv6 extension headers are part of their IP layer: "ipv6:ipv6.routing:ip" is
    # IPv4 directly inside IPv6.
    layers = [t for t in own if t not in IPV6_EXTENSION_TOKENS]
    for prev, tok in zip([""] + layers, layers, strict=False):
        if tok in TUNNEL_TOKENS and (seen_ip or tok in LINK_TUNNELS):
            encap.append(TUNNEL_TOKENS[tok])
        if tok in ("ip", "ipv6"):
            if prev in ("ip", "ipv6"):
                encap.append("ipip" if tok == "ip" else "ip6ip")
            seen_ip = True
    addresses = {"ip": (_split(row["ip.src"]), _split(row["ip.dst"])),
                 "ipv6": (_split(row["ipv6.src"]), _split(row["ipv6.dst"]))}
    src = dst = None
    if ips:
        kind = ips[-1]
        index = ips.count(kind) - 1
        srcs, dsts = addresses[kind]
        if index < len(srcs) and index < len(dsts):
            src, dst = srcs[index], dsts[index]
    after_ip = own[max(i for i, t in enumerate(own) if t in ("ip", "ipv6")) + 1:] if ips else []
    transport = next((t for t in after_ip if t in TRANSPORT_PROTO), None)
    proto = TRANSPORT_PROTO.get(transport) if transport else None
    sport = dport = None
    if transport in ("tcp", "udp", "sctp"):
        count = own.count(transport)
        sports, dports = _split(row[f"{transport}.srcport"]), _split(row[f"{transport}.dstport"])
        if count and count <= len(sports) and count <= len(dports):
            sport, dport = int(sports[count - 1]), int(dports[count - 1])
    vni = _innermost_vni([t for t in own if t in TUNNEL_TOKENS], row)
    orig_src = orig_dst = None
    q_ips = [t for t in quoted if t in ("ip", "ipv6")]
    if q_ips:
        kind = q_ips[0]
        index = ips.count(kind)
        srcs, dsts = addresses[kind]
        if index < len(srcs) and index < len(dsts):
            orig_src, orig_dst = srcs[index], dsts[index]
    ttl = ip_id = None
    if ips:
        index = ips.count(ips[-1]) - 1
        ttls = _split(row["ip.ttl"] if ips[-1] == "ip" else row["ipv6.hlim"])
        ttl = int(ttls[index]) if index < len(ttls) else None
        ids = _split(row["ip.id"]) if ips[-1] == "ip" else []
        ip_id = int(ids[index], 0) if index < len(ids) else None
    tcp_flags = tcp_seq = tcp_ack = None
    if transport == "tcp":
        count = own.count("tcp")
        for name, target in (("tcp.flags", "flags"), ("tcp.seq_raw", "seq"), ("tcp.ack_raw", "ack")):
            values = _split(row[name])
            value = int(values[count - 1], 0) if count and count <= len(values) else None
            if target == "flags":
                tcp_flags = value
            elif target == "seq":
                tcp_seq = value
            else:
                tcp_ack = value
    on_ethernet = tokens[0] == "eth"
    eth_src = next(iter(_split(row["eth.src"])), None) if on_ethernet else None
    eth_dst = next(iter(_split(row["eth.dst"])), None) if on_ethernet else None
    return Expected(int(row["frame.number"]), src, dst, proto, sport, dport,
                    "+".join(encap) or "none", vni, orig_src, orig_dst, row["frame.protocols"],
                    int(row["frame.len"]), int(row["frame.cap_len"]), ttl, ip_id, tcp_flags,
                    tcp_seq, tcp_ack, eth_src, eth_dst, on_ethernet)


def _value(series: pd.Series, i: int) -> object:
    value = series.iloc[i]
    return None if pd.isna(value) else value


def frame_mismatches(expected: list[Expected], packets: pd.DataFrame) -> list[str]:
    """Compare pcapkit's packets table with tshark's expectations frame by frame.

    Returns one line per frame that differs (or is missing), naming each field
    with pcapkit's and tshark's values; empty when the two agree.
    """
    by_frame = {int(f): i for i, f in enumerate(packets["frame"])}
    mismatches = []
    for exp in expected:
        i = by_frame.get(exp.frame)
        if i is None:
            mismatches.append(f"frame {exp.frame}: missing from pcapkit")
            continue
        got = {
            "src": _value(packets["src"], i), "dst": _value(packets["dst"], i),
            "encap": _value(packets["encap"], i), "vni": _value(packets["vni"], i),
            "sport": _value(packets["sport"], i), "dport": _value(packets["dport"], i),
            "icmp_orig_src": _value(packets["icmp_orig_src"], i),
            "icmp_orig_dst": _value(packets["icmp_orig_dst"], i),
        }
        want = {"src": exp.src, "dst": exp.dst, "encap": exp.encap, "vni": exp.vni,
                "sport": exp.sport, "dport": exp.dport, "icmp_orig_src": exp.icmp_orig_src,
                "icmp_orig_dst": exp.icmp_orig_dst}
        if exp.proto is not None:
            got["proto"], want["proto"] = _value(packets["proto"], i), exp.proto
        got["wirelen"], want["wirelen"] = _value(packets["wirelen"], i), exp.wirelen
        got["caplen"], want["caplen"] = _value(packets["caplen"], i), exp.caplen
        # Header fields tshark shows only when the header was captured in full.
        for name in ("ttl", "ip_id", "tcp_flags", "tcp_seq", "tcp_ack"):
            if getattr(exp, name) is not None:
                got[name], want[name] = _value(packets[name], i), getattr(exp, name)
        # The link's MACs: tshark's first eth layer on Ethernet (whole header captured),
        # none at all on other links (an eth layer inside a tunnel is not the link's).
        if exp.eth_src is not None or not exp.on_ethernet:
            for name in ("eth_src", "eth_dst"):
                got[name], want[name] = _value(packets[name], i), getattr(exp, name)
        diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        if diff:
            mismatches.append(f"frame {exp.frame} [{exp.protocols}]: " +
                              ", ".join(f"{k}: pcapkit={g!r} tshark={w!r}"
                                        for k, (g, w) in diff.items()))
    return mismatches
