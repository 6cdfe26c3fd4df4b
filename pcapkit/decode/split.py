"""Decoding mapped captures over several processes into one table.

Every file is framed first (the C framer, ~0.1 s per million records), so the batches
and their rows are known; the batches of all files are then cut into shares of about
equal size (:func:`pcapkit.engines.forked.split_shares`), a share spanning files if need
be. The parent decodes the first share straight into the table; each forked child
decodes its share into a scratch table in shared memory, which the parent copies into
the table afterwards. The table itself is private memory, as any other: a process the
user forks later cannot write through to it.
"""

from __future__ import annotations

import numpy as np

from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.dns.payloads import DnsParts, DnsPayloads
from pcapkit.decode.packets import DECODED_COLUMNS, decode_batch
from pcapkit.engines.forked import run_split, shared_zeros, split_shares, worker_count
from pcapkit.io.mapped import mapping_of, release_pages
from pcapkit.io.reader import CaptureReader


def decode_split(reader: CaptureReader, cfg: DecodeConfig,
                  workers: int | None) -> tuple[ColumnBuffers, int, DnsParts]:
    """Frame the whole (mapped) file, then decode its batches over several
    processes (:mod:`pcapkit.engines.forked`): each child's share goes to a
    scratch table in shared memory, copied into the file's table afterwards."""
    sink, used, parts = decode_framed([list(reader.batches())], cfg, workers)
    return sink, used[0], parts[0]


def decode_framed(framed: list[list], cfg: DecodeConfig, workers: int | None
                  ) -> tuple[ColumnBuffers, list[int], list[DnsParts]]:
    """Decode framed batches (a list per file, each file's in order) into one table, the
    files' rows one after the other, the batches of all files cut into shares of about
    equal rows (a share may span files) over several processes: (the table, each file's
    rows, each file's DNS payloads by row of the table)."""
    flat = [batch for batches in framed for batch in batches]
    file_of = np.repeat(np.arange(len(framed)), [len(b) for b in framed]).tolist()
    sizes = [len(b) for b in flat]
    bases = np.cumsum([0, *sizes[:-1]]).tolist() if flat else []
    used = [0] * len(framed)
    for f, size in zip(file_of, sizes, strict=True):
        used[f] += size
    shares = split_shares(sizes, worker_count(sum(sizes), workers))
    sink = ColumnBuffers(sum(sizes), DECODED_COLUMNS)
    targets = [(sink, base) for base in bases]
    scratch = []
    for share in shares[1:]:
        first = bases[share[0]]
        table = ColumnBuffers(sum(sizes[i] for i in share), DECODED_COLUMNS, shared_zeros)
        scratch.append((first, table))
        for i in share:
            targets[i] = (table, bases[i] - first)

    def run(i: int) -> DnsPayloads | None:
        table, start = targets[i]
        found = decode_batch(flat[i], cfg, out=table.window(start, sizes[i])).dns
        flat[i] = None  # its window is unmapped once no batch holds it
        return found

    if len(shares) > 1:
        _release_others(flat, shares[0])
    found = run_split(range(len(flat)), run, shares)
    for first, table in scratch:
        sink.window(first, table.n).copy_from(table)
    parts: list[DnsParts] = [[] for _ in framed]
    for f, base, payloads in zip(file_of, bases, found, strict=True):
        parts[f].append((base, payloads))
    return sink, used, parts


def _release_others(batches: list, mine: range) -> None:
    """Unmap, in this process, the windows only other processes' batches use: they
    stay in the page cache for the children (and for redoing a failed child's
    share), but do not count in this process's memory."""
    keep = {id(mapping_of(batches[i].data)) for i in mine}
    released = set()
    for i, batch in enumerate(batches):
        window = mapping_of(batch.data)
        if i not in mine and id(window) not in keep and id(window) not in released:
            released.add(id(window))
            release_pages(batch.data)
