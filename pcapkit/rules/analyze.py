"""One incident's findings, the one way both ``pcapkit analyze`` and a notebook get them.

``checked_pack`` loads a rule pack and refuses one with problems (what ``pcapkit rules
lint`` would report); ``analyze_capture`` runs the rules over a Capture's tables (less what
the site's tuning disables or excludes) and, when host files came with the captures
(Retina's metadata), adds what they show to each finding. The CLI and
``Capture.findings`` both call these, so the two cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pcapkit.errors import PcapkitError
from pcapkit.rules.engine import run_rules
from pcapkit.rules.load import Rule, RulePack, load_rules
from pcapkit.rules.tuning import Tuning, load_tuning

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.findings import Finding


def checked_pack(paths: Iterable[str | os.PathLike] = (), *, core: bool = True) -> RulePack:
    """The core pack (unless ``core`` is False) plus the rules under ``paths``; a
    PcapkitError listing every problem when any rule is broken."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    pack = load_rules(list(paths), core=core)
    if pack.problems:
        raise PcapkitError("rule problems:\n  " + "\n  ".join(str(p) for p in pack.problems))
    return pack


def site_tuning(tuning: Tuning | str | os.PathLike | None) -> Tuning | None:
    """A Tuning as given, or read from a tuning file (None: no tuning)."""
    if tuning is None or isinstance(tuning, Tuning):
        return tuning
    return load_tuning(tuning)


def analyze_capture(capture: Capture, rules: Iterable[Rule],
                    tuning: Tuning | None = None) -> list[Finding]:
    """Every finding of ``rules`` over ``capture`` (highest severity first), each
    corroborated by the nodes' host files when the capture has any (``host_state``)."""
    findings = run_rules(capture, rules, tuning)
    if len(capture.host_state):  # Retina host files: what the nodes themselves say
        from pcapkit.ingest.corroborate import corroborate

        corroborate(findings, capture.host_state)
    return findings
