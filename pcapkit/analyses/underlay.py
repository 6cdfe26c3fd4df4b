"""Which node owns each underlay (tunnel endpoint) address.

Tunnels name their ends by underlay address; the tunnel and performance analyses speak of
nodes. An address is a node's when, in this order:

1. the cluster snapshot says so (a Node's InternalIP, ExternalIP, or a Calico/Flannel
   tunnel address);
2. a capture on that node saw an encapsulated packet leave with it as the outer source,
   or arrive with it as the outer destination (SLL packet types give the direction);
3. it is the one address in every encapsulated packet a node's captures hold (a node's
   NIC carries only tunnels that start or end there), when no other node claims it.

One lookup per distinct address and a loop per node: both are a handful.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcapkit.analyses.context import PacketContext, encapsulated

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.cluster import Cluster

__all__ = ["encapsulated", "underlay_nodes", "underlay_owners"]


def underlay_nodes(capture: Capture) -> dict[str, str]:
    """Underlay address (as the packet table writes it) -> node name, from the incident's
    packet context (built once per capture; the tunnel and performance analyses both ask;
    a share of a partitioned run answers with the whole incident's)."""
    return dict(capture.shared("underlay_nodes",
                               lambda c: underlay_owners(c.context, c.cluster)))


def underlay_owners(context: PacketContext, cluster: Cluster | None) -> dict[str, str]:
    """The owner of each underlay address by the three rules above, from the context's
    underlay evidence (distinct (address, node) pairs and per-node counts: a handful)."""
    owners: dict[str, str] = {}
    if cluster is not None:
        for address in sorted(context.used):
            identity = cluster.resolve(address)
            if identity.kind == "node" and identity.node:
                owners[address] = str(identity.node)
    for pairs in (context.sent, context.received):
        counts = pairs["address"].value_counts(sort=False)
        alone = pairs[pairs["address"].isin(counts.index[counts.to_numpy() == 1])]
        for address, node in zip(alone["address"], alone["node"], strict=True):
            owners.setdefault(str(address), str(node))  # exactly one node sent (received)
    _owners_by_presence(owners, context)
    return owners


def _owners_by_presence(owners: dict[str, str], context: PacketContext) -> None:
    """Rule 3: per node still without an address (in name order), the address present in
    every one of its encapsulated sightings, if exactly one such address is unclaimed."""
    claimed = set(owners.values())
    present = context.present
    for name, rows in context.tunnel_rows.sort_index().items():
        name = str(name)
        if name in claimed or not rows:
            continue
        mine = present.xs(name, level="node") if name in present.index.get_level_values(
            "node") else present.iloc[:0]
        common = mine.index[mine.to_numpy() == rows]
        free = sorted(str(a) for a in common if str(a) not in owners)
        if len(free) == 1:
            owners[free[0]] = name
