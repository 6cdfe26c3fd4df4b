"""Longest-prefix lookup of many addresses at once, with numpy.

CIDRs are grouped by prefix length. For each length (longest first) the masked addresses are
looked up in the sorted network addresses of that length with ``searchsorted``: one vectorised
pass per distinct prefix length, however many CIDRs or addresses there are. IPv4 uses uint64
arrays; IPv6 (128-bit) uses object arrays of Python ints, which numpy sorts and searches too.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")

_BITS = {4: 32, 6: 128}


def address_ints(addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address | None],
                 version: int) -> np.ndarray:
    """Integers of the addresses of one IP version (others -> 0), as a lookup-ready array."""
    if version == 4:
        return np.array([int(a) if a is not None and a.version == 4 else 0 for a in addresses],
                        dtype=np.uint64)
    return np.array([int(a) if a is not None and a.version == 6 else 0 for a in addresses],
                    dtype=object)


@dataclass
class _Level:
    prefix_len: int
    mask: int
    networks: np.ndarray
    owners: np.ndarray


class PrefixTable(Generic[T]):
    """CIDR -> value, with longest-prefix-match lookups over arrays of addresses.

    When the same CIDR is added twice, the first value wins (callers add the most
    specific knowledge first).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[int, int, int], T] = {}
        self._values: list[T] = []
        self._levels: dict[int, list[_Level]] = {4: [], 6: []}
        self._built = False

    def add(self, cidr: str, value: T) -> None:
        """Register a CIDR (host bits are ignored, as Kubernetes does)."""
        network = ipaddress.ip_network(cidr, strict=False)
        key = (network.version, network.prefixlen, int(network.network_address))
        if key not in self._entries:
            self._entries[key] = value
            self._built = False

    @property
    def values(self) -> list[T]:
        """The values, in the order ``lookup`` indexes them."""
        self._build()
        return self._values

    def __len__(self) -> int:
        return len(self._entries)

    def _build(self) -> None:
        if self._built:
            return
        self._values = list(self._entries.values())
        index = {key: i for i, key in enumerate(self._entries)}
        self._levels = {4: [], 6: []}
        for version, bits in _BITS.items():
            lengths = sorted({k[1] for k in self._entries if k[0] == version}, reverse=True)
            for length in lengths:
                keys = sorted(k for k in self._entries if k[0] == version and k[1] == length)
                mask = ((1 << length) - 1) << (bits - length) if length else 0
                dtype = np.uint64 if version == 4 else object
                self._levels[version].append(_Level(
                    prefix_len=length,
                    mask=mask,
                    networks=np.array([k[2] for k in keys], dtype=dtype),
                    owners=np.array([index[k] for k in keys], dtype=np.int64),
                ))
        self._built = True

    def lookup(self, ints: np.ndarray, version: int) -> np.ndarray:
        """Index into ``values`` of the longest matching CIDR for each address, -1 if none."""
        self._build()
        result = np.full(len(ints), -1, dtype=np.int64)
        if len(ints) == 0:
            return result
        pending = np.ones(len(ints), dtype=bool)
        for level in self._levels[version]:
            if not pending.any():
                break
            candidates = np.flatnonzero(pending)
            if version == 4:
                masked = ints[candidates] & np.uint64(level.mask)
            else:
                masked = ints[candidates] & level.mask
            position = np.searchsorted(level.networks, masked)
            position = np.minimum(position, len(level.networks) - 1)
            found = level.networks[position] == masked
            hit = candidates[found.astype(bool)]
            result[hit] = level.owners[position[found.astype(bool)]]
            pending[hit] = False
        return result
