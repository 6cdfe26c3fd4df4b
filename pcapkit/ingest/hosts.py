"""Host files beside a capture (Retina's metadata), read into ``host_state`` rows.

What is read, and why (what a finding can be corroborated with):

* ``proc-sys-net/**``: every kernel network setting as a ``sysctl`` row named as
  ``sysctl -a`` names it (``net.ipv4.conf.all.rp_filter``): ``rp_filter`` beside an
  asymmetric route, ``nf_conntrack_count``/``nf_conntrack_max`` beside DNS timeouts;
* ``proc-net/stat/nf_conntrack``: conntrack's per-CPU counters (hexadecimal, one column
  per counter, whatever the kernel's set) summed over CPUs as ``conntrack_stat`` rows
  (``conntrack.insert_failed``, ``conntrack.drop`` ...; ``entries`` is the table size);
* ``iptables-rules.txt``: the ``iptables -vnx -L [-t table]`` sections Retina writes (one
  per command its ``Summary:`` lists), every rule as a ``rule`` row with its packet
  counter and every chain policy as a ``chain_policy`` row: DROP and REJECT counters
  beside a dropped connection. ``iptables-nft`` prints the same form, so nftables-backed
  iptables rules are read too; the ``iptables-save`` section has no counters and is not.

``ip-resources.txt`` names the interfaces of an ``-i any`` capture
(:mod:`pcapkit.ingest.links`), no host_state row; ``socket-stats.txt`` is not read
(nothing corroborates with it yet). A file that cannot be read is skipped: /proc has files that refuse reading, and
Retina's copy keeps them empty.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

#: the columns host_state rows carry before their node is known
ROW_FIELDS = ("archive", "source", "kind", "key", "value", "number")
_MAX_VALUE = 4096
_INTEGER = re.compile(r"^-?\d+$")
_SUMMARY = re.compile(r"^(?P<command>\S.*?)\((?P<what>[^()]*)\)$")
_CHAIN = re.compile(r"^Chain (?P<chain>\S+) \((?:policy (?P<policy>\S+) (?P<packets>\d+) "
                    r"packets, \d+ bytes|\d+ references?)\)")
_TABLE = re.compile(r"(?:^|\s)-t\s*(\S+)")
_OPT = frozenset({"--", "-f", "!f"})


def read_host_files(directory: Path, archive: str) -> dict[str, list]:
    """The host_state rows (columns ``ROW_FIELDS``) of the host files in ``directory``."""
    rows: dict[str, list] = {name: [] for name in ROW_FIELDS}

    def add(source: str, kind: str, key: str, value: str, number: int | None) -> None:
        for name, item in zip(ROW_FIELDS, (archive, source, kind, key, value, number),
                              strict=True):
            rows[name].append(item)

    sysctls = directory / "proc-sys-net"
    if sysctls.is_dir():
        for path in _regular_files(sysctls):
            text = _read(path)
            if text is None:
                continue
            relative = path.relative_to(sysctls).as_posix()
            value = " ".join(text.split())
            add(f"proc-sys-net/{relative}", "sysctl", "net." + relative.replace("/", "."),
                value, int(value) if _INTEGER.match(value) else None)
    stats = directory / "proc-net" / "stat" / "nf_conntrack"
    text = _read(stats) if stats.is_file() else None
    for key, total in _conntrack_counters(text or ""):
        add("proc-net/stat/nf_conntrack", "conntrack_stat", f"conntrack.{key}", str(total),
            total)
    rules = directory / "iptables-rules.txt"
    text = _read(rules, limit=64 << 20) if rules.is_file() else None
    for kind, key, value, number in iptables_counters(text or ""):
        add("iptables-rules.txt", kind, key, value, number)
    return rows


def _regular_files(root: Path) -> list[Path]:
    found = []
    for base, dirs, files in os.walk(root):
        dirs.sort()
        found += [Path(base) / name for name in sorted(files)]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def _read(path: Path, limit: int = _MAX_VALUE) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _conntrack_counters(text: str) -> list[tuple[str, int]]:
    """(counter, sum over CPUs) of /proc/net/stat/nf_conntrack; ``entries`` (the same
    on every line: the table's size) is taken once, not summed."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return []
    header, values = lines[0], lines[1:]
    totals: list[tuple[str, int]] = []
    for column, name in enumerate(header):
        numbers = []
        for line in values:
            try:
                numbers.append(int(line[column], 16))
            except (IndexError, ValueError):
                continue
        if numbers:
            totals.append((name, max(numbers) if name == "entries" else sum(numbers)))
    return totals


def iptables_counters(text: str) -> list[tuple[str, str, str, int]]:
    """(kind, key, value, packets) of every rule and chain policy in the ``iptables -vnx
    -L`` sections of Retina's ``iptables-rules.txt`` (or of a file holding just such
    output). ``key`` is ``table/chain/target``; a rule's ``value`` is ``target prot in
    out source destination [matches]`` (``-`` for a rule without target)."""
    out: list[tuple[str, str, str, int]] = []
    for table, body in _listing_sections(text):
        chain = None
        for line in body:
            head = _CHAIN.match(line)
            if head:
                chain = head["chain"]
                if head["policy"]:
                    out.append(("chain_policy", f"{table}/{chain}/{head['policy']}",
                                f"policy {head['policy']}", int(head["packets"])))
                continue
            rule = _rule(line) if chain else None
            if rule is not None:
                packets, target, text_ = rule
                out.append(("rule", f"{table}/{chain}/{target or '-'}", text_, packets))
    return out


def command_sections(text: str) -> list[tuple[str, list[str]]] | None:
    """(command, output lines) of each command of a Retina metadata file: it lists its
    commands under ``Summary:`` (``<command>(<description>)``) and writes each one's output
    after the command line under ``Execute:``. None for a file without that frame."""
    lines = text.splitlines()
    stripped = [line.strip() for line in lines]
    if "Execute:" not in stripped:
        return None
    end = stripped.index("Execute:")
    commands = [m["command"] for m in map(_SUMMARY.match, lines[:end]) if m]
    if not commands:
        return None
    sections: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in lines[end + 1:]:
        if line.strip() in commands:
            current = []
            sections.append((line.strip(), current))
        elif current is not None:
            current.append(line)
    return sections


def _listing_sections(text: str) -> list[tuple[str, list[str]]]:
    """(table, lines) of each ``-L`` listing of Retina's ``iptables-rules.txt``
    (:func:`command_sections`); a file without that frame is one listing of the filter
    table."""
    sections = command_sections(text)
    if sections is None:
        return [("filter", text.splitlines())]
    out = []
    for command, lines in sections:
        if re.search(r"(?:^|\s)-\w*L", command):
            table = _TABLE.search(command)
            out.append((table.group(1) if table else "filter", lines))
    return out


def _network(token: str) -> bool:
    try:
        ipaddress.ip_network(token.lstrip("!"), strict=False)
    except ValueError:
        return False
    return True


def _rule(line: str) -> tuple[int, str, str] | None:
    """(packets, target, normalised text) of one rule line of ``iptables -vnx -L``."""
    tokens = line.split()
    if len(tokens) < 6 or not tokens[0].isdigit() or not tokens[1].isdigit():
        return None
    where = next((i for i in range(4, len(tokens) - 1)
                  if _network(tokens[i]) and _network(tokens[i + 1])), None)
    if where is None:
        return None
    head = tokens[2:where - 2]          # [target] prot [opt]
    while head and head[-1] in _OPT:
        head.pop()
    if not head:
        return None
    target, prot = (head[0], head[1]) if len(head) >= 2 else ("", head[0])
    interface_in, interface_out = tokens[where - 2], tokens[where - 1]
    text = " ".join([target or "-", prot, interface_in, interface_out, *tokens[where:]])
    return int(tokens[0]), target, text
