"""The DNS transaction table: one row per query/response pair, like Zeek's dns.log.

Its ends follow the registry's one vocabulary (``orig_`` the client that sent the query,
``resp_`` the server it asked), as Zeek's dns.log names them ``id.orig_h``/``id.resp_h``;
after a Service's DNAT, ``backend_ip``/``backend_port`` name the pod that answered, as in the
flow table's NAT columns.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, identity_columns, register

#: Values of ``status``; see docs/dns.md for the exact rules.
STATUSES = ("answered", "nxdomain", "servfail", "refused", "truncated", "other_error",
            "unanswered", "unanswered_at_capture_end", "response_only")

#: Values of ``retry_pattern``.
RETRY_PATTERNS = ("resend", "tcp_fallback", "glibc_parallel_retry")

DNS_TX_COLUMNS: tuple[Column, ...] = (
    Column("tx_id", "i64", "Transaction number, 0.. in order of first message time.", "dns"),
    Column("query_ts", "ts",
           "Time the query was first seen (ts_corrected of its earliest sighting); NaT for"
           " response_only.", "dns"),
    Column("response_ts", "ts", "Time the paired response was first seen; NaT when none.", "dns"),
    Column("latency_s", "f64",
           "Response_ts - query_ts in seconds; NaN when either is missing.", "dns"),
    Column("status", "category",
           "answered, nxdomain, servfail, refused, truncated (TC bit, rcode NOERROR), "
           "other_error (any other rcode), unanswered (no response although the capture "
           "went on for at least `timeout`, or the client re-sent it), "
           "unanswered_at_capture_end (no response and the capture stopped less than "
           "`timeout` after the query: never a timeout), response_only (a response whose "
           "query was not captured).", "dns"),
    Column("orig_h", "ip", "Address that sent the query (destination of the response).", "dns"),
    Column("orig_p", "u16", "Client UDP/TCP port.", "dns"),
    Column("resp_h", "ip",
           "Address the client sent the query to: the Service IP when the query was seen "
           "before a Service's DNAT (backend_ip then names the pod), else the address as "
           "seen.", "dns"),
    Column("resp_p", "u16", "Server port (53 or a configured DNS port).", "dns"),
    Column("backend_ip", "ip",
           "After a Service's DNAT: the backend (pod) address that got the query and "
           "answered, while resp_h stays the Service IP the client asked; NA when not "
           "merged.", "dns"),
    Column("backend_port", "u16", "Port of backend_ip (the Service's target port).", "dns"),
    Column("backend_pod", "str",
           "Pod behind backend_ip per the cluster's endpoints; NA without a cluster.", "dns"),
    Column("nat", "str",
           "'dnat' when the query was seen both before (to the Service) and after (to "
           "backend_ip) the destination NAT and the sightings were merged; NA otherwise.", "dns"),
    Column("nat_reply_seen", "str",
           "For a merged DNAT exchange, where the response was seen: both, backend_only "
           "(from the backend but never after the un-NAT: lost on the way to the client) "
           "or service_only; NA when none or not merged.", "dns"),
    Column("transport", "category", "Udp or tcp.", "dns"),
    Column("dns_id", "i64", "DNS header id shared by query and response.", "dns"),
    Column("qname", "str",
           "Question name as the query sent it (the response's when there is no query).", "dns"),
    Column("qtype", "str", "Question type name (A, AAAA, SRV, ... TYPE<n>).", "dns"),
    Column("rcode", "str",
           "Response code name of the response (NOERROR, NXDOMAIN, SERVFAIL, ...); NA when"
           " unanswered.", "dns"),
    Column("tc", "bool",
           "TC bit of the response: the answer did not fit, the client should retry over "
           "TCP.", "dns"),
    Column("ancount", "i64", "Answer records in the response.", "dns"),
    Column("answers", "list",
           "Answer section of the response: list of {name, type, ttl, data} (read-only).", "dns"),
    Column("answer_addrs", "list",
           "A/AAAA addresses of the answer section, in order (read-only list).", "dns"),
    Column("duplicate_responses", "i64",
           "Further responses to the same query after the first (0 usually).", "dns"),
    Column("malformed", "bool",
           "Query or response is not valid DNS or was cut by the snaplen.", "dns"),
    Column("attempt", "i64",
           "1 for a first try, n for the n-th send of the same question (see retries).", "dns"),
    Column("retry_of", "i64", "Tx_id of attempt 1 of this question (itself for attempt 1).", "dns"),
    Column("retries", "i64",
           "How many times the question was re-sent after attempt 1 (same on every "
           "attempt).", "dns"),
    Column("final_status", "category",
           "Status of the last attempt of this question's retry chain: what the client got "
           "in the end (answered after a retry, or never).", "dns"),
    Column("retry_delay_s", "f64", "Seconds since the previous attempt; NaN for attempt 1.", "dns"),
    Column("retry_pattern", "str",
           "NA, resend (same question re-sent before an answer settled it), tcp_fallback "
           "(re-sent over TCP after a truncated UDP answer) or glibc_parallel_retry (an A "
           "and AAAA pair sent together from one socket, one answer lost and re-sent: the "
           "conntrack race of kubernetes/kubernetes#56903); set on every transaction of "
           "such a pattern.", "dns"),
    Column("parallel_tx_id", "i64",
           "Tx_id of the A/AAAA query sent together with this one from the same socket "
           "(glibc style); NA when none.", "dns"),
    Column("icmp_error", "str",
           "ICMP error quoting this query's 5-tuple after it was sent, e.g. "
           "port-unreachable, host-unreachable, admin-prohibited, ttl-exceeded; NA when "
           "none.", "dns"),
    Column("icmp_error_from", "str", "Address that sent the ICMP error.", "dns"),
    Column("search_group", "i64",
           "Tx_id of the first try of the search-path lookup this transaction belongs to "
           "(itself when it is not part of one).", "dns"),
    Column("search_base", "str",
           "The name the application asked for: qname without the search suffix that was "
           "appended (lower case).", "dns"),
    Column("search_suffix", "str",
           "The search-list suffix appended to search_base; NA for the name itself.", "dns"),
    Column("search_expansion", "bool",
           "True when qname is search_base plus a search suffix tried before the lookup "
           "settled.", "dns"),
    Column("search_position", "i64",
           "1-based order of this try within its search-path lookup.", "dns"),
    Column("search_nxdomains", "i64",
           "NXDOMAIN answers to search-suffix tries in this lookup (its cost).", "dns"),
    Column("resolver_role", "str",
           "Client_query (sent to cluster DNS), upstream_query (sent by cluster DNS or its"
           " node), NA otherwise.", "dns"),
    Column("upstream_tx_id", "i64",
           "On a client_query: tx_id of the upstream query cluster DNS sent for it.", "dns"),
    Column("upstream_status", "str", "Status of that upstream query.", "dns"),
    Column("downstream_tx_id", "i64",
           "On an upstream_query: tx_id of the client query that caused it.", "dns"),
    Column("node", "category",
           "Node whose capture saw the query first (the response when there is no query).", "dns"),
    Column("interface", "category", "Interface of that first sighting.", "dns"),
    Column("nodes", "str",
           "Sorted comma-separated nodes that saw the query or the response.", "dns"),
    Column("sightings", "i64",
           "Sightings of the query and response together (1 + 1 on a single interface).", "dns"),
    Column("query_file", "category", "Capture file of the query's first sighting.", "dns"),
    Column("query_frame", "i64", "Frame number of the query's first sighting.", "dns"),
    Column("response_file", "category", "Capture file of the response's first sighting.", "dns"),
    Column("response_frame", "i64", "Frame number of the response's first sighting.", "dns"),
    Column("query_packet_id", "i64", "Packet_id (vantage) of the query message.", "dns"),
    Column("response_packet_id", "i64", "Packet_id (vantage) of the response message.", "dns"),
    Column("nat_query_packet_id", "i64",
           "packet_id of the query as seen on the other side of the Service DNAT (to "
           "backend_ip when query_packet_id is the client's copy); NA when not merged.", "dns"),
    Column("nat_response_packet_id", "i64",
           "packet_id of the response as seen on the other side of the Service DNAT; NA when "
           "not merged.", "dns"),
    Column("flow_id", "i64",
           "Flow (flows.flow_id) of the UDP/TCP exchange that carried the query (the "
           "response when there is no query); NA when built without flows.", "dns"),
)

DNS = register(Table(
    "dns", "one DNS transaction: a query and its response, across every capture point",
    columns(DNS_TX_COLUMNS,
            identity_columns("orig", "the client address", "dns"),
            identity_columns("resp", "the server address", "dns")),
    time="query_ts", evidence=("query_packet_id", "response_packet_id", "nat_query_packet_id",
                               "nat_response_packet_id"),
    brief=("tx_id", "query_ts", "status", "orig_h", "resp_h", "qname", "qtype", "latency_s",
           "retries", "answer_addrs", "orig_identity", "resp_identity")))
