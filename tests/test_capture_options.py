"""Capture-level options: a time range (--since/--until) and decoding workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.capture import capture_time
from pcapkit.errors import PcapkitError

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def test_a_time_range_keeps_only_the_packets_and_dns_inside_it() -> None:
    whole = pcapkit.open(DEMO)
    ts = whole.decoded.packets["ts"]
    since, until = ts.quantile(0.25), ts.quantile(0.75)
    part = pcapkit.open(DEMO, since=since.isoformat(), until=until)
    packets = part.decoded.packets
    expected = whole.decoded.packets[(ts >= since) & (ts <= until)]
    assert 0 < len(packets) < len(whole.decoded.packets)
    assert len(packets) == len(expected)
    assert packets["frame"].tolist() == expected["frame"].tolist()  # frames as in the files
    dns_ts = whole.decoded.dns["ts"]
    assert len(part.decoded.dns) == int(((dns_ts >= since) & (dns_ts <= until)).sum())
    assert len(part.flows) <= len(whole.flows)


def test_one_bound_is_enough_and_none_changes_nothing() -> None:
    whole = pcapkit.open(DEMO)
    first = whole.decoded.packets["ts"].min()
    assert len(pcapkit.open(DEMO, since=first).decoded.packets) == len(whole.decoded.packets)
    after = pcapkit.open(DEMO, since=whole.decoded.packets["ts"].max() + pd.Timedelta("1s"))
    assert len(after.decoded.packets) == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-02T10:15:00Z", "2026-12-02T10:15:00+00:00"),
    ("2026-12-02 10:15:00", "2026-12-02T10:15:00+00:00"),          # no zone: UTC
    ("2026-12-02T11:15:00+01:00", "2026-12-02T10:15:00+00:00"),
    ("1764670500", "2025-12-02T10:15:00+00:00"),                    # epoch seconds
])
def test_times_are_read_as_utc(text: str, expected: str) -> None:
    assert capture_time(text, "since").isoformat() == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-40", ""])
def test_a_bad_time_is_a_clear_error(text: str) -> None:
    with pytest.raises(PcapkitError, match="since"):
        capture_time(text, "since")


def test_since_after_until_is_an_error() -> None:
    with pytest.raises(PcapkitError, match="after"):
        pcapkit.open(DEMO, since="2026-12-02T11:00:00Z", until="2026-12-02T10:00:00Z")


def test_one_worker_decodes_the_same_tables() -> None:
    pd.testing.assert_frame_equal(pcapkit.open(DEMO, workers=1).decoded.packets,
                                  pcapkit.open(DEMO).decoded.packets)
