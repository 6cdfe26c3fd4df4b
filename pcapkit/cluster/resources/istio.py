"""Istio data-plane modes of pods, and names for the ports Envoy and ztunnel use.

A sidecar pod redirects its traffic through Envoy (outbound to 15001, inbound to 15006); an
ambient pod's traffic is carried by the node's ztunnel over HBONE (15008). Later stages use
this to label those hops instead of reporting them as unknown traffic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SIDECAR = "sidecar"
AMBIENT = "ambient"
ZTUNNEL = "ztunnel"
WAYPOINT = "waypoint"

DATAPLANE_MODE = "istio.io/dataplane-mode"
SIDECAR_STATUS = "sidecar.istio.io/status"
AMBIENT_REDIRECTION = "ambient.istio.io/redirection"

#: Ports of the Istio data plane (istio.io "Ports used by Istio").
ENVOY_PORTS: dict[int, str] = {
    15000: "envoy-admin",
    15001: "envoy-outbound-capture",
    15004: "istio-agent-debug",
    15006: "envoy-inbound-capture",
    15008: "hbone-mtls-tunnel",
    15009: "hbone-secure-networks",
    15020: "istio-merged-metrics",
    15021: "envoy-health",
    15053: "istio-dns-proxy",
    15090: "envoy-prometheus",
}


def pod_mode(pod: dict[str, Any], namespace_labels: dict[str, str] | None = None) -> str | None:
    """"sidecar", "ambient", "ztunnel", "waypoint" or None for a pod outside the mesh."""
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    spec = pod.get("spec") or {}
    if labels.get("app") == "ztunnel" or labels.get("app.kubernetes.io/name") == "ztunnel":
        return ZTUNNEL
    if "gateway.istio.io/managed" in labels and labels.get("gateway.networking.k8s.io/gateway-name"):
        return WAYPOINT
    containers = [c for key in ("containers", "initContainers") for c in spec.get(key) or []]
    if SIDECAR_STATUS in annotations or any(c.get("name") == "istio-proxy" for c in containers):
        return SIDECAR
    pod_mode_label = labels.get(DATAPLANE_MODE)
    if pod_mode_label == "none":
        return None
    if (
        pod_mode_label == AMBIENT
        or annotations.get(AMBIENT_REDIRECTION) == "enabled"
        or (namespace_labels or {}).get(DATAPLANE_MODE) == AMBIENT
    ):
        return AMBIENT
    return None


def envoy_port_label(port: int | None) -> str | None:
    """Name of an Istio data-plane port, or None."""
    return ENVOY_PORTS.get(port) if port is not None else None


def label_envoy_ports(ports: pd.Series) -> pd.Series:
    """Vectorised ``envoy_port_label`` over a port column (categorical result)."""
    values = pd.to_numeric(ports, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    known = np.array(sorted(ENVOY_PORTS), dtype="float64")
    names = [ENVOY_PORTS[int(p)] for p in known]
    position = np.searchsorted(known, values)
    position = np.clip(position, 0, len(known) - 1)
    hit = known[position] == values
    codes = np.where(hit, position, -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=ports.index,
                     name=f"{ports.name}_istio" if ports.name else None)
