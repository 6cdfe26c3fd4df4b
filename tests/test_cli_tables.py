"""Table output of decode, flows and dns: the brief columns that fit the terminal,
--columns/--all-columns, --where through the rule engine's compiler, values as people read
them (tcpdump's flag letters, hex payloads, protocol names, one null mark), and Parquet of
a Retina tarball."""

from __future__ import annotations

import io
import ipaddress
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import pcapkit
from pcapkit.cli import main
from pcapkit.cli.output import ICMP_TYPE_NAMES, PROTOCOL_NAMES, Output
from pcapkit.flows.build import PROTO_NAMES
from pcapkit.schema import TABLES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KERNEL = str(FIXTURES / "kernel" / "node1-any.pcap")
DNAT = str(FIXTURES / "kernel-dnat" / "node1-any.pcap")  # has an IGMP flow
DEMO = str(FIXTURES / "demo")
SNAPSHOT = str(FIXTURES / "demo" / "cluster.json")
TARBALLS = FIXTURES / "retina" / "demo" / "shop-incident"
NULL_SPELLINGS = ("NaN", "<NA>", "None", "NaT", "nan")


def run(*args: str, columns: int = 200):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns)})


def csv_of(*args: str) -> pd.DataFrame:
    result = run(*args, "--format", "csv")
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), keep_default_na=False, dtype=str)


def json_of(*args: str) -> list[dict]:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def header(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[0].split()


def assert_one_error(result, *fragments: str) -> None:
    """Exit 2, no traceback, one ``Error:`` line saying all of ``fragments``."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# -- columns ----------------------------------------------------------------------------

@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize(("command", "table"), [(("decode", KERNEL), "packets"),
                                                (("flows", DEMO), "flows"),
                                                (("dns", DEMO), "dns")])
def test_a_table_is_the_brief_columns_that_fit_the_terminal(command, table, width) -> None:
    result = run(*command, columns=width)
    lines = result.stdout.splitlines()
    assert len(lines) > 2
    assert max(len(line) for line in lines) <= width
    shown = header(result)
    brief = [n for n in TABLES[table].brief if n in TABLES[table].at(
        "decode" if table == "packets" else "dns").names]
    assert shown == brief[:len(shown)] and len(shown) < len(brief)


def test_a_wider_terminal_shows_more_brief_columns_and_a_file_all_of_them(tmp_path) -> None:
    narrow, wide = header(run("flows", DEMO, columns=80)), header(run("flows", DEMO,
                                                                      columns=400))
    assert len(wide) > len(narrow) and wide[:len(narrow)] == narrow
    out = tmp_path / "flows.txt"
    assert run("flows", DEMO, "-o", str(out), columns=40).exit_code == 0
    assert out.read_text().splitlines()[0].split() == list(TABLES["flows"].brief)


def test_columns_choose_and_order_the_columns_in_every_format(tmp_path) -> None:
    chosen = ["resp_p", "orig_h", "conn_state"]
    spec = ",".join(chosen)
    assert header(run("flows", DEMO, "--columns", spec, columns=20)) == chosen  # not cut
    assert list(csv_of("flows", DEMO, "--columns", spec).columns) == chosen
    assert all(list(row) == chosen for row in json_of("flows", DEMO, "--columns", spec))
    out = tmp_path / "flows.parquet"
    assert run("flows", DEMO, "--columns", spec, "--format", "parquet", "-o",
               str(out)).exit_code == 0
    assert list(pd.read_parquet(out).columns) == chosen
    assert list(csv_of("decode", KERNEL, "--dns", "--columns", "qname,frame").columns) == \
        ["qname", "frame"]  # checked against the DNS message table


def test_all_columns_shows_every_declared_column() -> None:
    assert header(run("decode", KERNEL, "--all-columns", columns=80)) == \
        TABLES["packets"].at("decode").names
    assert header(run("flows", DEMO, "--all-columns")) == TABLES["flows"].names


@pytest.mark.parametrize(("args", "fragments"), [
    (("flows", DEMO, "--columns", "orig_h,conn_stat"),
     ("--columns", "no column 'conn_stat'", "did you mean conn_state")),
    (("decode", KERNEL, "--columns", "ts,node"), ("--columns", "no column 'node'")),
    (("dns", DEMO, "--columns", ","), ("--columns", "name at least one column")),
    (("dns", DEMO, "--columns", "qname,status", "--columns", "qname"),
     ("--columns", "qname named twice")),
    (("flows", DEMO, "--columns", "ts", "--all-columns"), ("--columns and --all-columns",)),
])
def test_bad_columns_are_one_error_line(args, fragments) -> None:
    assert_one_error(run(*args), *fragments)


# -- --where ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_flows() -> pd.DataFrame:
    return pcapkit.open(DEMO, snapshot=SNAPSHOT).flows


@pytest.fixture(scope="module")
def dnat_flows() -> pd.DataFrame:
    return pcapkit.open(DNAT).flows


def flow_ids(*where: str, capture: tuple[str, ...] = (DEMO, "--snapshot", SNAPSHOT)
             ) -> list[int]:
    args = [a for w in where for a in ("--where", w)]
    return [int(v) for v in csv_of("flows", *capture, *args, "--columns", "flow_id")["flow_id"]]


def test_where_or_of_a_list_and_of_repeats(demo_flows) -> None:
    flows = demo_flows
    expected = flows.loc[flows["conn_state"].isin(["S0", "S1"]), "flow_id"].tolist()
    assert len(expected) == 2 and flow_ids("conn_state=S0,S1") == expected
    both = flows["conn_state"].isin(["SF"]) & (flows["resp_p"] >= 1024)
    assert flows["conn_state"].eq("SF").sum() > both.sum() > 0  # the AND removes rows
    assert flow_ids("conn_state=SF", "resp_p|gte=1024") == flows.loc[both, "flow_id"].tolist()


def test_where_modifiers_as_rules_have_them(dnat_flows) -> None:
    flows = dnat_flows
    ids = lambda *where: flow_ids(*where, capture=(DNAT,))  # noqa: E731
    network = ipaddress.ip_network("10.96.0.0/12")
    inside = flows["resp_h"].astype(str).map(lambda a: ipaddress.ip_address(a) in network)
    assert 0 < inside.sum() < len(flows)
    assert ids("resp_h|cidr=10.96.0.0/12") == flows.loc[inside, "flow_id"].tolist()
    starts = flows["history"].fillna("").str.startswith("Sh")
    assert 0 < starts.sum() < len(flows)
    assert ids("history|re=^Sh") == flows.loc[starts, "flow_id"].tolist()
    missing = flows["nat"].isna()
    assert 0 < missing.sum() < len(flows)
    assert ids("nat=null") == flows.loc[missing, "flow_id"].tolist()
    assert ids("nat|exists=true") == flows.loc[~missing, "flow_id"].tolist()


def test_where_takes_values_as_tables_show_them() -> None:
    syn = csv_of("decode", KERNEL, "--where", "proto=tcp", "--where", "tcp_flags=S,S.")
    assert len(syn) and set(syn["tcp_flags"]) == {"S", "S."} and set(syn["proto"]) == {"tcp"}
    igmp = csv_of("flows", DNAT, "--where", "proto=igmp")  # stored as '2' in the flow table
    assert len(igmp) == 1 and igmp["ip_proto"].item() == "igmp"


def test_where_and_columns_select_parquet_rows_too(tmp_path) -> None:
    out = tmp_path / "syn.parquet"
    result = run("decode", KERNEL, "--where", "tcp_flags=S", "--columns", "frame,tcp_flags",
                 "--format", "parquet", "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["frame", "tcp_flags"] and len(frame)
    assert set(frame["tcp_flags"]) == {0x02}  # Parquet keeps the machine value
    assert_one_error(run("decode", KERNEL, "--where", "tcp_flags=S", "--format", "parquet",
                         "-o", str(tmp_path / "parts") + "/"), "is a directory")


@pytest.mark.parametrize(("where", "fragments"), [
    ("conn_stat=S0", ("--where", "'conn_stat=S0'", "no column 'conn_stat'",
                      "did you mean conn_state")),
    ("history|gte=3", ("comparison", "does not fit column 'history' (str)")),
    ("orig_h|cidr=10.0.0.0/33", ("Invalid CIDR",)),
    ("resp_p|foo=1", ("Unknown modifier 'foo'", "modifiers: contains")),
    ("history|re=(", ("Regular expression '(' is invalid: missing ): (",)),
    ("resp_p=web", ("the text 'web' does not fit column 'resp_p'",)),
    ("conn_state", ("is not FIELD[|MODIFIER]=VALUE",)),
])
def test_bad_where_is_one_error_line(where, fragments) -> None:
    assert_one_error(run("flows", DEMO, "--where", "conn_state=SF", "--where", where),
                     *fragments)


def test_a_bad_where_is_one_line_on_the_real_stderr_too() -> None:
    """RE2 would log a bad pattern on stderr itself (C++, outside click): it does not."""
    done = subprocess.run([sys.executable, "-m", "pcapkit", "flows", DEMO, "--where",
                           "history|re=("], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and not done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: Invalid value for") and "--where" in lines[-1], \
        done.stderr
    assert not [line for line in lines if "re2" in line or "absl" in line], done.stderr


def test_where_compares_time_columns_with_iso_times() -> None:
    """ts and last_ts with |gt/|gte/|lt/|lte and an ISO 8601 time (UTC without a zone, an
    offset honoured), and a plain time for equality, exactly as the JSON's times read."""
    flows = pd.DataFrame(json_of("flows", DEMO))
    starts = pd.to_datetime(flows["ts"], utc=True)
    ends = pd.to_datetime(flows["last_ts"], utc=True)
    middle = starts.sort_values().iloc[len(starts) // 2]
    for where, keep in [
        (f"ts|gte={middle.tz_localize(None).isoformat()}", starts >= middle),
        (f"ts|gt={middle.isoformat()}", starts > middle),
        (f"ts|lt={middle.tz_convert('Asia/Tokyo').isoformat()}", starts < middle),
        (f"last_ts|lte={middle.isoformat()}", ends <= middle),
        (f"ts={middle.isoformat()}", starts == middle),
    ]:
        chosen = json_of("flows", DEMO, "--where", where)
        assert 0 < len(chosen) <= len(flows)
        assert sorted(r["flow_id"] for r in chosen) == sorted(flows["flow_id"][keep]), where
    assert_one_error(run("flows", DEMO, "--where", "ts|gt=noon"), "'ts|gt=noon'",
                     "'noon' is not a time")


def test_where_is_checked_before_any_decoding(tmp_path) -> None:
    out = tmp_path / "flows.csv"
    assert_one_error(run("flows", DEMO, "--where", "qname=x", "-o", str(out)),
                     "no column 'qname'")
    assert not out.exists()


# -- values as people read them --------------------------------------------------------

def _numbered(command: list[str]) -> dict[int, str]:
    assert shutil.which(command[0]), f"{command[0]} is needed for this test"
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    out = {}
    for line in done.stdout.splitlines():
        number, *rest = line.strip().split(None, 1)
        if number.isdigit():
            out[int(number)] = rest[0] if rest else ""
    return out


def test_tcp_flags_are_tcpdumps_letters() -> None:
    lines = _numbered(["tcpdump", "-#", "-nr", KERNEL])
    expected = {n: rest.split("Flags [", 1)[1].split("]", 1)[0]
                for n, rest in lines.items() if "Flags [" in rest}
    table = csv_of("decode", KERNEL, "--columns", "frame,tcp_flags")
    shown = dict(zip(table["frame"].astype(int), table["tcp_flags"], strict=True))
    assert len(expected) > 20 and {shown[n] for n in expected} >= {"S", "S.", "."}
    assert {n: shown[n] for n in expected} == expected


def test_payload_head_is_the_first_eight_payload_bytes_in_hex() -> None:
    fields = _numbered(["tshark", "-r", KERNEL, "-d", "udp.port==8472,vxlan", "-T", "fields",
                        "-E", "occurrence=l", "-e", "frame.number", "-e", "udp.payload",
                        "-Y", "udp"])
    table = csv_of("decode", KERNEL, "--where", "proto=udp", "--columns",
                   "frame,payload_head")
    shown = dict(zip(table["frame"].astype(int), table["payload_head"], strict=True))
    # tshark's frames with UDP include tunnels carrying ICMP; the innermost UDP ones agree
    assert set(shown) <= set(fields) and len(shown) > 10
    for frame in shown:
        payload = fields[frame].strip()  # the last occurrence: the innermost UDP's
        assert shown[frame] == (payload[:16] if len(payload) >= 16 else ""), frame


def test_protocols_are_named_alike_in_every_column() -> None:
    flows = csv_of("flows", DNAT, "--columns", "proto,ip_proto")
    assert (flows["proto"] == flows["ip_proto"]).all()
    assert {"igmp", "tcp", "udp"} <= set(flows["proto"])
    packets = csv_of("decode", DNAT, "--columns", "proto,outer_proto,icmp_orig_proto")
    names = set(PROTOCOL_NAMES.values()) | {""}
    for column in packets:
        assert set(packets[column]) <= names, column
    assert all(PROTOCOL_NAMES[n] == name for n, name in PROTO_NAMES.items())  # as flows


def test_a_category_protocol_number_is_named_too() -> None:
    frame = pd.DataFrame({"proto": pd.Categorical(["udp", "2", None, "250"])})
    text = _written(Output("table", None).of(TABLES["flows"]), frame)
    assert [line.strip() for line in text.splitlines()] == ["proto", "udp", "igmp", "-", "250"]


def _wireshark_keyword(text: str) -> str:
    """Wireshark's name of an ICMP type as pcapkit's tables write it (ICMP_TYPE_NAMES says
    how): lower case, hyphenated, parentheses and "message" dropped, destination -> dest,
    time-to-live exceeded -> time-exceeded."""
    text = re.sub(r"\s*\([^)]*\)", "", text).lower().replace("time-to-live", "time")
    words = [w for w in text.split() if w != "message"]
    return "-".join(words).replace("destination-", "dest-")


#: captures holding ICMP echo, unreachable and time exceeded, ICMPv6 echo, unreachable,
#: packet too big, time exceeded and neighbour discovery (v4 and v6 type 3 differ)
ICMP_CAPTURES = [KERNEL, str(FIXTURES / "public" / "arkime-v6.pcap"),
                 str(FIXTURES / "crafted" / "icmp-time-exceeded.pcap"),
                 str(FIXTURES / "crafted" / "icmpv6-packet-too-big-tcp.pcap")]


def _wireshark_icmp_types(capture: str) -> dict[int, str]:
    """Frame -> Wireshark's name of its (first) ICMP or ICMPv6 type, from tshark's PDML."""
    import xml.etree.ElementTree as ET

    assert shutil.which("tshark"), "tshark is needed for this test"
    pdml = subprocess.run(["tshark", "-r", capture, "-d", "udp.port==8472,vxlan", "-T", "pdml",
                           "-Y", "icmp or icmpv6"],
                          capture_output=True, text=True, check=True, timeout=120).stdout
    out = {}
    for packet in ET.fromstring(pdml).iter("packet"):
        frame = int(next(f for f in packet.iter("field")
                         if f.get("name") == "frame.number").get("show"))
        field = next(f for f in packet.iter("field")
                     if f.get("name") in ("icmp.type", "icmpv6.type"))
        shown = field.get("showname").removeprefix("Type: ")
        # ICMP: "8 (Echo (ping) request)"; ICMPv6: "Echo (ping) request (128)"
        out[frame] = shown.split(" ", 1)[1][1:-1] if field.get("name") == "icmp.type" \
            else shown.rsplit(" (", 1)[0]
    return out


@pytest.mark.parametrize("capture", ICMP_CAPTURES)
def test_icmp_types_are_wiresharks_names(capture) -> None:
    expected = {frame: _wireshark_keyword(text)
                for frame, text in _wireshark_icmp_types(capture).items()}
    table = csv_of("decode", capture, "--where", "proto=icmp,icmp6",
                   "--columns", "frame,icmp_type")  # the name needs no proto column shown
    shown = dict(zip(table["frame"].astype(int), table["icmp_type"], strict=True))
    assert len(expected) > 0 and shown == expected


def test_icmp_type_names_follow_wiresharks_icmpv6_table() -> None:
    """Every ICMPv6 type Wireshark names (``tshark -G values``) is named so, but for the
    private and reserved ranges, which stay numbers."""
    values = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True,
                            check=True, timeout=120).stdout
    wireshark = {int(number): text for field, number, text in
                 (line.split("\t")[1:4] for line in values.splitlines()
                  if line.startswith("V\ticmpv6.type\t"))}
    assert len(wireshark) > 40
    named = {n: _wireshark_keyword(t) for n, t in wireshark.items()
             if not t.startswith(("Private", "Reserved"))}
    assert ICMP_TYPE_NAMES[58] == named


def test_an_icmp_type_is_named_for_its_rows_protocol() -> None:
    frame = pd.DataFrame({"proto": pd.array([1, 58, 1, 58, 1, 6], dtype="UInt8"),
                          "icmp_type": pd.array([3, 3, 8, 128, 250, None], dtype="UInt8")})
    output = Output("table", None, columns=("icmp_type",)).of(TABLES["packets"])
    lines = [line.strip() for line in _written(output, frame).splitlines()]
    assert lines == ["icmp_type", "dest-unreachable", "time-exceeded", "echo-request",
                     "echo-request", "250", "-"]
    csv = Output("csv", None).of(TABLES["packets"])
    assert _written(csv, frame).splitlines()[1:3] == ["icmp,dest-unreachable",
                                                        "icmp6,time-exceeded"]
    alone = _written(csv, frame[["icmp_type"]])  # no protocol to tell: the numbers
    assert alone.splitlines()[1:4] == ["3", "3", "8"]
    assert json.loads(_written(Output("json", None).of(TABLES["packets"]), frame)
                      .splitlines()[0]) == {"proto": 1, "icmp_type": 3}  # machine values


def test_where_selects_icmp_types_by_their_names() -> None:
    rows = json_of("decode", *ICMP_CAPTURES, "--where", "proto=icmp,icmp6")
    wanted = {(1, 8), (58, 128), (1, 3), (58, 1)}
    expected = sorted((r["file"], r["frame"]) for r in rows
                      if (r["proto"], r["icmp_type"]) in wanted)
    chosen = json_of("decode", *ICMP_CAPTURES, "--where",
                     "icmp_type=echo-request,dest-unreachable")
    assert len(expected) > 20 and sorted((r["file"], r["frame"]) for r in chosen) == expected
    assert {r["icmp_type"] for r in json_of("decode", *ICMP_CAPTURES, "--where",
                                            "icmp_type=time-exceeded")} == {3, 11}
    assert_one_error(run("decode", KERNEL, "--where", "icmp_type=echo-requst"),
                     "no ICMP or ICMPv6 type is called 'echo-requst'",
                     "did you mean echo-request")


def _written(output: Output, frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    stdout, sys.stdout = sys.stdout, buffer
    try:
        output.write(frame)
    finally:
        sys.stdout = stdout
    return buffer.getvalue()


@pytest.mark.parametrize("command", [("decode", KERNEL), ("decode", KERNEL, "--dns"),
                                     ("flows", DEMO), ("dns", DEMO, "--snapshot", SNAPSHOT)])
def test_one_null_mark_in_a_table_and_empty_fields_in_csv(command) -> None:
    text = run(*command, "--all-columns").stdout
    cells = {cell for line in text.splitlines()[1:] for cell in line.split()}
    assert "-" in cells and not cells & set(NULL_SPELLINGS), cells & set(NULL_SPELLINGS)
    rows = json_of(*command)
    table = csv_of(*command)
    assert len(rows) == len(table)
    for name in table.columns:
        nulls = [row[name] is None for row in rows]
        if any(nulls):
            assert all(v == "" for v, null in zip(table[name], nulls, strict=True) if null), name
        assert not set(table[name]) & set(NULL_SPELLINGS), name


def test_times_in_a_table_are_iso_utc_with_the_digits_they_need() -> None:
    rows = run("decode", str(FIXTURES / "kernel" / "node2-eth0.pcap"), "--columns", "ts")
    times = rows.stdout.split()[1:]
    assert times[0] == "2026-11-26T22:14:30.910901Z"  # microsecond capture: six digits
    assert all(len(t) == len(times[0]) and t.endswith("Z") for t in times)


# -- Parquet of a Retina tarball ---------------------------------------------------------

def test_decode_parquet_reads_retina_tarballs(tmp_path) -> None:
    from pcapkit.decode.files import decode_files
    from pcapkit.ingest import Inputs

    tarballs = sorted(TARBALLS.glob("*.tar.gz"))
    assert len(tarballs) == 2, "the Retina demo tarballs are committed fixtures"
    inputs = Inputs([str(TARBALLS)])
    expected = inputs.label(decode_files(inputs.paths)).packets
    single, parts = tmp_path / "packets.parquet", tmp_path / "parts"
    for out in (str(single), f"{parts}/"):
        result = run("decode", str(TARBALLS), "--format", "parquet", "-o", out)
        assert result.exit_code == 0, result.output
    for written in (pd.read_parquet(single), pd.read_parquet(parts)):
        written = written.sort_values(["file", "frame"]).reset_index(drop=True)
        assert len(written) == len(expected) > 0
        assert sorted(set(written["file"].astype(str))) == \
            sorted(set(expected["file"].astype(str)))
        assert all("!" in name and name.split("!")[0].endswith(".tar.gz")
                   for name in set(written["file"].astype(str)))
        ordered = expected.sort_values(["file", "frame"]).reset_index(drop=True)
        for column in ("frame", "ts", "src", "dst", "sport", "dport", "tcp_flags"):
            assert written[column].astype(str).tolist() == \
                ordered[column].astype(str).tolist(), column
    assert sorted(p.name for p in parts.iterdir()) == sorted(
        f"{t.name}__{t.name.removesuffix('.tar.gz')}.pcap.parquet" for t in tarballs)


# -- runnable evidence commands for archive members ------------------------------------

def test_the_report_evidence_command_of_an_archive_member_runs(tmp_path) -> None:
    from pcapkit.report.common import wireshark_command

    assert wireshark_command("a b.pcap", "frame.number in {1}") == \
        "wireshark -r 'a b.pcap' -Y 'frame.number in {1}'"
    for fmt in ("text", "markdown"):
        result = CliRunner().invoke(main, ["analyze", str(TARBALLS), "--snapshot", SNAPSHOT,
                                           "--format", fmt, "-o", str(tmp_path / fmt)])
        assert result.exit_code in (0, 1), result.output
        opened = [line.split("wireshark -r ", 1)[1].split(" -Y ", 1)[0]
                  for line in (tmp_path / fmt).read_text().splitlines() if "wireshark -r" in line]
        assert opened and not [path for path in opened if "!" in path], opened
    commands = sorted({line.strip() for line in (tmp_path / "text").read_text().splitlines()
                       if "wireshark -r" in line})
    assert len(commands) >= 2 and all(" && tar -xf " in c for c in commands)
    assert shutil.which("tshark"), "tshark is needed for this test"
    for command in commands:
        wanted = command.split("frame.number in {", 1)[1].split("}", 1)[0].split(",")
        done = subprocess.run(["bash", "-c", command.replace("wireshark -r", "tshark -r") +
                               " -T fields -e frame.number"], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == wanted, command
