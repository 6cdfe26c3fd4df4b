"""ICMP errors of several kinds, each given to the query it quotes with its own name."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.dnstx.icmp import icmp_error_name, link_icmp_errors

MS = 1_000_000
T0 = pd.Timestamp("2024-05-14 09:30:00", tz="UTC").value


def test_each_query_gets_the_name_of_the_error_that_quotes_it():
    # (client, port, server, v6, ICMP type, code, router): one error per query
    kinds = [("10.0.0.1", 40001, "10.96.0.10", False, 3, 3, "10.96.0.10"),
             ("10.0.0.1", 40002, "10.96.0.10", False, 3, 13, "10.0.0.254"),
             ("10.0.0.2", 40003, "10.96.0.10", False, 11, 0, "10.0.0.254"),
             ("fd00::1", 40004, "fd00::53", True, 1, 4, "fd00::53"),
             ("fd00::1", 40005, "fd00::53", True, 3, 0, "fd00::fe"),
             ("10.0.0.2", 40006, "10.96.0.10", False, 3, 3, "10.96.0.10"),
             ("10.0.0.3", 40007, "10.96.0.10", False, 3, 7, "10.0.0.254")]
    n = len(kinds)
    query_t = T0 + np.arange(n, dtype=np.int64) * 10 * MS
    tx = pd.DataFrame({
        "has_query": np.ones(n + 1, dtype=bool),
        "client": pd.Series([k[0] for k in kinds] + ["10.0.0.9"], dtype=object),
        "client_port": np.array([k[1] for k in kinds] + [40009], dtype=np.int64),
        "server": pd.Series([k[2] for k in kinds] + ["10.96.0.10"], dtype=object),
        "server_port": np.full(n + 1, 53, dtype=np.int64),
        "query_t": np.append(query_t, T0),
    })
    packets = pd.DataFrame({
        "ts": pd.to_datetime(query_t + MS, utc=True),
        "src": pd.Categorical([k[6] for k in kinds]),
        "icmp_type": pd.array([k[4] for k in kinds], dtype="UInt8"),
        "icmp_code": pd.array([k[5] for k in kinds], dtype="UInt8"),
        "icmp_orig_src": pd.Categorical([k[0] for k in kinds]),
        "icmp_orig_dst": pd.Categorical([k[2] for k in kinds]),
        "icmp_orig_sport": pd.array([k[1] for k in kinds], dtype="UInt16"),
        "icmp_orig_dport": pd.array([53] * n, dtype="UInt16"),
    })
    found = link_icmp_errors(tx, packets, timeout=5.0)
    want = [icmp_error_name(k[3], k[4], k[5]) for k in kinds]
    assert want == ["port-unreachable", "admin-prohibited", "ttl-exceeded",
                    "port-unreachable", "ttl-exceeded", "port-unreachable",
                    "unreachable-code-7"]
    assert found["icmp_error"].tolist()[:n] == want
    assert found["icmp_error_from"].tolist()[:n] == [k[6] for k in kinds]
    assert pd.isna(found.loc[n, "icmp_error"]) and pd.isna(found.loc[n, "icmp_error_from"])
