#!/usr/bin/env python3
"""In-process decoders the benchmark times, each run alone in a fresh interpreter.

    python benchmarks/bench_workers.py WORKER FILE [--limit N] [--batch-size B]

prints one JSON object: packets decoded, seconds spent decoding (imports
excluded), the resident memory right after the imports, and a note.  The
parent (bench_decode.py) adds the process's peak RSS from ``wait4``.

Workers: ``read`` (plain file read, the floor), ``decode_file`` and
``iter_decode`` (pcapkit's Python API), ``dpkt`` and ``scapy`` (per-packet
Python decoders, for context, on the first ``--limit`` packets).
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import time
from collections.abc import Callable

VXLAN_PORTS = (4789, 8472)
GENEVE_PORT = 6081


def _rss_now() -> int:
    """Peak RSS so far in bytes: right after the imports that is the import footprint."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def work_read(path: str, limit: int | None, batch_size: int | None) -> dict:
    """Read the whole file in 1 MiB pieces into one reused buffer."""
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    total = 0
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(view):
            total += count
    return {"seconds": time.perf_counter() - started, "packets": None,
            "note": f"{total / 1e6:.0f} MB read"}


def _pcapkit_kwargs(batch_size: int | None) -> dict:
    return {} if batch_size is None else {"batch_size": batch_size}


def work_decode_file(path: str, limit: int | None, batch_size: int | None) -> dict:
    """pcapkit.decode_file: the whole capture into DataFrames in memory."""
    from pcapkit import decode_file  # the package imports lazily: load it before timing

    import_rss = _rss_now()
    started = time.perf_counter()
    decoded = decode_file(path, **_pcapkit_kwargs(batch_size))
    seconds = time.perf_counter() - started
    dns_started = time.perf_counter()  # the DNS table is built on first access
    dns_rows = len(decoded.dns) if getattr(decoded, "dns", None) is not None else 0
    dns_seconds = time.perf_counter() - dns_started
    errors = list(getattr(decoded, "errors", []) or [])
    note = (f"{decoded.packets.shape[1]} columns; DNS table ({dns_rows:,} rows) "
            f"+{dns_seconds:.2f} s on first access")
    if "encap" in decoded.packets and len(decoded.packets):
        shares = decoded.packets["encap"].value_counts(normalize=True)
        note += ", encap " + " ".join(f"{name} {share:.0%}" for name, share in shares.items())
    if errors:
        note += f", {len(errors)} error(s): {errors[0]}"
    return {"seconds": seconds, "packets": len(decoded.packets), "import_rss": import_rss,
            "note": note}


def work_iter_decode(path: str, limit: int | None, batch_size: int | None) -> dict:
    """pcapkit.iter_decode: batches decoded and dropped one at a time (bounded memory)."""
    from pcapkit import iter_decode  # the package imports lazily: load it before timing

    import_rss = _rss_now()
    packets = batches = 0
    started = time.perf_counter()
    for batch in iter_decode(path, **_pcapkit_kwargs(batch_size)):
        table = getattr(batch, "packets", batch)      # a Decoded, or a bare DataFrame
        packets += len(table)
        batches += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "packets": packets, "import_rss": import_rss,
            "note": f"{batches} batches"}


def _dpkt_decoder() -> Callable[[float, bytes], tuple]:
    """A per-packet dpkt decoder extracting the same columns as pcapkit (outer + inner)."""
    import dpkt

    ntoa = socket.inet_ntoa

    def tunnel_payload(ip: dpkt.ip.IP) -> tuple[int | None, object]:
        l4 = ip.data
        if isinstance(l4, dpkt.ip.IP):                                   # IP-in-IP
            return None, l4
        if isinstance(l4, dpkt.udp.UDP) and len(l4.data) >= 8:
            data = bytes(l4.data)
            if l4.dport in VXLAN_PORTS:
                return int.from_bytes(data[4:7], "big"), dpkt.ethernet.Ethernet(data[8:]).data
            if l4.dport == GENEVE_PORT:
                start = 8 + (data[0] & 0x3F) * 4
                return int.from_bytes(data[4:7], "big"), dpkt.ethernet.Ethernet(data[start:]).data
        return None, None

    def decode(ts: float, buf: bytes) -> tuple:
        ip = dpkt.ethernet.Ethernet(buf).data
        if not isinstance(ip, dpkt.ip.IP):
            return (ts, len(buf))
        outer = None
        vni, inner = tunnel_payload(ip)
        if isinstance(inner, dpkt.ip.IP):
            outer, ip = ip, inner
        row = [ts, len(buf), vni, ntoa(ip.src), ntoa(ip.dst), ip.p, ip.ttl, ip.id]
        if outer is not None:
            row += [ntoa(outer.src), ntoa(outer.dst), outer.p, outer.ttl]
        l4 = ip.data
        if isinstance(l4, dpkt.tcp.TCP):
            row += [l4.sport, l4.dport, l4.flags, l4.seq, l4.ack, len(l4.data)]
        elif isinstance(l4, dpkt.udp.UDP):
            row += [l4.sport, l4.dport, len(l4.data)]
            if 53 in (l4.sport, l4.dport):
                message = dpkt.dns.DNS(bytes(l4.data))
                row += [message.id, message.rcode] + [(q.name, q.type) for q in message.qd]
        return tuple(row)

    return decode


def work_dpkt(path: str, limit: int | None, batch_size: int | None) -> dict:
    """dpkt reading and decoding the first ``limit`` packets, one Python object tree each."""
    import dpkt

    decode = _dpkt_decoder()
    import_rss = _rss_now()
    rows = []
    started = time.perf_counter()
    with open(path, "rb") as handle:
        for ts, buf in dpkt.pcap.Reader(handle):
            rows.append(decode(ts, buf))
            if limit is not None and len(rows) >= limit:
                break
    return {"seconds": time.perf_counter() - started, "packets": len(rows),
            "import_rss": import_rss, "note": "first packets only"}


def work_scapy(path: str, limit: int | None, batch_size: int | None) -> dict:
    """scapy reading and dissecting the first ``limit`` packets (VXLAN + Geneve bound)."""
    import scapy.contrib.geneve  # noqa: F401 - binds UDP 6081 to Geneve
    from scapy.layers.dns import DNS
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.utils import PcapReader

    import_rss = _rss_now()
    rows = []
    started = time.perf_counter()
    with PcapReader(path) as reader:
        for packet in reader:
            row: list = [float(packet.time), len(packet)]
            layer = packet
            while layer:
                if isinstance(layer, IP):
                    row += [layer.src, layer.dst, layer.proto, layer.ttl, layer.id]
                elif isinstance(layer, TCP):
                    row += [layer.sport, layer.dport, int(layer.flags), layer.seq, layer.ack]
                elif isinstance(layer, UDP):
                    row += [layer.sport, layer.dport]
                elif isinstance(layer, DNS):
                    row += [layer.id, layer.rcode]
                layer = layer.payload
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    return {"seconds": time.perf_counter() - started, "packets": len(rows),
            "import_rss": import_rss, "note": "first packets only"}


WORKERS: dict[str, Callable[[str, int | None, int | None], dict]] = {
    "read": work_read,
    "decode_file": work_decode_file,
    "iter_decode": work_iter_decode,
    "dpkt": work_dpkt,
    "scapy": work_scapy,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one timed decoder (used by bench_decode)")
    parser.add_argument("worker", choices=sorted(WORKERS))
    parser.add_argument("file")
    parser.add_argument("--limit", type=int, help="stop after this many packets")
    parser.add_argument("--batch-size", type=int, help="pcapkit batch size")
    args = parser.parse_args(argv)
    try:
        result = WORKERS[args.worker](args.file, args.limit, args.batch_size)
    except Exception as error:  # noqa: BLE001 - the parent shows this line, not a traceback
        print(f"{args.worker} failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
