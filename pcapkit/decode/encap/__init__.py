"""Tunnel encapsulations, one module each, registered by decorator.

A tunnel module decorates its decoder with ``@register_encap(name, ...)`` (as
scapy binds a layer in the layer's own file), saying what leads to it: UDP
ports, IP protocols, EtherTypes (wherever an EtherType names a payload: the
capture link, an inner Ethernet frame, a tunnel's protocol field), or GRE
protocol types (only as GRE's payload). Every module in this package is
imported automatically, so adding a tunnel touches one file. A decoder gets the
rows that led to it, the position of its header in each packet and the payload
type that named it, and says, as arrays, where its payload starts and what it
is (an EtherType), or why it stops there.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.errors import register_error

#: payload types as EtherTypes: Transparent Ethernet Bridging (an Ethernet frame), IP
ETHERTYPE_TEB, ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x6558, 0x0800, 0x86DD
#: the payload type a decoder gets where an IP protocol or a UDP port named it
NO_PAYLOAD_TYPE = -1


@dataclass
class Inner:
    """What a tunnel header says about the payload it carries, per row.

    A row is one of: ``ok`` (header complete and understood; the payload of type
    ``protocol`` starts at ``start``, -1 when it names none), ``cut`` (the
    snaplen cut the header: the tunnel is known, its payload is not), or neither,
    with ``error`` saying what pcapkit does not decode. An ``ok`` row may carry an
    ``error`` too: a header understood whose payload pcapkit does not decode.
    """

    ok: np.ndarray        # bool
    cut: np.ndarray       # bool
    start: np.ndarray     # int64: position of the payload in the packet
    protocol: np.ndarray  # int32: payload EtherType (ETHERTYPE_TEB, 0x0800, 0x8847 ...), -1 none
    vni: np.ndarray       # uint32: VNI / key / session id (meaningful where has_vni)
    has_vni: np.ndarray   # bool
    error: np.ndarray     # int64: decode_error code (pcapkit.decode.errors), 0 none


#: (packet bytes, rows, header position, payload type that named the tunnel or
#: NO_PAYLOAD_TYPE) -> Inner
DecodeFn = Callable[[PacketBytes, np.ndarray, np.ndarray, np.ndarray], Inner]


@dataclass(frozen=True)
class EncapSpec:
    name: str
    code: int
    decode: DecodeFn
    udp_ports: frozenset[int]
    ip_protocols: frozenset[int]
    ethertypes: frozenset[int]
    gre_protocols: frozenset[int]
    #: decode_error format for a payload type nothing here decodes
    unknown_payload: int


_REGISTRY: dict[str, EncapSpec] = {}
_BY_CODE: dict[int, EncapSpec] = {}
MAX_CODE = 31


def register_encap(name: str, *, udp_ports: tuple[int, ...] = (),
                   ip_protocols: tuple[int, ...] = (), ethertypes: tuple[int, ...] = (),
                   gre_protocols: tuple[int, ...] = (), label: str | None = None
                   ) -> Callable[[DecodeFn], DecodeFn]:
    """Register a tunnel decoder under ``name`` for UDP ports, IP protocols,
    EtherTypes and/or GRE protocol types. ``label`` is how errors name it
    (default: the name in capitals)."""

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
        unknown = register_error(f"{label or name.upper()} protocol 0x{{:04x}} not decoded")
        spec = EncapSpec(name, code, fn, frozenset(udp_ports), frozenset(ip_protocols),
                         frozenset(ethertypes), frozenset(gre_protocols), unknown)
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


def by_payload_type(carrier: str | None) -> dict[int, EncapSpec]:
    """The tunnels a payload type names after ``carrier`` (a tunnel's name, or None
    for an Ethernet frame or the capture link): EtherTypes anywhere, GRE protocol
    types only after GRE."""
    found: dict[int, EncapSpec] = {}
    for spec in _REGISTRY.values():
        for value in spec.ethertypes | (spec.gre_protocols if carrier == "gre" else frozenset()):
            if value in found:
                raise ValueError(f"payload type 0x{value:04x} registered by "
                                 f"{found[value].name} and {spec.name}")
            found[value] = spec
    return found


def headerless(rows: np.ndarray, start: np.ndarray, protocol: int) -> Inner:
    """The result of a tunnel with no header of its own: its payload of type
    ``protocol`` starts at ``start``."""
    n = len(rows)
    return Inner(ok=np.ones(n, bool), cut=np.zeros(n, bool), start=start,
                 protocol=np.full(n, protocol, np.int32), vni=np.zeros(n, np.uint32),
                 has_vni=np.zeros(n, bool), error=np.zeros(n, np.int64))


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
