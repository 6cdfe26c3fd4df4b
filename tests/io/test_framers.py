"""The C framer and its pure-Python twin: same results, never out of bounds, never a crash.

Property tests feed random bytes and random mutations of valid captures to
both framers and to the whole reader.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pcap_craft import (
    COLUMN_NAMES,
    Packet,
    block,
    epb,
    frame,
    idb,
    pb,
    pcap_file,
    read_capture,
    shb,
    spb,
)

from pcapkit.io import framing
from pcapkit.io.framing import PYTHON_FRAMER, interface_table
from pcapkit.io.timestamps import TsResolution, ticks_to_ns

C = framing.C_FRAMER
BIG_ENDIAN_IS_SWAPPED = sys.byteorder == "little"
#: the pure-Python framer alone is intended: without it, a missing extension fails the tests
ALLOW_PURE_PYTHON = os.environ.get("PCAPKIT_ALLOW_PURE_PYTHON") == "1"
needs_c = pytest.mark.skipif(C is None and ALLOW_PURE_PYTHON,
                             reason="pcapkit.io._framing is not built (PCAPKIT_ALLOW_PURE_PYTHON=1)")
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def sample_pcap() -> bytes:
    return pcap_file([Packet(1_700_000_000 + i, i * 1111, frame(i, 20 + 9 * i), 1000)
                      for i in range(5)], order=">", nanosecond=True)


def sample_pcapng() -> bytes:
    return b"".join([
        shb("<"), idb("<", 1, 0, name="eth0", tsresol=9), idb("<", 113, 64, tsresol=0x80 | 16),
        epb("<", 0, 1_700_000_000 * 10**9 + 5, frame(1)), epb("<", 1, 12345 << 16, frame(2, 90)),
        block("<", 0xBAD, b"PEN!data"), spb("<", frame(3, 70), 100),
        shb(">"), idb(">", 101, 0, tsoffset=3), pb(">", 0, 42, frame(4, 10)),
        epb(">", 0, 7, frame(5, 33), opts=[(1, b"comment")]),
    ])


SAMPLES = {"pcap": sample_pcap(), "pcapng": sample_pcapng()}


@needs_c
def test_status_codes_agree():
    for name in framing.STATUS_NAMES:
        assert getattr(C, name) == getattr(framing, name), name


def assert_same_reading(path, **options):
    """Both framers read ``path`` identically; every packet lies inside its batch buffer."""
    results = [read_capture(path, framer=f, **options) for f in (C, PYTHON_FRAMER) if f]
    for result in results:
        for batch in result.batches:
            assert np.all(batch.offset >= 0)
            assert np.all(batch.caplen >= 0)
            assert np.all(batch.offset + batch.caplen <= len(batch.data))
        for error in result.reader.errors:
            assert error.file == str(path)
            assert isinstance(error.message, str) and error.message
        assert len(result.reader.errors) <= 1
    first = results[0]
    for other in results[1:]:
        for name in COLUMN_NAMES:
            np.testing.assert_array_equal(first.columns[name], other.columns[name], err_msg=name)
        assert first.packets == other.packets
        assert first.reader.errors == other.reader.errors
        assert first.reader.interfaces == other.reader.interfaces
    return first


@SETTINGS
@given(kind=st.sampled_from(sorted(SAMPLES)),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 10**6),
       chunk=st.sampled_from([13, 64, 1000, 1 << 20]),
       compress=st.booleans())
def test_mutated_captures_never_raise_and_framers_agree(tmp_path, kind, edits, cut, chunk,
                                                        compress):
    data = bytearray(SAMPLES[kind])
    for where, value in edits:
        data[where % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path / "m.cap"
    path.write_bytes(gzip.compress(bytes(data)) if compress else bytes(data))
    result = assert_same_reading(path, chunk_bytes=chunk, batch_size=3)
    for error in result.reader.errors:
        assert error.offset is None or 0 <= error.offset <= len(data)


@SETTINGS
@given(prefix=st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                               b"\x0a\x0d\x0d\x0a", b"\x1f\x8b"]),
       body=st.binary(max_size=400))
def test_random_bytes_never_raise(tmp_path, prefix, body):
    path = tmp_path / "r.cap"
    path.write_bytes(prefix + body)
    result = assert_same_reading(path, chunk_bytes=50)
    if result.reader.errors:
        assert result.reader.errors[0].offset is None or result.reader.errors[0].offset >= 0


def _outputs(n: int) -> list[np.ndarray]:
    cols = [np.full(n, -7, dtype=np.int64) for _ in range(5)]
    return [*cols, np.full(n, -7, dtype=np.int32)]


@needs_c
@SETTINGS
@given(kind=st.sampled_from(sorted(SAMPLES)), data=st.data())
def test_framer_calls_agree_on_any_window(kind, data):
    raw = bytearray(SAMPLES[kind])
    for where, value in data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1),
                                                      st.integers(0, 255)), max_size=4)):
        raw[where] = value
    buf = np.frombuffer(bytes(raw), dtype=np.uint8)
    start = data.draw(st.integers(0, len(buf)))
    end = data.draw(st.integers(start, len(buf)))
    out_index = data.draw(st.integers(0, 4))
    out_limit = data.draw(st.integers(out_index, 8))
    results = []
    for framer in (C, PYTHON_FRAMER):
        outs = _outputs(8)
        if kind == "pcap":
            ret = framer.frame_pcap(buf, start, end, 1000, BIG_ENDIAN_IS_SWAPPED, True, framing.MAX_CAPLEN, *outs, out_index, out_limit)
        else:
            table = interface_table([(0, 0, TsResolution(10, 9), 0),
                                     (1, 64, TsResolution(2, 16), -5)])
            ret = framer.frame_pcapng(buf, start, end, 1000, not BIG_ENDIAN_IS_SWAPPED,
                                      framing.MAX_CAPLEN,
                                      framing.MAX_BLOCK, table, *outs, out_index, out_limit)
        results.append((ret, outs))
    (c_ret, c_outs), (py_ret, py_outs) = results
    assert c_ret == py_ret
    for a, b in zip(c_outs, py_outs, strict=True):
        np.testing.assert_array_equal(a, b)
    count, stop, _ = c_ret
    assert start <= stop <= end and 0 <= count <= out_limit - out_index
    offsets, caplens = c_outs[0][out_index:out_index + count], c_outs[1][out_index:out_index + count]
    assert np.all(offsets >= start) and np.all(offsets + caplens <= end)


@needs_c
@SETTINGS
@given(base=st.sampled_from([10, 2]), exponent=st.integers(0, 127),
       ticks=st.integers(0, (1 << 64) - 1), offset_s=st.integers(-(1 << 63), (1 << 63) - 1))
def test_timestamp_conversion_agrees(base, exponent, ticks, offset_s):
    resolution = TsResolution(base, exponent)
    raw = epb("<", 0, ticks, b"x" * 4)
    buf = np.frombuffer(raw, dtype=np.uint8)
    table = interface_table([(0, 0, resolution, offset_s)])
    got = []
    for framer in (C, PYTHON_FRAMER):
        outs = _outputs(1)
        ret = framer.frame_pcapng(buf, 0, len(buf), 0, not BIG_ENDIAN_IS_SWAPPED, framing.MAX_CAPLEN,
                                  framing.MAX_BLOCK, table, *outs, 0, 1)
        assert ret[0] == 1
        got.append(int(outs[3][0]))
    assert got[0] == got[1] == ticks_to_ns(ticks, resolution, offset_s)


@needs_c
def test_c_framer_rejects_bad_arguments():
    buf = np.zeros(64, dtype=np.uint8)
    outs = _outputs(4)
    with pytest.raises(ValueError, match="outside the buffer"):
        C.frame_pcap(buf, 0, 65, 0, False, False, 262144, *outs, 0, 4)
    with pytest.raises(ValueError, match="out_index"):
        C.frame_pcap(buf, 0, 64, 0, False, False, 262144, *outs, 3, 2)
    with pytest.raises(ValueError, match="items"):
        C.frame_pcap(buf, 0, 64, 0, False, False, 262144, *outs, 0, 5)
    wrong = [*outs[:5], np.zeros(4, dtype=np.int64)]
    with pytest.raises(TypeError, match="out_interface"):
        C.frame_pcap(buf, 0, 64, 0, False, False, 262144, *wrong, 0, 4)
    with pytest.raises(ValueError, match="5 int64"):
        C.frame_pcapng(buf, 0, 64, 0, False, 262144, 1 << 24, np.zeros(3, np.int64), *outs, 0, 4)
    with pytest.raises(BufferError):
        C.frame_pcap(buf, 0, 64, 0, False, False, 262144, *outs[:5], b"read-only", 0, 4)


def test_the_c_framer_is_built():
    """CI fails when the extension did not build, unless the pure-Python framer is what
    is wanted (PCAPKIT_ALLOW_PURE_PYTHON=1)."""
    if ALLOW_PURE_PYTHON:
        pytest.skip("PCAPKIT_ALLOW_PURE_PYTHON=1: the pure-Python framer is intended")
    importlib.import_module("pcapkit.io._framing")
    assert framing.FRAMER is C


#: a fresh interpreter where the extension cannot be imported, as where it is not built
_WITHOUT_C = """
import json, sys
sys.modules["pcapkit.io._framing"] = None
from pcapkit.io import framing
from pcapkit.io.reader import open_capture

calls = []
python_frame_pcap = framing._PythonFramer.frame_pcap
framing._PythonFramer.frame_pcap = staticmethod(
    lambda *args: calls.append(1) or python_frame_pcap(*args))
reader = open_capture(sys.argv[1])
records = sum(len(batch) for batch in reader.batches())
print(json.dumps({"c_framer": framing.C_FRAMER is not None,
                  "python_framer": reader._framer is framing.PYTHON_FRAMER,
                  "records": records, "python_calls": len(calls)}))
"""


def test_python_framer_is_used_when_c_is_missing(tmp_path):
    path = tmp_path / "p.pcap"
    path.write_bytes(SAMPLES["pcap"])
    result = subprocess.run([sys.executable, "-c", _WITHOUT_C, str(path)], capture_output=True,
                            text=True, check=True)
    report = json.loads(result.stdout)
    assert report["c_framer"] is False and report["python_framer"] is True
    assert report["records"] == 5 and report["python_calls"] >= 1
