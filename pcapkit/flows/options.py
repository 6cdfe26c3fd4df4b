"""The flow stage's options: idle timeouts and the Service-DNAT link."""

from __future__ import annotations

from dataclasses import dataclass

from pcapkit.options import assign, documented, flag, seconds


@dataclass(frozen=True)
class FlowOptions:
    """How distinct packets are cut into flows and how a DNAT'd connection's flows are
    linked (docs/flows.md). A timeout of None never ends a flow. Bad values raise
    PcapkitError naming the field."""

    udp_timeout: float | None = documented(
        60.0, "Seconds of silence that end a UDP flow, and a flow of any protocol but TCP "
              "and ICMP (Zeek's udp_inactivity_timeout).")
    icmp_timeout: float | None = documented(
        60.0, "Seconds of silence that end an ICMP flow (Zeek's icmp_inactivity_timeout).")
    tcp_timeout: float | None = documented(
        300.0, "Seconds of silence that end a TCP flow (Zeek's tcp_inactivity_timeout).")
    nat_window: float = documented(
        1.0, "Most seconds between the first packets of a connection's flows before and "
             "after a Service's DNAT for the two to be linked.")
    merge_nat: bool = documented(
        False, "Fold each DNAT-linked pair of flows into one row.")

    def __post_init__(self) -> None:
        assign(self, **{name: seconds("flows", name, getattr(self, name), none=True)
                        for name in ("udp_timeout", "icmp_timeout", "tcp_timeout")},
               nat_window=seconds("flows", "nat_window", self.nat_window, zero=True),
               merge_nat=flag("flows", "merge_nat", self.merge_nat))
