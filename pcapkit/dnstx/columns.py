"""The columns of the DNS transaction table, each with its one-line meaning."""

from __future__ import annotations

from pcapkit.cluster.identity.enrich import ENRICH_FIELDS

#: Values of ``status``; see docs/dns.md for the exact rules.
STATUSES = (
    "answered", "nxdomain", "servfail", "refused", "truncated", "other_error",
    "unanswered", "unanswered_at_capture_end", "response_only",
)

#: Values of ``retry_pattern``.
RETRY_PATTERNS = ("resend", "tcp_fallback", "glibc_parallel_retry")

_CORE: dict[str, str] = {
    "tx_id": "transaction number, 0.. in order of first message time",
    "query_ts": "time the query was first seen (ts_corrected of its earliest sighting); NaT for"
    " response_only",
    "response_ts": "time the paired response was first seen; NaT when none",
    "latency_s": "response_ts - query_ts in seconds; NaN when either is missing",
    "status": "answered, nxdomain, servfail, refused, truncated (TC bit, rcode NOERROR),"
    " other_error (any other rcode), unanswered (no response although the capture went on for"
    " at least `timeout`, or the client re-sent it), unanswered_at_capture_end (no response and"
    " the capture stopped less than `timeout` after the query: never a timeout),"
    " response_only (a response whose query was not captured)",
    "client": "address that sent the query (destination of the response)",
    "client_port": "client UDP/TCP port",
    "server": "address the client sent the query to: the Service IP when the query was seen"
    " before a Service's DNAT (server_backend then names the pod), else the address as seen",
    "server_port": "server port (53 or a configured DNS port)",
    "server_backend": "after a Service's DNAT: the backend (pod) address that got the query and"
    " answered, while server stays the Service IP the client asked; NA when not merged",
    "server_backend_port": "port of server_backend (the Service's target port)",
    "server_backend_pod": "pod behind server_backend per the cluster's endpoints; NA without a"
    " cluster",
    "nat": "'dnat' when the query was seen both before (to the Service) and after (to"
    " server_backend) the destination NAT and the sightings were merged; NA otherwise",
    "nat_reply_seen": "for a merged DNAT exchange, where the response was seen: both,"
    " backend_only (from the backend but never after the un-NAT: lost on the way to the"
    " client) or service_only; NA when none or not merged",
    "transport": "udp or tcp",
    "dns_id": "DNS header id shared by query and response",
    "qname": "question name as the query sent it (the response's when there is no query)",
    "qtype": "question type name (A, AAAA, SRV, ... TYPE<n>)",
    "rcode": "response code name of the response (NOERROR, NXDOMAIN, SERVFAIL, ...); NA when"
    " unanswered",
    "tc": "TC bit of the response: the answer did not fit, the client should retry over TCP",
    "ancount": "answer records in the response",
    "answers": "answer section of the response: list of {name, type, ttl, data} (read-only)",
    "answer_addrs": "A/AAAA addresses of the answer section, in order (read-only list)",
    "duplicate_responses": "further responses to the same query after the first (0 usually)",
    "malformed": "query or response is not valid DNS or was cut by the snaplen",
    "attempt": "1 for a first try, n for the n-th send of the same question (see retries)",
    "retry_of": "tx_id of attempt 1 of this question (itself for attempt 1)",
    "retries": "how many times the question was re-sent after attempt 1 (same on every attempt)",
    "retry_delay_s": "seconds since the previous attempt; NaN for attempt 1",
    "retry_pattern": "NA, resend (same question re-sent before an answer settled it),"
    " tcp_fallback (re-sent over TCP after a truncated UDP answer) or glibc_parallel_retry (an A"
    " and AAAA pair sent together from one socket, one answer lost and re-sent: the conntrack"
    " race of kubernetes/kubernetes#56903); set on every transaction of such a pattern",
    "parallel_tx_id": "tx_id of the A/AAAA query sent together with this one from the same socket"
    " (glibc style); NA when none",
    "icmp_error": "ICMP error quoting this query's 5-tuple after it was sent, e.g."
    " port-unreachable, host-unreachable, admin-prohibited, ttl-exceeded; NA when none",
    "icmp_error_from": "address that sent the ICMP error",
    "search_group": "tx_id of the first try of the search-path lookup this transaction belongs"
    " to (itself when it is not part of one)",
    "search_base": "the name the application asked for: qname without the search suffix that"
    " was appended (lower case)",
    "search_suffix": "the search-list suffix appended to search_base; NA for the name itself",
    "search_expansion": "True when qname is search_base plus a search suffix tried before the"
    " lookup settled",
    "search_position": "1-based order of this try within its search-path lookup",
    "search_nxdomains": "NXDOMAIN answers to search-suffix tries in this lookup (its cost)",
    "resolver_role": "client_query (sent to cluster DNS), upstream_query (sent by cluster DNS or"
    " its node), NA otherwise",
    "upstream_tx_id": "on a client_query: tx_id of the upstream query cluster DNS sent for it",
    "upstream_status": "status of that upstream query",
    "downstream_tx_id": "on an upstream_query: tx_id of the client query that caused it",
    "node": "node whose capture saw the query first (the response when there is no query)",
    "interface": "interface of that first sighting",
    "nodes": "sorted comma-separated nodes that saw the query or the response",
    "sightings": "sightings of the query and response together (1 + 1 on a single interface)",
    "query_file": "capture file of the query's first sighting",
    "query_frame": "frame number of the query's first sighting",
    "response_file": "capture file of the response's first sighting",
    "response_frame": "frame number of the response's first sighting",
    "query_packet_id": "packet_id (vantage) of the query message",
    "response_packet_id": "packet_id (vantage) of the response message",
}


def _identity_columns() -> dict[str, str]:
    columns: dict[str, str] = {}
    for side, what in (("client", "client address"), ("server", "server address")):
        for field in ENRICH_FIELDS:
            columns[f"{side}_{field}"] = (
                f"{field} of the {what} from the cluster snapshot (Cluster.enrich); NA without"
                " a cluster or when unknown"
            )
    return columns


DNS_TX_COLUMNS: dict[str, str] = {**_CORE, **_identity_columns()}
"""Every column of the DNS transaction table, in order, with its meaning."""
