"""The traffic plan: which template every packet uses and the values stamped into it.

Everything is drawn with numpy in whole arrays (one element per packet), so a
million-packet plan takes about a second.  The topology is one captured node
(10.0.0.10, pod CIDR 10.244.0.0/24) talking to 19 other nodes; flows have a
heavy-tailed popularity, and TCP sequence/ack numbers advance coherently per
flow direction so the streams look sane to tshark's TCP analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from capture_frames import TCP_ACK
from capture_templates import CLIENT_TO_SERVER, Catalogue

FIELDS = ("tun_src", "tun_dst", "tun_id", "tun_sport", "tun_dport", "vni",
          "src", "dst", "id", "sport", "dport", "seq", "ack", "dns_id")

# Share of packets per kind of traffic (DNS counts queries and answers, plain or in VXLAN).
TRAFFIC_MIX = {"vxlan": 0.60, "ipip": 0.15, "geneve": 0.10, "dns": 0.10, "tcp": 0.05}
NODES = 20
CAPTURE_START_US = 1_715_679_000 * 1_000_000          # 2024-05-14 09:30 UTC
SERVICE_PORTS = np.array([443, 8443, 6443, 10250, 2379, 9443, 50051, 15443])
SERVICE_PORT_WEIGHTS = np.array([0.30, 0.20, 0.05, 0.05, 0.05, 0.05, 0.20, 0.10])
GENEVE_UDP_SHARE = 0.3
VXLAN_IANA_SHARE = 0.3          # Cilium on 4789; the rest is flannel on 8472 (VNI 1)
DNS_IN_VXLAN_SHARE = 0.3
KUBE_DNS_SERVICE = "10.96.0.10"
COREDNS_PODS = (("10.244.3.4", 3), ("10.244.7.9", 7))


def ipv4(text: str) -> int:
    """Dotted quad to a host-order integer."""
    a, b, c, d = (int(part) for part in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def node_ip(node: np.ndarray | int) -> np.ndarray:
    return ipv4("10.0.0.10") + np.asarray(node, dtype=np.int64)


@dataclass
class PacketPlan:
    """Per-packet template id, timestamp and field values, in capture order."""

    template: np.ndarray              # int64
    ts_us: np.ndarray                 # int64 microseconds since the epoch
    values: dict[str, np.ndarray]     # FIELDS -> int64
    flow: np.ndarray                  # int64 TCP flow id, -1 for non-TCP
    direction: np.ndarray             # int8, 0 client->server
    payload_len: np.ndarray           # int64 TCP payload bytes

    def __len__(self) -> int:
        return len(self.template)


def _empty_plan(count: int) -> PacketPlan:
    zeros = {name: np.zeros(count, dtype=np.int64) for name in FIELDS}
    return PacketPlan(np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64), zeros,
                      np.full(count, -1, dtype=np.int64), np.zeros(count, dtype=np.int8),
                      np.zeros(count, dtype=np.int64))


def _concat(plans: list[PacketPlan]) -> PacketPlan:
    return PacketPlan(
        np.concatenate([p.template for p in plans]),
        np.concatenate([p.ts_us for p in plans]),
        {name: np.concatenate([p.values[name] for p in plans]) for name in FIELDS},
        np.concatenate([p.flow for p in plans]),
        np.concatenate([p.direction for p in plans]),
        np.concatenate([p.payload_len for p in plans]),
    )


def _pod_ip(encap: str, node: np.ndarray, host: np.ndarray) -> np.ndarray:
    """Pod addresses per CNI: flannel/Cilium 10.244.N.0/24, Calico 192.168.N.64/26, OVN 10.128."""
    if encap == "ipip":
        return ipv4("192.168.0.64") + (node << 8) + host % 62
    if encap == "geneve":
        return ipv4("10.128.0.0") + (node << 9) + host
    return ipv4("10.244.0.0") + (node << 8) + host


class TcpFlowPlanner:
    """Draws flows and their packets for one traffic kind; hands out global flow ids."""

    def __init__(self, rng: np.random.Generator, catalogue: Catalogue, duration_us: int):
        self.rng = rng
        self.catalogue = catalogue
        self.duration_us = duration_us
        self.flows_so_far = 0

    def _pick_templates(self, encap: str, l4: np.ndarray, direction: np.ndarray) -> np.ndarray:
        chosen = np.zeros(len(direction), dtype=np.int64)
        for kind in ("tcp", "udp"):
            for way in (0, 1):
                mask = (l4 == kind) & (direction == way)
                if not mask.any():
                    continue
                ids, probabilities = self.catalogue.segment_pools[(encap, kind, way)]
                chosen[mask] = self.rng.choice(ids, size=int(mask.sum()), p=probabilities)
        return chosen

    def tunnel_traffic(self, encap: str, count: int) -> PacketPlan:
        """Pod-to-pod traffic between this node and the others through one tunnel type."""
        rng, plan = self.rng, _empty_plan(count)
        n_flows = max(1, count // 40)
        local_is_client = rng.random(n_flows) < 0.5
        remote_node = rng.integers(1, NODES, n_flows)
        local_pod = _pod_ip(encap, np.zeros(n_flows, dtype=np.int64), rng.integers(2, 60, n_flows))
        remote_pod = _pod_ip(encap, remote_node, rng.integers(2, 250, n_flows))
        client_node = np.where(local_is_client, 0, remote_node)
        server_node = np.where(local_is_client, remote_node, 0)
        client_ip = np.where(local_is_client, local_pod, remote_pod)
        server_ip = np.where(local_is_client, remote_pod, local_pod)
        client_port = rng.integers(32768, 61000, n_flows)
        server_port = rng.choice(SERVICE_PORTS, size=n_flows, p=SERVICE_PORT_WEIGHTS)
        l4 = np.full(n_flows, "tcp")
        if encap == "geneve":
            is_udp = rng.random(n_flows) < GENEVE_UDP_SHARE
            l4[is_udp] = "udp"
            server_port[is_udp] = rng.integers(40000, 50000, int(is_udp.sum()))
        tunnel_port = np.full(n_flows, 6081 if encap == "geneve" else 8472)
        vni = np.ones((n_flows, 2), dtype=np.int64)
        if encap == "vxlan":
            iana = rng.random(n_flows) < VXLAN_IANA_SHARE
            tunnel_port[iana] = 4789
            vni[iana] = rng.integers(256, 65536, (int(iana.sum()), 2))   # Cilium identities
        elif encap == "geneve":
            vni[:] = rng.integers(1, 24, n_flows)[:, None]                  # OVN datapath keys
        tunnel_sport = rng.integers(32768, 61000, (n_flows, 2))              # inner-flow hash

        popularity = rng.pareto(1.16, n_flows) + 1.0
        flow = rng.choice(n_flows, size=count, p=popularity / popularity.sum())
        direction = rng.integers(0, 2, count).astype(np.int8)
        forward = direction == CLIENT_TO_SERVER
        values = plan.values
        values["src"] = np.where(forward, client_ip[flow], server_ip[flow])
        values["dst"] = np.where(forward, server_ip[flow], client_ip[flow])
        values["sport"] = np.where(forward, client_port[flow], server_port[flow])
        values["dport"] = np.where(forward, server_port[flow], client_port[flow])
        if encap != "plain":
            values["tun_src"] = node_ip(np.where(forward, client_node[flow], server_node[flow]))
            values["tun_dst"] = node_ip(np.where(forward, server_node[flow], client_node[flow]))
            values["tun_id"] = rng.integers(0, 65536, count)
            values["tun_sport"] = tunnel_sport[flow, direction]
            values["tun_dport"] = tunnel_port[flow]
            values["vni"] = vni[flow, direction]
        values["id"] = rng.integers(0, 65536, count)
        plan.template = self._pick_templates(encap, l4[flow], direction)
        plan.ts_us = CAPTURE_START_US + rng.integers(0, self.duration_us, count)
        plan.direction = direction
        plan.flow = np.where(l4[flow] == "tcp", flow + self.flows_so_far, -1)
        self.flows_so_far += n_flows
        return plan

    def node_traffic(self, count: int) -> PacketPlan:
        """Un-tunnelled node TCP: kubelet to the API servers, scrapes of the kubelet."""
        rng, plan = self.rng, _empty_plan(count)
        n_flows = max(1, count // 40)
        to_apiserver = rng.random(n_flows) < 0.6
        peer = np.where(to_apiserver, ipv4("10.0.0.1") + rng.integers(0, 3, n_flows),
                        node_ip(rng.integers(1, NODES, n_flows)))
        local = node_ip(0)
        client_ip = np.where(to_apiserver, local, peer)
        server_ip = np.where(to_apiserver, peer, local)
        client_port = rng.integers(32768, 61000, n_flows)
        server_port = np.where(to_apiserver, 6443, 10250)
        popularity = rng.pareto(1.16, n_flows) + 1.0
        flow = rng.choice(n_flows, size=count, p=popularity / popularity.sum())
        direction = rng.integers(0, 2, count).astype(np.int8)
        forward = direction == CLIENT_TO_SERVER
        plan.values["src"] = np.where(forward, client_ip[flow], server_ip[flow])
        plan.values["dst"] = np.where(forward, server_ip[flow], client_ip[flow])
        plan.values["sport"] = np.where(forward, client_port[flow], server_port[flow])
        plan.values["dport"] = np.where(forward, server_port[flow], client_port[flow])
        plan.values["id"] = rng.integers(0, 65536, count)
        plan.template = self._pick_templates("plain", np.full(count, "tcp"), direction)
        plan.ts_us = CAPTURE_START_US + rng.integers(0, self.duration_us, count)
        plan.direction = direction
        plan.flow = flow + self.flows_so_far
        self.flows_so_far += n_flows
        return plan


def dns_traffic(rng: np.random.Generator, catalogue: Catalogue, exchanges: int,
                duration_us: int) -> PacketPlan:
    """Query/answer pairs to CoreDNS: answers reuse the id and swap the ports."""
    shape = rng.choice(len(catalogue.dns_weights), size=exchanges, p=catalogue.dns_weights)
    in_vxlan = rng.random(exchanges) < DNS_IN_VXLAN_SHARE
    column = np.where(in_vxlan, 2, 0)
    query_template = catalogue.dns_pairs[shape, column]
    answer_template = catalogue.dns_pairs[shape, column + 1]

    host_network = (rng.random(exchanges) < 0.2) & ~in_vxlan    # hostNetwork pods: node IP
    local_pod = _pod_ip("vxlan", np.zeros(exchanges, np.int64), rng.integers(2, 60, exchanges))
    client = np.where(host_network, node_ip(0), local_pod)
    coredns = rng.integers(0, len(COREDNS_PODS), exchanges)
    coredns_ip = np.array([ipv4(ip) for ip, _ in COREDNS_PODS])[coredns]
    coredns_node = np.array([node for _, node in COREDNS_PODS])[coredns]
    server = np.where(in_vxlan, coredns_ip, ipv4(KUBE_DNS_SERVICE))
    client_port = rng.integers(32768, 61000, exchanges)
    dns_id = rng.integers(0, 65536, exchanges)
    tunnel_sport = rng.integers(32768, 61000, (exchanges, 2))
    tunnel_port = np.where(rng.random(exchanges) < VXLAN_IANA_SHARE, 4789, 8472)

    start = CAPTURE_START_US + rng.integers(0, duration_us, exchanges)
    latency = np.where(catalogue.dns_forwarded[shape], rng.lognormal(np.log(9000), 0.6, exchanges),
                       rng.lognormal(np.log(350), 0.5, exchanges)).astype(np.int64) + 20

    plan = _empty_plan(2 * exchanges)
    q, a = slice(0, exchanges), slice(exchanges, 2 * exchanges)
    plan.template[q], plan.template[a] = query_template, answer_template
    plan.ts_us[q], plan.ts_us[a] = start, start + latency
    plan.direction[a] = 1
    values = plan.values
    values["src"][q], values["dst"][q] = client, server
    values["src"][a], values["dst"][a] = server, client
    values["sport"][q], values["dport"][q] = client_port, 53
    values["sport"][a], values["dport"][a] = 53, client_port
    values["dns_id"][q] = values["dns_id"][a] = dns_id
    values["id"][:] = rng.integers(0, 65536, 2 * exchanges)
    values["tun_src"][q], values["tun_dst"][q] = node_ip(0), node_ip(coredns_node)
    values["tun_src"][a], values["tun_dst"][a] = node_ip(coredns_node), node_ip(0)
    values["tun_sport"][q], values["tun_sport"][a] = tunnel_sport[:, 0], tunnel_sport[:, 1]
    values["tun_dport"][q] = values["tun_dport"][a] = tunnel_port
    values["tun_id"][:] = rng.integers(0, 65536, 2 * exchanges)
    values["vni"][:] = 1
    return plan


def packet_counts(total: int) -> dict[str, int]:
    """Split ``total`` packets by TRAFFIC_MIX; DNS gets an even count (query + answer)."""
    counts = {kind: int(round(total * share)) for kind, share in TRAFFIC_MIX.items()}
    counts["dns"] -= counts["dns"] % 2
    counts["tcp"] = 0
    counts["tcp"] = total - sum(counts.values())
    while counts["tcp"] < 0:                       # tiny totals: rounding overshoot
        largest = max(("vxlan", "ipip", "geneve"), key=counts.__getitem__)
        counts[largest] -= 1
        counts["tcp"] += 1
    return counts


def assign_sequence_numbers(plan: PacketPlan, rng: np.random.Generator, n_flows: int) -> None:
    """Per flow direction, seq = ISN + bytes already sent; ack = peer ISN + bytes received."""
    tcp_rows = np.flatnonzero(plan.flow >= 0)
    if len(tcp_rows) == 0:
        return
    rows = tcp_rows[np.argsort(plan.flow[tcp_rows], kind="stable")]   # by flow, then time
    flow = plan.flow[rows]
    direction = plan.direction[rows].astype(np.int64)
    length = plan.payload_len[rows]
    sent = [np.where(direction == way, length, 0) for way in (0, 1)]
    group = np.cumsum(np.r_[True, flow[1:] != flow[:-1]]) - 1
    group_start = np.flatnonzero(np.r_[True, flow[1:] != flow[:-1]])
    before = []
    for way_sent in sent:
        exclusive = np.cumsum(way_sent) - way_sent
        before.append(exclusive - exclusive[group_start][group])
    own = np.where(direction == 0, before[0], before[1])
    peer = np.where(direction == 0, before[1], before[0])
    isn = rng.integers(0, 2**32, (n_flows, 2))
    plan.values["seq"][rows] = (isn[flow, direction] + own) & 0xFFFFFFFF
    plan.values["ack"][rows] = (isn[flow, 1 - direction] + peer) & 0xFFFFFFFF


def build_plan(catalogue: Catalogue, packets: int, seed: int, duration_s: float) -> PacketPlan:
    """The whole capture's per-packet plan, sorted by timestamp (deterministic for ``seed``)."""
    rng = np.random.default_rng(seed)
    duration_us = max(1, int(duration_s * 1_000_000))
    counts = packet_counts(packets)
    planner = TcpFlowPlanner(rng, catalogue, duration_us)
    parts = [planner.tunnel_traffic(encap, counts[encap]) for encap in ("vxlan", "ipip", "geneve")]
    parts.append(planner.node_traffic(counts["tcp"]))
    parts.append(dns_traffic(rng, catalogue, counts["dns"] // 2, duration_us))
    plan = _concat(parts)
    order = np.argsort(plan.ts_us, kind="stable")
    plan = PacketPlan(plan.template[order], plan.ts_us[order],
                      {name: column[order] for name, column in plan.values.items()},
                      plan.flow[order], plan.direction[order], plan.payload_len[order])
    payload = np.array([t.frame.payload_len for t in catalogue.templates], dtype=np.int64)
    plan.payload_len = payload[plan.template]
    assign_sequence_numbers(plan, rng, planner.flows_so_far)
    flags = np.array([t.frame.tcp_flags or 0 for t in catalogue.templates], dtype=np.int64)
    plan.values["ack"][(flags[plan.template] & TCP_ACK) == 0] = 0   # no ACK flag: field is 0
    return plan
