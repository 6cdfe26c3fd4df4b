"""One snapshot: the objects of an export taken at one point in time, sorted by kind.

A snapshot's time comes, in order of preference, from the caller, from the List's metadata,
from the newest timestamp found inside its objects (creation, start, finish, condition
times), or from the files' modification time. Damaged objects are dropped here, with a
warning naming them, so everything downstream can trust the structure it reads.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pcapkit.cluster.snapshot.exports import ExportFile, describe, kind_key, read_export
from pcapkit.cluster.snapshot.times import object_times, parse_time
from pcapkit.cluster.snapshot.validate import problem_with
from pcapkit.errors import SnapshotError

log = logging.getLogger(__name__)

_CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "CiliumNode",
    "CiliumClusterwideNetworkPolicy",
    "CalicoIPPool",
    "CalicoBlockAffinity",
    "CalicoIPAMBlock",
    "CalicoGlobalNetworkPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
}


@dataclass
class Snapshot:
    """Objects of one export, by kind key (see ``objects.kind_key``).

    ``time`` is in ns since the epoch; ``time_source`` says where it came from
    ("given", "list-metadata", "newest-object-time" or "file-mtime").
    """

    source: str
    time: int
    time_source: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def of(self, key: str) -> list[dict[str, Any]]:
        """The objects filed under ``key`` (empty list when none)."""
        return self.objects.get(key, [])

    def has(self, key: str) -> bool:
        """True when the export held at least one object of this kind."""
        return bool(self.objects.get(key))


def load_one(path: str | os.PathLike[str], time: Any = None) -> Snapshot:
    """Read one file or directory as a snapshot. ``time`` overrides the inferred time."""
    exports = read_export(path)
    snapshot = Snapshot(source=str(path), time=0, time_source="")
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[tuple[str, str, str]] = set()
    for export in exports:
        snapshot.problems.extend(export.problems)
        for obj in export.objects:
            key = kind_key(obj)
            if key is None:
                log.debug("%s: ignoring %s (kind not used by pcapkit)", export.path, describe(obj))
                continue
            reason = problem_with(key, obj)
            if reason:
                message = f"{export.path}: skipped {describe(obj)}: {reason}"
                log.warning("%s", message)
                snapshot.problems.append(message)
                continue
            obj = _with_namespace(key, obj)
            identity = (key, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
            if identity in seen:
                continue
            seen.add(identity)
            grouped[key].append(obj)
    snapshot.objects = dict(grouped)
    snapshot.time, snapshot.time_source = _snapshot_time(exports, snapshot.objects, time, path)
    return snapshot


def _with_namespace(key: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Namespaced objects exported from the current namespace may lack it: use 'default'."""
    if key in _CLUSTER_SCOPED or obj["metadata"].get("namespace"):
        return obj
    return {**obj, "metadata": {**obj["metadata"], "namespace": "default"}}


def _snapshot_time(
    exports: list[ExportFile],
    objects: dict[str, list[dict[str, Any]]],
    given: Any,
    path: str | os.PathLike[str],
) -> tuple[int, str]:
    if given is not None:
        ns = parse_time(given)
        if ns is None:
            raise SnapshotError(f"{path}: snapshot time {given!r} is not a timestamp")
        return ns, "given"
    stated = [parse_time(e.stated_time) for e in exports if e.stated_time]
    stated_ns = [ns for ns in stated if ns is not None]
    if stated_ns:
        return max(stated_ns), "list-metadata"
    newest = max(
        (ns for group in objects.values() for obj in group for ns in object_times(obj)),
        default=None,
    )
    if newest is not None:
        return newest, "newest-object-time"
    mtimes = [e.mtime for e in exports if e.mtime is not None]
    return int(max(mtimes) * 1e9), "file-mtime"
