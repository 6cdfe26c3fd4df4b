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

from pcapkit.column_arrays import codes_of, per_row, shared_codes

if TYPE_CHECKING:
    from pcapkit.capture import Capture


def encapsulated(packets: pd.DataFrame) -> np.ndarray:
    """Mask of the sightings that carry an underlay header (a tunnel was decoded)."""
    return (packets["outer_src"].notna() & packets["outer_dst"].notna()).to_numpy()


def underlay_nodes(capture: Capture) -> dict[str, str]:
    """Underlay address (as the packet table writes it) -> node name (built once per
    capture; the tunnel and performance analyses both ask)."""
    return dict(capture.shared("underlay_nodes", _underlay_nodes))


def _underlay_nodes(capture: Capture) -> dict[str, str]:
    """Works on integer codes (addresses in one code space, nodes, directions), so a million
    tunnelled sightings cost a few sorts and bincounts, not string operations per row."""
    packets = capture.packets
    rows = np.flatnonzero(encapsulated(packets))
    (src, dst), labels = shared_codes([packets["outer_src"], packets["outer_dst"]])
    owners: dict[str, str] = {}
    cluster = capture.cluster
    used = np.flatnonzero(np.bincount(np.concatenate([src[rows], dst[rows]]),
                                      minlength=len(labels))) if len(rows) else rows
    if cluster is not None:
        for code in used:
            identity = cluster.resolve(str(labels[code]))
            if identity.kind == "node" and identity.node:
                owners[str(labels[code])] = str(identity.node)
    if not len(rows):
        return owners
    node, names = codes_of(packets["node"])
    known_name = np.array([not str(n).startswith("unknown") for n in names] + [False])
    direction, directions = codes_of(packets["direction"])
    keep = rows[known_name[node[rows]]]
    node, src, dst = node[keep], src[keep], dst[keep]
    way = per_row(direction[keep], np.array([{"out": 1, "in": 2}.get(d, 0)
                                             for d in directions], dtype=np.int64), 0)
    for mine, sent in ((src, way == 1), (dst, way == 2)):
        # the distinct (address, node) pairs as one int each: a bincount over that space
        # when it is small (addresses x nodes), else a sort
        keys = mine[sent] * len(names) + node[sent]
        space = len(labels) * len(names)
        pairs = np.flatnonzero(np.bincount(keys, minlength=space)) if space <= 1 << 22 \
            else np.unique(keys)
        address, count = np.unique(pairs // len(names), return_counts=True)
        for code in address[count == 1]:  # exactly one node sent (or received) with it
            owner = int(pairs[np.searchsorted(pairs // len(names), code)] % len(names))
            owners.setdefault(str(labels[code]), str(names[owner]))
    _owners_by_presence(owners, node, src, dst, labels, names)
    return owners


def _owners_by_presence(owners: dict[str, str], node: np.ndarray, src: np.ndarray,
                        dst: np.ndarray, labels: np.ndarray, names: np.ndarray) -> None:
    """Rule 3: per node still without an address, the address present in every one of its
    encapsulated sightings, if exactly one such address is unclaimed (counted with one
    bincount per column: a row holding the address as source or destination, once)."""
    claimed = set(owners.values())
    width = len(labels)
    rows_per_node = np.bincount(node, minlength=len(names))
    present = np.bincount(node * width + src, minlength=len(names) * width)
    present += np.bincount((node * width + dst)[dst != src], minlength=len(names) * width)
    present = present.reshape(len(names), width)
    for code in np.flatnonzero(rows_per_node):
        name = str(names[code])
        if name in claimed:
            continue
        common = np.flatnonzero(present[code] == rows_per_node[code])
        free = sorted(str(labels[a]) for a in common if str(labels[a]) not in owners)
        if len(free) == 1:
            owners[free[0]] = name
