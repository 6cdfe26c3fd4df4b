#!/usr/bin/env python3
"""Generate a multi-node benchmark incident: one capture file per node, each node with its
own underlay address, and every packet between two captured nodes in both nodes' files
(so sightings cross files, as in a real incident).

Each node's traffic is ``make_mixed_capture``'s plan (VXLAN, IP-in-IP, Geneve, DNS, plain
TCP) drawn with its own seed, its node numbers rotated so the node itself is the captured
one. A packet whose tunnel (or plain IP) peer is another captured node is written into
that node's file too, 40 microseconds later when the packet travels to it and earlier
when it comes from it (a symmetric wire: the clock estimate must find no offset). Half of
every file is its own traffic and half its peers', so ``--per-node`` packets make files of
about that many packets.

    python benchmarks/make_incident.py --nodes 20 --per-node 1000000 --output /tmp/incident
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from capture_defaults import CAPTURE_DIR
from capture_plan import FIELDS, NODES, PacketPlan, build_plan, node_ip
from capture_templates import build_catalogue
from capture_writer import write_capture

WIRE_US = 40
ADDRESS_FIELDS = ("tun_src", "tun_dst", "src", "dst")


def default_directory(nodes: int, per_node: int, seed: int) -> Path:
    return CAPTURE_DIR / f"incident-{nodes}x{per_node}-seed{seed}"


def _node_index(values: np.ndarray) -> np.ndarray:
    """The node number of each address (-1 when it is not a node's underlay address)."""
    index = values - node_ip(0)
    return np.where((index >= 0) & (index < NODES), index, -1)


def node_plan(catalogue, packets: int, seed: int, node: int,
              duration_s: float) -> tuple[PacketPlan, np.ndarray, np.ndarray]:
    """(the traffic of ``node`` as its own capture, each packet's peer node (-1: none),
    whether ``node`` sent it)."""
    plan = build_plan(catalogue, packets, seed=seed * 1000 + node, duration_s=duration_s)
    for name in ADDRESS_FIELDS:
        index = _node_index(plan.values[name])
        plan.values[name] = np.where(index >= 0, node_ip((index + node) % NODES),
                                     plan.values[name])
    tunnelled = plan.values["tun_src"] != 0
    src = _node_index(np.where(tunnelled, plan.values["tun_src"], plan.values["src"]))
    dst = _node_index(np.where(tunnelled, plan.values["tun_dst"], plan.values["dst"]))
    sent = src == node
    peer = np.where(sent, dst, np.where(dst == node, src, -1))
    return plan, peer, sent


def _take(plan: PacketPlan, rows: np.ndarray, shift: np.ndarray | int = 0) -> PacketPlan:
    return PacketPlan(plan.template[rows], plan.ts_us[rows] + shift,
                      {name: plan.values[name][rows] for name in FIELDS},
                      plan.flow[rows], plan.direction[rows], plan.payload_len[rows])


def _merged(parts: list[PacketPlan]) -> PacketPlan:
    joined = PacketPlan(np.concatenate([p.template for p in parts]),
                        np.concatenate([p.ts_us for p in parts]),
                        {name: np.concatenate([p.values[name] for p in parts])
                         for name in FIELDS},
                        np.concatenate([p.flow for p in parts]),
                        np.concatenate([p.direction for p in parts]),
                        np.concatenate([p.payload_len for p in parts]))
    return _take(joined, np.argsort(joined.ts_us, kind="stable"))


def generate(directory: Path, nodes: int, per_node: int, seed: int = 1,
             duration_s: float = 180.0) -> dict:
    if not 2 <= nodes <= NODES:
        raise ValueError(f"--nodes must be 2..{NODES}")
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    catalogue = build_catalogue(seed)
    plans = [node_plan(catalogue, per_node // 2, seed, node, duration_s)
             for node in range(nodes)]
    total = written = 0
    for node in range(nodes):
        parts = [plans[node][0]]
        for other, (plan, peer, sent) in enumerate(plans):
            if other == node:
                continue
            rows = np.flatnonzero(peer == node)
            parts.append(_take(plan, rows, np.where(sent[rows], WIRE_US, -WIRE_US)))
        plan = _merged(parts)
        path = directory / f"node{node:02d}" / "eth0.pcap"
        path.parent.mkdir(exist_ok=True)
        written += write_capture(path, catalogue, plan)
        total += len(plan)
    (directory / ".done").write_text(f"{total}\n")
    return {"files": nodes, "packets": total, "bytes": written,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--per-node", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, help="directory (default under /tmp)")
    args = parser.parse_args()
    directory = args.output or default_directory(args.nodes, args.per_node, args.seed)
    print(generate(directory, args.nodes, args.per_node, args.seed), directory)


if __name__ == "__main__":
    main()
