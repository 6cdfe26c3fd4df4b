"""The ip / mac / category columns' codes and labels, for pandas and for Arrow.

Checked against a plain reference (``ipaddress``, one label per valid row, labels
ordered by the key) so that the fast paths (lookup-table factorizing, IPv4 labels
rendered in numpy, constant columns) cannot drift from what the table means.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pcapkit.decode.buffers import IP_DTYPE, render_codes, to_arrow

V4_MAPPED = 0xFFFF_0000_0000

ipv4 = st.integers(0, 0xFFFF_FFFF).map(lambda v: (0, V4_MAPPED | v))
edge_ipv4 = st.sampled_from([0, 1, 9, 10, 99, 100, 255, 256, 0x0A00_0001, 0xFFFF_FFFF]).map(
    lambda v: (0, V4_MAPPED | v))
low_only = st.integers(0, (1 << 64) - 1).map(lambda v: (0, v))  # "::1", "::a0b:c0d", ...
ipv6 = st.tuples(st.integers(1, (1 << 64) - 1), st.integers(0, (1 << 64) - 1))
near_top = st.tuples(st.just((1 << 64) - 1), st.integers((1 << 64) - 40, (1 << 64) - 1))
#: one site's IPv6 prefixes: halves in a narrow range far above 2**63
same_site = st.tuples(st.integers(0, 3).map(lambda d: 0xFD00_0000_0000_0000 + d), st.integers(0, 3))


def reference_text(hi: int, lo: int) -> str:
    if hi == 0 and lo >> 32 == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFF_FFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def address_column(pairs: list[tuple[int, int]]) -> np.ndarray:
    values = np.zeros(len(pairs), IP_DTYPE)
    values["hi"] = [hi for hi, _ in pairs]
    values["lo"] = [lo for _, lo in pairs]
    return values


def check_against_reference(codes: np.ndarray, labels: list[str], valid: np.ndarray,
                            expected_rows: list[str | None], keys: list) -> None:
    """Every valid row reads its own text, nulls are -1, labels are distinct and in
    ascending key order, and every label is used."""
    assert codes.dtype == np.int32 and len(codes) == len(expected_rows)
    assert ((codes >= 0) == valid).all()
    assert [labels[c] if c >= 0 else None for c in codes] == expected_rows
    assert len(set(labels)) == len(labels)
    order = {label: key for label, key in zip(expected_rows, keys, strict=True) if label}
    assert [order[label] for label in labels] == sorted(order.values())


def check_arrow_matches(kind: str, values: np.ndarray, valid: np.ndarray,
                        codes: np.ndarray, labels: list[str], names=None) -> None:
    array = to_arrow(kind, values, valid, names)
    array.validate(full=True)
    assert array.type == pa.dictionary(pa.int32(), pa.string())
    assert array.dictionary.to_pylist() == labels
    assert array.indices.to_pylist() == [int(c) if c >= 0 else None for c in codes]


def check_address_rows(rows, order_key) -> None:
    """render_codes and to_arrow of an address column against the ipaddress reference;
    ``order_key(hi, lo)`` is the integer the labels must be sorted by."""
    pairs = [pair for pair, _ in rows]
    valid = np.array([ok for _, ok in rows], bool)
    values = address_column(pairs)
    codes, labels = render_codes("ip", values, valid, None)
    expected = [reference_text(*pair) if ok else None for pair, ok in rows]
    check_against_reference(codes, labels, valid, expected, [order_key(*p) for p in pairs])
    check_arrow_matches("ip", values, valid, codes, labels)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(ipv4, edge_ipv4, low_only, ipv6, near_top), st.booleans()),
                max_size=60))
@example([((0xFD00_0000_0000_0000, 1), True), ((0xFD00_0000_0000_0001, 2), True)])
def test_addresses_read_as_their_text_in_address_order(rows) -> None:
    check_address_rows(rows, lambda hi, lo: (hi << 64) | lo)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(ipv4, edge_ipv4), st.booleans()), min_size=1, max_size=80))
def test_ipv4_only_columns_render_dotted_quads(rows) -> None:
    check_address_rows(rows, lambda hi, lo: lo)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(same_site, st.booleans()), max_size=30))
def test_ipv6_addresses_of_one_site(rows) -> None:
    check_address_rows(rows, lambda hi, lo: (hi << 64) | lo)


def test_a_column_strided_out_of_a_wider_buffer() -> None:
    # decoded columns are slices [:n] of larger buffers; the hi/lo halves are strided views
    buffer = address_column([(0, V4_MAPPED | 0x0A00_0001), (0, V4_MAPPED | 0x0A00_0002)] * 5)
    valid = np.ones(10, bool)
    codes, labels = render_codes("ip", buffer[:7], valid[:7], None)
    assert labels == ["10.0.0.1", "10.0.0.2"] and codes.tolist() == [0, 1, 0, 1, 0, 1, 0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, (1 << 48) - 1), st.booleans()), max_size=50))
def test_macs(rows) -> None:
    values = np.array([v for v, _ in rows], np.uint64)
    valid = np.array([ok for _, ok in rows], bool)
    codes, labels = render_codes("mac", values, valid, None)
    expected = [":".join(f"{b:02x}" for b in v.to_bytes(6, "big")) if ok else None
                for v, ok in rows]
    check_against_reference(codes, labels, valid, expected, [v for v, _ in rows])
    check_arrow_matches("mac", values, valid, codes, labels)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.integers(0, 40), st.integers(-(1 << 62), 1 << 62)),
                          st.booleans()), max_size=50))
def test_categories_whose_names_collide_share_one_label(rows) -> None:
    def names(code: int) -> str:  # several codes read alike, as unknown codes may
        return f"name {code % 7}"

    values = np.array([v for v, _ in rows], np.int64)
    valid = np.array([ok for _, ok in rows], bool)
    codes, labels = render_codes("category", values, valid, names)
    assert ((codes >= 0) == valid).all()
    assert [labels[c] if c >= 0 else None for c in codes] == \
        [names(v) if ok else None for v, ok in rows]
    first_seen = list(dict.fromkeys(names(v) for v in sorted({v for v, ok in rows if ok})))
    assert labels == first_seen  # ordered by the smallest code that reads so
    check_arrow_matches("category", values, valid, codes, labels, names)


def test_constant_and_all_null_columns() -> None:
    constant = np.full(1000, 5, np.int64)
    codes, labels = render_codes("category", constant, np.ones(1000, bool), lambda c: f"c{c}")
    assert labels == ["c5"] and not codes.any()
    codes, labels = render_codes("ip", address_column([(0, 0)] * 4), np.zeros(4, bool), None)
    assert labels == [] and codes.tolist() == [-1] * 4
    array = to_arrow("ip", address_column([(0, 0)] * 4), np.zeros(4, bool))
    assert array.null_count == 4 and len(array.dictionary) == 0
    empty = to_arrow("mac", np.zeros(0, np.uint64), np.zeros(0, bool))
    assert len(empty) == 0
