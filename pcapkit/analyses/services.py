"""Service failures: refused or hairpinned connections to a Service, against its endpoints.

One pass over the flows: the ones whose responder is a Service address (the client's side
of kube-proxy's DNAT) or, after the DNAT, the client itself; their Service's endpoints
counted once per (address, port, protocol) from ``Cluster.service_backends``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.services import SERVICE_FAILURES, VERDICTS

if TYPE_CHECKING:
    from pcapkit.capture import Capture

#: ICMP errors a reject rule answers with (port unreachable, host unreachable)
REJECT_ICMP = r"(?:^|,)3/(?:3|1)(?:,|$)"
_KEY = ["service_ip", "service_port", "transport"]


@register_analysis("service_failures")
def service_failures(capture: Capture) -> pd.DataFrame:
    """One row per failed connection to a Service (see pcapkit.schema.services)."""
    flows, cluster = capture.flows, capture.cluster
    if cluster is None or not len(flows):
        return empty_frame(SERVICE_FAILURES)
    text = {c: flows[c].astype(object).where(flows[c].notna(), None).to_numpy(dtype=object)
            for c in ("orig_h", "resp_h", "resp_kind", "resp_service", "nat_side",
                      "backend_ip", "conn_state", "proto")}
    to_service = (text["resp_kind"] == "service") & pd.notna(text["resp_service"])
    hairpin_after_dnat = (text["nat_side"] == "backend") & (text["orig_h"] == text["resp_h"])
    refused = (text["conn_state"] == "REJ") | flows["icmp_error_types"].astype("string") \
        .str.contains(REJECT_ICMP, regex=True).fillna(False).to_numpy(dtype=bool)
    unanswered = text["conn_state"] == "S0"
    keep = (to_service | hairpin_after_dnat) & (refused | unanswered)
    rows = flows[keep].reset_index(drop=True)
    if not len(rows):
        return empty_frame(SERVICE_FAILURES)
    refused, unanswered = refused[keep], unanswered[keep]

    backends = cluster.service_backends()
    key = pd.DataFrame({
        "service_ip": np.where(hairpin_after_dnat[keep], rows["service_ip"].astype(object),
                               rows["resp_h"].astype(object)).astype(str),
        "service_port": np.where(hairpin_after_dnat[keep],
                                 rows["service_port"].to_numpy(dtype=np.float64, na_value=-1),
                                 rows["resp_p"].to_numpy(dtype=np.float64, na_value=-1)),
        "transport": rows["proto"].astype(str).to_numpy(),
        "orig_h": rows["orig_h"].astype(str).to_numpy()})
    table = pd.DataFrame({c: backends[c].astype(str) if c != "service_port"
                          else backends[c].astype(np.float64) for c in _KEY})
    table["backend_ip"] = backends["backend_ip"].astype(str)
    counts = table.groupby(_KEY).size().rename("endpoints").reset_index()
    endpoints = key.merge(counts, on=_KEY, how="left")["endpoints"].fillna(0) \
        .to_numpy(dtype=np.int64)
    member = key.merge(table.drop_duplicates().rename(columns={"backend_ip": "orig_h"})
                       .assign(member=True), on=[*_KEY, "orig_h"], how="left")
    client_is_backend = member["member"].fillna(False).to_numpy(dtype=bool) \
        | hairpin_after_dnat[keep]

    verdict = np.select([client_is_backend & (refused | unanswered),
                         refused & (endpoints == 0), refused & (endpoints > 0)],
                        list(VERDICTS), default="")
    chosen = verdict != ""
    rows, verdict = rows[chosen].reset_index(drop=True), verdict[chosen]
    service = pd.Series(np.where(hairpin_after_dnat[keep][chosen], rows["orig_service"]
                                 .astype(object), rows["resp_service"].astype(object)),
                        dtype=object)
    data = {name: rows[name] for name in SERVICE_FAILURES.names if name in rows.columns}
    data.update(
        service=service.to_numpy(dtype=object),
        endpoints=endpoints[chosen], client_is_backend=client_is_backend[chosen],
        refused=refused[chosen], verdict=verdict,
        reason=_reasons(verdict, rows, service, endpoints[chosen]))
    return build_frame(SERVICE_FAILURES, data)


def _reasons(verdict: np.ndarray, rows: pd.DataFrame, service: pd.Series,
             endpoints: np.ndarray) -> np.ndarray:
    how = np.where(rows["conn_state"].astype(str).to_numpy() == "REJ", "reset",
                   np.where(rows["icmp_error_types"].astype(str).str.len().to_numpy() > 0,
                            "ICMP " + rows["icmp_error_types"].astype(str).to_numpy()
                            + " from " + rows["icmp_error_senders"].astype(str).to_numpy(),
                            "no answer"))
    target = rows["resp_h"].astype(str) + ":" + rows["resp_p"].astype(str)
    service = service.astype(str)
    text = np.select(
        [verdict == "hairpin", verdict == "no_endpoints"],
        ["the client is a backend of " + service + " and reached itself through it: "
         + how + " (hairpin traffic not turned around)",
         service + " has no endpoints for " + target + ": " + how],
        default=service + " refused " + target + " (" + how + ") although it has "
        + pd.Series(endpoints).astype(str) + " endpoint(s)")
    return np.asarray(text, dtype=object)
