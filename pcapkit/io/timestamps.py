"""Capture timestamps to int64 nanoseconds since the Unix epoch (UTC).

pcapng timestamps are 64-bit tick counts at the interface resolution
(if_tsresol: 10^-k or 2^-k seconds) plus an offset in whole seconds
(if_tsoffset).  The conversion is exact integer arithmetic (no floats, so a
10^-9 or 10^-6 clock keeps every nanosecond), and the result is clamped to the
int64 range, which covers the years 1677 to 2262.  The C framer implements the
same rule; tests check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
NS_PER_S = 1_000_000_000
#: the time of a record that has none (a pcapng Simple Packet Block): numpy's NaT
NO_TIMESTAMP = INT64_MIN


@dataclass(frozen=True)
class TsResolution:
    """A tick length of ``base ** -exponent`` seconds (base 10 or 2)."""

    base: int = 10
    exponent: int = 6

    @classmethod
    def from_option(cls, value: int) -> TsResolution:
        """Decode the one-byte if_tsresol option: high bit set means a power of two."""
        if value & 0x80:
            return cls(2, value & 0x7F)
        return cls(10, value)

    @property
    def label(self) -> str:
        """Human-readable form used in ``Interface.tsresol``: "us", "ns", "2^-20", "10^-4"."""
        if self.base == 10:
            named = {0: "s", 3: "ms", 6: "us", 9: "ns"}
            return named.get(self.exponent, f"10^-{self.exponent}")
        return f"2^-{self.exponent}"


def _clamp(value: int) -> int:
    return max(INT64_MIN, min(INT64_MAX, value))


def ticks_to_ns(ticks: int, resolution: TsResolution, offset_seconds: int = 0) -> int:
    """Nanoseconds for ``ticks`` at ``resolution`` plus ``offset_seconds``.

    The tick part is floored and capped at INT64_MAX first, then the offset is
    added and the sum clamped to int64: the C framer follows the same steps.
    """
    units_per_second = resolution.base**resolution.exponent
    base_ns = min(ticks * NS_PER_S // units_per_second, INT64_MAX)
    return _clamp(base_ns + _clamp(offset_seconds * NS_PER_S))
