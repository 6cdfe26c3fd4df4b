"""Capture points: which node each capture file was taken on, and why pcapkit thinks so.

A capture file is one vantage point. Its node is decided by the first source that names one,
in this order (``node_source`` records which one did):

1. ``user``: an explicit mapping given by the user (file path, base name or glob -> node);
2. ``retina``: a Microsoft Retina capture or tarball name (``<capture>-<node>-<start>UTC``,
   given as ``inferred`` by :mod:`pcapkit.ingest`, which knows the tarball of a member);
3. ``pcapng``: a ``node=<name>`` tag in a pcapng interface description or comment, or
   Inspektor Gadget's ``Node: <name>, Namespace: ..., Pod: ...`` description
   (:mod:`pcapkit.vantage.gadget`, which also fills the ``pod``/``namespace``/``container``
   columns);
4. ``directory``: the parent directory, for the ``captures/<node>/x.pcap`` layout;
5. ``filename``: ``<node>.pcap``, ``<node>-eth0.pcap``, ``tcpdump-<node>-<time>.pcap`` ...;
6. ``pcapng``: a snapshot node name mentioned in an interface description or comment;
7. ``snapshot``: the node whose addresses (InternalIP first) appear in most of the file's
   underlay packets (outer_src/outer_dst when tunnelled, src/dst otherwise);
8. ``unknown``: none of the above; the node is then ``unknown`` (one such file) or
   ``unknown:<file name>`` (several: each stays its own vantage point and clock).

With a cluster snapshot, directory and file names count only when they name one of its
nodes; without one, a directory counts when the capture files sit in sibling directories,
under a generic container such as ``captures/``, or when the file is named after an
interface (``<node>/eth0.pcap``), and a file name is cleaned of interface names, timestamps
and tool prefixes.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster, check_cluster
from pcapkit.column_arrays import NAT_NS, codes_of, per_row, times_ns
from pcapkit.errors import PcapkitError
from pcapkit.schema.convert import build_frame
from pcapkit.schema.vantage import CAPTURE_POINTS
from pcapkit.vantage.gadget import PodMetadata, pod_metadata

if TYPE_CHECKING:
    from pcapkit.decode.files import Decoded

GENERIC_DIRECTORIES = frozenset({
    "", ".", "..", "captures", "capture", "pcaps", "pcap", "pcapng", "traces", "trace",
    "dumps", "dump", "tcpdump", "data", "tmp", "files", "packets", "incident", "nodes",
    "output", "out", "logs",
})
CONTAINER_DIRECTORIES = frozenset({"captures", "capture", "pcaps", "pcap", "traces", "nodes",
                                   "dumps", "tcpdump"})
GENERIC_STEMS = frozenset({
    "capture", "captures", "cap", "dump", "trace", "out", "output", "tcpdump", "dumpcap",
    "packets", "pcap", "file", "test", "tmp", "traffic", "any", "all", "multi",
})
_CAPTURE_SUFFIX = re.compile(r"(\.(pcapng|pcap|cap|dmp|ntar)\d*)?(\.(gz|zst|xz|bz2))?$",
                             re.IGNORECASE)
_TOOL_PREFIX = re.compile(r"^(tcpdump|dumpcap|tshark|capture|pcap|trace|ksniff|sniff)[-_.]",
                          re.IGNORECASE)
_TIMESTAMP_SUFFIX = re.compile(
    r"[-_.](\d{4}-?\d{2}-?\d{2}([T_-]?\d{2}[:\-]?\d{2}([:\-]?\d{2}(\.\d+)?)?Z?)?|\d{9,})$")
_INTERFACE_TOKEN = re.compile(
    r"^(eth\d+|ens\w*|enp\w*|eno\d+|em\d+|bond\d+|any|all|multi|lo|cni\d+|flannel(\.\d+)?|"
    r"vxlan[\w.]*|tunl\d+|cali\w+|veth\w*|cilium_\w+|genev\w*|br[-\w]*|docker\d+|wlan\d+|"
    r"wg\d+|weave|kube-ipvs\d+|in|out|rx|tx|"
    # capture variants rather than interfaces: snaplen, rotation parts
    r"snap(len)?\d*|part\d+|chunk\d+|rot\d+)$",
    re.IGNORECASE)
_NODE_TAG = re.compile(r"\bnode\s*[=:]\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class _Decision:
    node: str
    source: str
    evidence: str


def capture_points(decoded: Decoded, cluster: Cluster | None = None,
                   nodes: Mapping[str, str] | None = None, *,
                   inferred: Mapping[str, tuple[str, str, str]] | None = None,
                   snapshot_votes: Mapping[str, tuple[str, str, str] | None] | None = None,
                   spans: Mapping[str, tuple[int, int]] | None = None) -> pd.DataFrame:
    """One row per capture file: ``file``, ``node``, ``node_source``, ``node_evidence``, and
    the ``pod``/``namespace``/``container`` its interfaces name (``pod_evidence``).

    ``nodes`` maps a file (as given, its base name, or a glob) to a node and wins over every
    inference. Raises PcapkitError when a key of ``nodes`` matches no capture file.
    ``inferred`` maps a file to (node, source, evidence) decided before its packets were
    read (a Retina tarball's name, :meth:`pcapkit.ingest.Inputs.nodes`); only ``nodes``
    wins over it. ``snapshot_votes``: :func:`snapshot_vote` of each file, worked out where
    its packets were (a partitioned run), instead of from ``decoded.packets``; ``spans``
    likewise: each file's first and last capture time (ns) for its ``stream``.
    """
    cluster = check_cluster(cluster, "capture_points")
    files = _files(decoded)
    user = _user_mapping(files, nodes or {})
    node_names = _cluster_node_names(cluster)
    per_node_dirs = _per_node_directories(files)
    inferred_decisions = {f: _Decision(*d) for f, d in (inferred or {}).items()}
    pods = pod_metadata(decoded.interfaces)
    decisions: list[_Decision | None] = []
    for file in files:
        decisions.append(
            user.get(file)
            or inferred_decisions.get(file)
            or _from_pcapng_tag(decoded.interfaces, file)
            or _from_gadget(pods.get(file))
            or _from_directory(file, node_names, per_node_dirs)
            or _from_filename(file, node_names)
            or _from_pcapng_mention(decoded.interfaces, file, node_names)
            or (_from_snapshot(decoded.packets, file, cluster) if snapshot_votes is None
                else _Decision(*snapshot_votes[file]) if snapshot_votes.get(file) else None))
    undecided = sum(d is None for d in decisions)
    rows = []
    for file, decision in zip(files, decisions, strict=True):
        if decision is None:
            name = "unknown" if undecided == 1 else f"unknown:{PurePath(file).name}"
            decision = _Decision(name, "unknown", "no directory, file name, pcapng tag or "
                                 "snapshot address named a node")
        said = pods.get(file)
        rows.append({"file": file, "node": decision.node, "node_source": decision.source,
                     "node_evidence": decision.evidence,
                     "pod": said.pod if said else None,
                     "namespace": said.namespace if said else None,
                     "container": said.container if said else None,
                     "pod_evidence": said.evidence if said else None})
    spans = file_spans(decoded.packets) if spans is None else spans
    streams = _streams([r["file"] for r in rows], [r["node"] for r in rows],
                       _interface_signatures(decoded.interfaces), spans)
    for row, stream in zip(rows, streams, strict=True):
        row["stream"] = stream
    return build_frame(CAPTURE_POINTS, pd.DataFrame(rows, columns=CAPTURE_POINTS.names))


def file_spans(packets: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Each file's first and last capture time (ns), from a packet table."""
    if not len(packets) or "ts" not in packets:
        return {}
    t = pd.Series(times_ns(packets["ts"])).where(lambda v: v != NAT_NS)
    codes, labels = codes_of(packets["file"])
    grouped = t.groupby(codes)
    low, high = grouped.min(), grouped.max()
    return {str(labels[k]): (int(low[k]), int(high[k])) for k in low.index
            if k >= 0 and pd.notna(low[k])}


def _interface_signatures(interfaces: pd.DataFrame) -> dict[str, tuple]:
    """Per file, what its interfaces are (names and link types): rotated files agree."""
    if not len(interfaces) or "file" not in interfaces:
        return {}
    columns = [c for c in ("name", "linktype") if c in interfaces]
    return {str(file): tuple(map(tuple, group[columns].astype(str).to_numpy()))
            for file, group in interfaces.groupby("file", observed=True, sort=False)}


#: editcap -c/-i names its parts <prefix>_<00000>_<YYYYMMDDHHMMSS><suffix>
_EDITCAP_PART = re.compile(r"_\d{5}_\d{14}$")


def rotation_stem(file: str) -> str:
    """The name a rotated capture's files share: its directory and file name without the
    rotation's counter or time (``eth0.pcap3``, ``eth0_00002_20240501100000.pcap`` and
    ``eth0-2024-05-01T10:00:00.pcap`` are all ``<dir>/eth0``)."""
    path = PurePath(file)
    stem = _EDITCAP_PART.sub("", _CAPTURE_SUFFIX.sub("", path.name))
    while (trimmed := _TIMESTAMP_SUFFIX.sub("", stem)) != stem:
        stem = trimmed
    return str(path.parent / stem)


def _streams(files: list[str], nodes: list[str], signatures: Mapping[str, tuple],
             spans: Mapping[str, tuple[int, int]]) -> list[str]:
    """The stream of each file: files of one node and interface signature whose packets
    follow the previous file's in time join its stream; a file that overlaps every open
    stream of its kind (a second capture running at once) starts its own. One decision per
    file, not per packet."""
    stream = {f: f for f in files}
    open_streams: dict[tuple, list[tuple[int, str]]] = {}
    timed = sorted((f for f in files if f in spans), key=lambda f: (spans[f], f))
    node_of = dict(zip(files, nodes, strict=True))
    for file in timed:
        kind = (node_of[file], signatures.get(file, ()), rotation_stem(file))
        first, last = spans[file]
        ends = open_streams.setdefault(kind, [])
        joined = next((i for i, (end, _) in enumerate(ends) if end <= first), None)
        if joined is None:
            ends.append((last, file))
        else:
            stream[file] = ends[joined][1]
            ends[joined] = (last, ends[joined][1])
    return [stream[f] for f in files]


def _from_gadget(said: PodMetadata | None) -> _Decision | None:
    if said is None or said.node is None:
        return None
    return _Decision(said.node, "pcapng", str(said.node_evidence))


def _files(decoded: Decoded) -> list[str]:
    """Capture files in the order they were read (files without packets included)."""
    seen: dict[str, None] = {}
    for column in (decoded.packets.get("file"), decoded.interfaces.get("file")):
        if column is None or not len(column):
            continue
        values = column.dropna().unique()
        for name in values:
            if str(name):
                seen.setdefault(str(name), None)
    return list(seen)


def _user_mapping(files: Sequence[str], nodes: Mapping[str, str]) -> dict[str, _Decision]:
    decided: dict[str, _Decision] = {}
    for key, node in nodes.items():
        if not isinstance(node, str) or not node.strip():
            raise PcapkitError(f"node mapping for {key!r}: node name must be a non-empty string")
        hits = [f for f in files if _user_key_matches(str(key), f)]
        if not hits:
            raise PcapkitError(f"node mapping names {key!r}, which matches none of the capture "
                               f"files: {', '.join(files) or '(none)'}")
        for file in hits:
            decided.setdefault(file, _Decision(node.strip(), "user", f"mapping {key!r}"))
    return decided


def _user_key_matches(key: str, file: str) -> bool:
    """``key`` names ``file``: as given, by base name or glob; a member of an archive
    (``archive!member``, :mod:`pcapkit.ingest`) is also named by its archive."""
    path = PurePath(file)
    if key in (file, path.name, str(path)) or fnmatch.fnmatch(file, key) or (
            fnmatch.fnmatch(path.name, key)):
        return True
    archive, member = file.split("!", 1) if "!" in file else (None, None)
    return archive is not None and (_user_key_matches(key, archive) or key == member)


def _cluster_node_names(cluster: Cluster | None) -> list[str]:
    if cluster is None or "name" not in cluster.nodes:
        return []
    names = [str(n) for n in cluster.nodes["name"].dropna()]
    return sorted(set(names), key=len, reverse=True)


def _per_node_directories(files: Sequence[str]) -> bool:
    """True when the files sit in two or more sibling directories (``<root>/<node>/...``)."""
    parents = {PurePath(f).parent for f in files}
    return len(parents) >= 2 and len({p.parent for p in parents}) == 1


def _from_directory(file: str, node_names: list[str], per_node_dirs: bool) -> _Decision | None:
    parent = PurePath(file).parent
    name = parent.name
    if name.lower() in GENERIC_DIRECTORIES:
        return None
    if node_names:
        match = _exact_node(name, node_names)
        return _Decision(match, "directory", f"directory {name!r}") if match else None
    stem = PurePath(rotation_stem(file)).name
    named_after_interface = bool(_INTERFACE_TOKEN.match(stem))  # <node>/eth0.pcap
    if per_node_dirs or named_after_interface or (
            parent.parent.name.lower() in CONTAINER_DIRECTORIES):
        return _Decision(name, "directory", f"directory {name!r}")
    return None


def _exact_node(text: str, node_names: list[str]) -> str | None:
    lowered = text.lower()
    return next((n for n in node_names if n.lower() == lowered), None)


def _from_filename(file: str, node_names: list[str]) -> _Decision | None:
    base = PurePath(file).name
    stem = _CAPTURE_SUFFIX.sub("", base)
    if node_names:
        match = _node_in_text(stem, node_names)
        return _Decision(match, "filename", f"file name {base!r}") if match else None
    guess = node_from_file_stem(stem)
    return _Decision(guess, "filename", f"file name {base!r}") if guess else None


def node_from_file_stem(stem: str) -> str | None:
    """The node name a file name suggests, without a snapshot to check it against.

    Strips tool prefixes (``tcpdump-``), timestamps and trailing interface names:
    ``tcpdump-node1-eth0-20240501T1000`` -> ``node1``. None for generic names.
    """
    text = _TOOL_PREFIX.sub("", stem)
    while True:
        trimmed = _TIMESTAMP_SUFFIX.sub("", text)
        tokens = re.split(r"([-_])", trimmed)
        if len(tokens) >= 3 and _INTERFACE_TOKEN.match(tokens[-1]):
            trimmed = "".join(tokens[:-2])
        if trimmed == text:
            break
        text = trimmed
    text = text.strip("-_.")
    if not text or text.lower() in GENERIC_STEMS or _INTERFACE_TOKEN.match(text) or (
            text.isdigit()):
        return None
    return text


def _node_in_text(text: str, node_names: list[str]) -> str | None:
    """The longest node name appearing in ``text`` as a whole word (separators -_. or ends)."""
    lowered = text.lower()
    for name in node_names:  # longest first
        pattern = r"(^|[-_.\s/=:])" + re.escape(name.lower()) + r"($|[-_.\s/,;:])"
        if re.search(pattern, lowered):
            return name
    return None


def _interface_texts(interfaces: pd.DataFrame, file: str) -> list[tuple[str, str]]:
    if interfaces is None or not len(interfaces) or "file" not in interfaces:
        return []
    rows = interfaces[interfaces["file"].astype(str) == file]
    texts = []
    for field in ("description", "comment", "name"):
        if field not in rows:
            continue
        for value in rows[field].dropna():
            if str(value).strip():
                texts.append((field, str(value)))
    return texts


def _from_pcapng_tag(interfaces: pd.DataFrame, file: str) -> _Decision | None:
    for field, text in _interface_texts(interfaces, file):
        match = _NODE_TAG.search(text)
        if match:
            return _Decision(match.group(1).rstrip("._-"), "pcapng",
                             f"interface {field} {text!r}")
    return None


def _from_pcapng_mention(interfaces: pd.DataFrame, file: str,
                         node_names: list[str]) -> _Decision | None:
    if not node_names:
        return None
    for field, text in _interface_texts(interfaces, file):
        if field == "name":
            continue
        match = _node_in_text(text, node_names)
        if match:
            return _Decision(match, "pcapng", f"interface {field} {text!r}")
    return None


#: the packet columns snapshot_vote reads
VOTE_COLUMNS = ("file", "outer_src", "outer_dst", "src", "dst", "pkt_type")


def snapshot_vote(packets: pd.DataFrame, file: str,
                  cluster: Cluster | None) -> tuple[str, str, str] | None:
    """(node, "snapshot", evidence) when the cluster's node addresses in ``file``'s packets
    (a packet table, or its ``vote_rows``) name its node (see ``_from_snapshot``), else
    None."""
    decision = _from_snapshot(packets, file, check_cluster(cluster, "snapshot_vote"))
    return None if decision is None else (decision.node, decision.source, decision.evidence)


def _from_snapshot(packets: pd.DataFrame, file: str, cluster: Cluster | None) -> _Decision | None:
    """The node whose addresses the file's packets leave from and arrive at.

    Where the capture records direction (Linux cooked captures), the node is the one
    whose address is the source of outgoing and the destination of incoming
    packets: a peer's address sits on the other side, and an address that merely
    appears (a peer's tunnel address quoted in an ICMP error, say) does not count.
    Without direction, a node's own address is in every one of its underlay packets
    and a peer's only in its share, so the most frequent address wins; a tie (two
    nodes talking only to each other) is left undecided rather than guessed.
    """
    if cluster is None or not len(packets):
        return None
    owners = _address_owners(cluster)
    if not owners:
        return None
    rows = packets[(packets["file"] == file).to_numpy()].reset_index(drop=True)
    if not len(rows):
        return None
    src, dst = _underlay_addresses(rows)
    weights = _weights(rows)
    scores = _direction_votes(rows, src, dst, owners, weights)
    how = "as the local end of {share:.0%} of the file's packets"
    if not any(scores.values()):
        scores = {}
        for series in (src, dst):
            for ip, count in _counts(series, weights).items():
                node = owners.get(str(ip))
                if node is not None:
                    scores[node] = scores.get(node, 0) + int(count)
        how = "in {share:.0%} of the file's packets"
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, best_score = ranked[0]
    if best_score == 0 or (len(ranked) > 1 and ranked[1][1] == best_score):
        return None
    share = best_score / int(weights.sum())
    addresses = sorted(ip for ip, n in owners.items() if n == best)
    seen = set(src.astype(str)) | set(dst.astype(str))
    shown = next((ip for ip in addresses if ip in seen), addresses[0])
    return _Decision(best, "snapshot",
                     f"address {shown} of node {best} " + how.format(share=share))


def _address_owners(cluster: Cluster) -> dict[str, str]:
    owners: dict[str, str] = {}
    table = cluster.nodes
    if "name" not in table:
        return owners
    for _, node in table.iterrows():
        addresses: Any = node.get("addresses")
        internal = node.get("internal_ip")
        if isinstance(internal, str):
            owners.setdefault(internal, str(node["name"]))
        if isinstance(addresses, dict):
            for ip in addresses:
                owners.setdefault(str(ip), str(node["name"]))
    return owners


def _underlay_addresses(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    tunnelled = rows["outer_src"].notna().to_numpy()
    src = rows["outer_src"].astype(object).where(tunnelled, rows["src"].astype(object))
    dst = rows["outer_dst"].astype(object).where(tunnelled, rows["dst"].astype(object))
    return src.dropna(), dst.dropna()


def _weights(rows: pd.DataFrame) -> pd.Series:
    """Packets each row stands for: its ``count`` in a table of vote rows already counted
    (``vote_rows``), else one."""
    return rows["count"] if "count" in rows else pd.Series(1, index=rows.index)


def _counts(series: pd.Series, weights: pd.Series) -> pd.Series:
    """Packets per value of ``series`` (some of the rows, by index), weighted."""
    return weights.loc[series.index].groupby(series.to_numpy()).sum()


def vote_rows(packets: pd.DataFrame) -> pd.DataFrame:
    """What ``snapshot_vote`` reads of a packet table, counted: one row per distinct
    (file, underlay addresses, packet type) with its ``count``, so a file's votes can be
    gathered batch by batch (``pd.concat`` of such tables is one too)."""
    columns = [c for c in VOTE_COLUMNS if c in packets]
    if not len(packets):
        return pd.DataFrame({**{c: pd.Series(dtype=object) for c in columns},
                             "count": pd.Series(dtype=np.int64)})
    key = np.zeros(len(packets), dtype=np.int64)
    for column in columns:  # one dense code per distinct combination so far
        codes, labels = codes_of(packets[column])
        key, _ = pd.factorize(key * (len(labels) + 1) + codes + 1)
        key = key.astype(np.int64, copy=False)
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    appearance = np.argsort(first, kind="stable")  # groups in order of first appearance
    rows = packets[columns].iloc[first[appearance]].astype(object).reset_index(drop=True)
    return rows.assign(count=count[appearance].astype(np.int64))


def _direction_votes(rows: pd.DataFrame, src: pd.Series, dst: pd.Series,
                     owners: dict[str, str], weights: pd.Series) -> dict[str, int]:
    """Per node: packets it sends (outgoing, from its address) or receives (incoming,
    to its address), for captures that record direction; empty otherwise."""
    votes: dict[str, int] = {}
    if "pkt_type" not in rows:
        return votes
    kind = rows["pkt_type"].astype(object)
    outgoing = (kind == "outgoing").to_numpy()
    incoming = kind.isin(["host", "broadcast", "multicast"]).to_numpy()
    for series, mask in ((src, outgoing), (dst, incoming)):
        picked = series[mask[rows.index.get_indexer(series.index)]]
        for ip, count in _counts(picked, weights).items():
            node = owners.get(str(ip))
            if node is not None:
                votes[node] = votes.get(node, 0) + int(count)
    return votes


def stream_of_rows(packets: pd.DataFrame, points: pd.DataFrame) -> pd.Categorical:
    """The ``stream`` of every packet row, from its file's capture point (the file's own
    name when the points do not list it)."""
    file_codes, files = codes_of(packets["file"])
    mapping = dict(zip(points["file"].astype(str), points["stream"].astype(str), strict=True))
    streams = [mapping.get(str(f), str(f)) for f in files]
    categories = pd.Index(pd.unique(np.asarray(streams, dtype=object)), dtype=object)
    per_category = categories.get_indexer(pd.Index(streams, dtype=object))
    return pd.Categorical.from_codes(per_row(file_codes, per_category, -1).astype(np.int32),
                                     categories=categories, validate=False)


def node_of_rows(packets: pd.DataFrame, points: pd.DataFrame) -> pd.Categorical:
    """The node of every packet row, from its file's capture point."""
    file_codes, files = codes_of(packets["file"])
    mapping = dict(zip(points["file"].astype(str), points["node"].astype(str), strict=True))
    used = np.zeros(len(files), dtype=bool)
    used[np.unique(file_codes[file_codes >= 0])] = True
    missing = [f for f, u in zip(files, used, strict=True) if u and f not in mapping]
    if missing:
        raise PcapkitError("capture points do not list file(s) " + ", ".join(missing)
                           + ": call capture_points() on the same decoded tables")
    categories = pd.Index(pd.unique(points["node"].astype(str).to_numpy()), dtype=object)
    per_category = categories.get_indexer(
        pd.Index([mapping.get(f) for f in files], dtype=object))
    row_codes = per_row(file_codes, per_category, -1)
    return pd.Categorical.from_codes(row_codes.astype(np.int32), categories=categories,
                                     validate=False)
