"""Interface names for `tcpdump -i any` (SLL2) captures, from the node's own files.

SLL2 frames carry only the ifindex; the names come from what `ip` printed on the node
(fixtures/links: the demo's namespaces built again and listed in every form), Retina's
ip-resources.txt, or the demo's "N name" files. Packets, sightings, DNS messages, flow
paths, the ladder, reports and exported evidence must all show the name; a capture with
no such file (or an unreadable one) is shown by index, as before.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from oracle import TSHARK

import pcapkit
from pcapkit.cli import main
from pcapkit.decode.files import Decoded, decode_files
from pcapkit.flows.path import interface_labels
from pcapkit.ingest import Inputs
from pcapkit.ingest.links import link_files_for, name_interfaces, names_device, parse_links
from pcapkit.plots import ladder_layout

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"
LINKS = ROOT / "fixtures" / "links"
RETINA = ROOT / "fixtures" / "retina" / "demo" / "shop-incident"
SNAPSHOT = DEMO / "cluster.json"
#: every form make_link_listings.sh writes that lists all interfaces
FULL_FORMS = ("ip-o-link.txt", "ip-link.txt", "ip-addr.txt", "ip-j-link.txt",
              "ip-d-j-addr.txt")
BY_INDEX = re.compile(r":if\d+\b")


def fixture(path: Path) -> Path:
    assert path.exists(), f"missing committed fixture {path}"
    return path


def recorded(node: str) -> dict[int, str]:
    """The demo node's ifindex -> name, as its script recorded them ("N name")."""
    lines = fixture(DEMO / f"{node}-ifindex.txt").read_text().splitlines()
    return {int(index): name for index, name in (line.split() for line in lines)}


def incident(directory: Path, listing: Path | None, node: str = "node1",
             name: str = "ip-link.txt") -> Path:
    """A directory holding one demo node's capture and, optionally, a listing beside it."""
    directory.mkdir()
    shutil.copy(fixture(DEMO / f"{node}-any.pcap"), directory / f"{node}-any.pcap")
    if listing is not None:
        shutil.copy(listing, directory / name)
    return directory


# -- the forms --------------------------------------------------------------------------

@pytest.mark.parametrize("node", ["node1", "node2"])
@pytest.mark.parametrize("form", FULL_FORMS)
def test_every_form_of_ip_output_names_the_demo_nodes_interfaces(node, form) -> None:
    assert parse_links(fixture(LINKS / node / form).read_text()) == recorded(node)


@pytest.mark.parametrize("node", ["node1", "node2"])
def test_ip_o_addr_names_the_addressed_interfaces_only(node) -> None:
    names = parse_links(fixture(LINKS / node / "ip-o-addr.txt").read_text())
    assert names == {i: n for i, n in recorded(node).items()
                     if n in ("lo", "eth0", "cni0", "flannel.1", "eth1")}


@pytest.mark.parametrize("node", ["node1", "node2"])
def test_retina_ip_resources_names_every_interface(node) -> None:
    (tarball,) = fixture(RETINA).glob(f"shop-incident-{node}-*.tar.gz")
    with tarfile.open(tarball) as tar:
        text = tar.extractfile("ip-resources.txt").read().decode()
    assert "Summary:" in text and "-d -j addr show" in text and "lookup main" in text
    assert parse_links(text) == recorded(node)
    # the rule and route sections beside it name nothing
    framed = text.split("Execute:")[0].replace("-d -j addr show", "-d -j neighbor show")
    assert parse_links(framed + "Execute:\n\n/usr/sbin/ip route show table all\n\n"
                       "10.244.1.0/24 dev cni0 proto kernel scope link\n") == {}


@pytest.mark.parametrize("text", [
    "",
    "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n    pkts bytes target\n",
    "1 lo\n2 eth0\nthis line is no listing\n",           # "N name" must be all of it
    "[{\"ifindex\": \"2\", \"ifname\": \"eth0\"}]",       # ifindex as text
    "[not json",
    "2 this-name-is-far-too-long-for-linux\n",
    "2 eth/0\n",
    "0 eth0\n",
])
def test_text_in_no_known_form_names_nothing(text) -> None:
    assert parse_links(text) == {}


def test_an_index_named_twice_differently_is_left_unnamed() -> None:
    assert parse_links("2 eth0\n3 cni0\n2 eth1\n") == {3: "cni0"}
    assert parse_links("2 eth0\n3 cni0\n2 eth0\n") == {2: "eth0", 3: "cni0"}


def test_what_names_a_device() -> None:
    assert names_device("cni0") and names_device("eth0.100")
    for name in ("any", "0", "12", "", None, float("nan")):
        assert not names_device(name)


# -- which file goes with which capture -------------------------------------------------

def test_a_prefixed_list_goes_with_its_captures_only() -> None:
    present = ["README.txt", "ip-link.txt", "node1-ifindex.txt", "node1-any-ip-link.txt",
               "node10-ip-link.txt", "node1.pcap"]
    assert link_files_for("node1-any.pcap", present) == [
        "node1-any-ip-link.txt", "node1-ifindex.txt", "ip-link.txt"]
    assert link_files_for("node1.pcap", present) == ["node1-ifindex.txt", "ip-link.txt"]
    assert link_files_for("node10-any.pcap", present) == ["node10-ip-link.txt", "ip-link.txt"]
    assert link_files_for("node2-any.pcap", present) == ["ip-link.txt"]
    assert link_files_for("node1x.pcap", ["node1-ip-link.txt"]) == []


def test_the_first_list_that_names_anything_wins(tmp_path) -> None:
    directory = incident(tmp_path / "n", fixture(LINKS / "node1" / "ip-o-link.txt"))
    (directory / "node1-ifindex.txt").write_text("not a listing at all\n")
    (directory / "ifindex.txt").write_text("3 wrong0\n")
    (file,) = Inputs([directory]).files
    assert file.links.names == recorded("node1")
    assert file.links.source == f"{directory}/ip-link.txt"


def test_the_demos_ifindex_files_pair_with_their_own_node() -> None:
    files = {Path(f.name).name: f.links for f in Inputs([DEMO]).files}
    assert files["node1-any.pcap"].names == recorded("node1")
    assert files["node2-any.pcap"].names == recorded("node2")
    assert files["node2-any.pcap"].source == f"{DEMO}/node2-ifindex.txt"


# -- the tables -------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["ip-o-link.txt", "ip-d-j-addr.txt"])
def test_an_ip_listing_beside_a_capture_names_every_table(tmp_path, form) -> None:
    directory = incident(tmp_path / "n", fixture(LINKS / "node1" / form))
    capture = pcapkit.open(directory)
    names = recorded("node1")
    packets = capture.packets
    index = packets["if_index"].to_numpy(dtype=np.int64)
    # every packet named after its own ifindex, none left as the pcap's link "0"
    assert (packets["interface"].astype(str).to_numpy() ==
            np.array([names[i] for i in index], dtype=object)).all()
    assert set(capture.sightings["interface"].astype(str)) <= set(names.values())
    assert set(capture.dns_messages["interface"].astype(str)) <= set(names.values())
    assert len(capture.dns_messages) and not capture.errors
    paths = ",".join(capture.flows["orig_interfaces"].astype(str))
    assert not BY_INDEX.search(paths) and "node1:flannel.1" in paths
    _, labels = interface_labels(capture.sightings)
    assert {str(label).split(":", 1)[1] for label in labels} <= set(names.values())


def test_a_capture_without_a_list_is_shown_by_index(tmp_path) -> None:
    plain = pcapkit.open(incident(tmp_path / "plain", None))
    assert set(plain.packets["interface"].astype(str)) == {"0"}
    assert plain.inputs.files[0].links is None
    paths = set(",".join(plain.flows["orig_interfaces"].astype(str)).split(","))
    assert {"node1:if3", "node1:if4"} <= paths
    assert all(BY_INDEX.search(p) for p in paths)


def test_an_unknown_list_is_skipped_without_an_error(tmp_path, caplog) -> None:
    directory = incident(tmp_path / "n", None)
    (directory / "ip-link.txt").write_text("Device lo is up\nsome notes\n")
    with caplog.at_level(logging.DEBUG, logger="pcapkit.ingest.links"):
        capture = pcapkit.open(directory)
        packets = capture.packets
    assert set(packets["interface"].astype(str)) == {"0"} and not capture.errors
    assert "no interface names in a known form" in caplog.text
    result = CliRunner().invoke(main, ["decode", str(directory), "--format", "csv"])
    assert result.exit_code == 0 and result.stderr == ""


def test_an_index_the_list_lacks_stays_by_index(tmp_path) -> None:
    directory = incident(tmp_path / "n", None)
    partial = {i: n for i, n in recorded("node1").items() if n != "veth5e6f7a8b"}
    (directory / "ifindex.txt").write_text("".join(f"{i} {n}\n" for i, n in partial.items()))
    capture = pcapkit.open(directory)
    shown = set(capture.packets["interface"].astype(str))
    assert shown == {"0", "eth0", "cni0", "flannel.1", "eth1", "veth1a2b3c4d"}
    assert set(capture.packets.loc[capture.packets["interface"] == "0", "if_index"]) == {7}
    _, labels = interface_labels(capture.sightings)
    assert "node1:if7" in set(labels) and "node1:cni0" in set(labels)


def test_a_pcapng_any_interface_is_named_and_a_device_keeps_its_name() -> None:
    # dumpcap -i any (SLL2) -i eth0 (Ethernet) on node1, node1-ifindex.txt beside it
    capture = fixture(ROOT / "fixtures" / "kernel" / "node1-multi.pcapng")
    inputs = Inputs([capture])
    names = inputs.files[0].links.names
    raw = decode_files([capture])
    labelled = name_interfaces(raw, inputs.interface_names).packets
    any_rows = (raw.packets["interface"] == "any").to_numpy()
    index = raw.packets["if_index"].to_numpy(dtype=np.int64, na_value=-1)
    assert any_rows.any() and (~any_rows).any()
    assert (labelled["interface"].astype(str).to_numpy()[any_rows] ==
            np.array([names[i] for i in index[any_rows]], dtype=object)).all()
    assert set(labelled["interface"].astype(str)[~any_rows]) == {"eth0"}
    # eth0 through -i any and through its own capture: one place
    _, labels = interface_labels(pcapkit.open(capture).sightings)
    assert sorted(labels) == sorted(f"node1:{n}" for n in set(names.values()) - {"lo"})
    # an SLL2 interface that names its device (tcpdump -y LINUX_SLL2 -i eth0) keeps it
    packets = raw.packets.copy()
    packets["interface"] = packets["interface"].cat.rename_categories({"any": "bond0"})
    named = name_interfaces(Decoded(packets, [], raw.interfaces), inputs.interface_names)
    assert named.packets["interface"].astype(str).tolist() == \
        packets["interface"].astype(str).tolist()


def test_the_demo_incident_shows_device_names(tmp_path) -> None:
    demo = pcapkit.open(DEMO, snapshot=SNAPSHOT)
    for node in ("node1", "node2"):
        shown = set(demo.packets.loc[demo.packets["node"] == node, "interface"].astype(str))
        assert shown == set(recorded(node).values()) - {"lo"}
    flows = demo.flows
    assert not BY_INDEX.search(",".join(flows["orig_interfaces"].astype(str) +
                                        flows["resp_interfaces"].astype(str)))
    (asym,) = [f for f in demo.findings if f.category == "asymmetric-route"]
    match = flows[(flows["orig_h"] == asym.src["ip"]) & (flows["orig_p"] == asym.src["port"])]
    lanes = ladder_layout(demo, int(match["flow_id"].iloc[0])).lanes
    assert {"cni0", "flannel.1", "eth0", "eth1"} <= set(lanes["interface"])
    assert not any(BY_INDEX.search(label) for label in lanes["label"])
    page = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot", str(SNAPSHOT),
                                       "--format", "html", "-o", str(page)])
    assert result.exit_code == 1, result.output        # the demo has high findings
    html = page.read_text()
    assert ">flannel.1</text>" in html and "node2:flannel.1" in html
    assert not BY_INDEX.search(html)


def test_the_retina_tarballs_show_the_demos_names() -> None:
    retina = pcapkit.open(fixture(RETINA), snapshot=SNAPSHOT)
    demo = pcapkit.open(DEMO, snapshot=SNAPSHOT)
    assert [f.links.source for f in retina.inputs.files] == [
        f"{f.archive}!ip-resources.txt" for f in retina.inputs.files]
    assert sorted(retina.flows["orig_interfaces"]) == sorted(demo.flows["orig_interfaces"])


def test_shares_name_the_interfaces_as_one_pass_does() -> None:
    one = pcapkit.open(DEMO, snapshot=SNAPSHOT)
    shares = pcapkit.open(DEMO, snapshot=SNAPSHOT, engine="local", shares=2, workers=1)
    try:
        assert set(shares.packets["interface"].astype(str)) == \
            set(one.packets["interface"].astype(str))
        assert sorted(shares.flows["orig_interfaces"]) == sorted(one.flows["orig_interfaces"])
    finally:
        shares.close()


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
def test_exported_evidence_names_each_device(tmp_path) -> None:
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot", str(SNAPSHOT),
                                       "--format", "json", "-o", str(report)])
    assert result.exit_code == 1, result.output
    (asym,) = [f for f in pcapkit.open(DEMO, snapshot=SNAPSHOT).findings
               if f.category == "asymmetric-route"]
    out = tmp_path / "asym.pcapng"
    result = CliRunner().invoke(main, ["export-evidence", str(report), asym.id, "-o", str(out)])
    assert result.exit_code == 0, result.output
    shown = subprocess.run([TSHARK, "-r", str(out), "-T", "fields", "-e",
                            "frame.interface_name", "-e", "sll.ifindex"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    pairs = {tuple(line.split("\t")) for line in shown if line}
    assert {name for name, _ in pairs} >= {"node1:eth1", "node1:flannel.1", "node2:eth1"}
    for name, index in pairs:            # each named after its own frame's ifindex
        node, _, device = name.partition(":")
        assert recorded(node)[int(index)] == device, (name, index)
