"""Link ICMP errors to the DNS query they quote.

A server with nothing listening on port 53 answers a UDP query with ICMP port unreachable;
a firewall may answer admin-prohibited; a routing loop ttl-exceeded. The ICMP error quotes
the query's IP and UDP headers, so its (src, sport, dst, dport) is the transaction's
(client, client_port, server, server_port). Each error is given to the latest query of that
4-tuple sent before it and at most ``timeout`` earlier; a transaction keeps the first error.
Sightings of one ICMP packet are collapsed with ``packet_id`` when the table has it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.column_arrays import labels_at, packet_times_ns
from pcapkit.dnstx.arrays import joint_group_codes, null_strings, seconds_to_ns

_V4_UNREACHABLE = {0: "net-unreachable", 1: "host-unreachable", 2: "protocol-unreachable",
                   3: "port-unreachable", 4: "fragmentation-needed", 9: "admin-prohibited",
                   10: "admin-prohibited", 13: "admin-prohibited"}
_V6_UNREACHABLE = {0: "no-route", 1: "admin-prohibited", 3: "host-unreachable",
                   4: "port-unreachable", 5: "admin-prohibited", 6: "admin-prohibited"}
_V4_OTHER = {11: "ttl-exceeded", 12: "parameter-problem", 4: "source-quench"}
_V6_OTHER = {2: "packet-too-big", 3: "ttl-exceeded", 4: "parameter-problem"}


def icmp_error_name(is_v6: bool, icmp_type: int, code: int) -> str:
    """Short name of an ICMP/ICMPv6 error, e.g. port-unreachable."""
    if is_v6:
        if icmp_type == 1:
            return _V6_UNREACHABLE.get(code, f"unreachable-code-{code}")
        return _V6_OTHER.get(icmp_type, f"icmpv6-type-{icmp_type}")
    if icmp_type == 3:
        return _V4_UNREACHABLE.get(code, f"unreachable-code-{code}")
    return _V4_OTHER.get(icmp_type, f"icmp-type-{icmp_type}")


def quotes_ports(packets: pd.DataFrame) -> np.ndarray:
    """Per row of a packet table: whether it quotes a packet's ports (an ICMP error that
    may answer a query; the rows the DNS transactions read besides the DNS sightings)."""
    if not {"icmp_orig_sport", "icmp_orig_dport"} <= set(packets.columns):
        return np.zeros(len(packets), dtype=bool)
    return (packets["icmp_orig_sport"].notna() & packets["icmp_orig_dport"].notna()).to_numpy(
        dtype=bool, na_value=False)


def _errors(packets: pd.DataFrame) -> pd.DataFrame:
    """Distinct ICMP errors quoting a UDP or TCP packet: t, the quoted 4-tuple, name, from."""
    needed = ("icmp_type", "icmp_code", "icmp_orig_src", "icmp_orig_dst", "icmp_orig_sport",
              "icmp_orig_dport")
    if packets is None or any(c not in packets.columns for c in needed):
        return pd.DataFrame()
    rows = packets[quotes_ports(packets)]
    if rows.empty:
        return pd.DataFrame()
    frame = pd.DataFrame({
        "t": packet_times_ns(rows),
        "client": labels_at(rows["icmp_orig_src"]),
        "server": labels_at(rows["icmp_orig_dst"]),
        "client_port": rows["icmp_orig_sport"].to_numpy(dtype=np.int64),
        "server_port": rows["icmp_orig_dport"].to_numpy(dtype=np.int64),
        "icmp_type": rows["icmp_type"].to_numpy(dtype=np.int64, na_value=-1),
        "icmp_code": rows["icmp_code"].to_numpy(dtype=np.int64, na_value=-1),
        "from": labels_at(rows["src"]),
    })
    if "packet_id" in rows.columns:
        frame["packet_id"] = rows["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
        frame = frame.sort_values("t").drop_duplicates("packet_id")
    frame["is_v6"] = frame["client"].str.contains(":", regex=False).fillna(False).to_numpy(
        dtype=bool)
    kind = frame["icmp_type"].to_numpy()
    error = np.where(frame["is_v6"], np.isin(kind, (1, 2, 3, 4)), np.isin(kind, (3, 4, 11, 12)))
    return frame[error]


def link_icmp_errors(tx: pd.DataFrame, packets: pd.DataFrame | None,
                     timeout: float) -> pd.DataFrame:
    """icmp_error and icmp_error_from for ``tx`` (needs has_query, client, client_port,
    server, server_port, query_t)."""
    out = pd.DataFrame(index=tx.index)
    out["icmp_error"] = null_strings(len(tx))
    out["icmp_error_from"] = null_strings(len(tx))
    errors = _errors(packets)
    queries = tx[tx["has_query"]]
    if errors.empty or queries.empty:
        return out
    by = ["client", "client_port", "server", "server_port"]
    query_keys, error_keys = joint_group_codes(queries, errors, by)
    left = pd.DataFrame({"t": errors["t"].to_numpy(), "k": error_keys,
                         "e": np.arange(len(errors))}).sort_values("t")
    right = pd.DataFrame({"t": queries["query_t"].to_numpy(), "k": query_keys,
                          "row": queries.index.to_numpy()}).sort_values("t")
    merged = pd.merge_asof(left, right, on="t", by="k", direction="backward",
                           tolerance=seconds_to_ns(timeout)).dropna(subset=["row"])
    merged = merged.drop_duplicates("row")
    if merged.empty:
        return out
    hit = errors.iloc[merged["e"].to_numpy()]
    by = ["is_v6", "icmp_type", "icmp_code"]
    kinds = hit[by].drop_duplicates()
    kind_names = np.array([icmp_error_name(v6, kind, code) for v6, kind, code in zip(
        kinds["is_v6"].tolist(), kinds["icmp_type"].tolist(), kinds["icmp_code"].tolist(),
        strict=True)], dtype=object)  # once per distinct kind of error
    kind_codes, hit_codes = joint_group_codes(kinds, hit, by)
    names = kind_names[pd.Index(kind_codes).get_indexer(hit_codes)]
    rows = merged["row"].to_numpy(dtype=np.int64)
    out.loc[rows, "icmp_error"] = names
    out.loc[rows, "icmp_error_from"] = hit["from"].to_numpy()
    return out
