"""A directory of decoded tables, so a second analysis of the same captures skips decoding.

Each capture file's tables (packets, DNS messages, interfaces, read errors) are kept as
Parquet under a key made of the file's content hash, pcapkit's version and the decode
options: the same bytes decoded the same way, wherever the file now lives or whatever it
is called (the ``file`` columns are renamed to the path given this time). Hashing reads
the whole file (SHA-1 at about 1.4 GB/s here; it identifies content, it is not a
security boundary); ``index.json`` remembers each path's hash with its size, mtime and
inode, as git's index does, so an unchanged file is not read again. Entries are written
to a temporary directory and renamed into place, so an interrupted run leaves no half
entry; an entry that cannot be read is decoded again (and rewritten).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pcapkit._version import __version__
from pcapkit.arrow_tables import dtype_name, frame_of
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.table import concat_tables
from pcapkit.errors import CaptureError, PcapkitError
from pcapkit.schema.decode import DECODED_PACKET_COLUMNS

if TYPE_CHECKING:
    from pcapkit.decode.files import Decoded

log = logging.getLogger(__name__)

_TABLES = ("packets", "dns", "interfaces")
#: files smaller than this are decoded every time (``_worth_caching``)
CACHE_MIN_BYTES = 4 << 20
_INDEX = "index.json"


class DecodeCache:
    """Decoded tables of capture files under ``directory`` (created when missing)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PcapkitError(f"cache directory {self.directory}: "
                               f"{exc.strerror or exc}") from None
        if not self.directory.is_dir():
            raise PcapkitError(f"cache directory {self.directory}: not a directory")
        self._index = self._read_index()
        self.hits = 0
        self.misses = 0

    def key(self, path: str | os.PathLike, config: DecodeConfig) -> str:
        """The entry name of ``path`` decoded with ``config``."""
        options = json.dumps([__version__, [str(d) for d in config.decode_as], config.dns,
                              config.max_tunnel_depth,  # a new decoder column: a new entry
                              [c.name for c in DECODED_PACKET_COLUMNS]])
        digest = hashlib.sha1(options.encode(), usedforsecurity=False)
        digest.update(self._content_hash(Path(path)).encode())
        return digest.hexdigest()

    def load(self, path: str | os.PathLike, config: DecodeConfig) -> Decoded | None:
        """The cached tables of ``path`` (its ``file`` columns naming ``path``), or None
        (also when the file cannot be read to hash it: decoding then reports why)."""
        try:
            entry = self.directory / self.key(path, config)
        except OSError:
            self.misses += 1
            return None
        if not (entry / "done").exists():
            self.misses += 1
            return None
        import pyarrow.parquet as pq

        try:
            dtypes = json.loads((entry / "dtypes.json").read_text())
            tables = {name: frame_of(pq.read_table(entry / f"{name}.parquet"), dtypes[name])
                      for name in _TABLES}
            errors = _entry_errors(entry, str(path))
        except (OSError, ValueError) as exc:
            log.warning("cache entry %s unreadable (%s): decoding again", entry, exc)
            self.misses += 1
            return None
        self.hits += 1
        from pcapkit.decode.files import Decoded

        name = str(path)
        stored = {str(c) for table in tables.values() if "file" in table.columns
                  and isinstance(table["file"].dtype, pd.CategoricalDtype)
                  for c in table["file"].cat.categories}
        decoded = Decoded(tables["packets"], tables["dns"], tables["interfaces"], errors)
        return decoded.renamed({old: name for old in stored})  # the path given this time

    def store(self, path: str | os.PathLike, config: DecodeConfig, packets: pd.DataFrame,
              dns: pd.DataFrame, interfaces: pd.DataFrame, errors: list[CaptureError]) -> None:
        """Keep the tables of ``path``; a failure to write is logged, never fatal."""
        try:
            entry = self.directory / self.key(path, config)
        except OSError as exc:
            log.warning("cannot hash %s for the cache: %s", path, exc.strerror or exc)
            return
        if (entry / "done").exists():
            return
        scratch = Path(tempfile.mkdtemp(prefix=".entry-", dir=self.directory))
        try:
            for name, table in zip(_TABLES, (packets, dns, interfaces), strict=True):
                table.to_parquet(scratch / f"{name}.parquet", index=False)
            (scratch / "dtypes.json").write_text(json.dumps(
                {name: {c: dtype_name(t) for c, t in table.items()}
                 for name, table in zip(_TABLES, (packets, dns, interfaces), strict=True)}))
            (scratch / "errors.json").write_text(json.dumps(
                [{"offset": e.offset, "message": e.message} for e in errors]))
            (scratch / "done").write_text("")
            shutil.rmtree(entry, ignore_errors=True)
            os.replace(scratch, entry)
        except OSError as exc:
            log.warning("cannot write cache entry %s: %s", entry, exc.strerror or exc)
            shutil.rmtree(scratch, ignore_errors=True)

    def save_index(self) -> None:
        """Write the path -> content hash memo (after a run), without the paths that are
        gone (unpacked archives' temporary files, deleted captures)."""
        target = self.directory / _INDEX
        self._index = {path: known for path, known in self._index.items()
                       if os.path.exists(path)}
        try:
            scratch = target.with_suffix(".tmp")
            scratch.write_text(json.dumps(self._index))
            os.replace(scratch, target)
        except OSError as exc:
            log.warning("cannot write %s: %s", target, exc.strerror or exc)

    def _read_index(self) -> dict[str, list]:
        try:
            index = json.loads((self.directory / _INDEX).read_text())
        except (OSError, ValueError):
            return {}
        return index if isinstance(index, dict) else {}

    def _content_hash(self, path: Path) -> str:
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        known = self._index.get(str(path.resolve()))
        if isinstance(known, list) and len(known) == 2 and known[0] == signature:
            return str(known[1])
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha1").hexdigest()
        self._index[str(path.resolve())] = [signature, digest]
        return digest


def _worth_caching(path: Path) -> bool:
    """Whether reading the file's tables back beats decoding it: a cache entry costs about
    40 ms to read whatever its size, which decodes a 4 MiB capture."""
    try:
        return path.stat().st_size >= CACHE_MIN_BYTES
    except OSError:
        return False


def decode_cached(files: list[Path], config: DecodeConfig, cache: DecodeCache,
                  decode: Callable[[Path], Decoded]) -> Decoded:
    """The tables of ``files``: each from the cache, else ``decode(file)`` and kept there.
    When every file is in the cache, their tables are read as Arrow and turned into pandas
    once (``_read_together``), not file by file and then concatenated."""
    from pcapkit.decode.files import Decoded

    together = _read_together(files, config, cache)
    if together is not None:
        cache.save_index()
        return together
    parts = []
    for path in files:
        entry = cache.load(path, config) if _worth_caching(path) else None
        if entry is None:
            entry = decode(path)
            if _worth_caching(path):
                cache.store(path, config, entry.packets, entry.dns, entry.interfaces,
                            entry.errors)
        parts.append(entry)
    cache.save_index()
    if not parts:
        from pcapkit.decode.files import decode_empty

        return decode_empty()
    packets = concat_tables([p.packets for p in parts])
    dns = _categories_of(concat_tables([p.dns for p in parts]), packets, parts[0].dns)
    return Decoded(packets, dns,
                   concat_tables([p.interfaces for p in parts]),
                   [e for p in parts for e in p.errors])


def _categories_of(dns: pd.DataFrame, packets: pd.DataFrame,
                   like: pd.DataFrame) -> pd.DataFrame:
    """The combined DNS table with the categories decoding the files together gives it:
    those of the packet column a key was taken from, else its own with the label dtype
    the per-file tables have (``like``)."""
    for name in dns.columns if len(dns) else ():  # no messages: the empty table as is
        if not isinstance(dns[name].dtype, pd.CategoricalDtype):
            continue
        if name in packets.columns and isinstance(packets[name].dtype, pd.CategoricalDtype):
            dns[name] = dns[name].cat.set_categories(packets[name].cat.categories)
        elif name in like.columns and isinstance(like[name].dtype, pd.CategoricalDtype):
            labels = like[name].cat.categories.dtype
            dns[name] = dns[name].cat.rename_categories(
                pd.Index(dns[name].cat.categories, dtype=labels))
    return dns


def _read_together(files: list[Path], config: DecodeConfig, cache: DecodeCache
                   ) -> Decoded | None:
    """Every file's cached tables as one set, or None when a file has no entry (or its
    entries do not line up: the file-by-file path then decides)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pcapkit.decode.files import Decoded

    if not files or not all(_worth_caching(path) for path in files):
        return None
    try:
        entries = [cache.directory / cache.key(path, config) for path in files]
        if not all((entry / "done").exists() for entry in entries):
            return None
        dtypes = json.loads((entries[0] / "dtypes.json").read_text())
        tables = {}
        for name in _TABLES:
            parts = [_named(pq.read_table(entry / f"{name}.parquet"), str(path))
                     for path, entry in zip(files, entries, strict=True)]
            tables[name] = frame_of(pa.concat_tables(parts), dtypes[name])
        errors = [e for path, entry in zip(files, entries, strict=True)
                  for e in _entry_errors(entry, str(path))]
    except (OSError, ValueError, pa.ArrowException):
        return None
    cache.hits += len(files)
    dns = _categories_of(tables["dns"], tables["packets"], tables["dns"])
    return Decoded(tables["packets"], dns, tables["interfaces"], errors)


def _entry_errors(entry: Path, name: str) -> list[CaptureError]:
    """The read errors an entry keeps, as errors of the file called ``name`` this time."""
    return [CaptureError(name, e["offset"], e["message"])
            for e in json.loads((entry / "errors.json").read_text())]


def _named(table, name: str):
    """An entry's Arrow table with its ``file`` column naming ``name`` (the path given
    this time), as ``Decoded.renamed`` names a pandas one."""
    import pyarrow as pa

    if "file" not in table.column_names:
        return table
    at = table.column_names.index("file")
    column = table.column("file").combine_chunks()
    if pa.types.is_dictionary(column.type):
        labels = pa.array([name] if len(column.dictionary) else [], type=pa.string())
        renamed = pa.DictionaryArray.from_arrays(column.indices, labels)
    else:
        renamed = pa.array([name] * len(column), type=column.type)
    return table.set_column(at, table.schema.field(at).with_type(renamed.type), renamed)
