"""Which files to read: the paths given, with directories expanded to the captures inside."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .pcap import is_pcap_magic
from .pcapng import is_pcapng_magic
from .sources import GZIP_MAGIC

log = logging.getLogger(__name__)


def looks_like_capture(path: Path) -> bool:
    """True if the file starts with a pcap, pcapng or gzip magic number."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        log.debug("skipping %s: %s", path, exc.strerror or exc)
        return False
    return head.startswith(GZIP_MAGIC) or is_pcap_magic(head) or is_pcapng_magic(head)


#: names that say "capture": such a file inside a directory is read (and its problem
#: reported) even when its first bytes are not a capture's, so a 0-byte or garbage
#: ``node1.pcap`` is listed with its error instead of vanishing; tar archives (Retina's
#: per-node tarballs, unpacked by :mod:`pcapkit.ingest`) count too
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz",
                    ".tar.gz", ".tgz", ".tar")


def named_like_capture(path: Path) -> bool:
    """True if the file's name ends in a capture suffix (``CAPTURE_SUFFIXES``)."""
    return path.name.lower().endswith(CAPTURE_SUFFIXES)


def _files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory, onerror=lambda exc: log.debug(
            "skipping %s: %s", exc.filename, exc.strerror)):
        dirs.sort()
        found.extend(Path(root) / name for name in files)
    return sorted(found)


def iter_capture_paths(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files as given; directories expanded recursively in sorted order, keeping the
    files whose first bytes are a pcap, pcapng or gzip magic and those named like a
    capture (``CAPTURE_SUFFIXES``: opening one that is not reports why); others are
    skipped, logged at debug.

    A path given explicitly is yielded even if it does not exist or is not a
    capture: opening it then reports the problem.  Symbolic links to
    directories are not followed inside a directory, so link loops cannot recur.
    """
    for given in paths:
        path = Path(os.fspath(given))
        if not path.is_dir():
            yield path
            continue
        for candidate in _files_under(path):
            if not candidate.is_file():
                log.debug("skipping %s: not a regular file", candidate)
            elif looks_like_capture(candidate) or named_like_capture(candidate):
                yield candidate
            else:
                log.debug("skipping %s: not a pcap, pcapng or gzip file", candidate)
