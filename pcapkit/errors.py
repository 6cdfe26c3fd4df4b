"""Errors pcapkit reports to users instead of tracebacks."""

from __future__ import annotations

from dataclasses import dataclass


class PcapkitError(Exception):
    """Base class for every error pcapkit raises on purpose."""


@dataclass
class CaptureError(PcapkitError):
    """A capture file that could not be read completely.

    ``offset`` is the byte offset in the (decompressed) file where the damage
    starts; every packet before it has been read.
    """

    file: str
    offset: int | None
    message: str

    def __str__(self) -> str:
        where = f" at byte offset {self.offset}" if self.offset is not None else ""
        return f"{self.file}: {self.message}{where}"


class SnapshotError(PcapkitError):
    """A cluster export that could not be read."""
