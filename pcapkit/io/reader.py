"""Open a capture file (pcap, pcapng, either gzip-compressed) and read it in record batches.

    with open_capture("node1.pcapng.gz") as capture:
        for batch in capture.batches():
            ...
        for problem in capture.errors:
            print(problem)

The reader never raises for what is in the file (or for a missing or
unreadable file): problems become :class:`~pcapkit.errors.CaptureError`
entries in ``errors``.  Reading stops at the first damage, after every packet
before it has been yielded.  A plain file is mapped into memory a
``chunk_bytes`` window at a time (:mod:`.mapped`); a compressed one (or any
when ``mapped=False``) is read in chunks (:mod:`.chunks`).  Either way memory
stays near one or two windows plus the batches the caller keeps, whatever the
file size.

Frame numbers count records as Wireshark does: packets, plus the few
non-packet pcapng blocks Wireshark shows as frames (custom blocks, systemd
journal entries, sysdig events), so packet N here is frame N in Wireshark.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from types import TracebackType

from ..errors import CaptureError
from . import damage, framing
from .batch_builder import BatchBuilder
from .chunks import ChunkBuffer
from .framing import MAX_BLOCK, MAX_CAPLEN, STATUS_NEED_DATA, STATUS_OTHER_BLOCK
from .mapped import MappedWindow, can_map
from .paths import iter_capture_paths
from .pcap import FILE_HEADER_LENGTH, PcapHeader, PcapHeaderError, is_pcap_magic, parse_header
from .pcapng import (
    NUMBERED_RECORD_TYPES,
    BlockDamage,
    PcapngWalker,
    is_pcapng_magic,
    needed_bytes,
    read_block_header,
)
from .records import Interface, RecordBatch
from .sources import GzipSource, open_source

__all__ = ["CaptureReader", "iter_capture_paths", "open_capture"]

DEFAULT_BATCH_SIZE = 65536
DEFAULT_CHUNK_BYTES = 64 << 20
_MIN_RECORD = 16                 # smallest record: pcap header or pcapng SPB
_SMALL_WINDOW = 1 << 20          # window floor for small files
_CONSUMED = -1                   # a Python-handled pcapng block was applied


def _os_error_message(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a capture file"
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0) or str(exc)
    return f"cannot read the file: {reason}"


class CaptureReader:
    """One capture file being read; use as a context manager or call :meth:`close`.

    Attributes: ``path`` (as given, as str), ``format`` ("pcap", "pcapng" or
    "unknown"), ``compressed`` (gzip), ``interfaces`` (grows as pcapng IDBs are
    read) and ``errors`` (problems found).  ``framer`` selects the record
    framer (the C module or :data:`pcapkit.io.framing.PYTHON_FRAMER`; tests use it).
    ``mapped`` maps a plain regular file into memory instead of reading it
    (:mod:`pcapkit.io.mapped`); False reads it in chunks like a compressed one.
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, framer=None,
                 mapped: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be at least 1, not {chunk_bytes}")
        self.path: str = os.fsdecode(os.fspath(path))
        self.format: str = "unknown"
        self.compressed: bool = False
        self.interfaces: list[Interface] = []
        self.errors: list[CaptureError] = []
        self._batch_size = batch_size
        self._chunk_bytes = chunk_bytes
        self._framer = framer if framer is not None else framing.FRAMER
        self._mapped = mapped
        self._buffer: ChunkBuffer | MappedWindow | None = None
        self._pcap: PcapHeader | None = None
        self._walker: PcapngWalker | None = None
        self._frames = 0
        self._done = False
        self._open()

    # -- opening -------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            source = open_source(self.path)
        except OSError as exc:
            self._stop(None, _os_error_message(exc))
            return
        self.compressed = source.compressed
        self._buffer = self._window(source)
        buf = self._buffer
        if not buf.ensure(4):
            self._stop(0, self._source_problem() or (
                "file is empty" if buf.available == 0
                else f"file is too short to be a capture ({buf.available} bytes)"))
            return
        magic = bytes(buf.data[buf.pos:buf.pos + 4])
        if is_pcap_magic(magic):
            self.format = "pcap"
            self._open_pcap()
        elif is_pcapng_magic(magic):
            self.format = "pcapng"
            self._walker = PcapngWalker(self.interfaces)
            self._open_pcapng()
        else:
            self._stop(0, f"not a pcap or pcapng file (it starts with {magic.hex(' ')})")

    def _window(self, source) -> ChunkBuffer | MappedWindow:
        """A mapped window where the file allows it, else a chunk buffer that reads."""
        if self._mapped and can_map(source):
            try:
                return MappedWindow(source, self._chunk_bytes)
            except OSError:
                pass  # a filesystem that cannot map files: read it instead
        return ChunkBuffer(source, self._window_size(source))

    def _window_size(self, source) -> int:
        """A chunk, or less for a small file (a 1 MiB floor lets a growing file grow)."""
        size = source.size_hint()
        if size is None and isinstance(source, GzipSource):
            size = 8 * (source.compressed_size() or 0)  # a guess at the inflated size
        if size is None:
            return self._chunk_bytes
        return min(self._chunk_bytes, max(_SMALL_WINDOW, size))

    def _open_pcap(self) -> None:
        buf = self._buffer
        buf.ensure(FILE_HEADER_LENGTH)
        try:
            self._pcap = parse_header(bytes(buf.data[buf.pos:buf.fill][:FILE_HEADER_LENGTH]))
        except PcapHeaderError as exc:
            problem = self._source_problem()
            self._stop(0, f"{exc}: {problem}" if problem else str(exc))
            return
        self.interfaces.append(self._pcap.interface())
        buf.pos += FILE_HEADER_LENGTH

    def _open_pcapng(self) -> None:
        """Read the first Section Header Block, so a bad version shows at once."""
        while True:
            status, detail = self._pcapng_block(None)
            if status == _CONSUMED:
                return
            if status != STATUS_NEED_DATA:
                self._stop(self._here(), self._describe(status, detail))
                return
            if not self._buffer.ensure(self._needed()):
                self._stop_at_end()
                return

    @property
    def mapped(self) -> bool:
        """True when the file is mapped, not copied: its batches may all be kept at
        the cost of page cache only, and forked processes see the same bytes."""
        return isinstance(self._buffer, MappedWindow)

    # -- reading ------------------------------------------------------------------------

    def batches(self) -> Iterator[RecordBatch]:
        """Yield the packets as RecordBatches of at most ``batch_size`` packets.

        The stream is read once: a second call yields nothing more.
        """
        if self._done:
            return
        try:
            yield from self._frame_all()
        finally:
            self._done = True
            self._close_source()

    def _frame_all(self) -> Iterator[RecordBatch]:
        buf = self._buffer
        builder: BatchBuilder | None = None
        while True:
            if builder is None:
                builder = BatchBuilder(self._batch_capacity())
            count, stop, status = self._frame(builder)
            builder.count += count
            buf.pos = stop
            if status == framing.STATUS_OUTPUT_FULL:
                yield from self._flush(builder)
                builder = None
                continue
            detail = 0
            if status == STATUS_OTHER_BLOCK:
                status, detail = self._pcapng_block(builder)
                if status == _CONSUMED:
                    continue
            if status != STATUS_NEED_DATA:
                yield from self._flush(builder)
                self._stop(self._here(), self._describe(status, detail))
                return
            needed = self._needed()
            if not buf.can_append(needed):
                yield from self._flush(builder)
                builder = None
                buf.recycle(needed)
            if buf.read_more():
                continue
            yield from self._flush(builder)
            self._stop_at_end()
            return

    def _frame(self, builder: BatchBuilder) -> tuple[int, int, int]:
        buf = self._buffer
        if self._pcap is not None:
            return self._framer.frame_pcap(
                buf.data, buf.pos, buf.fill, buf.base, self._pcap.swapped,
                self._pcap.nanosecond, MAX_CAPLEN, *builder.columns, builder.count,
                builder.capacity)
        section = self._walker.section
        return self._framer.frame_pcapng(
            buf.data, buf.pos, buf.fill, buf.base, section.swapped, MAX_CAPLEN, MAX_BLOCK,
            section.table, *builder.columns, builder.count, builder.capacity)

    def _pcapng_block(self, builder: BatchBuilder | None) -> tuple[int, int]:
        """Apply the non-EPB/SPB block at ``pos``; (status, detail) as the framer words it."""
        buf = self._buffer
        try:
            header = read_block_header(buf.data, buf.pos, buf.fill, self._walker.byte_order)
            row = self._walker.handle(buf.data, buf.pos, header)
        except BlockDamage as problem:
            return problem.status, problem.detail
        if row is not None:
            builder.append(row.offset, row.caplen, row.wirelen, row.ts_ns, self._here(),
                           row.interface)
        elif header.type in NUMBERED_RECORD_TYPES:
            if builder is None:
                self._frames += 1
            else:
                builder.skip_frame()
        buf.pos += header.length
        return _CONSUMED, 0

    def _batch_capacity(self) -> int:
        buf = self._buffer
        most_records = (len(buf.data) - buf.pos) // _MIN_RECORD + 1
        return max(1, min(self._batch_size, most_records))

    def _flush(self, builder: BatchBuilder | None) -> Iterator[RecordBatch]:
        """Yield the builder's packets as a batch (if any); keep its frame count either way."""
        if builder is None:
            return
        if builder.count:
            yield builder.build(self.path, self._buffer.data, self._frames + 1, self.interfaces)
        self._frames += builder.frames_used

    def _needed(self) -> int:
        """Bytes the record at ``pos`` needs, as far as its header tells."""
        buf = self._buffer
        if self._pcap is None:
            return needed_bytes(buf.data, buf.pos, buf.fill, self._walker.byte_order)
        if buf.available < framing.PCAP_RECORD_HEADER:
            return framing.PCAP_RECORD_HEADER
        order = self._pcap.byte_order
        return framing.PCAP_RECORD_HEADER + int.from_bytes(
            bytes(buf.data[buf.pos + 8:buf.pos + 12]), "little" if order == "<" else "big")

    # -- problems -----------------------------------------------------------------------

    def _here(self) -> int:
        return self._buffer.base + self._buffer.pos

    def _describe(self, status: int, detail: int) -> str:
        buf = self._buffer
        if self._pcap is not None:
            return damage.pcap_damage(status, buf.data, buf.pos, self._pcap.byte_order)
        section = self._walker.section
        return damage.pcapng_damage(
            status, detail, buf.data, buf.pos, buf.fill, self._walker.byte_order,
            section.number if section else 0, len(section.interfaces) if section else 0)

    def _source_problem(self) -> str | None:
        return self._buffer.source.problem if self._buffer is not None else None

    def _stop_at_end(self) -> None:
        """The data ended: report a record cut short and/or a bad gzip ending."""
        buf = self._buffer
        problem = self._source_problem()
        if buf.available:
            if self._pcap is not None:
                message = damage.pcap_truncation(buf.data, buf.pos, buf.fill,
                                                 self._pcap.byte_order)
            else:
                message = damage.pcapng_truncation(buf.data, buf.pos, buf.fill,
                                                   self._walker.byte_order)
            self._stop(self._here(), f"{message}; {problem}" if problem else message)
        elif problem:
            self._stop(self._here(), problem)
        else:
            self._done = True

    def _stop(self, offset: int | None, message: str) -> None:
        self.errors.append(CaptureError(self.path, offset, message))
        self._done = True
        self._close_source()

    # -- lifetime -----------------------------------------------------------------------

    def _close_source(self) -> None:
        if self._buffer is not None:
            self._buffer.source.close()

    def close(self) -> None:
        """Release the file; later calls to batches() yield nothing."""
        self._done = True
        self._close_source()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"CaptureReader({self.path!r}, format={self.format!r}, "
                f"compressed={self.compressed}, errors={len(self.errors)})")


def open_capture(path: str | os.PathLike, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, mapped: bool = True) -> CaptureReader:
    """Open a pcap / pcapng file (plain or gzip) for reading in record batches.

    Never raises for the file's content or for a missing or unreadable file:
    see ``CaptureReader.errors``.  Raises ValueError only for a batch_size or
    chunk_bytes below 1.
    """
    return CaptureReader(path, batch_size=batch_size, chunk_bytes=chunk_bytes, mapped=mapped)
