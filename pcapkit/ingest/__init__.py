"""Ingest: the paths a user gives, turned into capture files to decode, the name each is
shown by, the node an archive or Retina name says it was taken on, and the host files
beside it.

``Inputs(paths)`` expands directories as :func:`pcapkit.io.paths.iter_capture_paths` does
and unpacks every tar archive it meets (Retina's per-node ``*.tar.gz``, see
:mod:`pcapkit.ingest.retina`) into a temporary directory of its own (``$TMPDIR``, never
beside the input; removed by ``close()`` or when the Inputs is collected), safely
(:mod:`pcapkit.ingest.archives`). A member is shown as ``<archive>!<member>``
(``node1.tar.gz!retina-capture-node1-20260101000000UTC.pcap``) in every table and report;
captures at fsspec URLs (``s3://bucket/incident/``) are copied in and shown by their URL
(:mod:`pcapkit.ingest.remote`); a problem with the archive itself (a refused member,
damage, a bomb) or a URL is a
:class:`~pcapkit.errors.CaptureError` of the archive, listed with the inputs. Host files
(``iptables-rules.txt``, ``proc-sys-net/`` ...) beside a capture, inside an archive or in a
directory the user unpacked, become ``host_state`` rows (:mod:`pcapkit.ingest.hosts`), and
:func:`pcapkit.ingest.corroborate.corroborate` adds what they show to findings. The node's
interface list beside a capture (``ip -o link`` saved as ``ip-link.txt``, Retina's
``ip-resources.txt``) names the interfaces an ``-i any`` capture knows only by index
(:mod:`pcapkit.ingest.links`): ``label`` applies them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pcapkit.errors import CaptureError
from pcapkit.ingest.archives import ArchiveLimits, is_archive, unpack
from pcapkit.ingest.hosts import ROW_FIELDS, read_host_files
from pcapkit.ingest.links import LinkNames, LinkReader, name_interfaces
from pcapkit.ingest.remote import fetch, is_url
from pcapkit.ingest.retina import is_retina_directory, retina_name, retina_nodes
from pcapkit.io.paths import iter_capture_paths

if TYPE_CHECKING:
    import os

    import pandas as pd

    from pcapkit.decode.files import Decoded

log = logging.getLogger(__name__)

__all__ = ["ArchiveLimits", "CaptureInput", "Inputs", "member_path"]


@dataclass(frozen=True)
class CaptureInput:
    """One capture file to decode: where it is on disk (``path``), the name tables and
    reports show (``name``), the archive it came from (None for a plain file) and the
    directory of host files beside it (None when there are none)."""

    path: Path
    name: str
    archive: str | None = None
    host_directory: str | None = None
    #: the capture's node's ifindex -> interface name, from a file beside it (None: none)
    links: LinkNames | None = None


class Inputs:
    """The capture files behind ``paths`` (files, directories, tar archives)."""

    def __init__(self, paths: Iterable[str | os.PathLike], *,
                 limits: ArchiveLimits | None = None,
                 work_dir: str | os.PathLike | None = None) -> None:
        self.limits = limits or ArchiveLimits.from_env()
        self.files: list[CaptureInput] = []
        #: archive-level problems (CaptureError of the archive itself)
        self.problems: list[CaptureError] = []
        self._hosts: dict[str, dict[str, list]] = {}
        self._links = LinkReader()
        self._root: Path | None = None
        self._work_dir = work_dir
        self._finalizer: weakref.finalize | None = None
        for given in paths:
            if is_url(given):  # fsspec: copied in, shown by its URL
                copies, problems = fetch(str(given), self._scratch())
                self.problems += problems
                for path, shown in copies:
                    self._add(path, shown)
                continue
            for path in iter_capture_paths([given]):
                self._add(path, str(path))

    def _add(self, path: Path, shown: str) -> None:
        if path.is_file() and is_archive(path):
            self._add_archive(path, shown)
        else:
            self._add_file(path, shown, None)

    def _scratch(self) -> Path:
        """A new directory name in this Inputs' own directory (in ``work_dir`` or $TMPDIR,
        removed with it): ``0``, ``1`` ... in the order archives and URLs are met."""
        if self._root is None:
            if self._work_dir is not None:
                Path(self._work_dir).mkdir(parents=True, exist_ok=True)
            self._root = Path(tempfile.mkdtemp(prefix="pcapkit-archives-", dir=self._work_dir))
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._root, True)
        return self._root / str(len(list(self._root.iterdir())))

    # -- building ---------------------------------------------------------------------

    def _add_file(self, path: Path, name: str, archive: str | None,
                  base: Path | None = None) -> None:
        """Add one capture file; ``base`` is the unpacked directory of its ``archive``."""
        where = path.parent
        inside = where.relative_to(base).as_posix() if base is not None else "."
        shown = str(where) if archive is None else (
            archive if inside == "." else f"{archive}!{inside}")
        host = None
        if where.is_dir() and is_retina_directory(where):
            host = shown
            if host not in self._hosts:
                self._hosts[host] = read_host_files(where, host)
        prefix = f"{where}/" if archive is None else (
            f"{archive}!" if inside == "." else f"{archive}!{inside}/")
        self.files.append(CaptureInput(path, name, archive, host,
                                       self._links.names_of(path, prefix)))

    def _add_archive(self, archive: Path, shown: str) -> None:
        unpacked = unpack(archive, self._scratch(), self.limits)
        self.problems += [CaptureError(shown, None, p) for p in unpacked.problems]
        if not unpacked.usable:
            return
        members = list(iter_capture_paths([unpacked.directory]))
        if not members:
            self.problems.append(CaptureError(shown, None, "archive holds no capture file"))
        for member in members:
            relative = member.relative_to(unpacked.directory).as_posix()
            if is_archive(member):
                self.problems.append(CaptureError(shown, None, f"member {relative!r} is an "
                                                  "archive inside the archive: not unpacked"))
                continue
            self._add_file(member, f"{shown}!{relative}", shown, unpacked.directory)

    # -- what the stages use ------------------------------------------------------------

    @property
    def paths(self) -> list[Path]:
        """The files to decode, in order."""
        return [f.path for f in self.files]

    @property
    def archives(self) -> dict[str, str]:
        """Shown name -> archive, for the files that came out of one."""
        return {f.name: f.archive for f in self.files if f.archive}

    @property
    def on_disk(self) -> dict[str, Path]:
        """Shown name -> the file read (an archive member: its unpacked copy)."""
        return {f.name: f.path for f in self.files}

    @property
    def interface_names(self) -> dict[str, dict[int, str]]:
        """Shown name -> ifindex -> interface name, for the files a node's interface list
        lies beside (:mod:`pcapkit.ingest.links`)."""
        return {f.name: f.links.names for f in self.files if f.links is not None}

    def label(self, decoded: Decoded) -> Decoded:
        """``decoded`` (of ``paths``) with every file shown by its name, the interfaces
        its packets know only by index named (``interface_names``), and the archives'
        own problems added to its errors."""
        names = {str(f.path): f.name for f in self.files if str(f.path) != f.name}
        labelled = decoded.renamed(names) if names else decoded
        labelled = name_interfaces(labelled, self.interface_names)
        if self.problems:
            labelled.errors = [*self.problems, *labelled.errors]
        return labelled

    def nodes(self, node_names: Iterable[str] = ()) -> dict[str, tuple[str, str, str]]:
        """Shown name -> (node, "retina", evidence) for every file a Retina capture name
        places: the tarball's name for a member, the file's own name otherwise."""
        named = [retina_name(f.archive or f.name) or retina_name(f.name) for f in self.files]
        decided = retina_nodes(named, list(node_names))
        return {f.name: (node, "retina", evidence)
                for f, got in zip(self.files, decided, strict=True) if got
                for node, evidence in [got]}

    def host_state(self, points: pd.DataFrame | None = None) -> pd.DataFrame:
        """The ``host_state`` table: every host file row, with the node of the capture
        beside it (from ``points``, the capture_points table; NA without)."""
        import pandas as pd

        from pcapkit.schema.convert import build_frame
        from pcapkit.schema.hosts import HOST_STATE

        node_of_file = {} if points is None else dict(
            zip(points["file"].astype(str), points["node"].astype(str), strict=True))
        node_of_host: dict[str, str] = {}
        for f in self.files:
            if f.host_directory and f.name in node_of_file:
                node_of_host.setdefault(f.host_directory, node_of_file[f.name])
        columns: dict[str, list] = {name: [] for name in ("node", *ROW_FIELDS)}
        for host, rows in self._hosts.items():
            count = len(rows["key"])
            columns["node"] += [node_of_host.get(host)] * count
            for name in ROW_FIELDS:
                columns[name] += rows[name]
        return build_frame(HOST_STATE, pd.DataFrame(columns, columns=HOST_STATE.names))

    def close(self) -> None:
        """Remove the unpacked archives (the tables decoded from them stay usable)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        archives = len({f.archive for f in self.files if f.archive})
        return (f"<pcapkit.Inputs {len(self.files)} capture file(s), {archives} archive(s), "
                f"{len(self.problems)} problem(s)>")



_UNPACKED: dict[tuple[str, int, int], Inputs] = {}


def member_path(shown: str) -> Path | None:
    """The file behind a member name ``<archive>!<member>`` (as tables and reports show
    it), so a later reader (``pcapkit export-evidence``) can open it: the archive is
    unpacked once per process, as safely as for the analysis, into a temporary directory
    removed at exit. None when ``shown`` names no member of an archive there is."""
    for at in (i for i, char in enumerate(shown) if char == "!"):
        archive = Path(shown[:at])
        try:
            stat = archive.stat()
        except OSError:
            continue
        if not archive.is_file() or not is_archive(archive):
            continue
        key = (str(archive), stat.st_mtime_ns, stat.st_size)
        if key not in _UNPACKED:
            _UNPACKED[key] = Inputs([archive])
        return _UNPACKED[key].on_disk.get(shown)
    return None
