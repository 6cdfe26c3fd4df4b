"""The Cluster: snapshots of a Kubernetes cluster turned into tables and address lookups.

``load_snapshot(paths)`` reads one or several exports (each a point in time) and returns a
Cluster with DataFrames (``pods``, ``services``, ``nodes``, ``policies``, ``endpoints``,
``networks``), ``resolve`` (one address), ``enrich`` (address columns of a packet table) and
``explain`` (would NetworkPolicy allow this connection).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pcapkit.cluster.identity.address_map import AddressMap
from pcapkit.cluster.identity.build import build_address_map
from pcapkit.cluster.identity.enrich import enrich_frame
from pcapkit.cluster.identity.identity import Identity
from pcapkit.cluster.policy.explain import explain_connection
from pcapkit.cluster.policy.verdict import Verdict
from pcapkit.cluster.resources import multus
from pcapkit.cluster.resources.nodes import (
    NodeInfo,
    PodRange,
    add_bridge_gateways,
    apply_cilium_node,
    calico_ranges,
    node_info,
)
from pcapkit.cluster.resources.pods import PodRecord, collect_pods
from pcapkit.cluster.resources.services import ServiceRecord, collect_services
from pcapkit.cluster.snapshot.snapshot import Snapshot, load_one
from pcapkit.cluster.snapshot.times import parse_time, to_timestamp
from pcapkit.cluster.tables import (
    endpoints_table,
    networks_table,
    nodes_table,
    pods_table,
    policies_table,
    service_backends_table,
    services_table,
)
from pcapkit.errors import PcapkitError, SnapshotError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def load_snapshot(
    path_or_paths: PathLike | Sequence[PathLike],
    times: Any = None,
) -> Cluster:
    """Read one export (file or directory) or several taken at different times.

    ``times`` overrides the snapshot times: one time for one path, or a list parallel to
    the paths (None entries keep the inferred time). Raises SnapshotError naming a path that
    cannot be read.
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, os.PathLike)) else list(
        path_or_paths)
    if not paths:
        raise SnapshotError("no snapshot given")
    if times is None:
        given: list[Any] = [None] * len(paths)
    elif isinstance(times, (list, tuple)):
        given = list(times)
        if len(given) != len(paths):
            raise SnapshotError(
                f"times= lists {len(given)} times for {len(paths)} snapshot paths")
    elif len(paths) == 1:
        given = [times]
    else:
        raise SnapshotError("times= must list one time per snapshot path")
    return Cluster([load_one(path, time) for path, time in zip(paths, given, strict=True)])


def check_cluster(cluster: object, stage: str) -> Cluster | None:
    """``cluster`` when it is a Cluster or None; PcapkitError naming ``stage`` otherwise
    (a path or a table is a common mistake: the stages want ``load_snapshot``'s result)."""
    if cluster is None or isinstance(cluster, Cluster):
        return cluster
    raise PcapkitError(f"{stage}: cluster must be a pcapkit.cluster.Cluster (from "
                       f"load_snapshot), not {type(cluster).__name__}")


class Cluster:
    """Identities and policies of a cluster over the time its snapshots span.

    Tables (pandas DataFrames, columns documented in docs/cluster.md): ``pods``,
    ``services``, ``nodes``, ``policies``, ``endpoints``, ``networks``. ``problems`` lists
    every object or field that was skipped because it was malformed.
    """

    def __init__(self, snapshots: list[Snapshot]) -> None:
        self.snapshots = sorted(snapshots, key=lambda s: s.time)
        self.problems: list[str] = [p for s in self.snapshots for p in s.problems]
        self._nodes = self._collect_nodes()
        self._definitions = self._collect_definitions()
        self._pod_records = collect_pods(self.snapshots, self.problems)
        self._service_records = collect_services(self.snapshots)
        self._link_pods_and_services()
        self._fill_pod_nodes()
        self.address_map: AddressMap = build_address_map(
            self.snapshots[-1].time, self._pod_records, self._service_records, self._nodes,
            self._ranges(), self._definitions)
        self.pods = pods_table(self._pod_records)
        self.services = services_table(self._service_records)
        self.nodes = nodes_table(self._nodes)
        self.policies = policies_table(self.snapshots)
        self.endpoints = endpoints_table(self._service_records)
        self.networks = networks_table(self._pod_records, self._definitions)

    # ----------------------------------------------------------------- public API

    @property
    def times(self) -> list[pd.Timestamp]:
        """Snapshot times, oldest first."""
        return [to_timestamp(s.time) for s in self.snapshots]  # type: ignore[misc]

    def resolve(self, ip: str, at: Any = None, port: int | None = None) -> Identity:
        """Who had ``ip`` at time ``at`` (default: the newest snapshot).

        With ``port``, a node address resolves to the hostNetwork pod, hostPort pod or
        NodePort service listening there. Raises PcapkitError for a non-address.
        """
        when = self.time_ns(at)
        try:
            return self.address_map.resolve(ip, when, port)
        except ValueError as exc:
            raise PcapkitError(str(exc)) from exc

    def enrich(
        self,
        df: pd.DataFrame,
        columns: Sequence[str] = ("src", "dst"),
        at: Any = "ts",
        ports: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """A copy of ``df`` with ``{col}_kind``, ``_namespace``, ``_pod``, ``_workload``,
        ``_node``, ``_service``, ``_network``, ``_istio`` and ``_confidence`` per column.

        ``at`` is a time column (default ``ts``; missing -> newest snapshot) or one time;
        ``ports`` maps an address column to its port column (e.g. ``{"dst": "dport"}``) so
        node addresses resolve to hostNetwork pods and NodePort services.
        """
        return enrich_frame(df, self.address_map, tuple(columns), at, ports)

    def explain(self, src: str, dst: str, port: int | str, proto: str = "TCP",
                at: Any = None) -> Verdict:
        """Would the cluster's NetworkPolicies allow ``src`` -> ``dst`` on ``port``/``proto``?

        ``src``/``dst``: "namespace/pod", a pod name unique in the cluster, or an IP address
        (a pod IP is taken as that pod; a service IP is evaluated against its backends).
        Returns the PolicyEngine's Verdict (``.allowed``, ``.explain()``, ``.to_dict()``).
        """
        return explain_connection(self, src, dst, port, proto, self.time_ns(at)).verdict

    def service_backends(self) -> pd.DataFrame:
        """Service address/port/transport -> backend pod address/port/pod (one row each;
        columns ``tables.SERVICE_BACKEND_COLUMNS``), from ``services`` and ``endpoints``."""
        return service_backends_table(self.services, self.endpoints)

    def pod(self, ref: str, at: Any = None) -> dict[str, Any]:
        """The Pod object for "namespace/name" or a unique pod name."""
        return self.find_pod(ref, self.time_ns(at)).obj

    def node_for_mac(self, mac: str) -> str | None:
        """The node whose Flannel VTEP MAC is ``mac`` (inner Ethernet of VXLAN frames)."""
        wanted = mac.lower()
        return next((n.name for n in self._nodes.values() if n.vtep_mac == wanted), None)

    def __repr__(self) -> str:
        span = ", ".join(str(t) for t in self.times)
        return (f"<Cluster {len(self.snapshots)} snapshot(s) [{span}]: {len(self.pods)} pods, "
                f"{len(self.services)} services, {len(self.nodes)} nodes, "
                f"{len(self.policies)} policies, {len(self.problems)} problems>")

    # ----------------------------------------------------------- used by explain

    def objects_at(self, key: str, when: int | None) -> list[dict[str, Any]]:
        """Objects of a kind as of the newest snapshot at or before ``when`` that holds it."""
        holders = [s for s in self.snapshots if s.has(key)]
        if not holders:
            return []
        if when is None:
            return holders[-1].of(key)
        before = [s for s in holders if s.time <= when]
        return (before[-1] if before else holders[0]).of(key)

    def find_pod(self, ref: str, when: int | None) -> PodRecord:
        """The pod record for "ns/name" or a unique name; PcapkitError when unknown."""
        if "/" in ref:
            namespace, name = ref.split("/", 1)
            matches = [r for r in self._pod_records if r.namespace == namespace and r.name == name]
        else:
            matches = [r for r in self._pod_records if r.name == ref]
            namespaces = sorted({r.namespace for r in matches})
            if len(namespaces) > 1:
                raise PcapkitError(
                    f"pod name {ref!r} is in several namespaces ({', '.join(namespaces)}); "
                    "write NAMESPACE/POD")
        if not matches:
            raise PcapkitError(f"unknown pod {ref!r} (not in any snapshot)")
        return self._closest(matches, when)

    def find_service(self, ref: str) -> ServiceRecord | None:
        """The service for "ns/name", or None."""
        if "/" not in ref:
            return None
        namespace, name = ref.split("/", 1)
        return next((s for s in self._service_records
                     if s.namespace == namespace and s.name == name), None)

    @property
    def service_records(self) -> list[ServiceRecord]:
        """Services with their backends."""
        return self._service_records

    def pod_record(self, identity: Identity) -> PodRecord | None:
        """The record behind a pod identity."""
        return next((r for r in self._pod_records
                     if r.namespace == identity.namespace and r.name == identity.name
                     and (identity.uid is None or r.uid == identity.uid)), None)

    # ----------------------------------------------------------------- building

    def time_ns(self, at: Any) -> int | None:
        """A user-given time (RFC 3339 text, datetime, Timestamp) in ns; None stays None."""
        if at is None:
            return None
        when = parse_time(at)
        if when is None:
            raise PcapkitError(f"not a time: {at!r}")
        return when

    @staticmethod
    def _closest(records: list[PodRecord], when: int | None) -> PodRecord:
        if when is None:
            return max(records, key=lambda r: (r.last_seen, r.start))
        live = [r for r in records if r.start <= when <= r.end]
        if live:
            return max(live, key=lambda r: r.start)
        return min(records, key=lambda r: min(abs(r.start - when), abs(r.end - when)))

    def _collect_nodes(self) -> dict[str, NodeInfo]:
        nodes: dict[str, NodeInfo] = {}
        for snapshot in self.snapshots:
            for node in snapshot.of("Node"):
                nodes[node["metadata"]["name"]] = node_info(node, self.problems)
        for snapshot in self.snapshots:
            for cilium_node in snapshot.of("CiliumNode"):
                name = cilium_node["metadata"]["name"]
                info = nodes.setdefault(name, NodeInfo(name=name))
                apply_cilium_node(info, cilium_node)
        for info in nodes.values():
            add_bridge_gateways(info)
        return nodes

    def _collect_definitions(self) -> dict[str, multus.NetworkDefinition]:
        definitions = {}
        for snapshot in self.snapshots:
            for nad in snapshot.of("NetworkAttachmentDefinition"):
                definition = multus.network_definition(nad)
                if definition.subnet and not _is_cidr(definition.subnet):
                    self._problem(f"NetworkAttachmentDefinition {definition.namespace}/"
                                  f"{definition.name}: subnet {definition.subnet!r} is not a CIDR")
                    definition = multus.NetworkDefinition(
                        definition.namespace, definition.name, definition.cni_type,
                        definition.master, None)
                definitions[f"{definition.namespace}/{definition.name}"] = definition
        return definitions

    def _ranges(self) -> list[PodRange]:
        ranges = [PodRange(cidr, info.name, "podCIDR")
                  for info in self._nodes.values() for cidr in info.pod_cidrs]
        latest = self.snapshots[-1]
        holders = {key: next((s for s in reversed(self.snapshots) if s.has(key)), latest)
                   for key in ("CalicoIPAMBlock", "CalicoBlockAffinity", "CalicoIPPool")}
        ranges += calico_ranges(holders["CalicoIPAMBlock"].of("CalicoIPAMBlock"),
                                    holders["CalicoBlockAffinity"].of("CalicoBlockAffinity"),
                                    holders["CalicoIPPool"].of("CalicoIPPool"))
        return ranges

    def _link_pods_and_services(self) -> None:
        by_pod: dict[tuple[str, str], set[str]] = {}
        by_ip: dict[str, set[str]] = {}
        for service in self._service_records:
            for backend in service.backends:
                if backend["pod"]:
                    by_pod.setdefault((backend["pod_namespace"], backend["pod"]), set()).add(
                        service.ref)
                else:
                    by_ip.setdefault(backend["ip"], set()).add(service.ref)
        for record in self._pod_records:
            found = set(by_pod.get((record.namespace, record.name), set()))
            for ip in record.ips if not record.host_network else ():
                found |= by_ip.get(ip, set())
            record.services = sorted(found)

    def _fill_pod_nodes(self) -> None:
        """Pods known only from CiliumEndpoints name their node by IP: map it to a name."""
        node_by_ip = {ip: info.name for info in self._nodes.values() for ip in info.addresses}
        for record in self._pod_records:
            if record.node is None:
                host_ip = (record.obj.get("status") or {}).get("hostIP")
                record.node = node_by_ip.get(host_ip or "")

    def _problem(self, message: str) -> None:
        log.warning("%s", message)
        self.problems.append(message)


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True

