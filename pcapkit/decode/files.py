"""The decoding entry points of the Python API."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.config import DecodeAsEntries, DecodeConfig
from pcapkit.decode.dns.payloads import DnsParts
from pcapkit.decode.packets import DECODED_COLUMNS, decode_batch
from pcapkit.decode.split import decode_framed, decode_split
from pcapkit.decode.table import (
    concat_tables,
    dns_frame,
    files_frame,
    interface_frame,
    packet_frame,
)
from pcapkit.engines.local import file_weights
from pcapkit.errors import CaptureError
from pcapkit.io.reader import CaptureReader, iter_capture_paths, open_capture

if TYPE_CHECKING:
    from pcapkit.decode.cache import DecodeCache
    from pcapkit.engines.base import Engine

PathLike = str | os.PathLike
#: files ``decode_files`` frames and splits over processes together, at most (open files)
TOGETHER = 64


class Decoded:
    """Tables decoded from one or more capture files.

    ``errors`` lists files that could not be read completely; their packets up
    to the damage are in the tables all the same. The DNS table is built on
    first use (``dns`` may be given as the payloads still to parse, or as a
    function returning the table): parsing DNS names is per-message Python, so
    users who only want packets do not pay it.
    """

    def __init__(self, packets: pd.DataFrame,
                 dns: pd.DataFrame | DnsParts | Callable[[], pd.DataFrame],
                 interfaces: pd.DataFrame, errors: list[CaptureError] | None = None) -> None:
        self.packets = packets
        self._dns = dns
        self.interfaces = interfaces
        self.errors = list(errors or [])

    @property
    def dns(self) -> pd.DataFrame:
        """DNS messages keyed by (file, frame) (see docs/columns.md)."""
        if isinstance(self._dns, list):
            self._dns = dns_frame(self._dns, self.packets)
        elif callable(self._dns):
            self._dns = self._dns()
        return self._dns

    def pending_dns(self) -> DnsParts | None:
        """The DNS payloads not parsed yet (None once the table is built)."""
        return self._dns if isinstance(self._dns, list) else None

    @classmethod
    def from_parts(cls, parts: Sequence[Decoded]) -> Decoded:
        """One set of tables from per-file results (as :func:`decode_file` returns
        them, in any process), in order: the same as decoding the files together.
        Their DNS payloads must still be pending; they are re-based onto the combined
        table, so the per-file tables are not kept alive to build the DNS table later."""
        if not parts:
            return decode_empty()
        dns: DnsParts = []
        offset = 0
        for part in parts:
            pending = part.pending_dns()
            if pending is None:
                raise ValueError("a part's DNS table was built already: combine the parts "
                                 "before reading .dns")
            dns.extend((base + offset, payloads) for base, payloads in pending)
            offset += len(part.packets)
        return cls(packets=concat_tables([p.packets for p in parts]), dns=dns,
                   interfaces=concat_tables([p.interfaces for p in parts]),
                   errors=[e for p in parts for e in p.errors])

    def between(self, since: pd.Timestamp | None, until: pd.Timestamp | None) -> Decoded:
        """The packets (and DNS messages) captured from ``since`` to ``until`` (either may
        be None: no bound), frame numbers kept as in the files; packets without a time
        are left out once a bound is given. Interfaces and read errors are kept whole."""
        if since is None and until is None:
            return self
        dns = self.dns
        return Decoded(self.packets[_within(self.packets["ts"], since, until)]
                       .reset_index(drop=True),
                       dns[_within(dns["ts"], since, until)].reset_index(drop=True),
                       self.interfaces, self.errors)

    def renamed(self, names: dict[str, str]) -> Decoded:
        """The same tables with files shown by other names (``names``: file as decoded ->
        name), e.g. an archive member by ``archive!member`` instead of its unpacked path.
        Categories are renamed, so no row is touched; DNS messages still pending are
        keyed by the renamed packets when built."""
        def rename(table: pd.DataFrame) -> pd.DataFrame:
            if "file" not in table.columns or not len(table):
                return table
            column = table["file"]
            if isinstance(column.dtype, pd.CategoricalDtype):
                labels = [names.get(str(c), str(c)) for c in column.cat.categories]
                renamed = column.cat.rename_categories(
                    pd.Index(labels, dtype=column.cat.categories.dtype))
            else:
                renamed = column.map(lambda f: names.get(f, f)).astype(column.dtype)
            out = table.copy(deep=False)  # the other columns shared, not copied
            out["file"] = renamed
            return out

        dns = rename(self._dns) if isinstance(self._dns, pd.DataFrame) else self._dns
        if callable(dns) and not isinstance(dns, pd.DataFrame):
            build = dns
            dns = lambda: rename(build())  # noqa: E731 - built on first use, as before
        errors = [CaptureError(names.get(e.file, e.file), e.offset, e.message)
                  for e in self.errors]
        return Decoded(rename(self.packets), dns, rename(self.interfaces), errors)

    def __repr__(self) -> str:
        return (f"<Decoded {len(self.packets)} packets, {len(self.interfaces)} interfaces, "
                f"{len(self.errors)} errors>")


def _within(ts: pd.Series, since: pd.Timestamp | None,
            until: pd.Timestamp | None) -> np.ndarray:
    """Mask of the times in [since, until]."""
    keep = ts.notna().to_numpy().copy()
    if since is not None:
        keep &= (ts >= since).to_numpy(dtype=bool, na_value=False)
    if until is not None:
        keep &= (ts <= until).to_numpy(dtype=bool, na_value=False)
    return keep


def decode_file(path: PathLike, *, config: DecodeConfig | None = None,
                decode_as: DecodeAsEntries | None = None,
                batch_size: int = 65536, workers: int | None = None) -> Decoded:
    """Decode one capture file (pcap or pcapng, optionally gzip) into tables.

    ``decode_as`` entries (``["udp.port==8473,vxlan"]``, see
    :mod:`pcapkit.decode.config`) add to the default ports or change what one
    means, after those of ``config``. A large uncompressed file is decoded on
    ``workers`` processes (default: every CPU this process may use, or
    ``$PCAPKIT_WORKERS``); the result is the same.
    """
    cfg = DecodeConfig.of(config, decode_as)
    with open_capture(path, batch_size=batch_size) as reader:
        if reader.mapped and workers != 1:
            sink, used, parts = decode_split(reader, cfg, workers)
        else:
            sink, used, parts = _decode_stream(reader, cfg, _row_estimate(path))
        return _decoded(path, reader, sink, used, parts)


def _decoded(path: PathLike, reader: CaptureReader, sink: ColumnBuffers, used: int,
             parts: DnsParts) -> Decoded:
    """The tables of one file decoded into ``sink`` (its first ``used`` rows)."""
    name = str(path)
    return Decoded(packets=packet_frame(sink, used, name, reader.interfaces), dns=parts,
                   interfaces=interface_frame(name, reader.interfaces),
                   errors=list(reader.errors))


def _decode_together(files: Sequence[PathLike], cfg: DecodeConfig,
                     workers: int | None) -> Decoded:
    """``decode_files(files)`` with every file's batches framed first and cut into shares
    over processes together (``decode_framed``), decoded into one table (files too small to
    split alone still use every core, and no per-file table is copied into a combined
    one). At most ``TOGETHER`` files are open at once; a group with a compressed file
    decodes that one in this process."""
    decoded = []
    for start in range(0, len(files), TOGETHER):
        group = files[start:start + TOGETHER]
        with contextlib.ExitStack() as stack:
            readers = [stack.enter_context(open_capture(path)) for path in group]
            if not all(reader.mapped for reader in readers):  # each file on its own
                for path, reader in zip(group, readers, strict=True):
                    table = decode_split(reader, cfg, workers) if reader.mapped else \
                        _decode_stream(reader, cfg, _row_estimate(path))
                    decoded.append(_decoded(path, reader, *table))
                continue
            sink, used, parts = decode_framed([list(r.batches()) for r in readers], cfg,
                                              workers)
            names = [str(path) for path in group]
            decoded.append(Decoded(
                packets=files_frame(sink, [(name, n, reader.interfaces) for name, n, reader
                                           in zip(names, used, readers, strict=True)]),
                dns=[part for file_parts in parts for part in file_parts],
                interfaces=concat_tables([interface_frame(name, reader.interfaces)
                                          for name, reader in zip(names, readers,
                                                                  strict=True)]),
                errors=[e for reader in readers for e in reader.errors]))
    return decoded[0] if len(decoded) == 1 else Decoded.from_parts(decoded)


def _decode_stream(reader: CaptureReader, cfg: DecodeConfig,
                   estimate: int) -> tuple[ColumnBuffers, int, DnsParts]:
    """Decode batch after batch into one growing table (any file, in this process)."""
    sink = ColumnBuffers(estimate, DECODED_COLUMNS)
    used = 0
    parts = []
    for batch in reader.batches():
        sink.reserve(used + len(batch))
        parts.append((used, decode_batch(batch, cfg, out=sink.window(used, len(batch))).dns))
        used += len(batch)
    return sink, used, parts


def _row_estimate(path: PathLike) -> int:
    """A first guess at a file's packet count, so the table rarely has to grow."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return 0
    return size // 512 + 1024


def decode_files(paths: Iterable[PathLike] | PathLike, *, config: DecodeConfig | None = None,
                 decode_as: DecodeAsEntries | None = None, workers: int | None = None,
                 engine: Engine | None = None, cache: DecodeCache | None = None) -> Decoded:
    """Decode files and directories (searched recursively for captures) into one set of
    tables (``config``, ``decode_as`` and ``workers`` as for :func:`decode_file`).

    By default the files are decoded in this process and ``workers`` forked ones, the
    batches of every file cut into shares together (``decode_framed``); an ``engine``
    (:mod:`pcapkit.engines`) decodes one file per task instead, each in one process, and
    the tables are the same. With a
    ``cache`` (:class:`pcapkit.decode.cache.DecodeCache`) a file decoded before with the
    same options is read from there, and a new one is kept there.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    cfg = DecodeConfig.of(config, decode_as)
    files = list(iter_capture_paths(paths))
    if cache is not None:
        from pcapkit.decode.cache import decode_cached

        return decode_cached(files, cfg, cache,
                             lambda path: decode_file(path, config=cfg, workers=workers))
    if engine is None:
        if workers != 1 and len(files) > 1:
            return _decode_together(files, cfg, workers)
        return Decoded.from_parts([decode_file(p, config=cfg, workers=workers) for p in files])
    task = functools.partial(decode_file, config=cfg, workers=1)
    return Decoded.from_parts(engine.map(task, files, weights=file_weights(files)))


def decode_empty() -> Decoded:
    from pcapkit.decode.table import empty_packets

    packets = empty_packets()
    return Decoded(packets=packets, dns=dns_frame([], packets), interfaces=interface_frame("", []))


def iter_decode(path: PathLike, *, config: DecodeConfig | None = None,
                decode_as: DecodeAsEntries | None = None,
                batch_size: int = 65536) -> Iterator[Decoded]:
    """Decode a capture batch by batch, so memory stays bounded whatever its size
    (``config`` and ``decode_as`` as for :func:`decode_file`).

    Each item holds the packets (and DNS messages) of one batch; frame numbers
    continue across batches. Errors found while reading appear on the batch
    where reading stopped (the last one).
    """
    cfg = DecodeConfig.of(config, decode_as)
    name = str(path)
    with open_capture(path, batch_size=batch_size) as reader:
        reported = 0
        for batch in reader.batches():
            part = decode_batch(batch, cfg)
            packets = packet_frame(part.columns, len(batch), name, reader.interfaces)
            yield Decoded(packets=packets, dns=[(0, part.dns)],
                          interfaces=interface_frame(name, reader.interfaces),
                          errors=list(reader.errors[reported:]))
            reported = len(reader.errors)
        if len(reader.errors) > reported:
            packets = packet_frame(ColumnBuffers(0, DECODED_COLUMNS), 0, name, reader.interfaces)
            yield Decoded(packets=packets, dns=dns_frame([], packets),
                          interfaces=interface_frame(name, reader.interfaces),
                          errors=list(reader.errors[reported:]))


__all__ = ["Decoded", "decode_file", "decode_files", "iter_decode"]
