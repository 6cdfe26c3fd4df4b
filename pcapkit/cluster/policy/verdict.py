"""The answer of NetworkPolicy evaluation: verdict dataclasses, their JSON form and text.

A :class:`Verdict` holds one :class:`DirectionVerdict` per direction (egress on the source,
ingress on the destination), each naming the :class:`RuleMatch` es that admitted the traffic
or the reason nothing did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: what a verdict over a snapshot without any NetworkPolicy says instead of "allowed"
NO_POLICIES = ("no NetworkPolicies in the snapshot; if they were not exported this verdict "
               "means nothing")


@dataclass
class RuleMatch:
    """A rule that admitted the traffic: indexes into the policy spec plus readable text."""

    policy: str
    rule_index: int
    peer_index: int | None
    port_index: int | None
    peer: str
    port: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"policy": self.policy, "rule_index": self.rule_index,
                "peer_index": self.peer_index, "port_index": self.port_index,
                "peer": self.peer, "port": self.port}

    def describe(self) -> str:
        """``shop/allow-web rule 0 (peer 1: pods role=web in shop; port 0: TCP 5432)``."""
        peer = "any peer" if self.peer_index is None else f"peer {self.peer_index}: {self.peer}"
        port = "any port" if self.port_index is None else f"port {self.port_index}: {self.port}"
        return f"{self.policy} rule {self.rule_index} ({peer}; {port})"


@dataclass
class DirectionVerdict:
    """Ingress on the destination pod, or egress on the source pod."""

    direction: str
    endpoint: str
    applicable: bool
    isolated: bool
    policies: list[str]
    allowed: bool
    matched: list[RuleMatch]
    reason: str
    near_misses: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """``ingress to shop/db`` or ``egress from shop/web``."""
        word = "to" if self.direction == "ingress" else "from"
        return f"{self.direction} {word} {self.endpoint}"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"direction": self.direction, "endpoint": self.endpoint,
                "applicable": self.applicable, "isolated": self.isolated,
                "policies": list(self.policies), "allowed": self.allowed,
                "matched": [m.to_dict() for m in self.matched], "reason": self.reason,
                "near_misses": list(self.near_misses)}


@dataclass
class Verdict:
    """Whether ``src`` may open a ``protocol``/``port`` connection to ``dst``, and why.

    ``reply`` marks a verdict asked for a reply packet (``dst`` -> ``src``); it carries the
    verdict of the original connection, since replies of an allowed connection are always
    allowed and replies of a denied one cannot exist. ``no_policies`` says the snapshot held
    no NetworkPolicy at all: nothing isolates anything, which clears nothing when the
    export simply left them out (a ``cluster-info dump`` has none).
    """

    allowed: bool
    src: str
    dst: str
    port: int
    protocol: str
    ingress: DirectionVerdict
    egress: DirectionVerdict
    notes: list[str] = field(default_factory=list)
    port_name: str | None = None
    reply: bool = False
    no_policies: bool = False

    @property
    def return_traffic_allowed(self) -> bool:
        """Replies of this connection pass exactly when the connection itself is allowed."""
        return self.allowed

    @property
    def traffic(self) -> str:
        """``TCP 5432 (postgres)``."""
        text = f"{self.protocol} {self.port}"
        return f"{text} ({self.port_name})" if self.port_name else text

    def to_dict(self) -> dict:
        """JSON-ready form with ``allowed``, ``ingress``, ``egress`` and ``notes``."""
        return {"allowed": self.allowed, "src": self.src, "dst": self.dst, "port": self.port,
                "port_name": self.port_name, "protocol": self.protocol, "reply": self.reply,
                "return_traffic_allowed": self.return_traffic_allowed,
                "no_policies": self.no_policies,
                "ingress": self.ingress.to_dict(), "egress": self.egress.to_dict(),
                "notes": list(self.notes)}

    def explain(self) -> str:
        """Human text: a summary line, then one line per direction and the notes."""
        connection = f"{self.src} -> {self.dst} {self.traffic}"
        failing = [d for d in (self.egress, self.ingress) if not d.allowed]
        why = "; also ".join(f"{d.heading} {d.reason}" for d in failing)
        if self.no_policies:
            head = f"no verdict: {NO_POLICIES} ({connection})"
        elif self.reply and self.allowed:
            head = (f"allowed (reply): {self.dst} -> {self.src} answers the allowed connection "
                    f"{connection}")
        elif self.reply:
            head = f"denied (reply): the connection {connection} is denied: {why}"
        elif self.allowed:
            head = f"allowed: {connection}"
        else:
            head = f"denied: {why}"
        lines = [head] + [f"  {d.heading}: {d.reason}" for d in (self.egress, self.ingress)]
        for direction in (self.egress, self.ingress):
            lines += [f"  {direction.direction} near miss: {m}" for m in direction.near_misses]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)
