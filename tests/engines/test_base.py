"""What every engine's worker does around a task: glibc's heap kept for reuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import resource, sys
import numpy as np
from pcapkit.engines.base import reuse_freed_memory
if sys.argv[1] == "reuse":
    reuse_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    a = np.ones(1 << 20)  # 8 MiB: one column of a million rows
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _faults(mode: str) -> int:
    # what Dask's nannies set; numpy's huge pages off, so a fresh array faults 4 KiB pages
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "NUMPY_MADVISE_HUGEPAGE": "0"}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, check=True,
                          capture_output=True, text=True)
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.skipif(THP.exists() and "[always]" in THP.read_text(),
                    reason="every fresh mapping gets huge pages: faults do not tell")
def test_a_worker_with_a_fixed_trim_threshold_reuses_freed_arrays():
    """Under MALLOC_TRIM_THRESHOLD_ every freed array goes back to the system and the
    next one faults in again; after reuse_freed_memory the heap keeps it (a tenth of the
    page faults, or fewer)."""
    plain, reused = _faults("plain"), _faults("reuse")
    assert reused * 10 < plain, (plain, reused)
