"""Rule packs: Sigma rules over pcapkit's tables, and the findings they make.

>>> import pcapkit
>>> from pcapkit.rules import load_rules, run_rules
>>> pack = load_rules(["my-rules/"])            # the core pack plus yours   # doctest: +SKIP
>>> pack.problems                                # what lint would report    # doctest: +SKIP
>>> findings = run_rules(pcapkit.open("incident/"), pack.rules)              # doctest: +SKIP

``load`` reads and checks rules (pySigma parses them; the table registry validates fields
and modifiers), ``compile`` turns a detection into a vectorised mask, ``engine`` groups
matching rows into findings with their evidence; ``analyze`` is the one sequence (pack
checked, rules run, host files corroborating) that ``pcapkit analyze`` and
``Capture.findings`` share. See rules/README.md for the format.
"""

from pcapkit.rules.analyze import analyze_capture, checked_pack, site_tuning
from pcapkit.rules.engine import run_rules
from pcapkit.rules.load import LEVELS, Problem, Rule, RulePack, core_rules_dir, load_rules
from pcapkit.rules.tuning import Tuning, load_tuning

__all__ = ["LEVELS", "Problem", "Rule", "RulePack", "Tuning", "analyze_capture",
           "checked_pack", "core_rules_dir", "load_rules", "load_tuning", "run_rules",
           "site_tuning"]
