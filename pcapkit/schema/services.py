"""The Service failure table: connections to a Service that its endpoints cannot explain.

Built by ``pcapkit.analyses.services`` from the flows and the snapshot's Services and
endpoints (``Cluster.service_backends``): a connection to a Service address refused (TCP
reset, ICMP unreachable) while the Service has no endpoint for that port (kube-proxy's
reject rule), refused although it has endpoints (stale rules, a missing targetPort), or
unanswered while the client is itself the Service's backend (a hairpin the bridge does not
turn around). Without a snapshot nothing says an address is a Service: the table is empty.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, register
from pcapkit.schema.flows import END_IDENTITIES, FLOWS

#: Values of ``verdict``, in the order they are tried.
VERDICTS = ("hairpin", "no_endpoints", "rejected_with_endpoints")

SERVICE_FAILURES = register(Table(
    "service_failures", "one connection to a Service that was refused or, from one of the "
                        "Service's own backends, never answered",
    columns(
        tuple(FLOWS[name] for name in (
            "flow_id", "ts", "proto", "orig_h", "orig_p", "resp_h", "resp_p", "conn_state",
            "history", "syn_retrans", "icmp_error_types", "icmp_error_senders", "nat_side",
            "backend_ip")),
        (
            Column("service", "str", "The Service (namespace/name) the client connected to.",
                   "flows"),
            Column("endpoints", "i64",
                   "Endpoints the snapshot lists for the Service's address, port and "
                   "protocol.", "flows"),
            Column("client_is_backend", "bool",
                   "The client's address is one of those endpoints.", "flows"),
            Column("refused", "bool",
                   "Refused: a TCP reset to the SYN (REJ) or an ICMP port/host unreachable "
                   "(3/3, 3/1) quoting it.", "flows"),
            Column("verdict", "category",
                   "hairpin (the client is a backend of the Service and got no answer or a "
                   "refusal), no_endpoints (refused, the Service has no endpoint for the "
                   "port), rejected_with_endpoints (refused although it has).", "flows"),
            Column("reason", "str", "The verdict in words.", "flows"),
        ),
        END_IDENTITIES),
    time="ts", evidence=("flow_id",)))
