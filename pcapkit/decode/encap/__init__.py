"""Tunnel encapsulations, one module each, registered by decorator.

A tunnel module decorates its decoder with ``@register_encap(name, udp_ports=...)``
or ``ip_protocols=...`` (as scapy binds a layer in the layer's own file); every
module in this package is imported automatically, so adding a tunnel touches one
file. A decoder gets the rows whose outer header led to it and the position of
the tunnel header in each packet, and says where the inner frame starts and what
it is, all as arrays.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pcapkit.decode.bytes import PacketBytes

INNER_NONE, INNER_ETHERNET, INNER_IPV4, INNER_IPV6 = 0, 1, 4, 6

#: EtherType / protocol-type values tunnels use for their payload
PAYLOAD_KIND = {0x6558: INNER_ETHERNET, 0x0800: INNER_IPV4, 0x86DD: INNER_IPV6}


@dataclass
class Inner:
    """What a tunnel header says about the frame it carries, per row."""

    ok: np.ndarray        # bool: tunnel header complete and valid
    cut: np.ndarray       # bool: header cut short by the snaplen (tunnel known, load not)
    start: np.ndarray     # int64: position of the inner frame in the packet
    kind: np.ndarray      # uint8: INNER_ETHERNET / INNER_IPV4 / INNER_IPV6 / INNER_NONE
    vni: np.ndarray       # uint32: VNI / key (meaningful where has_vni)
    has_vni: np.ndarray   # bool


DecodeFn = Callable[[PacketBytes, np.ndarray, np.ndarray], Inner]


@dataclass(frozen=True)
class EncapSpec:
    name: str
    code: int
    decode: DecodeFn
    udp_ports: frozenset[int]
    ip_protocols: frozenset[int]


_REGISTRY: dict[str, EncapSpec] = {}
_BY_CODE: dict[int, EncapSpec] = {}
MAX_CODE = 31


def register_encap(name: str, *, udp_ports: tuple[int, ...] = (),
                   ip_protocols: tuple[int, ...] = ()) -> Callable[[DecodeFn], DecodeFn]:
    """Register a tunnel decoder under ``name`` for UDP ports and/or IP protocols."""

    def wrap(fn: DecodeFn) -> DecodeFn:
        if name in _REGISTRY:
            raise ValueError(f"encapsulation {name!r} registered twice")
        for other in _REGISTRY.values():
            if shared := other.ip_protocols & frozenset(ip_protocols):
                raise ValueError(f"IP protocol {min(shared)} registered by {other.name} "
                                 f"and {name}")
        code = len(_REGISTRY) + 1
        if code > MAX_CODE:
            raise ValueError("too many encapsulations registered")
        spec = EncapSpec(name, code, fn, frozenset(udp_ports), frozenset(ip_protocols))
        _REGISTRY[name] = spec
        _BY_CODE[code] = spec
        return fn

    return wrap


def registered() -> dict[str, EncapSpec]:
    """All tunnel decoders by name."""
    return dict(_REGISTRY)


def path_name(path: int) -> str:
    """Turn an encapsulation path code (base-32 digits, outermost first) into 'a+b'."""
    names = []
    while path:
        names.append(_BY_CODE[path % 32].name)
        path //= 32
    return "+".join(reversed(names)) or "none"


def inner_result(n: int) -> Inner:
    """An all-invalid result to fill in."""
    return Inner(ok=np.zeros(n, bool), cut=np.zeros(n, bool), start=np.zeros(n, np.int64),
                 kind=np.zeros(n, np.uint8), vni=np.zeros(n, np.uint32),
                 has_vni=np.zeros(n, bool))


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
