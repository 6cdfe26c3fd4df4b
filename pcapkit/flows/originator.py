"""Who started each flow: Zeek's originator rules, SYN first.

TCP: the sender of the first SYN without ACK; failing that the receiver of the first SYN-ACK.
A flow with no SYN at all started before the capture (``mid_flow``): its first packet's
sender is the originator unless the ports say otherwise, as Zeek's ``likely_server_ports``
heuristic does: a first packet *from* a likely server port to a port that is not one (or,
both being server ports, from the lower one) is a reply, so the roles are flipped. UDP flips
the same way when only the source is a server port; ICMP flips when the first message is a
reply (echo reply, ...). A flipped flow's history starts with ``^`` as in Zeek.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcapkit.flows.groups import first_where
from pcapkit.flows.keys import ACK, ICMP_REPLIES, RST, SYN, TCP, UDP

#: Ports taken as "a server listens here" besides every port below 1024: common service
#: and Kubernetes ports (API server, kubelet, etcd, Istio/Envoy, databases, brokers).
LIKELY_SERVER_PORTS = frozenset({
    1080, 1433, 1521, 1883, 2049, 2181, 2379, 2380, 3000, 3128, 3306, 3389, 4222, 4317, 4318,
    5000, 5432, 5672, 5900, 6379, 6443, 7000, 7001, 8000, 8008, 8080, 8081, 8088, 8443, 8888,
    9000, 9042, 9090, 9091, 9092, 9093, 9100, 9200, 9300, 9411, 9443, 10250, 10255, 10256,
    10257, 10259, 11211, 15001, 15006, 15010, 15012, 15014, 15017, 15021, 15090, 27017,
    50051,
})


_SERVER_PORT_TABLE = np.zeros(65536, dtype=bool)
_SERVER_PORT_TABLE[:1024] = True
_SERVER_PORT_TABLE[list(LIKELY_SERVER_PORTS)] = True


def likely_server_port(port: np.ndarray) -> np.ndarray:
    """True per port below 1024 or in LIKELY_SERVER_PORTS (-1 and out-of-range: False)."""
    valid = (port >= 0) & (port < 65536)
    return valid & _SERVER_PORT_TABLE[np.clip(port, 0, 65535)]


@dataclass
class Roles:
    """Who originated each flow, and which packets the originator sent."""

    is_orig: np.ndarray       # per packet
    first: np.ndarray         # per flow: row of its first packet
    flipped: np.ndarray       # per flow: originator is not the first packet's sender
    mid_flow: np.ndarray      # per flow: TCP without any SYN


def decide(flow: np.ndarray, n_flows: int, proto: np.ndarray, flags: np.ndarray,
           lo_is_src: np.ndarray, sport: np.ndarray, dport: np.ndarray,
           itype: np.ndarray) -> Roles:
    """Originator per flow and direction per packet (rows sorted by flow, then time)."""
    tcp = proto == TCP
    first = first_where(np.ones(len(flow), dtype=bool), flow, n_flows)
    pure_syn = first_where(tcp & ((flags & (SYN | ACK | RST)) == SYN), flow, n_flows)
    syn_ack = first_where(tcp & ((flags & (SYN | ACK)) == (SYN | ACK)), flow, n_flows)
    any_syn = first_where(tcp & ((flags & SYN) != 0), flow, n_flows)

    p, sp, dp = proto[first], sport[first], dport[first]
    server_s, server_d = likely_server_port(sp), likely_server_port(dp)
    flip = np.zeros(n_flows, dtype=bool)
    flip[p == TCP] = (server_s & (~server_d | (sp < dp)))[p == TCP]
    flip[p == UDP] = (server_s & ~server_d)[p == UDP]
    for number, replies in ICMP_REPLIES.items():
        here = p == number
        flip[here] = np.isin(itype[first][here], replies)
    sender_is_lo = lo_is_src[first]
    orig_is_lo = sender_is_lo ^ flip
    has_syn_ack = syn_ack >= 0
    orig_is_lo[has_syn_ack] = ~lo_is_src[syn_ack[has_syn_ack]]
    has_syn = pure_syn >= 0
    orig_is_lo[has_syn] = lo_is_src[pure_syn[has_syn]]
    is_orig = lo_is_src == orig_is_lo[flow]
    return Roles(is_orig=is_orig, first=first,
                 flipped=orig_is_lo != sender_is_lo,
                 mid_flow=(p == TCP) & (any_syn < 0))

