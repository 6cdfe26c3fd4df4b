"""Cilium's VNI (the sender's security identity) names a flow end the snapshot's addresses
do not: only through CiliumEndpoints, only for an identity one workload (or pod) holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pcapkit
from pcapkit.cluster import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "fixtures" / "flows" / "vxlan-cilium-identity-vni.pcap"  # VNIs 41230 / 8872
CILIUM = ROOT / "fixtures" / "cluster" / "cilium" / "cluster.json"


def _snapshot(tmp_path: Path, identities: dict[str, int]) -> Path:
    """The Cilium cluster export with the given CiliumEndpoint identity ids (by name prefix);
    its pod addresses are not the capture's, so only the VNI can name the ends."""
    export = json.loads(CILIUM.read_text())
    for item in export["items"]:
        if item["kind"] == "CiliumEndpoint":
            for prefix, number in identities.items():
                if item["metadata"]["name"].startswith(prefix):
                    item["status"].setdefault("identity", {})["id"] = number
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(export))
    return path


def _flow(snapshot: Path | None) -> dict:
    assert CAPTURE.exists()
    flows = pcapkit.open(CAPTURE, snapshot=snapshot).flows
    assert len(flows) == 1
    return flows.iloc[0].to_dict()


def test_the_vni_names_both_ends_by_their_identity(tmp_path: Path) -> None:
    flow = _flow(_snapshot(tmp_path, {"frontend": 41230, "batch": 8872}))
    assert flow["orig_identity"] == "Deployment default/frontend"
    assert flow["orig_workload"] == "Deployment default/frontend"
    assert flow["orig_namespace"] == "default" and flow["orig_confidence"] == "cilium-identity"
    assert flow["resp_identity"] == "default/batch-7c4d9-x1y2z"   # a pod without a workload
    assert flow["resp_pod"] == "batch-7c4d9-x1y2z"


@pytest.mark.parametrize("identities", [
    {},                                          # the export's own ids: not these VNIs
    {"frontend": 8872, "batch": 8872},           # one identity, two workloads: ambiguous
])
def test_no_name_without_a_one_owner_identity(tmp_path: Path, identities: dict) -> None:
    flow = _flow(_snapshot(tmp_path, identities))
    assert flow["orig_identity"] == flow["orig_h"]
    assert flow["resp_identity"] == flow["resp_h"]
    assert flow["orig_confidence"] is None or flow["orig_confidence"] != "cilium-identity"


def test_a_cluster_without_cilium_endpoints_is_untouched() -> None:
    flannel = ROOT / "fixtures" / "cluster" / "flannel" / "snapshot-t2.json"
    assert "cilium_identity" in load_snapshot(flannel).pods.columns
    flow = _flow(flannel)
    assert flow["orig_confidence"] != "cilium-identity"
