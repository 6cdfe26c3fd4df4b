"""Analyses: Python that needs state across rows or tables, each producing a derived table.

An analysis compares the two directions of a flow, evaluates NetworkPolicy for unanswered
attempts, measures tunnel delivery per node pair ...; what it produces is a table declared
in the table registry (``pcapkit.schema``) like every other, so rules read it as they read
``flows``. An analysis registers under the name of its table::

    @register_analysis("flow_paths")
    def flow_paths(capture: Capture) -> pd.DataFrame: ...

Analyses shipped with pcapkit are the modules of this package (imported on first use);
third parties add theirs through the entry-point group ``pcapkit.analyses`` (each entry
point names a module that registers its analyses and declares their tables when imported).
Analyses are vectorised over whole tables: group once, never a Python loop per row.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import pandas as pd

from pcapkit.errors import PcapkitError

if TYPE_CHECKING:
    from pcapkit.capture import Capture

ENTRY_POINT_GROUP = "pcapkit.analyses"

Build = Callable[["Capture"], pd.DataFrame]


@dataclass(frozen=True)
class Analysis:
    """A derived table's name and the function that builds it from an incident."""

    name: str
    build: Build


_ANALYSES: dict[str, Analysis] = {}
_loaded = False


def register_analysis(name: str) -> Callable[[Build], Build]:
    """Register ``build`` as the analysis producing the registered table ``name``."""
    def wrap(build: Build) -> Build:
        from pcapkit.schema import TABLES

        if name not in TABLES:
            raise ValueError(f"analysis {name!r}: declare its table in pcapkit.schema first")
        if name in _ANALYSES and _ANALYSES[name].build is not build:
            raise ValueError(f"analysis {name!r} registered twice")
        _ANALYSES[name] = Analysis(name, build)
        return build
    return wrap


def analyses() -> dict[str, Analysis]:
    """Every registered analysis: this package's modules and the entry points'."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
            importlib.import_module(f"{__name__}.{module}")
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                point.load()
            except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not fatal
                raise PcapkitError(f"analysis plug-in {point.name!r} ({point.value}) failed "
                                   f"to load: {exc}") from exc
    return dict(_ANALYSES)


def analysis(name: str) -> Analysis:
    found = analyses().get(name)
    if found is None:
        raise PcapkitError(f"no analysis produces the table {name!r}")
    return found
