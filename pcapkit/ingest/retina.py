"""Microsoft Retina's capture layout: the node a Retina capture names, and where its host
files are.

Read from Retina's source (github.com/microsoft/retina): ``pkg/capture/file/
capture_filename.go`` names a capture ``<capture name>-<node hostname>-<start>`` with the
start time as ``20060102150405UTC`` (``pkg/capture/file/timestamp.go``); the node hostname
is the Kubernetes node name (``NODE_HOST_NAME``, set from the node the job runs on in
``pkg/capture/crd_to_job.go``). ``pkg/capture/provider/network_capture_unix.go`` writes
``<name>.pcap`` (``tcpdump -w ... -i any``), ``tcpdump.log``, and with metadata
``ip-resources.txt``, ``iptables-rules.txt``, ``socket-stats.txt`` and copies of
``/proc/self/net`` (``proc-net/``) and ``/proc/sys/net`` (``proc-sys-net/``) into one
directory, which ``pkg/capture/capture_manager.go`` tars and gzips as ``<name>.tar.gz``
(members relative to it). ``kubectl retina capture download --name <capture>``
(``cli/cmd/capture/download.go``) saves them as ``<output>/<capture>/<name>.tar.gz``.

Capture names and node names may both hold hyphens, so where one ends is decided by, in
order: a node of the cluster snapshot the name ends with, the directory ``kubectl retina
capture download`` puts them in (named after the capture), the CLI's default name
``retina-capture``; failing all of these, the first word is taken for the capture name
and the evidence says so (``--node FILE=NODE`` corrects it). The prefix the tarballs of
one capture share is no guide: node names share prefixes too (``aks-nodepool1-1234-
vmss000000``, ``...01``; ``kind-worker``, ``kind-worker2``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

#: files Retina writes beside the capture (any of them marks a Retina capture directory)
HOST_FILES = ("ip-resources.txt", "iptables-rules.txt", "socket-stats.txt")
HOST_DIRECTORIES = ("proc-sys-net", "proc-net")
#: the default capture name of ``kubectl retina capture create`` (cli/cmd/capture)
DEFAULT_CAPTURE_NAME = "retina-capture"

_NAME = re.compile(r"^(?P<rest>.+)-(?P<start>\d{14}UTC)$")
_SUFFIX = re.compile(r"(\.tar\.gz|\.tgz|\.tar|\.pcapng|\.pcap)(\.gz)?$", re.IGNORECASE)


@dataclass(frozen=True)
class RetinaName:
    """A Retina capture name split at its start time: ``rest`` is ``<capture>-<node>``."""

    rest: str
    start: str
    directory: str      # the directory the tarball (or capture) sits in
    shown: str          # the name as found, for evidence


def retina_name(path: str | os.PathLike) -> RetinaName | None:
    """The Retina parts of a tarball's or capture's name (None when it has not the form)."""
    pure = PurePath(path)
    match = _NAME.match(_SUFFIX.sub("", pure.name))
    if not match:
        return None
    return RetinaName(match["rest"], match["start"], pure.parent.name, pure.name)


def is_retina_directory(directory: Path) -> bool:
    """True if ``directory`` holds Retina's host files beside its capture."""
    return any((directory / name).is_file() for name in HOST_FILES) or any(
        (directory / name).is_dir() for name in HOST_DIRECTORIES)


def retina_nodes(names: Sequence[RetinaName | None],
                 node_names: Iterable[str] = ()) -> list[tuple[str, str] | None]:
    """The node (and the evidence) of each Retina name, None where a name has not the
    form. ``node_names``: the cluster snapshot's nodes, when there is one."""
    known = sorted({str(n) for n in node_names if n}, key=len, reverse=True)
    return [None if name is None else _node_of(name, known) for name in names]


def _node_of(name: RetinaName, known: list[str]) -> tuple[str, str]:
    said = f"Retina capture name {name.shown!r}"
    lowered = name.rest.lower()
    for node in known:
        if lowered.endswith("-" + node.lower()):
            return node, f"{said}, snapshot node {node}"
    if name.directory and name.rest.startswith(name.directory + "-") and \
            len(name.rest) > len(name.directory) + 1:
        return name.rest[len(name.directory) + 1:], (
            f"{said} in the capture's download directory {name.directory!r}")
    if name.rest.startswith(DEFAULT_CAPTURE_NAME + "-"):
        return name.rest[len(DEFAULT_CAPTURE_NAME) + 1:], (
            f"{said}, default capture name {DEFAULT_CAPTURE_NAME!r}")
    capture, _, node = name.rest.partition("-")
    if not node:
        return name.rest, f"{said} (no capture name before the node)"
    return node, (f"{said}, capture name taken to be {capture!r} (the name does not say "
                  "where it ends: --node FILE=NODE corrects it)")

