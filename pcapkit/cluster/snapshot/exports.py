"""Read Kubernetes exports from disk and sort their objects by kind.

Users hand pcapkit whatever they exported: ``kubectl get ... -o json`` (a ``List``), the same
as YAML (possibly several ``---`` documents), one file per kind, a directory of such files, or
a ``kubectl cluster-info dump`` (a directory of ``<ns>/pods.json`` files, or the single stream
it prints to stdout: JSON documents separated by container-log blocks). This module turns any
of those into a flat list of object dicts, and knows which kinds pcapkit understands.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pcapkit.errors import SnapshotError

log = logging.getLogger(__name__)

#: File name extensions read when a directory is given.
EXPORT_SUFFIXES = (".json", ".yaml", ".yml")

#: ``kubectl cluster-info dump`` file names -> the kind of the items they hold.
DUMP_FILE_KINDS = {
    "nodes.json": "Node",
    "pods.json": "Pod",
    "services.json": "Service",
    "events.json": "Event",
    "replication-controllers.json": "ReplicationController",
    "daemonsets.json": "DaemonSet",
    "deployments.json": "Deployment",
    "replicasets.json": "ReplicaSet",
}

_CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")

#: (API group or "*", kind) -> the key pcapkit files the object under.
_KIND_KEYS: dict[tuple[str, str], str] = {
    ("", "Namespace"): "Namespace",
    ("", "Pod"): "Pod",
    ("", "Service"): "Service",
    ("", "Endpoints"): "Endpoints",
    ("", "Node"): "Node",
    ("discovery.k8s.io", "EndpointSlice"): "EndpointSlice",
    ("networking.k8s.io", "NetworkPolicy"): "NetworkPolicy",
    ("apps", "ReplicaSet"): "ReplicaSet",
    ("apps", "Deployment"): "Deployment",
    ("apps", "StatefulSet"): "StatefulSet",
    ("apps", "DaemonSet"): "DaemonSet",
    ("", "ReplicationController"): "ReplicationController",
    ("batch", "Job"): "Job",
    ("batch", "CronJob"): "CronJob",
    ("k8s.cni.cncf.io", "NetworkAttachmentDefinition"): "NetworkAttachmentDefinition",
    ("cilium.io", "CiliumNode"): "CiliumNode",
    ("cilium.io", "CiliumEndpoint"): "CiliumEndpoint",
    ("cilium.io", "CiliumNetworkPolicy"): "CiliumNetworkPolicy",
    ("cilium.io", "CiliumClusterwideNetworkPolicy"): "CiliumClusterwideNetworkPolicy",
    ("policy.networking.k8s.io", "AdminNetworkPolicy"): "AdminNetworkPolicy",
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"): "BaselineAdminNetworkPolicy",
}
for _group in _CALICO_GROUPS:
    _KIND_KEYS[(_group, "IPPool")] = "CalicoIPPool"
    _KIND_KEYS[(_group, "BlockAffinity")] = "CalicoBlockAffinity"
    _KIND_KEYS[(_group, "IPAMBlock")] = "CalicoIPAMBlock"
    _KIND_KEYS[(_group, "NetworkPolicy")] = "CalicoNetworkPolicy"
    _KIND_KEYS[(_group, "GlobalNetworkPolicy")] = "CalicoGlobalNetworkPolicy"

#: Policy kinds pcapkit counts and mentions but does not evaluate.
OTHER_POLICY_KEYS = (
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "CalicoNetworkPolicy",
    "CalicoGlobalNetworkPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
)

#: Kinds whose group may be omitted (items of a typed list carry no apiVersion).
_DEFAULT_GROUP = {kind: group for (group, kind) in _KIND_KEYS if group not in _CALICO_GROUPS}


@dataclass
class ExportFile:
    """The objects read from one file, with the time the file itself states, if any."""

    path: Path
    objects: list[dict[str, Any]] = field(default_factory=list)
    stated_time: str | None = None
    mtime: float | None = None
    problems: list[str] = field(default_factory=list)


def api_group(obj: dict[str, Any]) -> str:
    """The API group of an object ("" for the core group)."""
    api_version = obj.get("apiVersion") or ""
    if not isinstance(api_version, str):
        return ""
    return api_version.split("/")[0] if "/" in api_version else ""


def kind_key(obj: dict[str, Any]) -> str | None:
    """The key pcapkit files ``obj`` under, or None for kinds it does not use."""
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return None
    group = api_group(obj)
    if not obj.get("apiVersion"):
        group = _DEFAULT_GROUP.get(kind, "")
    return _KIND_KEYS.get((group, kind))


def describe(obj: Any) -> str:
    """``Kind namespace/name`` of an object, for messages."""
    if not isinstance(obj, dict):
        return f"non-object item {str(obj)[:40]!r}"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or "<no name>"
    namespace = meta.get("namespace")
    kind = obj.get("kind") or "object"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def read_export(path: str | os.PathLike[str]) -> list[ExportFile]:
    """Read a file or directory export into one ExportFile per file.

    Raises SnapshotError naming the path when it cannot be read or holds no Kubernetes
    objects.
    """
    root = Path(path)
    if not root.exists():
        raise SnapshotError(f"{root}: no such file or directory")
    if root.is_dir():
        files = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES
        )
        if not files:
            raise SnapshotError(f"{root}: directory holds no .json/.yaml Kubernetes exports")
        return [_read_file(p, dump_kind=DUMP_FILE_KINDS.get(p.name)) for p in files]
    return [_read_file(root, dump_kind=None)]


def _read_file(path: Path, dump_kind: str | None) -> ExportFile:
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: cannot read: {exc}") from exc
    documents = _parse_documents(path, text)
    export = ExportFile(path=path, mtime=mtime)
    found_object = False
    for doc in documents:
        if doc is None:
            continue
        if not isinstance(doc, dict) or not (
            isinstance(doc.get("kind"), str) or isinstance(doc.get("items"), list)
        ):
            raise SnapshotError(f"{path}: not a Kubernetes object or object list")
        found_object = True
        items = doc.get("items")
        if isinstance(items, list):
            export.stated_time = export.stated_time or _stated_time(doc)
            export.objects.extend(_list_items(path, doc, items, dump_kind, export.problems))
        else:
            export.objects.append(doc)
    if not found_object:
        raise SnapshotError(f"{path}: empty, no Kubernetes objects in it")
    return export


def _parse_documents(path: Path, text: str) -> list[Any]:
    """JSON (one document or a cluster-info dump stream) or YAML (one or more documents)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            docs = _json_stream(text)
            if docs:
                return docs
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SnapshotError(f"{path}: neither JSON nor YAML{where}: {_first_line(exc)}") from exc


def _json_stream(text: str) -> list[Any]:
    """Concatenated JSON documents, skipping the log text ``cluster-info dump`` puts between.

    Only documents starting at the beginning of a line are considered, as kubectl writes them.
    """
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    length = len(text)
    while pos < length:
        start = text.find("{", pos)
        if start < 0:
            break
        if start > 0 and text[start - 1] != "\n":
            pos = text.find("\n", start)
            pos = length if pos < 0 else pos
            continue
        try:
            doc, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        if isinstance(doc, dict):
            docs.append(doc)
        pos = end
    return docs


def _list_items(
    path: Path, doc: dict[str, Any], items: list[Any], dump_kind: str | None,
    problems: list[str],
) -> list[dict[str, Any]]:
    """Items of a List, filling in the kind typed lists (``PodList``) leave out."""
    list_kind = doc.get("kind") if isinstance(doc.get("kind"), str) else ""
    item_kind = list_kind[: -len("List")] if list_kind.endswith("List") else None
    if item_kind in ("", None):
        item_kind = dump_kind
    api_version = doc.get("apiVersion") if item_kind else None
    out = []
    for item in items:
        if not isinstance(item, dict):
            message = f"{path}: skipped {describe(item)}: not an object"
            log.warning("%s", message)
            problems.append(message)
            continue
        if "kind" not in item and item_kind:
            item = {"kind": item_kind, **item}
            if api_version and "apiVersion" not in item and api_version != "v1":
                item["apiVersion"] = api_version
        out.append(item)
    return out


def _stated_time(doc: dict[str, Any]) -> str | None:
    """A snapshot time written into a List's metadata (creationTimestamp or an annotation)."""
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return None
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    for value in (annotations.get("pcapkit.io/snapshot-time"), meta.get("creationTimestamp")):
        if isinstance(value, str) and value:
            return value
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
