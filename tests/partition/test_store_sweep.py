"""A run killed before it cleaned up leaves its store directory behind; the next run in
the same place removes it, and only it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pcapkit.partition.store import OWNER, PREFIX, PartStore, _this_process, sweep_stale


def _left_behind(parent, name: str, **owner) -> os.PathLike:
    folder = parent / f"{PREFIX}{name}"
    (folder / "decoded" / "s0").mkdir(parents=True)
    (folder / "decoded" / "s0" / "part.arrow").write_bytes(b"x" * 1024)
    if owner:
        (folder / OWNER).write_text(json.dumps({**_this_process(), **owner}))
    return folder


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_store_removes_those_of_dead_processes_of_this_host(tmp_path):
    dead = _left_behind(tmp_path, "dead", pid=_dead_pid())
    running = _left_behind(tmp_path, "running", pid=os.getpid())
    unowned = _left_behind(tmp_path, "unowned")                 # an older pcapkit's
    elsewhere = _left_behind(tmp_path, "elsewhere", pid=_dead_pid(), host="another-host")
    other_ns = _left_behind(tmp_path, "otherns", pid=_dead_pid(), pid_namespace=1)
    garbled = _left_behind(tmp_path, "garbled")
    (garbled / OWNER).write_text("[1, 2]")                     # not an owner: left alone
    store = PartStore(inside=tmp_path)
    try:
        assert not dead.exists()
        assert running.exists() and unowned.exists() and elsewhere.exists()
        assert other_ns.exists() and garbled.exists()
        assert store.root.exists() and json.loads((store.root / OWNER).read_text()) \
            == _this_process()
        # a store of this process is never its own sweep's
        assert sweep_stale(tmp_path) == []
    finally:
        store.close()
    assert not store.root.exists()
