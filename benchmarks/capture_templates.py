"""The catalogue of template frames a Kubernetes node capture is stamped from.

A few hundred frames cover the shapes seen on a node's uplink: flannel/Cilium
VXLAN, Calico IP-in-IP and OVN Geneve tunnels carrying pod TCP (and some UDP),
CoreDNS queries and answers (plain and inside VXLAN) and plain node TCP to the
API server and kubelet.  Sizes are templates too: every TCP payload length is
its own template, so IP/UDP length fields are right without per-packet work.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

import numpy as np
from capture_frames import (
    IPPROTO_IPIP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_RST,
    TCP_SYN,
    Frame,
    FrameBuilder,
    dns_name,
    geneve_option,
    tcp_options_established,
    tcp_options_syn,
)

ENCAPS = ("vxlan", "ipip", "geneve", "plain")
CLIENT_TO_SERVER, SERVER_TO_CLIENT = 0, 1

# Largest TCP payload per encapsulation (tunnel MTU minus inner IPv4 + TCP with timestamps).
MAX_SEGMENT = {"vxlan": 1450 - 52, "ipip": 1480 - 52, "geneve": 1400 - 52, "plain": 1500 - 52}
SMALL_PAYLOADS = (31, 38, 45, 64, 87, 120, 153, 205, 261, 310, 388)   # gRPC/HTTP2 frames
MEDIUM_PAYLOADS = (517, 640, 733, 902, 1024, 1187)

# Share of segment kinds per direction: clients mostly ACK and send requests, servers
# mostly send full segments.  Tuned so the whole capture averages ~540 bytes a frame.
SEGMENT_MIX = {
    CLIENT_TO_SERVER: {"syn": 0.010, "ack": 0.550, "small": 0.330, "medium": 0.040,
                       "full": 0.055, "fin": 0.010, "rst": 0.005},
    SERVER_TO_CLIENT: {"synack": 0.010, "ack": 0.215, "small": 0.180, "medium": 0.080,
                       "full": 0.500, "fin": 0.010, "rst": 0.005},
}

NODE_MAC = bytes.fromhex("5254006b1e0a")     # the captured node's eth0
PEER_MAC = bytes.fromhex("525400c4881f")                         # next hop / other nodes
VTEP_LOCAL_MAC = bytes.fromhex("b6e2a3401c07")                   # flannel.1 / geneve port
VTEP_PEER_MAC = bytes.fromhex("4ae981d06c55")


@dataclass(frozen=True)
class DnsAnswerSpec:
    """One DNS exchange shape: the question and what CoreDNS answers."""

    name: str
    qtype: str                    # "A" or "AAAA"
    rcode: int                    # 0 NOERROR, 3 NXDOMAIN
    answers: tuple[str, ...]      # addresses, empty for NODATA / NXDOMAIN
    authoritative: bool           # cluster.local answers come from CoreDNS itself
    weight: float


CLUSTER_SERVICES = {
    "kubernetes.default.svc.cluster.local": "10.96.0.1",
    "kube-dns.kube-system.svc.cluster.local": "10.96.0.10",
    "redis-master.shop.svc.cluster.local": "10.96.45.12",
    "postgres.shop.svc.cluster.local": "10.96.112.7",
    "cart.shop.svc.cluster.local": "10.96.201.33",
    "checkout.shop.svc.cluster.local": "10.96.77.140",
    "prometheus-k8s.monitoring.svc.cluster.local": "10.96.9.250",
    "loki-gateway.monitoring.svc.cluster.local": "10.96.130.8",
}
EXTERNAL_NAMES = {
    "api.github.com": (("140.82.121.6",), ()),
    "registry-1.docker.io": (("54.196.99.49", "3.219.239.5"), ()),
    "quay.io": (("34.225.41.113",), ()),
    "sts.amazonaws.com": (("52.94.229.16",), ()),
    "storage.googleapis.com": (("142.250.185.219",), ("2a00:1450:4001:82a::201b",)),
    "pypi.org": (("151.101.0.223",), ("2a04:4e42::223",)),
}
SEARCH_SUFFIXES = ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local")


def dns_catalogue() -> list[DnsAnswerSpec]:
    """Cluster lookups, ndots:5 search-path NXDOMAINs and external lookups."""
    specs: list[DnsAnswerSpec] = []
    for name, address in CLUSTER_SERVICES.items():
        specs.append(DnsAnswerSpec(name, "A", 0, (address,), True, 5.0))
        specs.append(DnsAnswerSpec(name, "AAAA", 0, (), True, 2.0))
    for name, (v4, v6) in EXTERNAL_NAMES.items():
        for suffix in SEARCH_SUFFIXES:
            specs.append(DnsAnswerSpec(f"{name}.{suffix}", "A", 3, (), True, 1.5))
            specs.append(DnsAnswerSpec(f"{name}.{suffix}", "AAAA", 3, (), True, 0.6))
        specs.append(DnsAnswerSpec(name, "A", 0, v4, False, 2.0))
        specs.append(DnsAnswerSpec(name, "AAAA", 0, v6, False, 0.8))
    specs.append(DnsAnswerSpec("paymnet.shop.svc.cluster.local", "A", 3, (), True, 1.0))
    return specs


@dataclass
class Template:
    """A frame plus what it is: used to pick templates for packets."""

    frame: Frame
    category: str        # vxlan, ipip, geneve, dns, tcp (plain)
    encap: str
    l4: str              # tcp or udp
    direction: int


@dataclass
class Catalogue:
    """All templates and the pools the traffic plan draws from."""

    templates: list[Template]
    # (encap, l4, direction) -> (template ids, probabilities)
    segment_pools: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]]
    # per DNS exchange shape: template ids (plain query, plain answer, vxlan query, vxlan answer)
    dns_pairs: np.ndarray
    dns_weights: np.ndarray
    dns_forwarded: np.ndarray     # bool per exchange shape: answered by an upstream resolver

    def add(self, template: Template) -> int:
        self.templates.append(template)
        return len(self.templates) - 1


def _tunnel_prefix(builder: FrameBuilder, encap: str, direction: int, inner_proto: int,
                   geneve_two_options: bool) -> FrameBuilder:
    """Outer headers up to and including the (inner) IPv4 header that carries ``inner_proto``."""
    outgoing = direction == CLIENT_TO_SERVER
    src_mac, dst_mac = (NODE_MAC, PEER_MAC) if outgoing else (PEER_MAC, NODE_MAC)
    builder.ethernet(dst_mac, src_mac)
    if encap == "plain":
        return builder.ipv4(inner_proto, ttl=64, dont_fragment=True, prefix="")
    if encap == "ipip":
        builder.ipv4(IPPROTO_IPIP, ttl=64, dont_fragment=True, prefix="tun_")
        return builder.ipv4(inner_proto, ttl=63, dont_fragment=True, prefix="")
    builder.ipv4(IPPROTO_UDP, ttl=64, dont_fragment=False, prefix="tun_")
    builder.udp(prefix="tun_", checksum=False)
    if encap == "vxlan":
        builder.vxlan()
    else:
        options = geneve_option(0x0102, 0x80, struct.pack("!HH", 0x0003, 0x0007))  # OVN ports
        if geneve_two_options:
            options += geneve_option(0x0101, 0x01, bytes.fromhex("00000001c0a80a0b"))
        builder.geneve(options, critical=True)
    vtep_src, vtep_dst = (VTEP_LOCAL_MAC, VTEP_PEER_MAC) if outgoing else (VTEP_PEER_MAC,
                                                                           VTEP_LOCAL_MAC)
    builder.ethernet(vtep_dst, vtep_src)
    return builder.ipv4(inner_proto, ttl=63, dont_fragment=True, prefix="")


def _tls_like_payload(length: int, rng: np.random.Generator) -> bytes:
    """Application data as one TLS 1.2/1.3 record per segment (pod traffic is mTLS)."""
    if length < 5:
        return rng.integers(0, 256, size=length, dtype=np.uint8).tobytes()
    body = rng.integers(0, 256, size=length - 5, dtype=np.uint8).tobytes()
    return struct.pack("!BHH", 0x17, 0x0303, length - 5) + body


def _segment_kinds(encap: str, direction: int) -> list[tuple[int, bytes, int, float]]:
    """(tcp flags, options, payload length, probability) for one direction of one encap."""
    mix = SEGMENT_MIX[direction]
    established = tcp_options_established()
    kinds: list[tuple[int, bytes, int, float]] = []
    if "syn" in mix:
        kinds.append((TCP_SYN, tcp_options_syn(), 0, mix["syn"]))
    if "synack" in mix:
        kinds.append((TCP_SYN | TCP_ACK, tcp_options_syn(), 0, mix["synack"]))
    kinds.append((TCP_ACK, established, 0, mix["ack"]))
    kinds.append((TCP_FIN | TCP_ACK, established, 0, mix["fin"]))
    kinds.append((TCP_RST | TCP_ACK, b"", 0, mix["rst"]))
    for group, sizes in (("small", SMALL_PAYLOADS), ("medium", MEDIUM_PAYLOADS),
                         ("full", (MAX_SEGMENT[encap],))):
        for size in sizes:
            kinds.append((TCP_PSH | TCP_ACK, established, size, mix[group] / len(sizes)))
    return kinds


def _add_tcp_pools(catalogue: Catalogue, rng: np.random.Generator) -> None:
    for encap in ENCAPS:
        for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
            ids, weights = [], []
            for flags, options, size, weight in _segment_kinds(encap, direction):
                for two_options in ((False, True) if encap == "geneve" else (False,)):
                    builder = _tunnel_prefix(FrameBuilder(), encap, direction, IPPROTO_TCP,
                                             two_options)
                    builder.tcp(flags, options).payload(_tls_like_payload(size, rng))
                    category = "tcp" if encap == "plain" else encap
                    ids.append(catalogue.add(Template(builder.build(), category, encap, "tcp",
                                                      direction)))
                    weights.append(weight / (2 if encap == "geneve" else 1))
            probabilities = np.asarray(weights) / np.sum(weights)
            catalogue.segment_pools[(encap, "tcp", direction)] = (np.asarray(ids), probabilities)


def _add_geneve_udp_pools(catalogue: Catalogue, rng: np.random.Generator) -> None:
    """Pod UDP inside Geneve (telemetry-style datagrams of assorted sizes)."""
    sizes = (48, 96, 180, 290, 420, 610, 880, 1200)
    for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
        ids = []
        for size in sizes:
            for two_options in (False, True):
                builder = _tunnel_prefix(FrameBuilder(), "geneve", direction, IPPROTO_UDP,
                                         two_options)
                builder.udp(prefix="", checksum=True)
                data = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
                builder.payload(data)
                ids.append(catalogue.add(Template(builder.build(), "geneve", "geneve", "udp",
                                                  direction)))
        probabilities = np.full(len(ids), 1.0 / len(ids))
        catalogue.segment_pools[("geneve", "udp", direction)] = (np.asarray(ids), probabilities)


def dns_message(spec: DnsAnswerSpec, response: bool) -> bytes:
    """A DNS query or response for ``spec``; the 2-byte id at offset 0 is stamped later."""
    qtype = 1 if spec.qtype == "A" else 28
    question = dns_name(spec.name) + struct.pack("!HH", qtype, 1)
    if not response:
        return struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0) + question
    flags = 0x8180 | (0x0400 if spec.authoritative else 0) | spec.rcode
    answers = b""
    for address in spec.answers:
        rdata = ipaddress.ip_address(address).packed
        ttl = 30 if spec.authoritative else 187
        answers += struct.pack("!HHHIH", 0xC00C, qtype, 1, ttl, len(rdata)) + rdata
    authority = b""
    if not spec.answers:
        soa = (dns_name("ns.dns.cluster.local") + dns_name("hostmaster.cluster.local")
               + struct.pack("!IIIII", 1715680000, 7200, 1800, 86400, 30))
        authority = dns_name("cluster.local") + struct.pack("!HHIH", 6, 1, 30, len(soa)) + soa
    header = struct.pack("!HHHHHH", 0, flags, 1, len(spec.answers), 1 if authority else 0, 0)
    return header + question + answers + authority


def _dns_frame(spec: DnsAnswerSpec, encap: str, response: bool) -> Frame:
    direction = SERVER_TO_CLIENT if response else CLIENT_TO_SERVER
    builder = _tunnel_prefix(FrameBuilder(), encap, direction, IPPROTO_UDP, False)
    builder.udp(prefix="", checksum=True, variable_len=10)
    builder.stamp_in_payload("dns_id", 0, 2)
    return builder.payload(dns_message(spec, response)).build()


def _add_dns_pairs(catalogue: Catalogue) -> None:
    pairs, weights, forwarded = [], [], []
    for spec in dns_catalogue():
        row = []
        for encap in ("plain", "vxlan"):
            for response in (False, True):
                direction = SERVER_TO_CLIENT if response else CLIENT_TO_SERVER
                template = Template(_dns_frame(spec, encap, response), "dns", encap, "udp",
                                    direction)
                row.append(catalogue.add(template))
        pairs.append(row)
        weights.append(spec.weight)
        forwarded.append(not spec.authoritative)
    catalogue.dns_pairs = np.asarray(pairs)
    catalogue.dns_weights = np.asarray(weights) / np.sum(weights)
    catalogue.dns_forwarded = np.asarray(forwarded)


def build_catalogue(seed: int) -> Catalogue:
    """Build every template frame (a few hundred, deterministic for ``seed``)."""
    rng = np.random.default_rng([seed, 0x7E3])
    catalogue = Catalogue([], {}, np.empty((0, 4), dtype=np.int64), np.empty(0),
                          np.empty(0, dtype=bool))
    _add_tcp_pools(catalogue, rng)
    _add_geneve_udp_pools(catalogue, rng)
    _add_dns_pairs(catalogue)
    return catalogue
