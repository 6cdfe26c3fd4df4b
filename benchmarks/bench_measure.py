"""Run one benchmark step as a child process and measure its time and peak memory.

Every step gets its own process so its peak memory is its own.  Linux keeps a
process's ``ru_maxrss`` across ``execve`` and starts it from the memory of the
process that forked it, so a child spawned straight from this (Python) driver
never reports less than the driver's own peak.  GNU time forks the measured
program from its own tiny process, so when ``/usr/bin/time`` is GNU time it
wraps every command; otherwise ``os.wait4`` on the direct child is used and the
driver keeps itself small (no numpy) so that floor stays around 15 MiB.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass

GNU_TIME = "/usr/bin/time"


@dataclass
class ChildRun:
    """Outcome of one child process."""

    argv: list[str]
    returncode: int
    seconds: float          # wall clock, process start to exit
    peak_rss: int           # bytes
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system, the child and the processes it waited for

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        """One line saying why the child failed (last line of its stderr)."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else "no error output"
        return f"exit {self.returncode}: {detail}"


@functools.cache
def gnu_time_available() -> bool:
    """True when /usr/bin/time is GNU time (it understands -f and -o)."""
    try:
        result = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True)
    except OSError:
        return False
    return "GNU" in result.stdout + result.stderr


def memory_method() -> str:
    return "GNU time %M" if gnu_time_available() else "wait4 ru_maxrss (floor: driver RSS)"


def _read_gnu_time(path: str) -> int | None:
    """Peak RSS in bytes from GNU time's -o file (its last line is %M, in KiB)."""
    try:
        with open(path) as handle:
            return int(handle.read().strip().splitlines()[-1]) * 1024
    except (OSError, ValueError, IndexError):
        return None


def run_child(argv: list[str], *, env: dict[str, str] | None = None,
              keep_stdout: bool = False) -> ChildRun:
    """Run ``argv`` to completion; stdout goes to /dev/null unless ``keep_stdout``."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file, \
            tempfile.NamedTemporaryFile(suffix=".rss") as rss_file:
        wrapped = argv
        if gnu_time_available():
            wrapped = [GNU_TIME, "-f", "%M", "-o", rss_file.name, "--", *argv]
        started = time.perf_counter()
        try:
            process = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL,
                                       stdout=out_file if keep_stdout else subprocess.DEVNULL,
                                       stderr=err_file, env=env)
        except OSError as error:
            return ChildRun(argv, 127, 0.0, 0, "", f"cannot start {argv[0]}: {error}")
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)   # already reaped by wait4
        peak_rss = usage.ru_maxrss * 1024
        if wrapped is not argv:
            peak_rss = _read_gnu_time(rss_file.name) or peak_rss
        out_file.seek(0)
        err_file.seek(0)
        return ChildRun(argv, process.returncode, seconds, peak_rss,
                        out_file.read().decode(errors="replace"),
                        err_file.read().decode(errors="replace"),
                        usage.ru_utime + usage.ru_stime)


def compile_package(name: str = "pcapkit") -> None:
    """Byte-compile the package's modules (as ``python -m compileall -q`` does), as installing
    it does, so timed runs do not compile source: with PYTHONDONTWRITEBYTECODE set and no
    ``__pycache__`` (an editable checkout) every run compiles every module again (~0.3 s).
    Done in a child that imports the package as ``python -m NAME`` would (the current
    directory first), so the driver itself imports nothing of it."""
    import sys

    code = (f"import compileall, os, sys, {name}; "
            f"sys.exit(not compileall.compile_dir(os.path.dirname({name}.__file__), quiet=1))")
    subprocess.run([sys.executable, "-c", code], check=True)
