"""Unpacking capture archives (Retina's per-node ``*.tar.gz``) without trusting them.

An incident's tarballs come from nodes and object stores, so every member is checked
before a byte is written: a member with an absolute path or a ``..`` component, a link
that points outside the directory or at an absolute path, and a device file or pipe are
refused (the rest are judged again by tarfile's ``data`` extraction filter, PEP 706), and
only regular files and directories are written. The bytes written are counted against a
bound (``ArchiveLimits``, default 16 GiB or ``$PCAPKIT_MAX_UNPACKED_BYTES``), checked from
each member's header before it is read and again while it is copied, so a tarball bomb
is reported and not obeyed; so is an archive of more than ``max_members`` members.
Refused members are reported one by one and the rest is used; an archive over a bound is
dropped whole.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pcapkit.errors import PcapkitError

#: names that say "tar archive" whatever their first bytes are
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_BLOCK = 512
_COPY = 1 << 20


def _env_bytes(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise PcapkitError(f"${name} must be a number of bytes, not {text!r}") from None
    if value < 1:
        raise PcapkitError(f"${name} must be at least 1, not {value}")
    return value


@dataclass(frozen=True)
class ArchiveLimits:
    """How much one archive may unpack to: ``max_bytes`` of file content, ``max_members``
    members. ``from_env()`` reads ``$PCAPKIT_MAX_UNPACKED_BYTES`` and
    ``$PCAPKIT_MAX_ARCHIVE_MEMBERS`` (defaults 16 GiB, 100 000)."""

    max_bytes: int = 16 << 30
    max_members: int = 100_000

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_members < 1:
            raise PcapkitError("archive limits must be at least 1")

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        return cls(_env_bytes("PCAPKIT_MAX_UNPACKED_BYTES", cls.max_bytes),
                   _env_bytes("PCAPKIT_MAX_ARCHIVE_MEMBERS", cls.max_members))


@dataclass
class Unpacked:
    """What unpacking one archive gave: its directory, the problems (one line each:
    refused members, damage, a bound reached) and whether anything is usable."""

    directory: Path
    problems: list[str] = field(default_factory=list)
    usable: bool = True


def is_archive(path: Path) -> bool:
    """True if ``path`` is a tar archive, plain or gzip-compressed: by name
    (``ARCHIVE_SUFFIXES``) or by a valid tar header in its first (decompressed) 512 bytes.
    A ``.pcap.gz`` is not one: its first block is a capture header."""
    if path.name.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=handle) as unzipped:
                    block = unzipped.read(_BLOCK)
            else:
                block = handle.read(_BLOCK)
    except (OSError, EOFError, zlib.error):
        return False
    if len(block) < _BLOCK:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _refusal(member: tarfile.TarInfo, directory: Path) -> str | None:
    """Why ``member`` must not be written under ``directory`` (None: it may)."""
    name = member.name
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or (
            len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the directory ('..')"
    if member.isdev() or member.isfifo():
        return "is a device file or pipe"
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith("/") or PurePosixPath(target).is_absolute():
            return f"is a link to the absolute path {target!r}"
    try:
        tarfile.data_filter(member, str(directory))
    except tarfile.FilterError as exc:
        kind = type(exc).__name__
        return {"AbsolutePathError": "has an absolute path",
                "OutsideDestinationError": "would land outside the directory",
                "SpecialFileError": "is a device file or pipe",
                "AbsoluteLinkError": "is a link to an absolute path",
                "LinkOutsideDestinationError": "is a link pointing outside the directory",
                }.get(kind, f"is refused by tarfile's data filter ({exc})")
    return None


class _TooLarge(Exception):
    pass


def unpack(archive: Path, directory: Path, limits: ArchiveLimits | None = None) -> Unpacked:
    """Unpack ``archive`` into ``directory`` (created; it must be new), checking every
    member first (see the module docstring). Never raises for what is in the archive."""
    limits = limits or ArchiveLimits()
    directory.mkdir(parents=True)
    result = Unpacked(directory)
    written = 0
    count = 0
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                count += 1
                if count > limits.max_members:
                    raise _TooLarge(f"holds more than {limits.max_members:,} members "
                                    "(the limit, $PCAPKIT_MAX_ARCHIVE_MEMBERS)")
                reason = _refusal(member, directory)
                if reason:
                    result.problems.append(f"member {member.name!r} {reason}: refused")
                    continue
                target = directory / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    if written + member.size > limits.max_bytes:
                        raise _TooLarge(_bomb(limits))
                    written = _copy(tar, member, target, written, limits)
                # links inside the directory are harmless but not needed: not written
    except _TooLarge as exc:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        result.problems.append(f"archive {exc}: not unpacked")
        result.usable = False
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if count == 0:
            result.problems.append(f"not a readable tar archive ({reason})")
            result.usable = False
        else:
            result.problems.append(f"archive damaged after {count - 1} member(s) "
                                   f"({reason}): the members before it are read")
    return result


def _bomb(limits: ArchiveLimits) -> str:
    return (f"unpacks to more than {limits.max_bytes:,} bytes (the limit, "
            "$PCAPKIT_MAX_UNPACKED_BYTES)")


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, written: int,
          limits: ArchiveLimits) -> int:
    """Copy one regular member, counting its bytes against the bound (a header that
    understates its size cannot make the copy run past it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        return written
    try:
        with source, open(target, "wb") as out:
            while chunk := source.read(_COPY):
                written += len(chunk)
                if written > limits.max_bytes:
                    raise _TooLarge(_bomb(limits))
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written
