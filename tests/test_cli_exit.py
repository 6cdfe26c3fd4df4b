"""The command line process freezes its objects at exit instead of collecting them
(pcapkit.cli): every output is still complete when the process is gone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"


def pcapkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pcapkit", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_outputs_are_complete_after_the_process_exits(tmp_path) -> None:
    parquet, report = tmp_path / "packets.parquet", tmp_path / "report.json"
    done = pcapkit("decode", str(DEMO), "--format", "parquet", "-o", str(parquet))
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(parquet)) == 500  # the demo's two captures
    done = pcapkit("analyze", str(DEMO), "--format", "json", "-o", str(report), "-q")
    assert done.returncode == 1, done.stderr  # the demo's findings are high
    assert json.loads(report.read_text())["summary"]["packets"] == 500
    assert "findings:" in done.stderr and "Traceback" not in done.stderr


def test_the_freeze_runs_at_exit_only() -> None:
    code = ("import gc, pcapkit.cli; assert gc.get_freeze_count() == 0; "
            "import atexit; atexit.register(lambda: print(gc.get_freeze_count() > 0))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    # handlers run last registered first: the check runs before pcapkit's freeze
    assert done.stdout.strip() == "False"
    code = ("import gc, atexit; atexit.register(lambda: print(gc.get_freeze_count() > 0)); "
            "import pcapkit.cli")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "True"
