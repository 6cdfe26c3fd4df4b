"""Writing a DataFrame in the format a user asked for."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "csv", "json", "parquet")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals and nullable types as plain values, for text formats."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object)
    return out


def write_frame(frame: pd.DataFrame, fmt: str, output: str | None) -> None:
    """Write ``frame`` as table/csv/json/parquet to ``output`` or stdout."""
    if fmt == "parquet":
        if not output:
            raise click.UsageError("--format parquet needs --output FILE")
        frame.to_parquet(output, index=False)
        return
    if fmt == "csv":
        text = _plain(frame).to_csv(index=False)
    elif fmt == "json":
        text = _plain(frame).to_json(orient="records", lines=True, date_format="iso",
                                     date_unit="ns")
    elif not len(frame):  # pandas would print "Empty DataFrame" and a column list
        text = "  ".join(frame.columns) + "\n"
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None,
                               "display.width", 250):
            text = _plain(frame).to_string(index=False) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
