"""Byte sources: a capture file as a stream of (decompressed) bytes.

A source fills a caller's buffer with ``readinto`` and returns 0 at the end.
Plain files are read straight into the buffer (no intermediate copy); gzip
files (recognised by their magic bytes 1f 8b, never by name) are inflated as a
stream, at most one buffer's worth at a time, so memory stays bounded whatever
the file size.  Multi-member gzip files are read member after member.

A stream that ends badly (truncated or corrupt gzip) does not raise: the
source ends early and ``problem`` says what went wrong; the reader reports it
as a :class:`~pcapkit.errors.CaptureError` at the right offset.
"""

from __future__ import annotations

import os
import stat
import zlib
from typing import BinaryIO, Protocol

GZIP_MAGIC = b"\x1f\x8b"
_COMPRESSED_READ = 1 << 20  # compressed bytes read per step


class ByteSource(Protocol):
    """What the reader needs from a source of capture bytes."""

    compressed: bool
    problem: str | None

    def readinto(self, target: memoryview) -> int: ...

    def size_hint(self) -> int | None: ...

    def close(self) -> None: ...


class PlainSource:
    """An uncompressed file, read with unbuffered ``readinto``."""

    compressed = False

    def __init__(self, raw: BinaryIO, prefix: bytes) -> None:
        self._raw = raw
        self._prefix = prefix  # bytes already read to sniff the magic
        self.problem: str | None = None

    def readinto(self, target: memoryview) -> int:
        if self._prefix:
            n = min(len(self._prefix), len(target))
            target[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        while True:
            try:
                n = self._raw.readinto(target)
            except InterruptedError:  # pragma: no cover - retried like the OS would
                continue
            except OSError as exc:
                self.problem = f"read failed: {exc.strerror or exc}"
                return 0
            return n or 0

    def fileno(self) -> int | None:
        """The file's descriptor (for mapping it), or None if it has none."""
        try:
            return self._raw.fileno()
        except (OSError, AttributeError, ValueError):
            return None

    def size_hint(self) -> int | None:
        """The file size for a regular file; None for pipes and devices."""
        try:
            info = os.fstat(self._raw.fileno())
        except (OSError, AttributeError, ValueError):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def close(self) -> None:
        self._raw.close()


class GzipSource:
    """A gzip file inflated as a stream, member after member."""

    compressed = True

    def __init__(self, raw: BinaryIO, prefix: bytes) -> None:
        self._raw = raw
        self._pending = prefix        # compressed bytes not yet given to zlib
        self._inflater = self._new_inflater()
        self._raw_eof = False
        self._finished = False
        self.problem: str | None = None

    @staticmethod
    def _new_inflater():
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def _read_raw(self) -> bytes:
        if self._raw_eof:
            return b""
        try:
            chunk = self._raw.read(_COMPRESSED_READ)
        except OSError as exc:
            self.problem = f"read failed: {exc.strerror or exc}"
            chunk = b""
        if not chunk:
            self._raw_eof = True
        return chunk

    def _next_member(self) -> bool:
        """After a member's end: start the next one, or finish. True if another member follows."""
        rest = self._inflater.unused_data
        while len(rest) < 2 and not self._raw_eof:
            rest += self._read_raw()
        if not rest or rest.strip(b"\x00") == b"":
            self._finished = True  # end of file, or zero padding some tools append
            return False
        if not rest.startswith(GZIP_MAGIC):
            self.problem = "data after the end of the gzip stream is not gzip data"
            self._finished = True
            return False
        self._inflater = self._new_inflater()
        self._pending = rest
        return True

    def readinto(self, target: memoryview) -> int:
        room = len(target)
        while not self._finished and room:
            if self._inflater.eof:
                if not self._next_member():
                    break
                continue
            data = self._inflater.unconsumed_tail or self._pending
            self._pending = b""
            if not data:
                data = self._read_raw()
                if not data:
                    self.problem = self.problem or (
                        "gzip stream is truncated: the compressed data ends before the "
                        "end-of-stream marker")
                    self._finished = True
                    break
            try:
                out = self._inflater.decompress(data, room)
            except zlib.error as exc:
                self.problem = f"gzip data is corrupt ({exc})"
                self._finished = True
                break
            if out:
                target[: len(out)] = out
                return len(out)
        return 0

    def size_hint(self) -> int | None:
        return None

    def compressed_size(self) -> int | None:
        try:
            return os.fstat(self._raw.fileno()).st_size
        except (OSError, AttributeError, ValueError):
            return None

    def close(self) -> None:
        self._raw.close()


def open_source(path: str) -> PlainSource | GzipSource:
    """Open ``path`` as a byte source, inflating it if it starts with the gzip magic.

    Raises ``OSError`` when the file cannot be opened or read; the reader turns
    that into a CaptureError.
    """
    raw = open(path, "rb", buffering=0)  # closed by the source's close()
    try:
        prefix = raw.read(2) or b""
    except BaseException:
        raw.close()
        raise
    if prefix == GZIP_MAGIC:
        return GzipSource(raw, prefix)
    return PlainSource(raw, prefix)
