"""Captures at fsspec URLs (``s3://bucket/incident/``, ``gs://...``, ``file:///...``): the
files under a URL, copied into a local directory before decoding.

A URL names a file or a directory (searched recursively, as a local one is: files named
like a capture, ``pcapkit.io.paths.CAPTURE_SUFFIXES``). Each file is copied once into the
directory :class:`pcapkit.ingest.Inputs` keeps for the run (with a Dask cluster, the run's
``--work-dir``, which every worker sees) and shown by its URL in every table and report.
A URL that cannot be read is a problem of that URL, not the end of the run. The node's
interface list beside a capture (``ip-link.txt``, ``node1-ifindex.txt`` ...:
:mod:`pcapkit.ingest.links`) is copied beside its copy, so an ``-i any`` capture's
interfaces are named as they are from a local directory. The filesystem libraries are
fsspec's (``s3fs``, ``gcsfs`` ...), installed by the user.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath

from pcapkit.errors import CaptureError
from pcapkit.ingest.links import link_files_for
from pcapkit.io.paths import CAPTURE_SUFFIXES

log = logging.getLogger(__name__)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: object) -> bool:
    """True for ``scheme://...`` text (an fsspec URL), False for a local path."""
    return isinstance(path, str) and bool(_URL.match(path))


def fetch(url: str, directory: Path) -> tuple[list[tuple[Path, str]], list[CaptureError]]:
    """Copy the capture files under ``url`` into ``directory``: ([(local copy, URL shown)],
    problems)."""
    try:
        import fsspec
    except ImportError:
        return [], [CaptureError(url, None, "reading URLs needs fsspec: "
                                 "pip install 'pcapkit-k8s[dask]'")]
    try:
        fs, root = fsspec.core.url_to_fs(url)
        if fs.isdir(root):
            found = sorted(p for p in fs.find(root)
                           if PurePosixPath(p).name.lower().endswith(CAPTURE_SUFFIXES))
            if not found:
                return [], [CaptureError(url, None, "no capture files under this URL")]
        elif fs.exists(root):
            found = [root]
        else:
            return [], [CaptureError(url, None, "no such file or directory")]
    except (OSError, ValueError) as exc:
        return [], [CaptureError(url, None, f"cannot list: {exc}")]
    directory.mkdir(parents=True)
    copies, problems = [], []
    protocol = url.split("://", 1)[0]
    listed: dict[str, list[str]] = {}
    for index, remote in enumerate(found):
        shown = _shown(url, root, remote, protocol)
        local = directory / f"{index:06d}" / PurePosixPath(remote).name
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get(remote, str(local))
        except (OSError, ValueError) as exc:
            problems.append(CaptureError(shown, None, f"cannot copy: {exc}"))
            continue
        _copy_link_files(fs, remote, local, listed)
        copies.append((local, shown))
    return copies, problems


def _copy_link_files(fs, remote: str, local: Path, listed: dict[str, list[str]]) -> None:
    """Copy the interface lists beside ``remote`` that may name its interfaces beside its
    local copy ``local`` (a file that cannot be copied is skipped: the capture is then
    shown by ifindex, as without one)."""
    parent = str(PurePosixPath(remote).parent)
    if parent not in listed:
        try:
            listed[parent] = sorted(PurePosixPath(p).name for p in fs.ls(parent, detail=False)
                                    if fs.isfile(p))
        except (OSError, ValueError) as exc:
            log.debug("%s: not listed for interface lists (%s)", parent, exc)
            listed[parent] = []
    for name in link_files_for(PurePosixPath(remote).name, listed[parent]):
        try:
            fs.get(f"{parent}/{name}", str(local.parent / name))
        except (OSError, ValueError) as exc:
            log.debug("%s/%s: not copied (%s)", parent, name, exc)


def _shown(url: str, root: str, remote: str, protocol: str) -> str:
    """The URL of one file found under ``url`` (``root`` is its path in the filesystem)."""
    if remote == root:
        return url
    return url.rstrip("/") + "/" + remote[len(root.rstrip("/")) + 1:] if \
        remote.startswith(root.rstrip("/") + "/") else f"{protocol}://{remote}"
