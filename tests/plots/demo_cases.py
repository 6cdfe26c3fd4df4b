"""What the figure tests know of the demo incident (fixtures/demo): its interfaces, and
the flow a finding is about."""

from __future__ import annotations

from pathlib import Path

import pcapkit

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
EMPTY = ROOT / "fixtures" / "public" / "tcpdump-empty.pcap"


def ifindex(node: str) -> dict[int, str]:
    """SLL2 ifindex -> interface name of a demo node, as its script recorded them."""
    lines = (DEMO / f"{node}-ifindex.txt").read_text().splitlines()
    return {int(index): name for index, name in (line.split() for line in lines)}


def interface_name(label: str) -> str:
    """The interface name of a lane label such as ``node1:cni0``: one the node's script
    recorded (pcapkit reads the ifindex file beside the capture; SLL2 keeps the index)."""
    node, _, where = label.partition(":")
    assert where in ifindex(node).values(), label
    return where


def flow_of(capture: pcapkit.Capture, finding) -> int:
    """The flow a finding's two ends (address and port) name."""
    flows = capture.flows
    match = flows[(flows["orig_h"] == finding.src["ip"]) & (flows["orig_p"] == finding.src["port"])
                  & (flows["resp_h"] == finding.dst["ip"])]
    assert len(match) == 1, (finding.src, finding.dst)
    return int(match["flow_id"].iloc[0])


def only(findings: list, rule_words: str):
    """The one finding whose title holds ``rule_words``."""
    found = [f for f in findings if rule_words in f.title]
    assert len(found) == 1, [f.title for f in findings]
    return found[0]
