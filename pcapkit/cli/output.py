"""Writing a table in the format a user asked for, where they asked for it.

Text formats show values as people read them, decided here for every command by the
column's name and dtype: TCP flags as tcpdump's letters, ``payload_head`` as hex, IP
protocol numbers and ICMP/ICMPv6 types by name, lists as JSON, times as ISO 8601 UTC; one mark (``-``) for a
missing value in a table, an empty field in CSV. JSON and Parquet keep the machine values.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pcapkit.schema import Table

FORMATS = ("table", "csv", "json", "parquet")
#: what each --format writes (the --format help of every table command)
FORMAT_HELP = (
    "table: aligned text for people, the table's brief columns, as many as fit the "
    "terminal (in a file: all of them; --columns, --all-columns choose others), '-' for a "
    "missing value; csv: every column, values as in the table "
    "(TCP flags as tcpdump's letters, payload_head in hex, IP protocols and ICMP types by "
    "name, lists as JSON), a missing value an empty field; json: JSON lines of the machine values (numbers, "
    "ISO 8601 UTC times with every nanosecond, null); parquet: the typed columns of "
    "docs/columns.md.")
#: the one mark of a missing value in a text table
NULL = "-"

#: IP protocol numbers by the names tables show; the flow table's own names
#: (pcapkit.flows.build.PROTO_NAMES) first, then the IANA keywords of the others a cluster
#: meets, lower case as Linux's /etc/protocols writes them
PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6", 132: "sctp",
                  2: "igmp", 4: "ipip", 33: "dccp", 41: "ipv6", 47: "gre", 50: "esp", 51: "ah",
                  59: "ipv6-nonxt", 88: "eigrp", 89: "ospf", 103: "pim", 112: "vrrp",
                  115: "l2tp", 136: "udplite", 137: "mpls-in-ip"}
#: columns holding an IP protocol (a number, or the flow table's name-or-number)
PROTOCOL_COLUMNS = ("proto", "ip_proto", "outer_proto", "icmp_orig_proto")
#: ICMP and ICMPv6 message types by the names tables show, keyed by the IP protocol that
#: carries them (1, 58): Wireshark's type names (packet-icmp.c's icmp_type_str, ICMPv6's as
#: ``tshark -G values`` lists them) lower case and hyphenated, shortened as people say them:
#: a parenthesis ("(ping)") and the word "message" dropped, "destination" to dest, ICMP's
#: "time-to-live exceeded" to time-exceeded (RFC 792's and ICMPv6's name for the type); a
#: reserved, private or unnamed type shows as its number
ICMP_TYPE_NAMES = {
    1: {0: "echo-reply", 3: "dest-unreachable", 4: "source-quench", 5: "redirect",
        6: "alternate-host-address", 8: "echo-request", 9: "router-advertisement",
        10: "router-solicitation", 11: "time-exceeded", 12: "parameter-problem",
        13: "timestamp-request", 14: "timestamp-reply", 15: "information-request",
        16: "information-reply", 17: "address-mask-request", 18: "address-mask-reply",
        30: "traceroute", 31: "datagram-conversion-error", 32: "mobile-host-redirect",
        33: "ipv6-where-are-you", 34: "ipv6-i-am-here", 35: "mobile-registration-request",
        36: "mobile-registration-reply", 37: "domain-name-request", 38: "domain-name-reply",
        39: "skip", 40: "photuris", 41: "experimental-mobility-protocols",
        42: "extended-echo-request", 43: "extended-echo-reply"},
    58: {1: "dest-unreachable", 2: "packet-too-big", 3: "time-exceeded",
         4: "parameter-problem", 128: "echo-request", 129: "echo-reply",
         130: "multicast-listener-query", 131: "multicast-listener-report",
         132: "multicast-listener-done", 133: "router-solicitation",
         134: "router-advertisement", 135: "neighbor-solicitation",
         136: "neighbor-advertisement", 137: "redirect", 138: "router-renumbering",
         139: "node-information-query", 140: "node-information-reply",
         141: "inverse-neighbor-discovery-solicitation",
         142: "inverse-neighbor-discovery-advertisement", 143: "multicast-listener-report-v2",
         144: "home-agent-address-discovery-request", 145: "home-agent-address-discovery-reply",
         146: "mobile-prefix-solicitation", 147: "mobile-prefix-advertisement",
         148: "certification-path-solicitation", 149: "certification-path-advertisement",
         150: "experimental-mobility", 151: "multicast-router-advertisement",
         152: "multicast-router-solicitation", 153: "multicast-router-termination",
         154: "fmipv6", 155: "rpl-control", 156: "locator-update",
         157: "duplicate-address-request", 158: "duplicate-address-confirmation",
         159: "mpl-control", 160: "extended-echo-request", 161: "extended-echo-reply"},
}
#: the column holding an ICMP/ICMPv6 type, and the one saying which of the two (its row's
#: IP protocol)
ICMP_TYPE_COLUMN, ICMP_PROTOCOL_COLUMN = "icmp_type", "proto"
#: TCP flag bits in the order tcpdump prints them, with its letters (ACK is ".", and
#: 4.99's "e" is AE, the former NS bit)
TCP_FLAG_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."),
                    (0x20, "U"), (0x40, "E"), (0x80, "W"), (0x100, "e"))


@dataclass(frozen=True)
class Output:
    """``--format`` and ``--output``: stdout or a file; missing parent directories are
    created, and a path that cannot be written is a usage error, not a traceback.

    ``columns``, ``all_columns`` and ``where`` choose what of a table is written; they
    apply once :meth:`of` has bound the output to the table's declaration.
    """

    fmt: str
    path: str | None
    columns: tuple[str, ...] = ()
    all_columns: bool = False
    where: tuple[str, ...] = ()
    table: Table | None = None
    mask: Callable[[pd.DataFrame], np.ndarray] | None = field(default=None, compare=False)

    @property
    def is_directory(self) -> bool:
        """The path names a directory: an existing one, or one ending in a separator."""
        return self.path is not None and (self.path.endswith(("/", os.sep))
                                          or os.path.isdir(self.path))

    @property
    def selects(self) -> bool:
        """--columns or --where choose part of the table."""
        return bool(self.columns or self.where)

    def check(self, *, directory: bool = False) -> None:
        """Refuse, before any work, what cannot be written: parquet to stdout, and a
        directory unless the command writes one (``directory``)."""
        if self.fmt == "parquet" and not self.path:
            raise click.UsageError("--format parquet needs --output FILE")
        if self.is_directory and not directory:
            raise click.BadParameter(f"{self.path} is a directory; name a file",
                                     param_hint="--output")
        if self.columns and self.all_columns:
            raise click.UsageError("--columns and --all-columns: give one of them")

    def of(self, table: Table) -> Output:
        """This output for rows of ``table``: ``--columns`` and ``--where`` checked against
        its declaration now, before any work (an unknown column names the closest ones)."""
        mask = None
        if self.selects:  # the rule engine's checks (and pandas) only when they are needed
            from pcapkit.cli.where import WhereError, where_mask
            from pcapkit.rules.compile import ConditionError, column_of

            for name in self.columns:
                try:
                    column_of(table, name)
                except ConditionError as exc:
                    raise click.BadParameter(f"{exc} ({exc.hint})", param_hint="--columns") \
                        from None
            try:
                mask = where_mask(self.where, table) if self.where else None
            except WhereError as exc:
                raise click.BadParameter(str(exc), param_hint="--where") from None
        return dataclasses.replace(self, table=table, mask=mask)

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
        """Write the rows ``--where`` keeps, the columns ``--columns`` names (all of them by
        default; a terminal table: the brief ones that fit), as table/csv/json/parquet to
        the file or stdout."""
        self.check()
        if self.mask is not None:
            frame = frame[self.mask(frame)]
        if self.fmt in ("table", "csv"):  # before --columns: a type's name needs its protocol
            frame = _icmp_types_named(frame)
        if self.columns:
            frame = frame[list(self.columns)]
        with self.writing():
            if self.fmt == "parquet":
                frame.to_parquet(self.path, index=False)
                return
            chunks = self._text(frame)
            if self.path:
                with open(self.path, "w", encoding="utf-8") as handle:
                    handle.writelines(chunks)
            else:
                sys.stdout.writelines(chunks)

    def _text(self, frame: pd.DataFrame) -> Iterable[str]:
        if self.fmt == "csv":
            return [_json_lists(_readable(frame)).to_csv(index=False)]
        if self.fmt == "json":
            text = _iso_times(_plain(frame)).to_json(orient="records", lines=True,
                                                     date_format="iso", date_unit="ns")
            # pandas writes "/" as "\/" (legal, unreadable in paths); every "\/" it writes
            # is that escape, since a data backslash comes out as "\\"
            return [text.replace("\\/", "/")]
        brief = not self.columns and not self.all_columns and self.table is not None \
            and bool(self.table.brief)
        names = [n for n in self.table.brief if n in frame.columns] if brief else \
            list(frame.columns)
        width = shutil.get_terminal_size().columns if brief and not self.path else None
        return text_table(frame, names, width)


#: rows rendered at a time: the text of a chunk is a few megabytes, whatever the table
TABLE_CHUNK = 16384


def text_table(frame: pd.DataFrame, names: list[str], width: int | None = None
               ) -> Iterator[str]:
    """``frame``'s columns ``names`` as aligned text, a chunk of rows at a time (numbers
    right, text left, ``-`` for every missing value); with a ``width``, only the leading
    columns that fit in it (the first one always). Each distinct value of a column is
    formatted and padded once; a chunk's rows are one character matrix of those."""
    import re

    import numpy as np

    shown: list[tuple[str, np.ndarray, np.ndarray]] = []  # header, codes, padded labels
    used = 0
    for name in names:
        codes, labels = _coded(frame[name], name, NULL)
        labels = labels.astype(str)
        labels[labels == ""] = NULL  # an empty text reads as missing too: one mark for both
        present = np.zeros(len(labels), dtype=bool)
        present[codes] = True
        wide = max(len(name), int(np.char.str_len(labels[present]).max(initial=0)))
        if width is not None and shown and used + 2 + wide > width:
            break
        used += (2 if shown else 0) + wide
        numeric = frame[name].dtype.kind in "iuf" and name not in _NAMED
        pad = np.char.rjust if numeric else np.char.ljust
        shown.append((str(pad(name, wide)), codes, pad(labels, wide).astype(f"<U{wide}")))
    if not shown:
        yield "\n"
        return
    yield "  ".join(header for header, _, _ in shown).rstrip() + "\n"
    trailing = re.compile(" +\n")
    for start in range(0, len(frame), TABLE_CHUNK):
        rows = slice(start, start + TABLE_CHUNK)
        count = len(shown[0][1][rows])
        gap = np.full((count, 2), ord(" "), dtype=np.uint32)
        parts = []
        for _, codes, padded in shown:
            parts += [padded[codes[rows]].view(np.uint32).reshape(count, -1), gap]
        parts[-1] = np.full((count, 1), ord("\n"), dtype=np.uint32)
        matrix = np.concatenate(parts, axis=1)
        yield trailing.sub("\n", matrix.tobytes().decode("utf-32-le"))


#: columns shown as names or letters (left-aligned like text, whatever their dtype)
_NAMED = ("tcp_flags", "payload_head", *PROTOCOL_COLUMNS)


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns people read differently from their values (flags, hex, protocols) as
    text, None where missing; the others as they are."""
    named = [n for n in frame.columns if n in _NAMED]
    if not named:
        return frame
    out = frame.copy(deep=False)
    for name in named:
        out[name] = _cells(frame[name], name, None)
    return out


def _cells(series: pd.Series, name: str, missing: object) -> np.ndarray:
    """Object array of every row's value as text, ``missing`` for nulls."""
    codes, labels = _coded(series, name, missing)
    return labels[codes]


def _coded(series: pd.Series, name: str, missing: object) -> tuple[np.ndarray, np.ndarray]:
    """(code of every row, text of each code): each distinct value is formatted once (a
    categorical's categories, else the factorized values); the last label is ``missing``,
    the one null rows (code -1) pick."""
    import numpy as np
    import pandas as pd

    if _holds_lists(series):  # not hashable: a code per row
        return np.arange(len(series)), np.append(_json_cells(series, missing), missing)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(np.int64), series.cat.categories
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, np.append(_labels(pd.Index(uniques), name), missing)


def _labels(values: pd.Index, name: str) -> np.ndarray:
    """Text of distinct non-null values of column ``name``."""
    import numpy as np
    import pandas as pd

    if name == "tcp_flags" and values.dtype.kind in "iu":
        return _lookup("flags")[values.to_numpy(np.int64) & 0x1FF]
    if name == "payload_head" and values.dtype.kind in "iu":
        head = values.to_numpy(np.uint64).astype(">u8").view(np.uint8).reshape(-1, 8)
        return np.ascontiguousarray(_lookup("hex")[head]).view("<U16").ravel().astype(object)
    if name in PROTOCOL_COLUMNS:
        text = values.astype(str)
        numbers = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy()
        known = ~np.isnan(numbers) & (numbers >= 0) & (numbers < 256)
        out = np.asarray(text, dtype=object)
        out[known] = _lookup("protocols")[numbers[known].astype(np.int64)]
        return out
    if isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M":
        return _time_text(values)
    if values.dtype.kind == "f":
        return np.char.mod("%.6g", values.to_numpy(np.float64)).astype(object)
    return np.asarray(values.astype(str), dtype=object)


def _icmp_types_named(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ICMP type column as names (a categorical), each row's type named
    for its protocol (ICMP or ICMPv6: type 3 is dest-unreachable in one, time-exceeded in
    the other); the number when the type is unnamed or the row's protocol is neither (or
    the frame has no protocol column)."""
    import numpy as np
    import pandas as pd

    if ICMP_TYPE_COLUMN not in frame.columns or frame[ICMP_TYPE_COLUMN].dtype.kind not in "iuf":
        return frame
    types = frame[ICMP_TYPE_COLUMN].to_numpy(np.float64, na_value=np.nan)
    present = ~np.isnan(types) & (types >= 0) & (types < 256)
    families = tuple(ICMP_TYPE_NAMES)  # the row's family: its index, or len() for neither
    family = np.full(len(frame), len(families), dtype=np.int64)
    if ICMP_PROTOCOL_COLUMN in frame.columns:
        protocols = frame[ICMP_PROTOCOL_COLUMN]
        if protocols.dtype.kind in "iuf":
            numbers = protocols.to_numpy(np.float64, na_value=np.nan)
        else:  # a name-or-number column (the flow table's): each distinct value once
            codes, uniques = pd.factorize(protocols, use_na_sentinel=True)
            by_name = {text: number for number, text in PROTOCOL_NAMES.items()}
            known = [by_name.get(str(v), pd.to_numeric(str(v), errors="coerce"))
                     for v in uniques]
            numbers = np.append(np.asarray(known, dtype=np.float64), np.nan)[codes]
        for index, number in enumerate(families):
            family[numbers == number] = index
    key = np.where(present, family * 256 + np.where(present, types, 0).astype(np.int64), -1)
    labels, codes = np.unique(_lookup("icmp"), return_inverse=True)
    out = frame.copy(deep=False)
    out[ICMP_TYPE_COLUMN] = pd.Categorical.from_codes(
        np.where(key >= 0, codes[np.maximum(key, 0)], -1), categories=labels)
    return out


def flag_letters(flags: int) -> str:
    """TCP flags as tcpdump prints them: ``S.`` for a SYN-ACK, ``none`` for no flag."""
    return "".join(letter for bit, letter in TCP_FLAG_LETTERS if flags & bit) or "none"


@functools.cache
def _lookup(what: str) -> np.ndarray:
    """A lookup table, built on first use: ``flags`` (tcpdump letters of each 9-bit value),
    ``hex`` (two digits of each byte), ``protocols`` (name of each IP protocol number),
    ``icmp`` (name of each type of each ICMP_TYPE_NAMES family, 256 a family, then the
    numbers of a row that is neither)."""
    import numpy as np

    if what == "flags":
        return np.array([flag_letters(value) for value in range(0x200)], dtype=object)
    if what == "hex":
        return np.array([f"{byte:02x}" for byte in range(256)], dtype="<U2")
    if what == "icmp":
        return np.array([names.get(n, str(n)) for names in (*ICMP_TYPE_NAMES.values(), {})
                         for n in range(256)], dtype=object)
    return np.array([PROTOCOL_NAMES.get(n, str(n)) for n in range(256)], dtype=object)


def _time_text(values: pd.Index, unit: str | None = None) -> np.ndarray:
    """ISO 8601 text of times (``Z`` after a UTC-aware one) to ``unit``; by default with
    as many fraction digits as the values need (whole seconds, ms, us or ns)."""
    import numpy as np
    import pandas as pd

    aware = isinstance(values.dtype, pd.DatetimeTZDtype)
    if aware:
        values = values.tz_convert("UTC").tz_localize(None)
    ns = values.to_numpy("datetime64[ns]")
    if unit is None:
        fraction = ns.view(np.int64) % 1_000_000_000
        unit = next((u for u, step in (("s", 10**9), ("ms", 10**6), ("us", 10**3))
                     if not (fraction % step).any()), "ns")
    text = np.datetime_as_string(ns, unit=unit)
    return (np.char.add(text, "Z") if aware else text).astype(object)


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
    for name in frame.columns:
        if _holds_lists(frame[name]):
            frame[name] = _json_cells(frame[name], None)
    return frame


def _holds_lists(column: pd.Series) -> bool:
    if column.dtype != object:
        return False
    sample = column.dropna()
    return bool(len(sample)) and isinstance(sample.iloc[0], list | tuple | dict)


def _json_cells(column: pd.Series, missing: object) -> np.ndarray:
    """Every list/dict value as JSON text, ``missing`` for nulls."""
    import json

    import numpy as np

    return np.array([missing if v is None or (isinstance(v, float) and v != v)
                     else json.dumps(v, default=str) for v in column], dtype=object)


def _iso_times(frame: pd.DataFrame) -> pd.DataFrame:
    """Time columns as ISO 8601 text with every nanosecond digit (``Z`` for UTC), null
    where missing: pandas' ``to_json`` cuts tz-aware times to microseconds."""
    import numpy as np
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype) or column.dtype.kind == "M":
            text = _time_text(pd.DatetimeIndex(column), "ns")
            frame[name] = np.where(column.isna().to_numpy(), None, text)
    return frame
