"""Decoder settings: which port means which protocol ("decode as"), DNS, tunnel depth.

Every tunnel registers its default UDP ports in its own module
(``@register_encap("vxlan", udp_ports=(4789, 8472))``); DNS is port 53 on UDP and
TCP. ``decode_as`` changes that per run, as Wireshark's Decode As does: each
entry names a port and the protocol to decode it as, in Wireshark's ``-d``
syntax (``"udp.port==8473,vxlan"``), or as a mapping
(``{"udp.port==8473": "vxlan"}``). An entry adds to the defaults; an entry for a
default port replaces what the port meant, and ``none`` turns it off
(``"udp.port==4789,none"``). The protocols are the registered tunnel names (on
UDP), ``dns`` (UDP or TCP) and ``none``; the same entries mean the same in the
API and on the command line (``-d``).

Which protocol a datagram is decoded as: its lower port's, if that port means
anything, else its higher port's (as Wireshark's UDP dissector tries the lower
port first). Two tunnels that register the same default port leave that port's
meaning undecided: building a config raises until ``decode_as`` says which one
(or ``none``) the port means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple

import numpy as np

from pcapkit.decode.encap import EncapSpec, registered

DNS_PORT = 53
#: protocol names that are not tunnels
NONE, DNS = "none", "dns"
#: port-table codes: 0 is nothing, 1..31 the tunnels' codes (encap.MAX_CODE), this DNS
DNS_CODE = 255
TRANSPORTS = ("udp", "tcp")

DecodeAsEntries = Mapping[str, str] | Iterable[str]


class DecodeAs(NamedTuple):
    """One "decode as" entry: ``transport.port==port`` means ``protocol``."""

    transport: str
    port: int
    protocol: str

    def __str__(self) -> str:
        return f"{self.transport}.port=={self.port},{self.protocol}"


def parse_decode_as(entries: DecodeAsEntries) -> tuple[DecodeAs, ...]:
    """``decode_as`` entries as :class:`DecodeAs`; for one port the last entry wins.

    Raises ValueError on a malformed entry, an unknown protocol, a port outside
    0-65535 or a tunnel on TCP.
    """
    if isinstance(entries, str):
        entries = [entries]
    if isinstance(entries, Mapping):
        items = [(str(selector), str(protocol)) for selector, protocol in entries.items()]
    else:
        items = []
        for entry in entries:
            selector, sep, protocol = str(entry).partition(",")
            if not sep:
                raise ValueError(f"decode as {entry!r}: expected 'udp.port==PORT,PROTOCOL'")
            items.append((selector, protocol))
    tunnels = registered()
    chosen: dict[tuple[str, int], DecodeAs] = {}
    for selector, protocol in items:
        transport, port = _selector(selector)
        protocol = protocol.strip().lower()
        if protocol not in tunnels and protocol not in (DNS, NONE):
            known = ", ".join(sorted([*tunnels, DNS, NONE]))
            raise ValueError(f"decode as {selector},{protocol}: unknown protocol {protocol!r} "
                             f"(known: {known})")
        if transport == "tcp" and protocol in tunnels:
            raise ValueError(f"decode as {selector},{protocol}: tunnels are decoded on UDP only")
        chosen[transport, port] = DecodeAs(transport, port, protocol)
    return tuple(sorted(chosen.values()))


def _selector(selector: str) -> tuple[str, int]:
    """``udp.port==8473`` as ("udp", 8473)."""
    field_name, sep, value = selector.replace(" ", "").partition("==")
    transport, dot, what = field_name.lower().partition(".")
    if not sep or not dot or what != "port" or transport not in TRANSPORTS:
        raise ValueError(f"decode as {selector!r}: expected udp.port==PORT or tcp.port==PORT")
    if not value.isdigit() or int(value) > 65535:
        raise ValueError(f"decode as {selector!r}: {value!r} is not a port (0-65535)")
    return transport, int(value)


def port_tables(specs: Sequence[EncapSpec], decode_as: Iterable[DecodeAs]
                ) -> dict[str, np.ndarray]:
    """Per transport, a 65536-entry code table (0 nothing, a tunnel's code, DNS_CODE)
    from the tunnels' default ports, DNS on 53, then the ``decode_as`` entries."""
    claims: dict[int, list[EncapSpec]] = {}
    for spec in specs:
        for port in spec.udp_ports:
            claims.setdefault(port, []).append(spec)
    decided = {(d.transport, d.port) for d in decode_as}
    tables = {t: np.zeros(65536, np.uint8) for t in TRANSPORTS}
    for port, claimants in claims.items():
        if len(claimants) > 1 and ("udp", port) not in decided:
            names = " and ".join(sorted(s.name for s in claimants))
            raise ValueError(f"UDP port {port} is registered by {names}: say which it means "
                             f"with decode_as (e.g. 'udp.port=={port},{claimants[0].name}')")
        tables["udp"][port] = claimants[0].code
    for transport in TRANSPORTS:
        tables[transport][DNS_PORT] = DNS_CODE
    codes = {spec.name: spec.code for spec in specs} | {DNS: DNS_CODE, NONE: 0}
    for entry in decode_as:
        tables[entry.transport][entry.port] = codes[entry.protocol]
    return tables


def protocol_codes(table: np.ndarray, sport: np.ndarray, dport: np.ndarray) -> np.ndarray:
    """Each datagram's protocol code: its lower port's, or its higher port's when the
    lower one means nothing."""
    by_source, by_destination = table.take(sport), table.take(dport)
    code = by_source | by_destination  # right wherever at most one port means something
    both = np.flatnonzero((by_source != 0) & (by_destination != 0))
    if len(both):
        code[both] = np.where(sport[both] < dport[both], by_source[both], by_destination[both])
    return code


@dataclass(frozen=True)
class DecodeConfig:
    """How to decode.

    ``decode_as``: ports to decode as another protocol (module docstring), e.g.
    ``["udp.port==8473,vxlan", "udp.port==4789,none"]``; ``dns``: find DNS
    messages at all; ``max_tunnel_depth``: nested tunnels peeled at most.
    """

    decode_as: DecodeAsEntries = ()  # a tuple of DecodeAs once built
    dns: bool = True
    max_tunnel_depth: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "decode_as", parse_decode_as(self.decode_as))
        self.tables  # noqa: B018 - a port two tunnels claim fails here, not mid-decode

    @classmethod
    def of(cls, config: DecodeConfig | None, decode_as: DecodeAsEntries | None = None,
           **defaults: object) -> DecodeConfig:
        """What an entry point decodes with: ``config`` (or one with ``defaults``), its
        ``decode_as`` entries followed by ``decode_as`` (later entries win)."""
        base = config if config is not None else cls(**defaults)  # type: ignore[arg-type]
        if not decode_as:
            return base
        return replace(base, decode_as=(*(str(d) for d in base.decode_as),
                                        *parse_decode_as(decode_as)))

    @cached_property
    def tables(self) -> dict[str, np.ndarray]:
        """Port code tables by transport (see :func:`port_tables`)."""
        return port_tables(list(registered().values()), self.decode_as)

    @cached_property
    def udp_tunnels(self) -> tuple[EncapSpec, ...]:
        """The tunnels some UDP port is decoded as, in registration order."""
        used = set(np.unique(self.tables["udp"]).tolist())
        return tuple(s for s in registered().values() if s.code in used)

    def ports_of(self, transport: str, protocol: str) -> frozenset[int]:
        """The ports of ``transport`` decoded as ``protocol``."""
        codes = {s.name: s.code for s in registered().values()} | {DNS: DNS_CODE}
        return frozenset(np.flatnonzero(self.tables[transport] == codes[protocol]).tolist())
