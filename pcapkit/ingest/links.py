"""Interface names from the node's own files, for captures that keep only an ifindex.

``tcpdump -i any`` writes Linux cooked v2 (SLL2) frames: each packet carries the index of
the interface it crossed, never its name, so without help pcapkit can only say ``if4``.
The node knows the names; what it printed is read from files beside the capture:

* ``ip -o link`` (``7: veth1a2b@if2: <BROADCAST,...> mtu 1500 ...``), ``ip link`` and
  ``ip addr`` (the same header line per interface, details on the lines below),
  ``ip -o addr`` (``3: cni0    inet 10.244.1.1/24 ...``);
* ``ip -j link`` / ``ip -j addr`` (JSON, ``ifindex`` and ``ifname`` of each interface);
* Retina's ``ip-resources.txt`` (github.com/microsoft/retina
  ``pkg/capture/provider/network_capture_unix.go``: under ``Summary:``/``Execute:``, the
  output of ``ip -d -j addr show``, which lists every interface, addressed or not);
* ``N name`` per line (``ip -o link | awk '{print $1, $2}'`` less the colons, the form the
  fixtures' scripts record).

Which files: in the capture's directory (an archive's unpacked tree included),
``<prefix>-ip-link.txt``, ``<prefix>-ifindex.txt`` ... for a capture whose name starts with
``<prefix>`` then ``-``, ``_`` or ``.`` (``node1-ip-link.txt`` beside ``node1-any.pcap``:
one directory may hold several nodes' files), else the same names without a prefix for
every capture there (a node's own directory, Retina's tarball). The first file that names
any interface wins. A file in no known form is skipped (debug log), never an error: the
capture is then shown by index as before.

Only a packet whose capture names no device is named: the ``-i any`` pseudo-device, a
pcap file's link (``0``), no name; a pcapng interface's own name is kept.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pcapkit.ingest.hosts import command_sections

if TYPE_CHECKING:
    import pandas as pd

    from pcapkit.decode.files import Decoded

log = logging.getLogger(__name__)

__all__ = ["LINK_FILES", "LinkNames", "LinkReader", "name_interfaces", "names_device",
           "parse_links"]

#: host file names read for interface names, in the order they are tried
LINK_FILES = ("ip-link.txt", "ip-addr.txt", "ifindex.txt", "ip-resources.txt")
#: the capture interface names that name no device (SLL2's index says which one)
NO_DEVICE = frozenset({"", "any"})
_MAX_BYTES = 64 << 20
_IFNAME = r"[^\s:/@]{1,15}"
_HEADER = re.compile(rf"^(?P<index>\d+):\s+(?P<name>{_IFNAME})(?:@[^\s:]*)?:\s+<")
_ADDR_LINE = re.compile(rf"^(?P<index>\d+):\s+(?P<name>{_IFNAME})\s+inet6?\s")
_PAIR = re.compile(rf"^\s*(?P<index>\d+)\s+(?P<name>{_IFNAME})\s*$")
_SEPARATORS = "-_."


@dataclass(frozen=True)
class LinkNames:
    """Ifindex -> interface name of one capture's node, and the file that said so."""

    names: dict[int, str]
    source: str


def names_device(name: object) -> bool:
    """True if a capture interface name is a device's (``cni0``), False for what names
    none: no name, a pcap link's number, the ``any`` pseudo-device."""
    if not isinstance(name, str):
        return False
    text = name
    return text not in NO_DEVICE and not text.isdigit()


def parse_links(text: str) -> dict[int, str]:
    """Ifindex -> name from one file's text in any of the forms the module docstring
    lists; empty when it has none of them. An index named twice differently (two
    namespaces' listings in one file) is left out: better unnamed than misnamed."""
    sections = command_sections(text)
    if sections is not None:   # Retina's frame: only the ip link/addr listings
        found: list[tuple[int, str]] = []
        for command, lines in sections:
            words = command.split()
            if words and words[0].rsplit("/", 1)[-1] == "ip" and \
                    any(w in ("link", "addr", "address", "a", "l") for w in words[1:]):
                found += _pairs("\n".join(lines))
        return _consistent(found)
    return _consistent(_pairs(text))


def _pairs(text: str) -> list[tuple[int, str]]:
    """(index, name) pairs of one listing, in the first form that fits it."""
    body = text.strip()
    if body.startswith("["):
        return _json_pairs(body)
    lines = [line for line in body.splitlines() if line.strip()]
    for form in (_HEADER, _ADDR_LINE):
        pairs = [(int(m["index"]), m["name"]) for m in map(form.match, lines) if m]
        if pairs:
            return pairs
    listed = [line for line in lines if not line.lstrip().startswith("#")]
    pairs = [(int(m["index"]), m["name"]) for m in map(_PAIR.match, listed) if m]
    return pairs if pairs and len(pairs) == len(listed) else []


def _json_pairs(body: str) -> list[tuple[int, str]]:
    """(ifindex, ifname) of every object of ``ip -j`` output (one JSON array per line
    when several commands' output follow each other)."""
    pairs: list[tuple[int, str]] = []
    for chunk in body.splitlines() if "\n" in body else [body]:
        try:
            items = json.loads(chunk)
        except ValueError:
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            index, name = item.get("ifindex"), item.get("ifname")
            if isinstance(index, int) and not isinstance(index, bool) and \
                    isinstance(name, str) and re.fullmatch(_IFNAME, name):
                pairs.append((index, name))
    return pairs


def _consistent(pairs: list[tuple[int, str]]) -> dict[int, str]:
    names: dict[int, str] = {}
    refused: set[int] = set()
    for index, name in pairs:
        if not 0 < index < 1 << 32:
            continue
        if names.get(index, name) != name:
            refused.add(index)
        names.setdefault(index, name)
    if refused:
        log.debug("ifindexes named twice differently, left unnamed: %s", sorted(refused))
    return {i: n for i, n in names.items() if i not in refused}


def link_rank(file_name: str, capture_name: str) -> tuple[int, int] | None:
    """Where a file named ``file_name`` beside a capture named ``capture_name`` comes in
    the order its interface names are looked for (lower first: the longest prefix of the
    capture's name, then the file kind's place in LINK_FILES); None when it does not
    apply to that capture."""
    for rank, kind in enumerate(LINK_FILES):
        if file_name == kind:
            return (0, rank)
        prefix = file_name[:-len(kind) - 1] if file_name.endswith("-" + kind) else ""
        if prefix and capture_name.startswith(prefix) and (
                len(capture_name) == len(prefix) or capture_name[len(prefix)] in _SEPARATORS):
            return (-len(prefix), rank)
    return None


def link_files_for(capture_name: str, present: list[str]) -> list[str]:
    """The names among ``present`` (a directory's files) that may name the interfaces of
    the capture ``capture_name`` beside them, in the order they are tried."""
    ranked = [(rank, name) for name in present
              for rank in [link_rank(name, capture_name)] if rank is not None]
    return [name for _, name in sorted(ranked)]


class LinkReader:
    """Finds the interface names of each capture (:meth:`names_of`), listing a directory
    and parsing a file once however many captures share them."""

    def __init__(self) -> None:
        self._listed: dict[Path, list[str]] = {}
        self._parsed: dict[Path, dict[int, str]] = {}

    def link_files(self, capture: Path) -> list[Path]:
        """The files beside ``capture`` that may name its interfaces (:func:`link_rank`)."""
        directory = capture.parent
        if directory not in self._listed:
            try:
                self._listed[directory] = sorted(p.name for p in directory.iterdir()
                                                 if p.is_file())
            except OSError:
                self._listed[directory] = []
        present = self._listed[directory]
        return [directory / name for name in link_files_for(capture.name, present)]

    def names_of(self, capture: Path, shown_prefix: str) -> LinkNames | None:
        """The interface names of ``capture``'s node from the first file beside it that
        has any (None: no such file). ``source`` is the file's name after
        ``shown_prefix``, how its directory is shown (``dir/``, an archive member's
        ``archive!`` or ``archive!dir/``)."""
        for path in self.link_files(capture):
            if path not in self._parsed:
                self._parsed[path] = _read_links(path)
            if self._parsed[path]:
                return LinkNames(self._parsed[path], shown_prefix + path.name)
        return None


def _read_links(path: Path) -> dict[int, str]:
    try:
        with open(path, "rb") as handle:
            text = handle.read(_MAX_BYTES).decode("utf-8", "replace")
    except OSError as exc:
        log.debug("%s: not read for interface names (%s)", path, exc)
        return {}
    names = parse_links(text)
    if not names:
        log.debug("%s: no interface names in a known form; skipped", path)
    return names


def name_interfaces(decoded: Decoded, links: Mapping[str, Mapping[int, str]]) -> Decoded:
    """``decoded`` with the ``interface`` of every packet its capture names no device for
    (:func:`names_device`) but whose SLL2 ``if_index`` the file's node names (``links``:
    file as the tables show it -> ifindex -> name), set to that name; its DNS messages
    follow their packets. Columnar: one lookup of (file, ifindex) for all rows."""
    import pandas as pd

    from pcapkit.decode.files import Decoded

    packets = decoded.packets
    if not links or not len(packets) or not {"file", "interface", "if_index"} <= set(
            packets.columns):
        return decoded
    column = _named(packets, links)
    if column is None:
        return decoded
    named = packets.copy(deep=False)
    named["interface"] = column
    dns = decoded._dns
    if isinstance(dns, pd.DataFrame):
        dns = _dns_named(dns, named)
    elif callable(dns):
        build = dns
        dns = lambda: _dns_named(build(), named)  # noqa: E731 - built on first use
    return Decoded(named, dns, decoded.interfaces, decoded.errors)


def _named(packets: pd.DataFrame, links: Mapping[str, Mapping[int, str]]
           ) -> pd.Categorical | None:
    """The renamed interface column (None when no row changes): a (file, ifindex) table
    of name codes looked up for every row at once."""
    import pandas as pd

    from pcapkit.column_arrays import codes_of

    file_codes, file_labels = codes_of(packets["file"])
    codes, labels = codes_of(packets["interface"])
    per_file = [links.get(str(file)) or {} for file in file_labels]
    names = list(dict.fromkeys(str(n) for m in per_file for n in m.values()))
    if not names:
        return None
    # name codes follow the column's own labels (a name already there keeps its code)
    space = pd.Index(list(labels), dtype=object).append(pd.Index(names, dtype=object)).unique()
    high = max(int(i) for m in per_file for i in m)
    if high >= 1 << 24:          # no sane ifindex: keep the table small
        per_file = [{i: n for i, n in m.items() if int(i) < 1 << 24} for m in per_file]
        high = max([int(i) for m in per_file for i in m], default=0)
    table = np.full((len(file_labels), high + 1), -1, dtype=np.int64)
    for code, mapping in enumerate(per_file):
        if mapping:
            table[code, np.fromiter(mapping, np.int64)] = space.get_indexer(
                pd.Index([str(n) for n in mapping.values()], dtype=object))
    anonymous = np.array([not names_device(label) for label in labels] + [True], dtype=bool)
    index = packets["if_index"].to_numpy(dtype=np.int64, na_value=-1)
    rows = np.flatnonzero((index >= 0) & (index <= high) & (file_codes >= 0) &
                          anonymous[codes])
    found = table[file_codes[rows], index[rows]]
    hit = found >= 0
    if not hit.any():
        return None
    new = codes.copy()
    new[rows[hit]] = found[hit]
    # the column's labels every row of which was renamed ("0", "any") go, and the names no
    # row took; the other labels (unused ones too) stay
    before = np.bincount(codes[codes >= 0], minlength=len(space)) > 0
    after = np.bincount(new[new >= 0], minlength=len(space)) > 0
    keep = after | (~before & (np.arange(len(space)) < len(labels)))
    renumber = np.cumsum(keep) - 1
    new = np.where(new >= 0, renumber[np.maximum(new, 0)], -1)
    return pd.Categorical.from_codes(new, categories=space[keep])


def _dns_named(dns: pd.DataFrame, packets: pd.DataFrame) -> pd.DataFrame:
    """DNS messages with the interface of their packet (by file and frame)."""
    import pandas as pd

    if not len(dns) or not {"file", "frame", "interface"} <= set(dns.columns):
        return dns
    key = pd.MultiIndex.from_arrays([packets["file"].astype(str).to_numpy(),
                                     packets["frame"].to_numpy(dtype=np.int64)])
    where = key.get_indexer(pd.MultiIndex.from_arrays(
        [dns["file"].astype(str).to_numpy(), dns["frame"].to_numpy(dtype=np.int64)]))
    interface = packets["interface"]
    values = np.where(where >= 0, interface.astype(object).to_numpy()[np.maximum(where, 0)],
                      dns["interface"].astype(object).to_numpy())
    out = dns.copy(deep=False)
    out["interface"] = pd.Categorical(values)
    return out


#: LINKTYPE_LINUX_SLL2, whose header holds the ifindex (bytes 4-7, big-endian)
LINKTYPE_SLL2 = 276


def frame_interfaces(capture: Path, interfaces: list[tuple[str, int]], interface: np.ndarray,
                     data: np.ndarray, offset: np.ndarray, caplen: np.ndarray) -> np.ndarray:
    """The interface name of each frame read raw from ``capture`` (``interfaces``: the
    file's (name, linktype) per interface id; ``interface``: each frame's id; ``data``,
    ``offset``, ``caplen``: its bytes), as the tables show it: an SLL2 frame of an
    interface that names no device gets the name its header's ifindex has in the node's
    list beside the capture. For evidence read back from the files (pcapkit.evidence)."""
    own = np.array([name for name, _ in interfaces] or [""], dtype=object)[interface]
    links = LinkReader().names_of(Path(capture), "")
    if links is None or not len(interface):
        return own
    sll2 = np.array([linktype == LINKTYPE_SLL2 and not names_device(name)
                     for name, linktype in interfaces], dtype=bool)[interface] & (caplen >= 8)
    rows = np.flatnonzero(sll2)
    at = offset[rows, None] + np.arange(4, 8)
    index = (data[at].astype(np.int64) << np.array([24, 16, 8, 0])).sum(axis=1)
    known = np.array(sorted(links.names), dtype=np.int64)
    where = np.searchsorted(known, index)
    hit = (where < len(known)) & (known[np.minimum(where, len(known) - 1)] == index)
    named = np.array([links.names[int(i)] for i in known], dtype=object)
    own[rows[hit]] = named[where[hit]]
    return own
