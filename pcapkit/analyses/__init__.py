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

An analysis that reads the per-packet tables (packets, sightings, distinct) splits in two,
so that an incident larger than memory is analysed a share at a time (docs/scale.md)::

    @register_analysis("snat_conflicts", facts=first_syns, prepare=wanted)
    def snat_conflicts(capture): ... capture.facts("snat_conflicts") ...

``prepare(capture)`` (optional) reads only the incident's small tables (flows, the packet
context) and says what to look for; ``facts(tables, prepared)`` reads one share's
per-packet tables (``tables``: packets, sightings, distinct, flows of that share, cluster,
points, context) and returns a small table keyed by ids; the analysis itself (``build``)
judges on the facts of every share together (``Capture.facts``). In one pass over the
whole incident the Capture is the one share: the same code either way.

An analysis that reads another's table names it in ``needs``, so that when analyses are
spread over processes (``Capture.compute``) the two run in one and neither twice.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pandas as pd

from pcapkit.errors import PcapkitError

if TYPE_CHECKING:
    from pcapkit.capture import Capture

ENTRY_POINT_GROUP = "pcapkit.analyses"

Build = Callable[["Capture"], pd.DataFrame]
#: what to look for, from the incident's small tables (picklable: sent to every share)
Prepare = Callable[["Capture"], Any]
#: one share's facts: (its tables, what prepare said) -> a small result
Facts = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Analysis:
    """A derived table's name, the function that builds it from an incident, and for an
    analysis that reads per-packet tables its per-share part (``facts``, ``prepare``)."""

    name: str
    build: Build
    facts: Facts | None = None
    prepare: Prepare | None = None
    needs: tuple[str, ...] = ()


_ANALYSES: dict[str, Analysis] = {}
_loaded = False


def register_analysis(name: str, *, facts: Facts | None = None,
                      prepare: Prepare | None = None, needs: tuple[str, ...] = ()
                      ) -> Callable[[Build], Build]:
    """Register ``build`` as the analysis producing the registered table ``name``, with
    its per-share ``facts`` (and their ``prepare``) when it reads per-packet tables, and
    the derived tables it reads (``needs``).
    ``facts`` and ``prepare`` must be module-level functions (a share's task pickles them)."""
    if prepare is not None and facts is None:
        raise ValueError(f"analysis {name!r}: prepare without facts")

    def wrap(build: Build) -> Build:
        from pcapkit.schema import TABLES

        if name not in TABLES:
            raise ValueError(f"analysis {name!r}: declare its table in pcapkit.schema first")
        if name in _ANALYSES and _ANALYSES[name].build is not build:
            raise ValueError(f"analysis {name!r} registered twice")
        _ANALYSES[name] = Analysis(name, build, facts, prepare, tuple(needs))
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


def analysis_groups(names: list[str]) -> list[list[str]]:
    """``names`` cut into groups to build one group per process: each analysis with the
    analyses it needs (directly or through others), in the order to build them."""
    registered = analyses()
    groups: list[list[str]] = []
    placed: dict[str, int] = {}

    def add(name: str, group: int) -> None:
        if name in placed:
            return
        placed[name] = group
        for need in registered[name].needs if name in registered else ():
            add(need, group)
        groups[group].append(name)

    for name in names:
        linked = {placed[n] for n in _closure(name, registered) if n in placed}
        if not linked:
            groups.append([])
            add(name, len(groups) - 1)
            continue
        first, *others = sorted(linked)
        for other in others:  # two groups meet through this one: merge them
            groups[first].extend(groups[other])
            placed.update(dict.fromkeys(groups[other], first))
            groups[other] = []
        add(name, first)
    return [group for group in groups if group]


def _closure(name: str, registered: dict[str, Analysis]) -> set[str]:
    """``name`` and every analysis it needs, directly or through others."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(registered[current].needs if current in registered else ())
    return seen
