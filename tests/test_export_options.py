"""How the streamed packet table is laid out in Parquet, and what the command loads.

The layout choices are for speed (statistics only where they prune, delta-encoded
frame numbers and times), so they must not change what a reader gets back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pcapkit.decode.parquet import ENCODINGS, STATISTICS, write_packets_parquet

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
THREE_INTERFACES = FIXTURES / "crafted" / "pcapng-three-interfaces-gadget.pcapng"
VXLAN_8472 = FIXTURES / "public" / "tcpdump-vxlan_port_8472.pcap"


def test_statistics_and_encodings_where_they_pay(tmp_path: Path) -> None:
    out = tmp_path / "packets.parquet"
    written, errors = write_packets_parquet([THREE_INTERFACES, VXLAN_8472], out)
    assert written > 10 and not errors
    metadata = pq.ParquetFile(out).metadata
    for group in range(metadata.num_row_groups):
        columns = [metadata.row_group(group).column(i) for i in range(metadata.num_columns)]
        assert sorted(c.path_in_schema for c in columns if c.is_stats_set) == sorted(STATISTICS)
        for column in columns:
            if column.path_in_schema in ENCODINGS:
                assert ENCODINGS[column.path_in_schema] in column.encodings
    # min/max of the time and frame columns let a reader skip row groups
    frame = pd.read_parquet(out, filters=[("frame", ">", 5)])
    assert len(frame) and (frame["frame"] > 5).all()


def test_delta_encoded_columns_read_back_exactly(tmp_path: Path) -> None:
    out = tmp_path / "packets.parquet"
    write_packets_parquet([THREE_INTERFACES], out)
    from pcapkit import decode_files

    expected = decode_files([THREE_INTERFACES]).packets
    back = pd.read_parquet(out)
    assert str(back["ts"].dtype) == "datetime64[ns, UTC]" and str(back["frame"].dtype) == "Int64"
    assert back["ts"].tolist() == expected["ts"].tolist()
    assert back["frame"].tolist() == expected["frame"].tolist()


LOADED = """
import json, sys
from pcapkit.cli import main
lazy = {name: name in sys.modules for name in ("pcapkit.cli.policy", "pcapkit.cli.incident")}
sys.argv = ["pcapkit", "decode", sys.argv[1], "--format", "parquet", "--output", sys.argv[2]]
code = None
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "lazy": lazy,
                  "after": {name: name in sys.modules
                            for name in ("pyarrow.compute", "pandas", "pcapkit.cli.policy")}}))
"""


def test_streaming_to_parquet_loads_only_what_it_needs(tmp_path: Path) -> None:
    """pandas (a tenth of the run) and pyarrow.compute (25 ms of generated wrappers)
    stay unloaded, and the other commands' modules too."""
    done = subprocess.run([sys.executable, "-c", LOADED, str(VXLAN_8472),
                           str(tmp_path / "out.parquet")],
                          capture_output=True, text=True, check=True, timeout=120)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    assert report["lazy"] == {"pcapkit.cli.policy": False, "pcapkit.cli.incident": False}
    assert report["after"] == {"pyarrow.compute": False, "pandas": False,
                               "pcapkit.cli.policy": False}
    assert len(pq.read_table(tmp_path / "out.parquet")) == 10
