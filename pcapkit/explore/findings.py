"""Findings in a notebook: a collection to list, filter and tabulate, and a view of one.

``Capture.findings`` (and ``Capture.analyze``) return a :class:`Findings`: a sequence of
:class:`FindingView`, indexable by position or finding id, with a DataFrame view
(``.frame``), ``filter`` by category, severity or pod, and an HTML table that colours
severities and shows at most :data:`pcapkit.explore.html.MAX_ROWS` rows. A FindingView wraps
the :class:`pcapkit.findings.Finding` (the JSON contract, unchanged: ``view.finding``) with
what a notebook adds: every evidence sighting as a DataFrame, the table rows the rule
matched, the reasoning behind it (``explain``) and its ladder diagram; its HTML is the
report's finding card.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from pcapkit.errors import PcapkitError
from pcapkit.explore.html import MAX_ROWS, badge, block, cell
from pcapkit.findings import SEVERITIES, Finding
from pcapkit.report.common import endpoint_label
from pcapkit.report.html import finding_card, short_time  # the report's card and times

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pcapkit.capture import Capture
    from pcapkit.explore.explain import Explanation
    from pcapkit.rules.load import Rule
    from pcapkit.rules.tuning import Tuning

#: columns of ``Findings.frame``
FRAME_COLUMNS = ("id", "severity", "category", "title", "summary", "src", "dst", "protocol",
                 "port", "first_seen", "last_seen", "count", "evidence_total", "rule")
#: findings a plain ``repr`` lists
_REPR_LINES = 10


class FindingView:
    """One finding of a Capture: its fields (``view.id``, ``view.summary`` ...), its
    evidence as a DataFrame, the rows behind it, its explanation and its ladder."""

    def __init__(self, finding: Finding, capture: Capture, rule: Rule | None,
                 tuning: Tuning | None = None) -> None:
        self.finding = finding
        self.capture = capture
        self.rule = rule
        self._tuning = tuning

    def __getattr__(self, name: str) -> Any:
        """The Finding's own fields (``id``, ``category``, ``details`` ...)."""
        if name.startswith("_") or name in ("finding", "capture", "rule"):
            raise AttributeError(name)
        return getattr(self.finding, name)

    def to_dict(self) -> dict[str, Any]:
        """The finding's JSON form (what reports hold)."""
        return self.finding.to_dict()

    @cached_property
    def rows(self) -> pd.DataFrame:
        """The rows of the rule's table (``rule.table``) that make this finding."""
        if self.rule is None:
            raise PcapkitError(f"finding {self.finding.id}: its rule {self.finding.rule} is "
                               "not in the pack that made it")
        from pcapkit.rules.engine import finding_rows

        return finding_rows(self.rule, self.capture, self.finding.id, self._tuning)

    @cached_property
    def ids(self) -> dict[str, np.ndarray]:
        """The ids the rows cite as evidence: ``flows`` (flow_id) and ``packets``
        (packet ids), each ascending."""
        flows, packets = [], []
        for column in self.rule.evidence if self.rule is not None else ():
            values = self.rows[column] if column in self.rows.columns else ()
            if len(values) and isinstance(values.iloc[0], list | tuple | np.ndarray):
                values = pd.Series([i for row in values for i in row], dtype="Int64")
            ids = pd.Series(values, dtype="Int64").dropna().to_numpy(dtype=np.int64)
            (flows if column.removesuffix("s") == "flow_id" else packets).append(ids)
        return {"flows": np.unique(np.concatenate(flows or [np.zeros(0, np.int64)])),
                "packets": np.unique(np.concatenate(packets or [np.zeros(0, np.int64)]))}

    @cached_property
    def evidence(self) -> pd.DataFrame:
        """Every sighting of every evidence packet (file, frame, node, interface, time
        ...), through ``Capture.evidence`` and the ids the rows cite; the report lists only
        the first few (``finding.evidence``)."""
        return self.capture.evidence(flows=self.ids["flows"], packets=self.ids["packets"])

    def explain(self) -> Explanation:
        """The reasoning behind the finding: for a policy drop the policy verdict with its
        near misses, for an asymmetric route the two directions' paths side by side,
        otherwise the table rows the rule matched."""
        from pcapkit.explore.explain import explain

        return explain(self)

    def ladder(self) -> Figure:
        """The ladder diagram of the evidence packets across capture points."""
        from pcapkit.plots import ladder

        flows = self.ids["flows"]
        if len(flows) == 1 and not len(self.ids["packets"]):
            return ladder(self.capture, int(flows[0]))
        ids = self.evidence["packet_id"].dropna().unique().astype(np.int64)
        if not len(ids):
            raise PcapkitError(f"finding {self.finding.id} ({self.finding.category}) has no "
                               "evidence packets to draw: it is about the cluster snapshot, "
                               "not traffic")
        return ladder(self.capture, packet_ids=np.sort(ids))

    def _repr_html_(self) -> str:
        return block(finding_card(self.finding.to_dict()))

    def __repr__(self) -> str:
        f = self.finding
        return (f"<pcapkit finding {f.id} {f.severity} {f.category}: {f.title}; "
                f"{endpoint_label(f.src)} -> {endpoint_label(f.dst)}>")


class Findings(Sequence[FindingView]):
    """Findings of a Capture, highest severity first: a sequence of FindingView, by
    position or by finding id."""

    def __init__(self, views: Iterable[FindingView]) -> None:
        self._views = list(views)

    @classmethod
    def of(cls, findings: Iterable[Finding], capture: Capture, rules: Iterable[Rule],
           tuning: Tuning | None = None) -> Findings:
        """Views of ``findings``, made by ``rules`` (under ``tuning``) over ``capture``."""
        by_id = {rule.id: rule for rule in rules}
        return cls(FindingView(f, capture, by_id.get(f.rule), tuning) for f in findings)

    @overload
    def __getitem__(self, key: int | str) -> FindingView: ...

    @overload
    def __getitem__(self, key: slice) -> Findings: ...

    def __getitem__(self, key: int | str | slice) -> FindingView | Findings:
        if isinstance(key, slice):
            return Findings(self._views[key])
        if isinstance(key, str):
            for view in self._views:
                if view.finding.id == key:
                    return view
            raise KeyError(f"no finding {key!r}")
        return self._views[key]

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[FindingView]:
        return iter(self._views)

    @property
    def frame(self) -> pd.DataFrame:
        """One row per finding (``FRAME_COLUMNS``), in order."""
        return self.to_frame()

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: id, severity, category, title, summary, its ends, protocol
        and port, time span, count, evidence sightings and rule id."""
        rows = [{"id": f.id, "severity": f.severity, "category": f.category,
                 "title": f.title, "summary": f.summary, "src": endpoint_label(f.src),
                 "dst": endpoint_label(f.dst), "protocol": f.protocol, "port": f.port,
                 "first_seen": f.first_seen, "last_seen": f.last_seen, "count": f.count,
                 "evidence_total": f.details.get("evidence_total", len(f.evidence)),
                 "rule": f.rule} for f in (v.finding for v in self._views)]
        frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        for column in ("first_seen", "last_seen"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame["port"] = frame["port"].astype("Int64")
        frame["severity"] = pd.Categorical(frame["severity"], categories=list(SEVERITIES),
                                           ordered=True)
        return frame

    def filter(self, *, category: str | Iterable[str] | None = None,
               severity: str | Iterable[str] | None = None,
               pod: str | Iterable[str] | None = None) -> Findings:
        """The findings of these categories (glob patterns: ``dns-*``), severities, and
        whose either end is a pod matching ``pod`` (``shop/frontend-*``, as
        ``Capture.filter`` reads it)."""
        from pcapkit.explore.select import glob_mask, pod_mask, texts

        keep = np.ones(len(self._views), dtype=bool)
        findings = [v.finding for v in self._views]
        if category is not None:
            names = np.array([f.category for f in findings], dtype=object)
            keep &= glob_mask(names, texts(category, "category"))
        if severity is not None:
            wanted = texts(severity, "severity")
            unknown = [s for s in wanted if s not in SEVERITIES]
            if unknown:
                raise PcapkitError(f"severity: {unknown[0]!r} is not one of "
                                   + ", ".join(SEVERITIES))
            keep &= np.isin(np.array([f.severity for f in findings], dtype=object), wanted)
        if pod is not None:
            ends = pd.DataFrame({f"{end}_{column}": [_end_field(f, side, key) for f in findings]
                                 for end, side in (("orig", "src"), ("resp", "dst"))
                                 for column, key in (("namespace", "namespace"),
                                                     ("pod", "name"))}, dtype=object)
            keep &= pod_mask(ends, texts(pod, "pod"))
        return Findings(v for v, k in zip(self._views, keep, strict=True) if k)

    def within(self, capture: Capture) -> Findings:
        """The findings with at least one evidence sighting in ``capture`` (a narrowed
        Capture's share of its parent's findings)."""
        from pcapkit.evidence import sighted_frames

        sightings = capture.sightings
        held: dict[str, np.ndarray] = {
            str(file): np.sort(group.to_numpy(dtype=np.int64))
            for file, group in sightings.groupby("file", observed=True)["frame"]}
        keep = []
        for view in self._views:  # one step per finding, arrays per file
            frames = sighted_frames(view.finding.to_dict())
            keep.append(any(file in held and np.isin(numbers, held[file]).any()
                            for file, numbers in frames.items()))
        return Findings(v for v, k in zip(self._views, keep, strict=True) if k)

    def by_severity(self) -> dict[str, int]:
        """Number of findings per severity, highest first (every severity listed)."""
        counts = pd.Series([v.finding.severity for v in self._views], dtype=object) \
            .value_counts()
        return {s: int(counts.get(s, 0)) for s in SEVERITIES}

    def _repr_html_(self) -> str:
        return block(self.html())

    def html(self) -> str:
        """The collection as an HTML fragment (no style: ``_repr_html_`` adds it)."""
        counts = severity_text(self.by_severity())
        rows = []
        for index, view in enumerate(self._views[:MAX_ROWS]):
            f = view.finding
            rows.append(f"<tr><td>{index}</td><td>{badge(f.severity)}</td>"
                        f"<td>{cell(f.category)}</td><td>{cell(f.title)}</td>"
                        f"<td>{cell(endpoint_label(f.src))}</td>"
                        f"<td>{cell(endpoint_label(f.dst))}</td>"
                        f'<td class="time" title="{cell(f.first_seen)}">'
                        f"{cell(short_time(f.first_seen))}</td>"
                        f'<td class="id"><code>{cell(f.id)}</code></td></tr>')
        more = (f'<p class="meta">{MAX_ROWS} of {len(self)} findings shown: '
                "<code>.frame</code> has them all.</p>" if len(self) > MAX_ROWS else "")
        table = ("<table><thead><tr><th>#</th><th>severity</th><th>category</th>"
                 "<th>finding</th><th>from</th><th>to</th><th>first seen</th><th>id</th>"
                 f"</tr></thead><tbody>{''.join(rows)}</tbody></table>") if rows else \
            "<p>No findings.</p>"
        return f"<h3>{len(self)} finding(s): {cell(counts)}</h3>" + table + more

    def __repr__(self) -> str:
        counts = severity_text(self.by_severity())
        lines = [f"<pcapkit.Findings {len(self)}: {counts}>"]
        lines += [f"  [{i}] {v.finding.severity} {v.finding.category}: {v.finding.title}"
                  f" ({endpoint_label(v.finding.src)} -> {endpoint_label(v.finding.dst)})"
                  for i, v in enumerate(self._views[:_REPR_LINES])]
        if len(self) > _REPR_LINES:
            lines.append(f"  ... {len(self) - _REPR_LINES} more")
        return "\n".join(lines)


def _end_field(finding: Finding, side: str, key: str) -> Any:
    """One field of a finding's ``src``/``dst`` end (None when absent)."""
    return (getattr(finding, side) or {}).get(key)



def severity_text(counts: dict[str, int]) -> str:
    """``4 high, 1 low`` (``none`` without findings)."""
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
