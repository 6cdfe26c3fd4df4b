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

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pcapkit.capture import Capture


def encapsulated(packets: pd.DataFrame) -> np.ndarray:
    """Mask of the sightings that carry an underlay header (a tunnel was decoded)."""
    return (packets["outer_src"].notna() & packets["outer_dst"].notna()).to_numpy()


def underlay_nodes(capture: Capture) -> dict[str, str]:
    """Underlay address (as the packet table writes it) -> node name."""
    packets = capture.packets
    tunnelled = packets[encapsulated(packets)]
    addresses = pd.unique(np.concatenate([
        tunnelled["outer_src"].astype(str).to_numpy(), tunnelled["outer_dst"].astype(str)
        .to_numpy()])) if len(tunnelled) else np.array([], dtype=object)
    owners: dict[str, str] = {}
    cluster = capture.cluster
    if cluster is not None:
        for address in addresses:
            identity = cluster.resolve(str(address))
            if identity.kind == "node" and identity.node:
                owners[str(address)] = str(identity.node)
    if not len(tunnelled):
        return owners
    node = tunnelled["node"].astype(str).to_numpy()
    src = tunnelled["outer_src"].astype(str).to_numpy()
    dst = tunnelled["outer_dst"].astype(str).to_numpy()
    direction = tunnelled["direction"].astype(object).to_numpy()
    known = np.array([not n.startswith("unknown") for n in node]) if len(node) else node
    for mine, sent in ((src, direction == "out"), (dst, direction == "in")):
        pairs = pd.DataFrame({"address": mine[sent & known], "node": node[sent & known]})
        for address, group in pairs.groupby("address", sort=True)["node"]:
            names = group.unique()
            if len(names) == 1:
                owners.setdefault(str(address), str(names[0]))
    _owners_by_presence(owners, node[known], src[known], dst[known])
    return owners


def _owners_by_presence(owners: dict[str, str], node: np.ndarray, src: np.ndarray,
                        dst: np.ndarray) -> None:
    """Rule 3: per node still without an address, the address present in every one of its
    encapsulated sightings, if exactly one such address is unclaimed."""
    claimed = set(owners.values())
    frame = pd.DataFrame({"node": node, "src": src, "dst": dst})
    for name, group in frame.groupby("node", sort=True):
        if name in claimed:
            continue
        free = sorted(a for a in _common(group) if a not in owners)
        if len(free) == 1:
            owners[free[0]] = str(name)


def _common(group: pd.DataFrame) -> set[str]:
    """Addresses that are the source or the destination of every row of ``group``."""
    common: set[str] | None = None
    for column, other in (("src", "dst"), ("dst", "src")):
        for address in pd.unique(group[column]):
            if ((group[column] == address) | (group[other] == address)).all():
                common = (common or set()) | {str(address)}
    return common or set()
