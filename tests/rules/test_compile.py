"""Sigma detections compiled to pandas masks: every supported modifier, on every kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sigma.collection import SigmaCollection

from pcapkit.rules.compile import ConditionError, compile_condition
from pcapkit.schema import Column, Table
from pcapkit.schema.convert import build_frame

TABLE = Table("t", "a test row", (
    Column("name", "str", "A name."),
    Column("kind", "category", "A category."),
    Column("addr", "ip", "An address."),
    Column("port", "u16", "A port."),
    Column("rate", "f64", "A rate."),
    Column("flag", "bool", "A flag."),
    Column("other", "str", "Another name."),
    Column("items", "list", "A list."),
))
FRAME = build_frame(TABLE, {
    "name": ["api.Shop.svc", "db.shop.svc", None, "web"],
    "kind": ["pod", "Service", "pod", None],
    "addr": ["10.244.1.5", "10.96.0.10", "fd00::5", None],
    "port": np.array([53, 8080, -1, 443]),
    "rate": [0.5, 2.0, None, 10.0],
    "flag": [True, False, None, True],
    "other": ["api.shop.svc", "x", None, "web"],
    "items": [[1], [], None, [2, 3]],
})


def mask(detection: str) -> list[bool]:
    rule = SigmaCollection.from_yaml(f"""
title: t
id: 11111111-2222-3333-4444-555555555555
logsource: {{product: pcapkit, category: t}}
detection:
{detection}
""").rules[0]
    masks = [compile_condition(c.parse(), TABLE) for c in rule.detection.parsed_condition]
    return [bool(v) for v in masks[0](FRAME)]


@pytest.mark.parametrize(("detection", "expected"), [
    ("  s: {name: db.shop.svc}\n  condition: s", [False, True, False, False]),
    ("  s: {name: DB.SHOP.SVC}\n  condition: s", [False, True, False, False]),  # Sigma: no case
    ("  s: {name|cased: DB.SHOP.SVC}\n  condition: s", [False, False, False, False]),
    ("  s: {name|contains: shop}\n  condition: s", [True, True, False, False]),
    ("  s: {name|startswith: api}\n  condition: s", [True, False, False, False]),
    ("  s: {name|endswith: .svc}\n  condition: s", [True, True, False, False]),
    ("  s: {name: '*.s?op.*'}\n  condition: s", [True, True, False, False]),
    ("  s: {name: [web, db.shop.svc]}\n  condition: s", [False, True, False, True]),
    ("  s: {name|re: '^[a-z]+\\.shop'}\n  condition: s", [False, True, False, False]),
    ("  s: {name|re|i: '^[a-z]+\\.shop'}\n  condition: s", [True, True, False, False]),
    ("  s: {kind: service}\n  condition: s", [False, True, False, False]),
    ("  s: {addr|cidr: 10.244.0.0/16}\n  condition: s", [True, False, False, False]),
    ("  s: {addr|cidr: ['10.96.0.0/12', 'fd00::/8']}\n  condition: s", [False, True, True, False]),
    ("  s: {port: 53}\n  condition: s", [True, False, False, False]),
    ("  s: {port: '8080'}\n  condition: s", [False, True, False, False]),
    ("  s: {port|gt: 53}\n  condition: s", [False, True, False, True]),
    ("  s: {port|gte: 53}\n  condition: s", [True, True, False, True]),
    ("  s: {port|lt: 443}\n  condition: s", [True, False, False, False]),
    ("  s: {rate|lte: 2}\n  condition: s", [True, True, False, False]),
    ("  s: {flag: true}\n  condition: s", [True, False, False, True]),
    ("  s: {port: null}\n  condition: s", [False, False, True, False]),
    ("  s: {kind|exists: false}\n  condition: s", [False, False, False, True]),
    ("  s: {items|exists: true}\n  condition: s", [True, True, False, True]),
    ("  s: {name|fieldref: other}\n  condition: s", [False, False, False, True]),
    ("  a: {kind: pod}\n  b: {port|gt: 100}\n  condition: a or b", [True, True, True, True]),
    ("  a: {kind: pod}\n  b: {port: 53}\n  condition: a and not b", [False, False, True, False]),
    ("  a: {kind: pod, port: 53}\n  condition: a", [True, False, False, False]),
    ("  sel_a: {port: 53}\n  sel_b: {port: 443}\n  condition: 1 of sel_*", [True, False, False, True]),
    ("  s: {name|contains|all: [shop, db]}\n  condition: s", [False, True, False, False]),
])
def test_modifiers(detection: str, expected: list[bool]) -> None:
    assert mask(detection) == expected


@pytest.mark.parametrize(("detection", "message"), [
    ("  s: {nmae: x}\n  condition: s", "did you mean name"),
    ("  s: {name|cidr: 10.0.0.0/8}\n  condition: s", "CIDRs match address columns"),
    ("  s: {port|contains: '5'}\n  condition: s", "does not fit column 'port'"),
    ("  s: {name|gt: 5}\n  condition: s", "comparisons need an integer, float or time column"),
    ("  s: {name: 5}\n  condition: s", "quote it to compare as text"),
    ("  s: {port: abc}\n  condition: s", "this column holds numbers"),
    ("  s: {flag: pod}\n  condition: s", "does not fit column 'flag'"),
    ("  s: {items: 1}\n  condition: s", "list columns support only"),
    ("  s: [just a keyword]\n  condition: s", "keyword search"),
])
def test_conditions_that_do_not_fit_the_table_are_refused(detection: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        mask(detection)
    assert message in f"{caught.value} {caught.value.hint}"


def test_text_predicates_run_once_per_distinct_value() -> None:
    """A categorical with a million rows and three categories is three regex matches."""
    big = pd.DataFrame({"kind": pd.Categorical(np.repeat(["pod", "service", "node"], 400_000))})
    rule = SigmaCollection.from_yaml("""
title: t
id: 11111111-2222-3333-4444-555555555555
logsource: {product: pcapkit, category: t}
detection: {s: {kind|re: '^p'}, condition: s}
""").rules[0]
    compiled = compile_condition(rule.detection.parsed_condition[0].parse(), TABLE)
    result = compiled(big.assign(**{c: None for c in TABLE.names if c != "kind"}))
    assert result.sum() == 400_000


TIMED = Table("timed", "a row with a time", (
    Column("ts", "ts", "A time."),
    Column("port", "u16", "A port."),
))
#: one nanosecond apart, and a missing time: a float cannot tell the first two apart
TIMES = build_frame(TIMED, {
    "ts": pd.to_datetime(["2026-11-26T22:14:30.123456789Z", "2026-11-26T22:14:30.123456790Z",
                          "2026-11-26T23:00:00Z", None], utc=True, format="ISO8601"),
    "port": np.array([53, 53, 80, 443]),
})


def timed_mask(detection: str) -> list[bool]:
    """The mask over TIMES of a detection whose times are turned as the loader turns them."""
    import yaml
    from sigma.rule import SigmaDetections

    from pcapkit.rules.compile import time_values

    converted, times = time_values(yaml.safe_load(detection), TIMED)
    parsed = SigmaDetections.from_dict(converted)
    (condition,) = [c.parse() for c in parsed.parsed_condition]
    return [bool(v) for v in compile_condition(condition, TIMED, times)(TIMES)]


@pytest.mark.parametrize(("detection", "expected"), [
    ("{s: {ts|gt: '2026-11-26T22:14:30.123456789Z'}, condition: s}", [False, True, True, False]),
    ("{s: {ts|gte: '2026-11-26T22:14:30.123456789Z'}, condition: s}", [True, True, True, False]),
    ("{s: {ts|lt: '2026-11-26T22:14:30.123456790'}, condition: s}", [True, False, False, False]),
    ("{s: {ts|lte: '2026-11-26T23:00:00+00:00'}, condition: s}", [True, True, True, False]),
    ("{s: {ts|lt: '2026-11-26T23:30:00+01:00'}, condition: s}", [True, True, False, False]),
    ("{s: {ts|gte: 2026-11-26T23:00:00Z}, condition: s}", [False, False, True, False]),  # YAML
    ("{s: {ts|gte: 1795734000}, condition: s}", [False, False, True, False]),  # epoch seconds
    ("{s: {ts: '2026-11-26T22:14:30.123456790Z'}, condition: s}", [False, True, False, False]),
    ("{s: {ts: null}, condition: s}", [False, False, False, True]),
    ("{a: {ts|gte: '2026-11-26T22:00:00'}, b: {ts|lt: '2026-11-26T22:30:00'}, "
     "c: {port: 53}, condition: a and b and c}", [True, True, False, False]),
])
def test_time_columns_compare_with_times_to_the_nanosecond(detection, expected) -> None:
    assert timed_mask(detection) == expected


@pytest.mark.parametrize(("detection", "message"), [
    ("{s: {ts|gt: soon}, condition: s}", "'soon' is not a time"),
    ("{s: {ts|gt: true}, condition: s}", "True is not a time"),
    ("{s: {ts|gt: ['2026-11-26T22:14:30.123456789Z', '2026-11-26T22:14:30.12345679Z']}, "
     "condition: s}", "too close to tell apart"),
])
def test_values_that_are_no_times_are_refused(detection, message) -> None:
    with pytest.raises(ConditionError) as caught:
        timed_mask(detection)
    assert message in str(caught.value) and caught.value.field == "ts"
