"""The policy_conflicts table: NetworkPolicy mistakes found in the snapshot, one row each,
with the observed traffic they hit.

Built by the ``policy_conflicts`` analysis (:mod:`pcapkit.analyses.conflicts`); the
policy-conflict rules read it.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, identity_columns, register
from pcapkit.schema.flows import FLOWS

#: the problems a row can describe
PROBLEMS = ("egress_denied_by_ingress", "selector_matches_no_pod", "namespace_not_found")

POLICY_CONFLICTS = register(Table(
    "policy_conflicts",
    "one NetworkPolicy problem of the snapshot (a contradiction or a selector that selects "
    "nothing), with the first observed flow it hit",
    columns(
        (
            Column("ts", "ts",
                   "Time of the first observed flow the problem hit; NaT when none did.",
                   "flows"),
            Column("problem", "category",
                   "What is wrong: " + ", ".join(PROBLEMS) + " (an egress rule admits "
                   "traffic the destination's ingress denies; a pod selector, of the "
                   "policy or of a rule's peer, matches no pod; a namespace selector "
                   "matches no namespace).", "flows"),
            Column("policy", "str", "The policy with the problem, as namespace/name.",
                   "flows"),
            Column("direction", "category",
                   "ingress or egress: the rules the problem is in (the policy's own "
                   "podSelector: the directions it isolates, comma-separated).", "flows"),
            Column("rule_index", "i64",
                   "Index of the rule in that direction's list; NA for the policy's own "
                   "podSelector.", "flows"),
            Column("peer_index", "i64",
                   "Index of the peer in the rule's from/to list; NA when the problem is "
                   "not one peer's.", "flows"),
            Column("detail", "str",
                   "The problem in words ('shop/client-egress egress rule 0 admits TCP 8080 "
                   "to pods app=web in shop, but ingress to shop/web ... denies it: ...').",
                   "flows"),
            Column("hint", "str",
                   "What the snapshot has instead: the values pods carry for the selector's "
                   "label keys, the namespace names closest to a missing one.", "flows"),
            Column("hit", "bool",
                   "Observed traffic was hit: a flow the contradiction covers, or a denied "
                   "connection attempt the broken rule would otherwise decide.", "flows"),
            Column("flows_hit", "i64", "How many observed flows it hit.", "flows"),
        ),
        (Column("flow_id", "i64",
                "flow_id of the first observed flow it hit (its evidence); NA when none.",
                "flows"),),
        tuple(FLOWS[name] for name in ("proto", "orig_h", "resp_h", "resp_p")),
        identity_columns("orig", "the first hit flow's originator", "flows"),
        identity_columns("resp", "the first hit flow's responder", "flows"),
    ),
    time="ts", evidence=("flow_id",)))
