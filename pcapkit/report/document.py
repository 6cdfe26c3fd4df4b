"""The report document of one analysis: the JSON contract every format is rendered from.

``build_report(capture, findings)`` gathers what was read (inputs, snapshot), a summary, the
findings, and two bounded views for pictures: the DNS latency timeline
(:mod:`pcapkit.report.timeline`) and the workload talk graph (:mod:`pcapkit.report.graph`).
Its shape is ``docs/report.schema.json``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit._version import __version__
from pcapkit.findings import SEVERITIES, Finding
from pcapkit.report.graph import talk_graph
from pcapkit.report.timeline import dns_timeline

if TYPE_CHECKING:
    from pcapkit.capture import Capture


def build_report(capture: Capture, findings: list[Finding], *, rules: int = 0,
                 seconds: float | None = None, snapshot_files: list[str] | None = None,
                 snapshot_discovered: bool = False) -> dict[str, Any]:
    """The report document of ``capture`` and its ``findings`` (``snapshot_files``: the
    cluster exports read; ``snapshot_discovered``: found in the incident directory, not
    named by ``--snapshot``)."""
    read = capture.files  # per file: packets, first and last capture time
    per_file = dict(zip(read["file"].astype(str), read["packets"].astype(int), strict=True))
    nodes = dict(zip(capture.points["file"].astype(str), capture.points["node"].astype(str),
                     strict=True))
    interfaces = capture.interfaces
    linktypes = interfaces.groupby("file", observed=True)["linktype"].first() \
        if len(interfaces) else {}
    errors: dict[str, list[str]] = {}
    for error in capture.errors:
        errors.setdefault(str(error.file), []).append(str(error))
    files = sorted(set(nodes) | set(errors))
    archives = capture.inputs.archives  # a Retina tarball's members name their tarball
    on_disk = {name: str(path) for name, path in capture.inputs.on_disk.items()}
    inputs = [{"file": file, "node": nodes.get(file),
               "packets": per_file.get(file, 0),
               "linktype": int(linktypes[file]) if file in linktypes else None,
               "errors": errors.get(file, []), "size": _file_size(on_disk.get(file, file)),
               **({"archive": archives[file]} if file in archives else {})} for file in files]
    cluster = capture.cluster
    snapshot = {"loaded": cluster is not None, "files": list(snapshot_files or []),
                "discovered": snapshot_discovered}
    if cluster is not None:
        snapshot.update(pods=len(cluster.pods), services=len(cluster.services),
                        nodes=len(cluster.nodes), network_policies=len(cluster.policies))
    by_severity = Counter(f.severity for f in findings)
    times = _times(read)
    summary = {
        "files": len(files), "packets": capture.packet_count,
        "flows": int(len(capture.flows)), "dns_transactions": int(len(capture.dns)),
        "rules": rules, "findings": len(findings),
        "by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
        "first_packet": _iso(times.min()) if times is not None and len(times) else None,
        "last_packet": _iso(times.max()) if times is not None and len(times) else None,
        "seconds": None if seconds is None else round(seconds, 3),
    }
    if cluster is None:
        summary["note"] = "no cluster snapshot: endpoints are addresses only"
    documents = [f.to_dict() for f in findings]
    attempts = capture.table("connection_attempts") if len(capture.flows) else None
    return {"pcapkit_version": __version__, "inputs": inputs, "snapshot": snapshot,
            "summary": summary, "findings": documents,
            "timeline": dns_timeline(capture.dns, _span_s(times)),
            "graph": talk_graph(capture.flows, attempts, documents)}


def _times(read: Any) -> pd.Series | None:
    """The first and last capture times of the files (None: no packet)."""
    stamps = np.concatenate([read["first_ns"].to_numpy(np.int64),
                             read["last_ns"].to_numpy(np.int64)])
    stamps = stamps[stamps != np.iinfo(np.int64).min]
    return pd.Series(pd.to_datetime(stamps, utc=True)) if len(stamps) else None


def _file_size(file: str) -> int | None:
    """Bytes of the capture file as read, so ``pcapkit export-evidence`` can tell a file
    changed since the report (None when it cannot be stat'ed)."""
    try:
        return os.path.getsize(file)
    except OSError:
        return None


def _span_s(times: Any) -> float:
    """Seconds from the first to the last packet (0 when there are none)."""
    if times is None or not len(times):
        return 0.0
    return float((times.max() - times.min()).total_seconds())


def _iso(stamp: Any) -> str:
    return stamp.isoformat().replace("+00:00", "Z")
