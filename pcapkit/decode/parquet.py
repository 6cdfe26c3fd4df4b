"""Streaming the packet table of many captures into one Parquet file.

Decoding and Parquet encoding overlap: each batch's table is handed to a writer
thread (pyarrow encodes without the GIL) while the next batch decodes, so the
two cores both work, and memory stays at a few batches whatever the input size.
Nothing on this path imports pandas (a tenth of the command's run time).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from pcapkit.decode.assemble import packet_arrow, packet_schema
from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.config import DecodeAsEntries, DecodeConfig
from pcapkit.decode.packets import decode_batch
from pcapkit.errors import CaptureError
from pcapkit.io.reader import iter_capture_paths, open_capture

if TYPE_CHECKING:
    from pcapkit.engines.base import Engine

#: batches this large make row groups of a sensible size for later readers
ROW_GROUP = 262144
#: min/max statistics only where they help skip row groups: frame, time, protocol and
#: ports. Those of the string columns (file, encap, addresses) took a fifth of the
#: Parquet encoding time, and string order prunes nothing useful for addresses.
STATISTICS = ["frame", "ts", "proto", "sport", "dport"]
#: frame numbers and capture times rise steadily: delta encoding stores them in a
#: fraction of PLAIN's space and time (every Parquet reader knows it)
ENCODINGS = {"frame": "DELTA_BINARY_PACKED", "ts": "DELTA_BINARY_PACKED"}
#: values the writer handles per call: fewer, larger calls than the default 1024
WRITE_BATCH = 65536


def writer_options(schema: pa.Schema) -> dict[str, object]:
    """``pq.ParquetWriter`` options of the packet table: dictionary pages for the
    category columns only (they arrive dictionary-encoded), snappy compression."""
    categorical = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return {"use_dictionary": categorical, "write_statistics": STATISTICS,
            "column_encoding": ENCODINGS, "write_batch_size": WRITE_BATCH,
            "compression": "snappy"}


def write_packets_parquet(paths: Iterable[str | os.PathLike], output: str | os.PathLike,
                          config: DecodeConfig | None = None, *,
                          decode_as: DecodeAsEntries | None = None,
                          names: Mapping[str, str] | None = None
                          ) -> tuple[int, list[CaptureError]]:
    """Decode ``paths`` (files and directories) straight into ``output`` (``config``
    and ``decode_as`` as for :func:`pcapkit.decode.decode_file`; no DNS by default).
    ``names`` (file as found -> name) shows a file by another name in the ``file`` column
    and the errors: an archive member by ``archive!member`` (:class:`pcapkit.ingest.Inputs`).

    Returns the number of packets written and the read errors met on the way.
    """
    names = names or {}
    config = DecodeConfig.of(config, decode_as, dns=False)
    schema = packet_schema()
    errors: list[CaptureError] = []
    written = 0
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1) as pool, \
            pq.ParquetWriter(output, schema, **writer_options(schema)) as writer:
        for path in iter_capture_paths(paths):
            shown = names.get(str(path), str(path))
            with open_capture(path, batch_size=ROW_GROUP) as reader:
                for batch in reader.batches():
                    part = decode_batch(batch, config)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(_write, writer, part.columns, len(batch), shown,
                                          list(reader.interfaces), schema)
                    written += len(batch)
                errors.extend(CaptureError(names.get(e.file, e.file), e.offset, e.message)
                              for e in reader.errors)
        if pending is not None:
            pending.result()
    return written, errors


def _write(writer: pq.ParquetWriter, columns: ColumnBuffers, n: int, file: str,
           interfaces: list, schema: pa.Schema) -> None:
    """Convert one decoded batch and append it (runs on the writer thread)."""
    writer.write_table(packet_arrow(columns, n, file, interfaces, schema))


def part_name(path: Path, root: Path) -> str:
    """The Parquet part a capture is written to: its path below the inputs' common
    directory, flattened, so ``node1/any.pcap`` and ``node2/any.pcap`` stay apart."""
    return "__".join(path.relative_to(root).parts) + ".parquet"


def _write_part(path: Path, directory: str, root: Path, config: DecodeConfig,
                names: Mapping[str, str]) -> tuple[int, list[CaptureError]]:
    shown = names.get(str(path))
    # an archive member's part is named as if the archive were its directory (no "!")
    part = part_name(Path(shown.replace("!", os.sep)).absolute(), root) if shown else \
        part_name(path, root)
    return write_packets_parquet([path], Path(directory) / part, config, names=names)


def write_packets_dataset(paths: Iterable[str | os.PathLike], directory: str | os.PathLike,
                          config: DecodeConfig | None = None, *,
                          decode_as: DecodeAsEntries | None = None, workers: int | None = None,
                          engine: Engine | None = None, names: Mapping[str, str] | None = None
                          ) -> tuple[int, list[CaptureError]]:
    """Decode ``paths`` into a Parquet dataset: one part per capture file in
    ``directory``, each written by a task of ``engine`` (default: a local pool of
    ``workers`` processes); ``pandas.read_parquet`` reads the directory back as one
    table. ``names`` as for :func:`write_packets_parquet` (a part is named after the name
    shown). Returns packets written and read errors."""
    # multiprocessing: only this path needs it
    from pcapkit.engines.local import LocalEngine, file_weights

    config = DecodeConfig.of(config, decode_as, dns=False)
    found = list(iter_capture_paths(paths))
    files = [p.absolute() for p in found]
    shown = {str(a): names[str(p)] for p, a in zip(found, files, strict=True)
             if names and str(p) in names}
    Path(directory).mkdir(parents=True, exist_ok=True)
    if not files:
        return 0, []
    root = Path(os.path.commonpath([Path(shown[str(p)]).absolute().parent if str(p) in shown
                                    else p.parent for p in files]))
    task = functools.partial(_write_part, directory=os.fspath(directory), root=root,
                             config=config, names=shown)
    engine = engine or LocalEngine(workers, preload=["pcapkit.decode.parquet"])
    results = engine.map(task, files, weights=file_weights(files))
    return sum(n for n, _ in results), [e for _, part_errors in results for e in part_errors]
