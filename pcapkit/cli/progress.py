"""Progress of a long command on stderr: one line per stage with its time and packets/s.

Shown with ``rich`` only when stderr is a terminal and ``--quiet`` was not given, so logs,
pipes and CI see nothing but the command's own summary line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class Stages:
    """Run the stages of one command, each shown while it runs and with its figures after."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.seconds: dict[str, float] = {}
        self._progress = None

    @contextmanager
    def shown(self) -> Iterator[Stages]:
        if not self.enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(finished_text="[green]done"), TextColumn("{task.description}"),
                      TimeElapsedColumn(), TextColumn("{task.fields[rate]}"),
                      console=Console(stderr=True), transient=False) as progress:
            self._progress = progress
            try:
                yield self
            finally:
                self._progress = None

    def run(self, name: str, work: Callable[[], T], packets: Callable[[], int] | None = None
            ) -> T:
        """``work()`` as the stage ``name``; ``packets()`` after it gives the rate shown."""
        task = self._progress.add_task(name, total=1, rate="") if self._progress else None
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        self.seconds[name] = seconds
        if task is not None:
            rate = ""
            if packets is not None and seconds > 0:
                rate = f"{packets():,} packets, {packets() / seconds:,.0f}/s"
            self._progress.update(task, completed=1, rate=rate)
        return result
