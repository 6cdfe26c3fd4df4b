"""Writing a DataFrame in the format a user asked for, where they asked for it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "csv", "json", "parquet")


@dataclass(frozen=True)
class Output:
    """``--format`` and ``--output``: stdout or a file; missing parent directories are
    created, and a path that cannot be written is a usage error, not a traceback."""

    fmt: str
    path: str | None

    @property
    def is_directory(self) -> bool:
        """The path names a directory: an existing one, or one ending in a separator."""
        return self.path is not None and (self.path.endswith(("/", os.sep))
                                          or os.path.isdir(self.path))

    def check(self, *, directory: bool = False) -> None:
        """Refuse, before any work, what cannot be written: parquet to stdout, and a
        directory unless the command writes one (``directory``)."""
        if self.fmt == "parquet" and not self.path:
            raise click.UsageError("--format parquet needs --output FILE")
        if self.is_directory and not directory:
            raise click.BadParameter(f"{self.path} is a directory; name a file",
                                     param_hint="--output")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Create the output's parent directories; an OSError while writing becomes a
        usage error naming the path."""
        try:
            if self.path:
                target = Path(self.path)
                (target if self.is_directory else target.parent).mkdir(parents=True,
                                                                       exist_ok=True)
            yield
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):  # a file in the way
                reason = f"{exc.filename} is not a directory"
            raise click.BadParameter(f"cannot write {self.path}: {reason}",
                                     param_hint="--output") from None

    def write(self, frame: pd.DataFrame) -> None:
        """Write ``frame`` as table/csv/json/parquet to the file or stdout."""
        self.check()
        with self.writing():
            if self.fmt == "parquet":
                frame.to_parquet(self.path, index=False)
                return
            text = _text(frame, self.fmt)
            if self.path:
                with open(self.path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            else:
                sys.stdout.write(text)


def _text(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return _json_lists(_plain(frame)).to_csv(index=False)
    if fmt == "json":
        text = _iso_times(_plain(frame)).to_json(orient="records", lines=True,
                                                 date_format="iso", date_unit="ns")
        # pandas writes "/" as "\/" (legal, unreadable in paths); every "\/" it writes is
        # that escape, since a data backslash comes out as "\\"
        return text.replace("\\/", "/")
    if not len(frame):  # pandas would print "Empty DataFrame" and a column list
        return "  ".join(frame.columns) + "\n"
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.width", 250):
        return _plain(frame).to_string(index=False) + "\n"


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals and nullable types as plain values, for text formats."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object)
    return out


def _json_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """List and dict values (DNS answers, TTLs, address lists) as JSON text, not Python
    reprs, so a CSV cell can be read back by any tool."""
    import json

    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        sample = column.dropna()
        if len(sample) and isinstance(sample.iloc[0], list | tuple | dict):
            frame[name] = [None if v is None or (isinstance(v, float) and v != v)
                           else json.dumps(v, default=str) for v in column]
    return frame


def _iso_times(frame: pd.DataFrame) -> pd.DataFrame:
    """Time columns as ISO 8601 text with every nanosecond digit (``Z`` for UTC), null
    where missing: pandas' ``to_json`` cuts tz-aware times to microseconds."""
    import numpy as np
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        aware = isinstance(column.dtype, pd.DatetimeTZDtype)
        if not aware and column.dtype.kind != "M":
            continue
        values = column.dt.tz_convert("UTC").dt.tz_localize(None) if aware else column
        text = np.datetime_as_string(values.to_numpy("datetime64[ns]"), unit="ns")
        if aware:
            text = np.char.add(text, "Z")
        frame[name] = np.where(column.isna().to_numpy(), None, text.astype(object))
    return frame
