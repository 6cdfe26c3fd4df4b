"""The distinct-packet table as plain numpy arrays, ready for flow assembly.

Only IP packets take part in flows. Addresses of every address column (src, dst and the
addresses quoted in ICMP errors) share one code space so they can be compared as integers.
Each packet also gets its overlay context: the (encap, VNI) of its first encapsulated
sighting, so a packet seen both on a pod veth and inside VXLAN on the underlay is known to
belong to that overlay.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from pcapkit.column_arrays import codes_of, packet_times_ns, shared_codes
from pcapkit.errors import PcapkitError

REQUIRED = ("src", "dst", "proto")
NUMERIC = ("sport", "dport", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_window", "payload_len",
           "ip_len", "icmp_type", "icmp_code", "icmp_orig_proto", "icmp_orig_sport",
           "icmp_orig_dport", "ip_id", "frag_offset")


@dataclass
class Packets:
    """One entry per IP packet; every field is an int64 array (-1 = absent)."""

    row: np.ndarray
    pid: np.ndarray
    t: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    proto: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    flags: np.ndarray
    seq: np.ndarray
    ack_no: np.ndarray
    win: np.ndarray
    plen: np.ndarray
    iplen: np.ndarray
    itype: np.ndarray
    icode: np.ndarray
    ctx: np.ndarray
    ip_id: np.ndarray
    frag: np.ndarray
    more_frags: np.ndarray
    q_src: np.ndarray
    q_dst: np.ndarray
    q_proto: np.ndarray
    q_sport: np.ndarray
    q_dport: np.ndarray

    def take(self, index: np.ndarray, names: tuple[str, ...] | None = None) -> Packets:
        """The packets at ``index``; fields not in ``names`` (if given) are left empty."""
        empty = np.zeros(0, dtype=np.int64)
        return Packets(**{f.name: getattr(self, f.name)[index]
                          if names is None or f.name in names else empty
                          for f in fields(self)})

    def __len__(self) -> int:
        return len(self.row)


@dataclass
class Inputs:
    """Packets plus the label tables their codes point into."""

    packets: Packets
    addresses: np.ndarray   # address string per code
    ctx_encap: np.ndarray   # encap name per context code (0 = "none")
    ctx_vni: np.ndarray     # VNI per context code (-1 = none)


def _int(df: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """Column ``name`` at ``rows`` as int64, -1 where null or absent."""
    if name not in df.columns:
        return np.full(len(rows), -1, dtype=np.int64)
    column = df[name]
    if not (pd.api.types.is_integer_dtype(column) or pd.api.types.is_float_dtype(column)):
        column = pd.to_numeric(column.astype("object"), errors="coerce")
    values = column.iloc[rows]
    if values.dtype.kind == "f":
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(array), -1, array).astype(np.int64)
    return values.to_numpy(dtype=np.int64, na_value=-1)


def _shared_address_codes(df: pd.DataFrame, names: tuple[str, ...],
                          rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Codes of several address columns at ``rows`` in one shared label space (-1 for a
    column the table lacks)."""
    present = [name for name in names if name in df.columns]
    codes, labels = shared_codes([df[name].iloc[rows] for name in present])
    by_name = dict(zip(present, codes, strict=True))
    return [by_name[name] if name in by_name else np.full(len(rows), -1, dtype=np.int64)
            for name in names], labels


def packet_contexts(distinct: pd.DataFrame, sightings: pd.DataFrame | None,
                    pid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context code per packet, encap per code, VNI per code); code 0 = not encapsulated.

    A packet's context is the (encap, VNI) of its first tunnelled sighting."""
    none = (np.zeros(len(pid), np.int64), np.array(["none"], dtype=object),
            np.array([-1], dtype=np.int64))
    source = sightings if sightings is not None and {"packet_id", "encap"} <= set(
        sightings.columns) else distinct
    if "encap" not in source.columns or not len(source):
        return none
    encap, labels = codes_of(source["encap"])
    tunnel = np.array([label != "none" for label in labels], dtype=bool)
    wrapped = np.flatnonzero((encap >= 0) & tunnel[np.maximum(encap, 0)]) if len(labels) \
        else np.zeros(0, np.int64)
    if not len(wrapped):
        return none
    ids = pd.to_numeric(source["packet_id"].iloc[wrapped]).to_numpy(dtype=np.int64,
                                                                    na_value=-1)
    vni = _int(source, "vni", wrapped)
    first = ~pd.Series(ids).duplicated().to_numpy()
    ids, pair = ids[first], encap[wrapped][first] * (1 << 33) + (vni[first] + 1)
    codes, uniques = pd.factorize(pair)
    ctx_encap = np.concatenate([["none"], labels[uniques >> 33]]).astype(object)
    ctx_vni = np.concatenate([[-1], (uniques & ((1 << 33) - 1)) - 1]).astype(np.int64)
    where = pd.Index(ids).get_indexer(pid)
    ctx = np.where(where >= 0, codes[np.maximum(where, 0)] + 1, 0).astype(np.int64)
    return ctx, ctx_encap, ctx_vni


def load_inputs(distinct: pd.DataFrame, sightings: pd.DataFrame | None = None) -> Inputs:
    """Check the table and turn its IP packets into arrays."""
    if not isinstance(distinct, pd.DataFrame):
        raise PcapkitError("flows: expected a pandas DataFrame of distinct packets")
    missing = [c for c in REQUIRED if c not in distinct.columns]
    if missing:
        raise PcapkitError(f"flows: the packet table has no {missing[0]!r} column")
    times = packet_times_ns(distinct)
    is_ip = (distinct["src"].notna() & distinct["dst"].notna()
             & distinct["proto"].notna()).to_numpy()
    rows = np.flatnonzero(is_ip)
    if "packet_id" in distinct.columns:
        pid = distinct["packet_id"].iloc[rows].to_numpy(dtype=np.int64, na_value=-1)
    else:
        pid = rows.astype(np.int64)
    (src, dst, q_src, q_dst), addresses = _shared_address_codes(
        distinct, ("src", "dst", "icmp_orig_src", "icmp_orig_dst"), rows)
    ctx, ctx_encap, ctx_vni = packet_contexts(
        distinct if "packet_id" in distinct.columns
        else distinct.assign(packet_id=np.arange(len(distinct))), sightings, pid)

    num = {name: _int(distinct, name, rows) for name in NUMERIC}
    more = (distinct["more_fragments"].iloc[rows].to_numpy(dtype=bool, na_value=False)
            if "more_fragments" in distinct.columns else np.zeros(len(rows), bool))
    packets = Packets(
        row=rows.astype(np.int64), pid=pid, t=times[rows], src=src, dst=dst,
        proto=_int(distinct, "proto", rows), sport=num["sport"], dport=num["dport"],
        flags=np.maximum(num["tcp_flags"], 0), seq=num["tcp_seq"], ack_no=num["tcp_ack"],
        win=num["tcp_window"], plen=np.maximum(num["payload_len"], 0),
        iplen=np.maximum(num["ip_len"], 0), itype=num["icmp_type"], icode=num["icmp_code"],
        ctx=ctx, ip_id=num["ip_id"], frag=np.maximum(num["frag_offset"], 0),
        more_frags=more.astype(np.int64), q_src=q_src, q_dst=q_dst,
        q_proto=num["icmp_orig_proto"], q_sport=num["icmp_orig_sport"],
        q_dport=num["icmp_orig_dport"])
    return Inputs(packets=packets, addresses=addresses, ctx_encap=ctx_encap, ctx_vni=ctx_vni)

