"""Compile a Sigma detection (pySigma's condition tree) into a vectorised pandas mask.

pySigma parses the rule's YAML and its condition grammar into typed nodes: AND/OR/NOT, and
leaves that compare one field with one value (a wildcard string, a number, a comparison, a
CIDR, a regular expression, null, exists, a boolean, another field). Each leaf becomes a
function from a table to a boolean numpy array; the tree combines them with ``&``, ``|`` and
``~``. Nothing in a rule is ever evaluated as code: no ``eval``, no ``DataFrame.query``.

Every leaf is checked against the table's declaration while compiling (so at load time):
the column must exist and the value must fit its kind (numbers and comparisons on integer
and float columns are numbers; on time columns, times; CIDRs on address columns; strings,
wildcards and regular expressions on text columns). pySigma compares numbers only, so
:func:`time_values` first turns the times a detection compares with a time column (ISO 8601,
UTC when no zone is given, or epoch seconds) into nanoseconds since the epoch, the number a
time column is compared with. pySigma holds such a number as a float (ns since the epoch
need 61 bits, a float keeps 53), so time_values also gives back each time's exact
nanoseconds by the float pySigma will hold, and the comparison is exact. Text predicates
are evaluated once per distinct value (a categorical's categories, or the factorized
values) and spread to the rows by their codes.
Regular expressions, and the wildcards Sigma strings may hold, are matched with RE2
(linear time whatever the pattern, so a rule cannot hang the engine), case-insensitively as
Sigma specifies unless the value is ``|cased``.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from pcapkit.rules.regex import RegexError, compile_re2
from pcapkit.schema import INTEGER_KINDS, TEXT_KINDS, Table

Mask = Callable[[pd.DataFrame], np.ndarray]
NUMERIC_KINDS = (*INTEGER_KINDS, "f64")
#: the modifiers that compare a value with a time column (none: equal to it)
TIME_MODIFIERS = frozenset({"gt", "gte", "lt", "lte"})


class ConditionError(ValueError):
    """A detection that does not fit the table: names the field and gives a hint."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.field = field
        self.hint = hint


def compile_condition(node: ConditionItem, table: Table,
                      times: Mapping[float, int] | None = None) -> Mask:
    """The mask function of a parsed Sigma condition over ``table``; ``times``: the exact
    nanoseconds of the times the detection compares with time columns, by the float
    pySigma holds (:func:`time_values`)."""
    if isinstance(node, ConditionAND | ConditionOR):
        parts = [compile_condition(arg, table, times) for arg in node.args]
        combine = np.logical_and if isinstance(node, ConditionAND) else np.logical_or

        def combined(frame: pd.DataFrame) -> np.ndarray:
            out = parts[0](frame)
            for part in parts[1:]:
                out = combine(out, part(frame))
            return out
        return combined
    if isinstance(node, ConditionNOT):
        inner = compile_condition(node.args[0], table, times)
        return lambda frame: ~inner(frame)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node.field, node.value, table, times or {})
    if isinstance(node, ConditionValueExpression):
        raise ConditionError(f"keyword search ({node.value}) without a field: pcapkit rules "
                             "compare a column of the table with a value")
    raise ConditionError(f"unsupported condition element {type(node).__name__}")


def time_values(detection: dict, table: Table,
                times: dict[float, int] | None = None) -> tuple[dict, dict[float, int]]:
    """``detection`` (a Sigma detection as YAML holds it: selections of ``field|modifiers``
    keys) with every value compared with a time column of ``table``, plainly or with
    ``|gt`` ``|gte`` ``|lt`` ``|lte``, as integer nanoseconds since the epoch: ISO 8601 text
    (UTC when it names no zone), a YAML timestamp or epoch seconds, read by
    :func:`pcapkit.capture.capture_time` as ``--since`` is; and ``times`` (a new dict when
    None) given each one's exact nanoseconds by the float pySigma will hold, for
    :func:`compile_condition`. A value that is no time is a ConditionError naming the
    field; ``null`` stays null."""
    exact = {} if times is None else times

    def one(name: str, value: object) -> object:
        ns = _time_ns(name, value)
        if ns is not None:
            if exact.setdefault(float(ns), ns) != ns:
                raise ConditionError(f"times {_iso(exact[float(ns)])} and {_iso(ns)} are "
                                     "too close to tell apart in one rule (256 ns)", name)
        return ns

    def values(key: str, value: object) -> object:
        name, *modifiers = str(key).split("|")
        if name not in table or table[name].kind != "ts" or not TIME_MODIFIERS >= set(modifiers):
            return value
        return [one(name, v) for v in value] if isinstance(value, list) else one(name, value)

    def selection(value: object) -> object:
        if isinstance(value, dict):
            return {key: values(key, v) for key, v in value.items()}
        if isinstance(value, list):
            return [selection(v) for v in value]
        return value

    return {name: value if name == "condition" else selection(value)
            for name, value in detection.items()}, exact


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()


def _time_ns(field: str, value: object) -> int | None:
    from pcapkit.capture import capture_time
    from pcapkit.errors import PcapkitError

    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise PcapkitError(f"{field}: {value!r} is not a time")
        return int(capture_time(value, field).value)
    except PcapkitError as exc:
        raise ConditionError(str(exc), field, "a time without a zone is UTC") from None


def column_of(table: Table, field: str | None):
    """The declared column ``field``; a ConditionError with the closest names otherwise."""
    if field is None:
        raise ConditionError("a detection item without a field name", field)
    if field in table:
        return table[field]
    close = difflib.get_close_matches(field, table.names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else \
        f"the {table.name} table's columns are listed in docs/columns.md"
    raise ConditionError(f"table {table.name!r} has no column {field!r}", field, hint)


def _leaf(field: str, value: object, table: Table, times: Mapping[float, int]) -> Mask:
    column = column_of(table, field)
    kind = column.kind

    def wrong(what: str, hint: str) -> ConditionError:
        return ConditionError(f"{what} does not fit column {field!r} ({kind})", field, hint)

    if isinstance(value, SigmaNull):
        return lambda frame: frame[field].isna().to_numpy()
    if isinstance(value, SigmaExists):
        return (lambda frame: frame[field].notna().to_numpy()) if value.exists else \
            (lambda frame: frame[field].isna().to_numpy())
    if kind == "list":
        raise wrong("a value", "list columns support only |exists and null")
    if isinstance(value, SigmaFieldReference):
        other = column_of(table, value.field)
        if (kind in NUMERIC_KINDS) != (other.kind in NUMERIC_KINDS):
            raise wrong(f"|fieldref to {other.name!r} ({other.kind})",
                        "compare a column with one of the same kind")
        return _fieldref(field, other.name, kind in NUMERIC_KINDS)
    if isinstance(value, SigmaBool):
        if kind != "bool":
            raise wrong("true/false", "booleans compare with bool columns")
        return lambda frame: (frame[field].to_numpy(dtype=object, na_value=None)
                              == value.boolean)
    if kind == "ts" and isinstance(value, SigmaNumber | SigmaCompareExpression):
        number = (value if isinstance(value, SigmaNumber) else value.number).number
        return _times(field, _OPERATORS.get(getattr(value, "op", None), "eq"),
                      times.get(float(number), int(number)))
    if isinstance(value, SigmaNumber):
        if kind not in NUMERIC_KINDS:
            raise wrong(f"the number {value.number}",
                        "quote it to compare as text" if kind in TEXT_KINDS else
                        "numbers compare with integer and float columns")
        return _numeric(field, "eq", float(value.number))
    if isinstance(value, SigmaCompareExpression):
        if kind not in NUMERIC_KINDS:
            raise wrong("a comparison (|gt, |gte, |lt, |lte)",
                        "comparisons need an integer, float or time column")
        return _numeric(field, _OPERATORS[value.op], float(value.number.number))
    if isinstance(value, SigmaCIDRExpression):
        if kind != "ip":
            raise wrong("|cidr", "CIDRs match address columns (kind ip)")
        network = value.network
        return _per_value(field, lambda text: in_network(text, network))
    if isinstance(value, SigmaRegularExpression):
        if kind not in TEXT_KINDS:
            raise wrong("|re", "regular expressions match text columns")
        pattern = value.regexp.original if value.regexp.original is not None else \
            str(value.regexp)
        return _per_value(field, _re2_search(
            pattern, SigmaRegularExpressionFlag.IGNORECASE in value.flags, field))
    if isinstance(value, SigmaString):
        if kind in NUMERIC_KINDS and not value.contains_special():
            number = _number(value.to_plain())
            if number is None:
                raise wrong(f"the text {value.to_plain()!r}", "this column holds numbers")
            return _numeric(field, "eq", number)
        if kind not in TEXT_KINDS:
            raise wrong(f"the text {value.to_plain()!r}",
                        "text (with wildcards) matches text columns")
        cased = isinstance(value, SigmaCasedString)
        if not value.contains_special():
            plain = value.to_plain()
            return _per_value(field, (lambda text: text == plain) if cased else
                              (lambda text: text.casefold() == plain.casefold()))
        return _per_value(field, _re2_search("^" + value.to_regex().to_plain() + "$",
                                             not cased, field))
    raise wrong(f"a {type(value).__name__}", "see the Sigma modifiers pcapkit supports in "
                                             "rules/README.md")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _re2_search(pattern: str, ignore_case: bool, field: str) -> Callable[[str], bool]:
    try:
        compiled = compile_re2(pattern, ignore_case=ignore_case)
    except RegexError as exc:
        raise ConditionError(f"bad regular expression {pattern!r}: {exc}", field,
                             "RE2 syntax: no backreferences or lookaround") from exc
    return lambda text: compiled.search(text) is not None


def in_network(text: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(text) in network
    except ValueError:
        return False


def values_mask(series: pd.Series, predicate: Callable[[str], bool]) -> np.ndarray:
    """``predicate`` of every row's value as text, evaluated once per distinct non-null value
    (a categorical's categories, else the factorized values) and spread by the codes; null
    rows are False."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    answers = np.array([bool(predicate(str(v))) for v in uniques] + [False], dtype=bool)
    return answers[codes]  # code -1 (null) picks the trailing False


def _per_value(field: str, predicate: Callable[[str], bool]) -> Mask:
    return lambda frame: values_mask(frame[field], predicate)


def _numeric(field: str, op: str, number: float) -> Mask:
    compare = _COMPARE[op]

    def mask(frame: pd.DataFrame) -> np.ndarray:
        values = frame[field].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return compare(values, number)  # NaN (missing) compares False
    return mask


_OPERATORS = {CompareOperators.GT: "gt", CompareOperators.GTE: "ge",
              CompareOperators.LT: "lt", CompareOperators.LTE: "le"}
_COMPARE = {"eq": np.equal, "gt": np.greater, "ge": np.greater_equal, "lt": np.less,
            "le": np.less_equal}


def _times(field: str, op: str, ns: int) -> Mask:
    """A time column compared with ``ns`` (nanoseconds since the epoch), exactly: as int64
    nanoseconds, not floats; a missing time compares False."""
    compare = _COMPARE[op]

    def mask(frame: pd.DataFrame) -> np.ndarray:
        stamps = pd.DatetimeIndex(pd.to_datetime(frame[field], utc=True)).as_unit("ns")
        return compare(stamps.asi8, ns) & ~stamps.isna()
    return mask


def _fieldref(field: str, other: str, numeric: bool) -> Mask:
    def mask(frame: pd.DataFrame) -> np.ndarray:
        if numeric:
            a = frame[field].to_numpy(dtype=np.float64, na_value=np.nan)
            b = frame[other].to_numpy(dtype=np.float64, na_value=np.nan)
            return a == b
        a = frame[field].astype(object).to_numpy(dtype=object, na_value=None)
        b = frame[other].astype(object).to_numpy(dtype=object, na_value=None)
        present = pd.notna(a) & pd.notna(b)
        out = np.zeros(len(a), dtype=bool)
        out[present] = a[present].astype(str) == b[present].astype(str)
        return out
    return mask
