"""service_failures: refused connections against the Service's endpoints, and hairpins."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pcapkit
from pcapkit.schema.convert import mismatches
from pcapkit.schema.services import SERVICE_FAILURES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "fixtures" / "services"
DNAT = ROOT / "fixtures" / "kernel-dnat"


def failures(path: Path, snapshot: Path | None):
    table = pcapkit.open(path, snapshot=snapshot).table("service_failures")
    assert mismatches(table, SERVICE_FAILURES) == []
    return table


def test_kernel_reject_of_a_service_without_endpoints():
    table = failures(DNAT, DNAT / "cluster.json")
    assert table["verdict"].astype(str).tolist() == ["no_endpoints", "no_endpoints"]
    assert set(table["service"]) == {"shop/checkout"}
    assert (table["endpoints"] == 0).all() and table["refused"].all()
    assert table["conn_state"].astype(str).tolist() == ["REJ", "REJ"]
    assert table["reason"].str.endswith(": reset").all()


def test_icmp_port_unreachable_from_the_node_is_a_refusal():
    [row] = failures(SERVICES / "reject-icmp.pcap", SERVICES / "cluster.json").itertuples()
    assert (row.verdict, row.service, row.icmp_error_types) == ("no_endpoints",
                                                                 "shop/orders", "3/3")
    assert row.orig_identity == "Pod shop/tools"


def test_a_pod_reaching_itself_through_its_service_is_a_hairpin():
    [row] = failures(SERVICES / "hairpin.pcap", SERVICES / "cluster.json").itertuples()
    assert (row.verdict, row.service, row.endpoints) == ("hairpin", "shop/api", 1)
    assert row.client_is_backend and not row.refused and row.syn_retrans == 2


def test_no_snapshot_no_service_failures():
    assert failures(DNAT, None).empty
    assert failures(SERVICES / "hairpin.pcap", None).empty


def test_committed_fixtures_match_the_generator(tmp_path):
    subprocess.run([sys.executable, str(SERVICES / "make_services_fixtures.py"), str(tmp_path)],
                   check=True)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SERVICES.iterdir() if p.suffix != ".py")
    for name in made:
        assert filecmp.cmp(tmp_path / name, SERVICES / name, shallow=False), name
