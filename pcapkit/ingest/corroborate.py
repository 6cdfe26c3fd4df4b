"""Findings corroborated by host state: what a node's own files say about what went wrong.

``corroborate(findings, host_state)`` adds ``details["host"]`` (a list of ``{node, source,
seen, why}``) to findings whose category a host fact bears on, for the nodes the finding
involves (its evidence's capture points and its two ends' nodes):

* dropped connections (``policy-drop``, ``unanswered-connection``,
  ``overlay-tunnel-blocked``): iptables DROP and REJECT rules (and DROP chain policies)
  with a non-zero packet counter. A rule whose addresses, protocol and port all admit the
  finding's packets is quoted as matching; a rule none of whose checks contradicts them but
  which matches on something pcapkit cannot check (an ipset, a mark) or on nothing is
  quoted as a possible drop only when no rule matches; a rule that contradicts them (other
  addresses, another port) is left out;
* ``asymmetric-route``: strict reverse-path filtering (``rp_filter`` 1: the kernel takes
  the larger of ``conf.all`` and the interface's value), which drops what arrives on an
  interface the reply would not leave by;
* ``dns-timeout``, ``unanswered-connection`` and ``snat-port-reuse``: a conntrack table at
  90% or more of ``nf_conntrack_max``, and conntrack's insert_failed, drop and early_drop
  counters (a SNAT collision fails its entry's insert and drops the packet).

A finding no fact bears on is left as it is; nothing is added without host state.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from pcapkit.findings import Finding

#: how full a conntrack table must be to be quoted (count / max)
CONNTRACK_FULL = 0.9
#: at most this many rules quoted per node and finding
MAX_RULES = 5
_DROPPING = frozenset({"DROP", "REJECT"})
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "132": "sctp"}
_PORT = re.compile(r"\bdpts?:(\d+)(?::(\d+))?")
_PORTS = re.compile(r"\bdports\s+([\d,:]+)")
#: matches pcapkit cannot evaluate against a finding's packets
_UNCHECKED = ("match-set", "mark match", "addrtype", "physdev", "cgroup", "owner", "socket",
              "rpfilter", "u32", "STRING", "recent", "ipvs", "policy match", "connmark")


def corroborate(findings: list[Finding], host_state: pd.DataFrame | None) -> list[Finding]:
    """``findings``, each with ``details["host"]`` where its nodes' host files bear on it
    (changed in place, and returned)."""
    if host_state is None or not len(host_state):
        return findings
    facts = _Facts(host_state)
    for finding in findings:
        checks = _CHECKS.get(finding.category, ())
        nodes = sorted(_nodes_of(finding) & facts.nodes)
        notes = [note for node in nodes for check in checks
                 for note in check(finding, facts, node)]
        if notes:
            finding.details["host"] = notes
    return findings


def _nodes_of(finding: Finding) -> set[str]:
    nodes = {e.node for e in finding.evidence if e.node}
    nodes |= {end.get("node") for end in (finding.src, finding.dst) if end.get("node")}
    return {str(n) for n in nodes}


class _Facts:
    """host_state split by node and kind, as plain rows (a few thousand at most)."""

    def __init__(self, table: pd.DataFrame) -> None:
        table = table[table["node"].notna()]
        self.nodes = set(table["node"].astype(str))
        self._rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for (node, kind), rows in table.groupby(["node", "kind"], observed=True):
            self._rows[(str(node), str(kind))] = rows.to_dict("records")

    def rows(self, node: str, kind: str) -> list[dict[str, Any]]:
        return self._rows.get((node, kind), [])

    def numbers(self, node: str, kind: str) -> dict[str, tuple[int, dict[str, Any]]]:
        return {str(r["key"]): (int(r["number"]), r) for r in self.rows(node, kind)
                if not pd.isna(r["number"])}


def _where(row: dict[str, Any]) -> str:
    archive, source = str(row["archive"]), str(row["source"])
    return os.path.join(archive, source) if os.path.isdir(archive) else f"{archive}!{source}"


def _note(node: str, row: dict[str, Any], seen: str, why: str) -> dict[str, str]:
    return {"node": node, "source": _where(row), "seen": seen, "why": why}


# -- drop counters ------------------------------------------------------------------------

def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value)) if value else None
    except ValueError:
        return None


def _rule_verdict(finding: Finding, rule: str) -> str | None:
    """"match", "possible" or None (the rule contradicts the finding's packets)."""
    target, prot, _in, _out, source, destination, *rest = rule.split(" ", 6) + [""]
    matches = rest[0] if rest else ""
    checked = False
    protocol = (finding.protocol or "").lower()
    prot = _PROTOCOLS.get(prot, prot).lower()
    if prot not in ("all", "0", ""):
        if protocol and protocol != prot:
            return None
        checked = checked or bool(protocol)
    for text, end in ((source, finding.src), (destination, finding.dst)):
        negated, network = text.startswith("!"), text.lstrip("!")
        try:
            net = ipaddress.ip_network(network, strict=False)
        except ValueError:
            continue
        if net.prefixlen == 0 and not negated:
            continue
        address = _address(end.get("ip"))
        if address is None or address.version != net.version:
            return None
        if (address in net) == negated:
            return None
        checked = True
    ports = _rule_ports(matches)
    if ports is not None:
        port = finding.port if finding.port is not None else finding.dst.get("port")
        if port is None or not any(low <= int(port) <= high for low, high in ports):
            return None
        checked = True
    if any(word in matches for word in _UNCHECKED):
        return "possible"
    return "match" if checked else "possible"


def _rule_ports(matches: str) -> list[tuple[int, int]] | None:
    single = _PORT.search(matches)
    if single:
        low = int(single[1])
        return [(low, int(single[2]) if single[2] else low)]
    listed = _PORTS.search(matches)
    if not listed:
        return None
    ports = []
    for part in listed[1].split(","):
        low, _, high = part.partition(":")
        if low.isdigit():
            ports.append((int(low), int(high) if high.isdigit() else int(low)))
    return ports or None


def _drops(finding: Finding, facts: _Facts, node: str) -> list[dict[str, str]]:
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {"match": [], "possible": []}
    for row in facts.rows(node, "rule"):
        table, chain, target = str(row["key"]).split("/", 2)
        if target not in _DROPPING or pd.isna(row["number"]) or int(row["number"]) <= 0:
            continue
        verdict = _rule_verdict(finding, str(row["value"]))
        if verdict:
            found[verdict].append((int(row["number"]), row))
    for row in facts.rows(node, "chain_policy"):
        table, chain, policy = str(row["key"]).split("/", 2)
        if policy == "DROP" and not pd.isna(row["number"]) and int(row["number"]) > 0:
            found["possible"].append((int(row["number"]), row))
    verdict = "match" if found["match"] else "possible"
    notes = []
    for packets, row in sorted(found[verdict], key=lambda item: -item[0])[:MAX_RULES]:
        table, chain, target = str(row["key"]).split("/", 2)
        what = str(row["value"])
        seen = (f"iptables {table} {chain}: {what} counted {packets:,} packet(s)"
                if row["kind"] == "rule" else
                f"iptables {table} {chain} {what} counted {packets:,} packet(s)")
        why = ("a rule dropping exactly these addresses/port counted packets on a node "
               "they crossed: the node's firewall is a likely place they were dropped"
               if verdict == "match" else
               "a dropping rule or policy counted packets on a node they crossed; what it "
               "matches on (an ipset, a mark, or everything) cannot be checked against "
               "these packets")
        notes.append(_note(node, row, seen, why))
    return notes


# -- rp_filter ----------------------------------------------------------------------------

_RP = re.compile(r"^net\.ipv4\.conf\.(?P<iface>.+)\.rp_filter$")


def _rp_filter(finding: Finding, facts: _Facts, node: str) -> list[dict[str, str]]:
    values = {m["iface"]: (number, row) for key, (number, row)
              in facts.numbers(node, "sysctl").items() if (m := _RP.match(key))}
    if not values:
        return []
    every = values.get("all", (0, None))[0]
    strict = sorted(iface for iface, (number, _) in values.items()
                    if iface not in ("all", "default", "lo") and max(every, number) == 1)
    if not strict:
        return []
    if every == 1:
        row = values["all"][1]
        also = [i for i in strict if values[i][0] == 1]
        seen = ("strict rp_filter on every interface (net.ipv4.conf.all.rp_filter=1"
                + "".join(f", net.ipv4.conf.{i}.rp_filter=1" for i in also) + ")")
    else:
        row = values[strict[0]][1]
        seen = "strict rp_filter on " + ", ".join(
            f"{i} (net.ipv4.conf.{i}.rp_filter=1)" for i in strict)
    return [_note(node, row, seen,
                  "strict reverse-path filtering drops a packet arriving on an interface "
                  "the node would not send the reply out of: the packets of the other path "
                  "are dropped here")]


# -- conntrack ----------------------------------------------------------------------------

def _conntrack(finding: Finding, facts: _Facts, node: str) -> list[dict[str, str]]:
    notes = []
    sysctl = facts.numbers(node, "sysctl")
    count = sysctl.get("net.netfilter.nf_conntrack_count")
    limit = sysctl.get("net.netfilter.nf_conntrack_max")
    if count and limit and limit[0] > 0 and count[0] >= CONNTRACK_FULL * limit[0]:
        notes.append(_note(node, count[1],
                           f"nf_conntrack_count {count[0]:,} of nf_conntrack_max "
                           f"{limit[0]:,} ({count[0] / limit[0]:.0%})",
                           "a full conntrack table drops the packets of new flows, and each "
                           "DNS query is a new UDP flow"))
    stats = facts.numbers(node, "conntrack_stat")
    for counter, meaning in (("insert_failed", "a new flow's entry could not be inserted "
                                               "(two connections translated to one tuple: "
                                               "the SNAT race, the A/AAAA race of "
                                               "kubernetes#56903; or a full table): its "
                                               "packet is dropped"),
                             ("drop", "packets dropped because the table was full or their "
                                      "entry's insert failed"),
                             ("early_drop", "entries evicted early because the table was "
                                            "full")):
        got = stats.get(f"conntrack.{counter}")
        if got and got[0] > 0:
            notes.append(_note(node, got[1], f"conntrack {counter} {got[0]:,} (summed over "
                                             "CPUs)", meaning))
    return notes


_Check = Callable[[Finding, _Facts, str], list[dict[str, str]]]
_CHECKS: dict[str, Iterable[_Check]] = {
    "policy-drop": (_drops,),
    "unanswered-connection": (_drops, _conntrack),
    "overlay-tunnel-blocked": (_drops,),
    "asymmetric-route": (_rp_filter,),
    "dns-timeout": (_conntrack,),
    "snat-port-reuse": (_conntrack,),
}
