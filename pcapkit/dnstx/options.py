"""The DNS transaction stage's options: pairing, retries, search paths, DNAT, capture end."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pcapkit.errors import PcapkitError
from pcapkit.options import assign, documented, flag, seconds


@dataclass(frozen=True)
class DnsOptions:
    """How DNS messages become transactions (docs/dns.md). Bad values raise PcapkitError
    naming the field."""

    timeout: float = documented(
        5.0, "Seconds a response may follow its query (glibc's default timeout).")
    retry_window: float = documented(
        10.0, "Seconds within which the same question asked again is a retry.")
    retry_any_server: bool = documented(
        False, "A retry may go to another server (resolvers rotate nameservers).")
    parallel_window: float = documented(
        0.1, "Seconds within which an A and an AAAA query from one socket are glibc's "
             "parallel pair.")
    cluster_domain: str = documented(
        "cluster.local", "The cluster's DNS domain, for the search-path expansion.")
    search_domains: tuple[str, ...] = documented(
        (), "Search domains beyond the cluster's own (a node's resolv.conf).")
    search_gap: float = documented(
        1.0, "Most seconds between one search-path try's answer and the next try.")
    nat_window: float = documented(
        1.0, "Most seconds between the sightings of one query before and after a "
             "Service's DNAT for them to be one transaction.")
    capture_end: Any = documented(
        None, "When the captures ended: None (each node's last packet), one time, or "
              "{node: time}; a query closer to it than timeout is never called unanswered.")

    def __post_init__(self) -> None:
        checked = {name: seconds("dns", name, getattr(self, name))
                   for name in ("timeout", "retry_window", "parallel_window", "search_gap",
                                "nat_window")}
        domains = self.search_domains
        domains = (domains,) if isinstance(domains, str) else domains
        domains = tuple(domains) if isinstance(domains, Iterable) else (domains,)
        if not all(isinstance(d, str) for d in domains):
            raise PcapkitError(f"dns: search_domains must be strings, got {domains!r}")
        if not isinstance(self.cluster_domain, str) or not self.cluster_domain.strip("."):
            raise PcapkitError("dns: cluster_domain must be a domain name, "
                               f"got {self.cluster_domain!r}")
        assign(self, **checked, search_domains=domains,
               retry_any_server=flag("dns", "retry_any_server", self.retry_any_server),
               capture_end=_capture_end(self.capture_end))


def _capture_end(value: Any) -> Any:
    """None, a UTC Timestamp, or a read-only {node: UTC Timestamp}."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return MappingProxyType({str(node): _time(when, f"capture_end[{node!r}]")
                                 for node, when in value.items()})
    return _time(value, "capture_end")


def _time(value: Any, what: str) -> Any:
    import pandas as pd

    from pcapkit.cluster.snapshot.times import as_utc

    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise PcapkitError(f"dns: {what}={value!r} is not a time") from exc
    if stamp is pd.NaT:
        raise PcapkitError(f"dns: {what} is NaT")
    return as_utc(stamp)
