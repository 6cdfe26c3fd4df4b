"""The connection_attempts table: connections that got no answer or were refused, with the
NetworkPolicy verdict for each and the last place its packets were seen.

Built by the ``connection_attempts`` analysis (:mod:`pcapkit.analyses.attempts`); the
policy-drop and unanswered-connection rules read it, the ``policy_conflicts`` analysis
counts the attempts a policy problem explains.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, register
from pcapkit.schema.flows import END_IDENTITIES, FLOWS

#: what happened to the attempt, most telling first (a flow gets the first that applies)
ATTEMPTS = ("icmp_prohibited", "icmp_unreachable", "tcp_reset", "syn_unanswered",
            "udp_unanswered")
#: the policy verdict of an attempt
VERDICTS = ("denied", "allowed", "not_applicable", "no_policies", "no_snapshot",
            "unknown_endpoint")

CONNECTION_ATTEMPTS = register(Table(
    "connection_attempts",
    "one connection attempt that was never answered or was refused (a flow), with its "
    "policy verdict",
    columns(
        tuple(FLOWS[name] for name in (
            "flow_id", "ts", "last_ts", "proto", "orig_h", "orig_p", "resp_h", "resp_p",
            "conn_state", "history", "orig_pkts", "syn_retrans", "icmp_error_types",
            "icmp_error_senders", "service_ip", "service_port")),
        END_IDENTITIES,
        (
            Column("attempt", "category",
                   "What happened: " + ", ".join(ATTEMPTS) + " (an ICMP administratively "
                   "prohibited error 3/9, 3/10, 3/13 or ICMPv6 1/1; another ICMP "
                   "unreachable; a TCP reset to the SYN; SYNs never answered; UDP never "
                   "answered).", "flows"),
            Column("reply_expected", "bool",
                   "Whether the protocol answers: true for TCP and UDP request/response "
                   "ports (DNS, NTP, SNMP, QUIC ...), false for one-way-by-design UDP "
                   "(syslog 514, statsd 8125, NetFlow/IPFIX/sFlow, GELF ...) and UDP to a "
                   "group (multicast, broadcast by address or link address), NA for other "
                   "UDP ports.", "flows"),
            Column("verdict", "category",
                   "NetworkPolicy verdict: " + ", ".join(VERDICTS) + " (no_policies: the "
                   "snapshot holds no NetworkPolicy, so it proves nothing; not_applicable: "
                   "neither end is subject to NetworkPolicy, e.g. a Multus secondary "
                   "network or hostNetwork pods; unknown_endpoint: an end is an unknown pod "
                   "of a pod range).", "flows"),
            Column("denied_by", "category",
                   "The denying side: ingress (of the destination), egress (of the source) "
                   "or egress,ingress; NA unless denied.", "flows"),
            Column("policies", "str",
                   "The policies isolating the pod on the denying side(s), as "
                   "namespace/name, comma-separated; NA unless denied.", "flows"),
            Column("reason", "str",
                   "Why, in words: the denying direction's reason ('ingress to shop/db "
                   "isolated by shop/db-ingress; no rule ... admits TCP 5432 from shop/"
                   "client'), or what the verdict rests on.", "flows"),
            Column("near_misses", "str",
                   "Rules that almost admit the traffic, '; '-separated ('shop/web-ingress "
                   "rule 0 admits TCP 8080 but only from pods app=front-end in shop; "
                   "shop/client has app=frontend').", "flows"),
            Column("policy_notes", "str",
                   "The verdict's notes (Services evaluated against their backends, Multus, "
                   "hostNetwork, CNI policies not evaluated ...), ' | '-separated.", "flows"),
            Column("path", "str",
                   "Where the originator's packets were seen, in order of first sighting "
                   "(node:interface, ' > '-separated).", "flows"),
            Column("last_seen_at", "str",
                   "The node:interface of the latest sighting of the originator's packets: "
                   "where they were last seen before being lost.", "flows"),
            Column("reached_resp_node", "bool",
                   "Some capture on the responder's node saw the originator's packets; "
                   "false when that node was captured and never saw them; NA when the "
                   "responder's node is unknown or was not captured.", "flows"),
        )),
    time="ts", evidence=("flow_id",)))
