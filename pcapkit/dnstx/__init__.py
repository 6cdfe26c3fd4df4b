"""DNS transactions: queries paired with responses across every capture point.

``build_dns_transactions(dns, packets, cluster=None, *, options=DnsOptions(...))``
turns the decoder's DNS table (one row per sighting of a message) into one row per
query/response pair (a query seen before and after a Service's DNAT counts once) with
status, latency, retries (including glibc's parallel A+AAAA pattern), search-path
expansion, resolver chains, ICMP errors and cluster identities.
The table registry (``pcapkit.schema.dnstx``, docs/columns.md) documents every column;
docs/dns.md explains the rules.
"""

from pcapkit.dnstx.build import build_dns_transactions
from pcapkit.dnstx.options import DnsOptions
from pcapkit.schema.dnstx import RETRY_PATTERNS, STATUSES

__all__ = ["RETRY_PATTERNS", "STATUSES", "DnsOptions",
           "build_dns_transactions"]
