"""Link a client's query to cluster DNS with the upstream query it caused.

CoreDNS answers names outside the cluster by forwarding them: a client query arrives, the
DNS pod sends the same question upstream (from its pod IP, or from its node's IP after SNAT
when it runs with hostNetwork or the upstream is outside the cluster) and answers the client
once the upstream answers, or with SERVFAIL when it never does. Linking the two lets a
client's SERVFAIL be traced to the upstream that stayed silent.

Which addresses are cluster DNS:
  * with a cluster: the kube-dns service IPs and the pods behind them (label
    ``k8s-app=kube-dns`` or backing ``kube-system/kube-dns``); upstream queries are queries
    sent from those pods' IPs or from the addresses of the nodes they run on;
  * without: any server that itself sends queries for the names it is asked (the link
    requires the upstream query to come from the very address the client queried, or from
    the backend that address was DNAT'd to when the two sightings were merged).

A client query D and an upstream query U are linked when they ask the same question
(qname case-insensitively, qtype), U left at or after D and within ``timeout`` of it, and
before D's response when D has one. Each D gets the first such U and ``upstream_status``,
the outcome of U's retry chain (its last attempt); a U shared by several clients' queries
(the resolver may coalesce them) names the earliest as its downstream, and U's re-sends
carry the same ``downstream_tx_id``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.dnstx.arrays import joint_group_codes, null_ints, null_strings, seconds_to_ns


def _first_upstream(down: pd.DataFrame, up: pd.DataFrame, by: list[str],
                    timeout: float) -> pd.DataFrame:
    """For each downstream query, the first upstream query of the same key within timeout."""
    if down.empty or up.empty:
        return pd.DataFrame({"down": [], "up": []}, dtype=np.int64)
    down_keys, up_keys = joint_group_codes(down, up, by)
    left = pd.DataFrame({"t": down["query_t"].to_numpy(), "k": down_keys,
                         "down": down.index.to_numpy(),
                         "deadline": down["response_t"].to_numpy()}).sort_values("t")
    right = pd.DataFrame({"t": up["query_t"].to_numpy(), "k": up_keys,
                          "up": up.index.to_numpy(), "t_up": up["query_t"].to_numpy()},
                         ).sort_values("t")
    merged = pd.merge_asof(left, right, on="t", by="k", direction="forward",
                           tolerance=seconds_to_ns(timeout), allow_exact_matches=True)
    merged = merged.dropna(subset=["up"])
    in_time = (merged["deadline"] < 0) | (merged["t_up"] <= merged["deadline"])
    merged = merged[in_time]
    return pd.DataFrame({"down": merged["down"].to_numpy(dtype=np.int64),
                         "up": merged["up"].to_numpy(dtype=np.int64)})


def find_resolver_chains(tx: pd.DataFrame, *, timeout: float,
                         dns_servers: set[str] | None,
                         resolver_addresses: set[str] | None) -> pd.DataFrame:
    """resolver_role, upstream_tx_id, upstream_status, downstream_tx_id for ``tx``.

    ``tx`` needs: tx_id, has_query, client, server, qname_lc, qtype, query_t, response_t,
    retry_of and final_status (the outcome of each transaction's retry chain).
    ``dns_servers``/``resolver_addresses`` come from the cluster (None: infer).
    """
    out = pd.DataFrame(index=tx.index)
    out["resolver_role"] = null_strings(len(tx))
    out["upstream_tx_id"] = null_ints(len(tx))
    out["upstream_status"] = null_strings(len(tx))
    out["downstream_tx_id"] = null_ints(len(tx))
    queries = tx[tx["has_query"] & (tx["qname_lc"] != "")]
    if queries.empty:
        return out
    client = queries["client"].to_numpy(dtype=object)
    server = queries["server"].to_numpy(dtype=object)
    if dns_servers:
        is_down = np.isin(server, list(dns_servers))
        is_up = np.isin(client, list(resolver_addresses or ())) & ~is_down
        down, up = queries[is_down], queries[is_up]
        links = _first_upstream(down, up, ["qname_lc", "qtype"], timeout)
    else:
        # After a Service's DNAT the resolver that asks upstream is the backend, not the
        # Service address the client asked.
        answering = server
        if "server_backend" in queries.columns:
            backend = queries["server_backend"].to_numpy(dtype=object)
            answering = np.where(pd.notna(backend), backend, server)
        resolvers = set(answering.tolist()) & set(client.tolist())
        is_down = np.isin(answering, list(resolvers))
        down = queries[is_down].assign(resolver=answering[is_down])
        up = queries[np.isin(client, list(resolvers))]
        links = _first_upstream(down, up.assign(resolver=up["client"]),
                                ["resolver", "qname_lc", "qtype"], timeout)
        active = set(down.loc[links["down"], "resolver"].tolist())
        down = down[down["resolver"].isin(active)]
        up = up[up["client"].isin(active) & ~up["server"].isin(active)]
    out.loc[down.index, "resolver_role"] = "client_query"
    out.loc[up.index, "resolver_role"] = "upstream_query"
    if links.empty:
        return out
    tx_id = tx["tx_id"]
    out.loc[links["down"].to_numpy(), "upstream_tx_id"] = tx_id.loc[links["up"]].to_numpy()
    out.loc[links["down"].to_numpy(), "upstream_status"] = tx.loc[
        links["up"], "final_status"].to_numpy()
    earliest = links.assign(t=tx.loc[links["down"], "query_t"].to_numpy()).sort_values(
        "t").drop_duplicates("up")
    downstream_of_up = pd.Series(tx_id.loc[earliest["down"]].to_numpy(),
                                 index=tx_id.loc[earliest["up"]].to_numpy())
    # The upstream query's own re-sends answer to the same client query.
    chain = tx["retry_of"].fillna(tx["tx_id"]).astype(np.int64)
    first_up = chain.loc[earliest["up"]].to_numpy()
    downstream_of_chain = pd.Series(downstream_of_up.to_numpy(), index=first_up)
    downstream_of_chain = downstream_of_chain[~downstream_of_chain.index.duplicated()]
    in_chain = chain.isin(downstream_of_chain.index) & (out["resolver_role"] == "upstream_query")
    rows = tx.index[in_chain.to_numpy(dtype=bool, na_value=False)]
    out.loc[rows, "downstream_tx_id"] = downstream_of_chain.loc[chain.loc[rows]].to_numpy()
    out.loc[earliest["up"].to_numpy(), "downstream_tx_id"] = downstream_of_up.to_numpy()
    return out
