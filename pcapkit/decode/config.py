"""Decoder settings: which ports mean which tunnel or DNS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pcapkit.decode.encap import EncapSpec, registered


@dataclass(frozen=True)
class DecodeConfig:
    """How to decode.

    ``udp_ports`` overrides the UDP ports of a tunnel by its registered name
    (``{"vxlan": {4789, 8472, 8473}}``); tunnels not named keep their defaults.
    """

    udp_ports: Mapping[str, frozenset[int]] = field(default_factory=dict)
    dns_ports: frozenset[int] = frozenset({53})
    dns: bool = True
    max_tunnel_depth: int = 4

    def ports_for(self, spec: EncapSpec) -> frozenset[int]:
        return frozenset(self.udp_ports.get(spec.name, spec.udp_ports))

    @classmethod
    def build(cls, *, vxlan_ports: Iterable[int] | None = None,
              geneve_ports: Iterable[int] | None = None, dns_ports: Iterable[int] | None = None,
              extra: bool = False, **kwargs: object) -> DecodeConfig:
        """Config from port lists; with ``extra`` the ports add to the defaults, as
        Wireshark's "Decode As" does, instead of replacing them."""
        specs = registered()
        overrides: dict[str, frozenset[int]] = {}
        for name, ports in (("vxlan", vxlan_ports), ("geneve", geneve_ports)):
            if ports:
                base = specs[name].udp_ports if extra else frozenset()
                overrides[name] = base | frozenset(int(p) for p in ports)
        dns = frozenset({53}) if not dns_ports else (
            frozenset({53}) | frozenset(dns_ports) if extra else frozenset(dns_ports))
        return cls(udp_ports=overrides, dns_ports=dns, **kwargs)  # type: ignore[arg-type]
