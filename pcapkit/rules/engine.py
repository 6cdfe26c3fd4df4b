"""Run rules over an incident's tables and turn the matching rows into findings.

For each rule: read its table (raw or derived, ``Capture.table``), compute its mask, keep
the rows a correlation (event_count, value_count, temporal over ``timespan``) lets
through, group them by ``group_by`` and make one :class:`~pcapkit.findings.Finding` per
group: counts, time span and representative values are computed with one groupby over the
matching rows; evidence packets are found through the rows' id columns (``flow_id`` ->
every packet of the flow, ``*packet_id`` -> that packet) and joined with the sightings
table in one merge, so a finding cites every capture point that saw its packets.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pcapkit.column_arrays import NAT_NS, codes_of, int_isin, per_row, times_ns
from pcapkit.evidence import EVIDENCE_FRAMES, frame_range_texts
from pcapkit.findings import Evidence, Finding, display_filter, endpoint, finding_id, severity_rank
from pcapkit.rules.load import Correlation, Rule
from pcapkit.rules.tuning import Tuning
from pcapkit.schema import table as declaration

EVIDENCE_LIMIT = 20
"""Evidence sightings listed per finding (the earliest; ``details.evidence_total`` counts
all of them)."""

_END_COLUMNS = ("h", "p", "kind", "namespace", "pod", "workload", "node", "service")
#: tables at least this long are cut to a finding's columns before their rows are picked
SUBSET_ROWS = 10_000


class TableSource(Protocol):
    """What the engine reads: any registered table by name, and the two tables that link
    ids to packets (``pcapkit.Capture`` is one)."""

    def table(self, name: str) -> pd.DataFrame: ...

    @property
    def distinct(self) -> pd.DataFrame: ...

    @property
    def sightings(self) -> pd.DataFrame: ...


def run_rules(source: TableSource, rules: Iterable[Rule],
              tuning: Tuning | None = None) -> list[Finding]:
    """Every finding of every rule (less what the site's ``tuning`` disables or excludes),
    highest severity first, then by time."""
    rules = list(rules)
    if tuning is not None:
        rules = tuning.apply(rules)
    matched = [(rule, matched_rows(rule, source, tuning, findings_only=True))
               for rule in rules]
    # the ids every finding cites, so that only their packets are read (a share at a time
    # when the incident is cut into shares)
    flows, packets = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for rule, (frame, groups, _) in matched:
        for column, pairs in _evidence_ids(rule, frame, groups):
            (flows if _is_flow_column(column) else packets).append(pairs[:, 1])
    index = EvidenceIndex(source, flows=np.unique(np.concatenate(flows)),
                          packets=np.unique(np.concatenate(packets)))
    findings: list[Finding] = []
    for rule, (frame, groups, times) in matched:
        findings.extend(_group_findings(rule, source, frame, groups, times, index))
    findings.sort(key=lambda f: (severity_rank(f.severity), f.first_seen or "", f.id))
    return findings


def evaluate(rule: Rule, source: TableSource, tuning: Tuning | None = None,
             index: EvidenceIndex | None = None) -> list[Finding]:
    """The findings of one rule (``index``: the incident's id links, to share between
    rules)."""
    matched, groups, times = matched_rows(rule, source, tuning, findings_only=True)
    return _group_findings(rule, source, matched, groups, times, index)


def matched_rows(rule: Rule, source: TableSource, tuning: Tuning | None = None, *,
                 findings_only: bool = False) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The rows of the rule's table that make its findings (its mask, less the tuning's
    exclusions, through its correlation), each row's group (0, 1 ...: one finding each)
    and time (ns). ``findings_only``: the rows with only the columns a finding reads (a
    table's other columns, dozens of Arrow strings, are not copied for every rule)."""
    frame = source.table(rule.table)
    mask = np.asarray(rule.mask(frame), dtype=bool) if len(frame) else None
    # a temporal correlation's parts read the other columns; a small table costs more to
    # cut down than to copy
    if findings_only and not rule.parts and len(frame) >= SUBSET_ROWS:
        wanted = set(_finding_columns(rule, frame))
        frame = frame[[c for c in frame.columns if c in wanted]]
    matched = frame[mask] if mask is not None else frame
    for exclusions in tuning.exclusions(rule.id) if tuning is not None else ():
        matched = matched[~exclusions.mask(matched)]
    table = declaration(rule.table)
    times = _times(matched, table.time)
    groups = _group_codes(matched, rule.group_by)
    if rule.correlation is not None:
        keep = _correlate(rule, matched, groups, times)
        matched, groups, times = matched[keep], groups[keep], times[keep]
        groups = pd.factorize(groups)[0]
    return matched, groups, times


def finding_rows(rule: Rule, source: TableSource, finding_id: str,
                 tuning: Tuning | None = None) -> pd.DataFrame:
    """The rows of the rule's table behind finding ``finding_id`` (none when the rule did
    not make it): the rule is evaluated again, and its groups are its findings in order."""
    matched, groups, times = matched_rows(rule, source, tuning)
    made = _group_findings(rule, source, matched, groups, times, None)
    wanted = np.array([g for g, finding in enumerate(made) if finding.id == finding_id],
                      dtype=np.int64)
    return matched[np.isin(groups, wanted)].reset_index(drop=True)


def _group_findings(rule: Rule, source: TableSource, matched: pd.DataFrame,
                    groups: np.ndarray, times: np.ndarray,
                    index: EvidenceIndex | None) -> list[Finding]:
    """One finding per group of matched rows, in group order."""
    if not len(matched):
        return []
    values = _group_values(matched, groups, _wanted_columns(rule, matched))
    rows = np.bincount(groups)
    counts = _counts(rule, matched, groups, rows)
    first, last = (extreme[:, 0] for extreme in _group_extremes(times[:, None], groups))
    evidence, totals, frame_lists, spans = _evidence(rule, matched, groups,
                                                     index or EvidenceIndex(source))
    first, last = _time_span(first, last, spans)
    return [_finding(rule, values[g], int(counts[g]), first[g], last[g], evidence.get(g, []),
                     int(totals.get(g, 0)), frame_lists.get(g, {}), int(rows[g]))
            for g in range(len(counts))]


def _counts(rule: Rule, frame: pd.DataFrame, groups: np.ndarray,
            rows: np.ndarray) -> np.ndarray:
    """Per group, what its finding counts: its rows, or the distinct values of the rule's
    ``count`` column (a row without a value counts on its own)."""
    if rule.count is None:
        return rows
    codes = pd.factorize(frame[rule.count], use_na_sentinel=True)[0].astype(np.int64)
    missing = codes < 0
    codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    pairs = _unique_pairs(groups, codes)
    return np.bincount(pairs[:, 0], minlength=len(rows))


def _times(frame: pd.DataFrame, column: str) -> np.ndarray:
    if not column or column not in frame.columns:
        return np.full(len(frame), np.iinfo(np.int64).min, dtype=np.int64)
    return times_ns(frame[column])


def _group_codes(frame: pd.DataFrame, group_by: tuple[str, ...]) -> np.ndarray:
    if not group_by:
        return np.arange(len(frame), dtype=np.int64)
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    return frame.groupby(list(group_by), dropna=False, observed=True, sort=False).ngroup() \
        .to_numpy(dtype=np.int64)


def _correlate(rule: Rule, frame: pd.DataFrame, groups: np.ndarray,
               times: np.ndarray) -> np.ndarray:
    """Rows that lie in a window (``timespan`` after a row, per group) satisfying the
    correlation's condition; the rest are dropped."""
    correlation = rule.correlation
    assert correlation is not None
    keep = np.zeros(len(frame), dtype=bool)
    if not len(frame):
        return keep
    span = np.inf if not np.isfinite(correlation.timespan_s) else \
        int(correlation.timespan_s * 1e9)
    order = np.lexsort((times, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    stops = np.r_[starts[1:], len(order)]
    values = None
    if correlation.type == "value_count":
        values = pd.factorize(frame[correlation.value_field])[0]
    parts = None
    if correlation.type == "temporal":
        parts = np.stack([np.asarray(p(frame), dtype=bool) for p in rule.parts], axis=1)
    if correlation.type != "value_count":  # windows of every group at once
        ends = _window_ends(sorted_groups, times[order], span, starts, stops)
        if ends is not None:
            hits = _windows(correlation, order, ends - np.arange(len(order)), ends, None,
                            parts)
            covered = np.zeros(len(order) + 1, dtype=np.int64)
            np.add.at(covered, np.flatnonzero(hits), 1)
            np.add.at(covered, ends[hits], -1)
            keep[order[np.cumsum(covered)[:-1] > 0]] = True
            return keep
    for a, b in zip(starts, stops, strict=True):  # one pass per group, not per row
        rows = order[a:b]
        t = times[rows]
        ends = np.searchsorted(t, t + span, side="right") if np.isfinite(span) else \
            np.full(len(t), len(t))
        hits = _windows(correlation, rows, ends - np.arange(len(rows)), ends, values, parts)
        if hits.any():
            covered = np.zeros(len(rows) + 1, dtype=np.int64)
            np.add.at(covered, np.flatnonzero(hits), 1)
            np.add.at(covered, ends[hits], -1)
            keep[rows[np.cumsum(covered)[:-1] > 0]] = True
    return keep


def _window_ends(groups: np.ndarray, times: np.ndarray, span: float, starts: np.ndarray,
                 stops: np.ndarray) -> np.ndarray | None:
    """For rows sorted by (group, time): where each row's window (``span`` ns after it,
    inside its group) ends, for all groups in one searchsorted over a key that keeps the
    groups apart; None when that key would not fit in 64 bits (then per group)."""
    sizes = stops - starts
    if not np.isfinite(span):
        return np.repeat(stops, sizes)
    known = times != NAT_NS
    if not known.all():
        return None
    low = int(times.min())
    width = int(times.max()) - low + int(span) + 1
    if (int(groups.max()) + 1) * width >= 1 << 62:
        return None
    key = groups.astype(np.int64) * width + (times - low)
    return np.searchsorted(key, key + int(span), side="right")


def _windows(correlation: Correlation, rows: np.ndarray, counts: np.ndarray,
             ends: np.ndarray, values: np.ndarray | None,
             parts: np.ndarray | None) -> np.ndarray:
    """For each window [i, ends[i]) (``counts`` rows, ``rows`` in window order), whether it
    satisfies the condition."""
    n = len(rows)
    if correlation.type == "event_count":
        measure = counts
    elif correlation.type == "value_count":
        assert values is not None
        measure = np.array([len(np.unique(values[rows[i:ends[i]]])) for i in range(n)])
    else:
        assert parts is not None
        cumulative = np.vstack([np.zeros((1, parts.shape[1]), np.int64),
                                np.cumsum(parts[rows], axis=0)])
        present = (cumulative[ends] - cumulative[np.arange(n)]) > 0
        measure = present.sum(axis=1)
        return measure == parts.shape[1]
    compare = {"gt": np.greater, "ge": np.greater_equal, "lt": np.less,
               "le": np.less_equal, "eq": np.equal}[correlation.op]
    return compare(measure, correlation.count)


def _finding_columns(rule: Rule, frame: pd.DataFrame) -> list[str]:
    """Every column making a rule's findings: the values it shows, its evidence ids, time,
    count and correlation field, and what the site's exclusions test."""
    names = [*_wanted_columns(rule, frame), *rule.evidence, declaration(rule.table).time]
    if rule.count:
        names.append(rule.count)
    if rule.correlation is not None and rule.correlation.value_field:
        names.append(rule.correlation.value_field)
    names += [f"{end}_{c}" for end in ("orig", "resp") for c in ("namespace", "workload", "h")]
    return [n for n in dict.fromkeys(names) if n and n in frame.columns]


def _wanted_columns(rule: Rule, frame: pd.DataFrame) -> list[str]:
    names = [*rule.group_by, *rule.fields]
    names += [f"{end}_{c}" for end in ("orig", "resp") for c in _END_COLUMNS]
    names += ["src", "dst", "sport", "dport", "proto", "transport", "qname", "qtype"]
    names += [n for _, n, _, _ in string.Formatter().parse(rule.summary) if n]
    return [n for n in dict.fromkeys(names) if n in frame.columns]


def _group_values(frame: pd.DataFrame, groups: np.ndarray,
                  columns: list[str]) -> list[dict[str, Any]]:
    """Per group: each column's value when the group's rows agree on it, else None (the
    lowest and highest code of every column per group, in one reduction over all of them)."""
    n = int(groups.max()) + 1 if len(groups) else 0
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    if not n or not columns:
        return out
    codes, labels = [], []
    for name in columns:
        series = frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes.append(series.cat.codes.to_numpy(dtype=np.int64))
            labels.append(np.append(np.asarray(series.cat.categories, dtype=object), None))
        else:
            factor, uniques = pd.factorize(series, use_na_sentinel=True)
            codes.append(factor.astype(np.int64))
            labels.append(np.append(np.asarray(uniques, dtype=object), None))
    lowest, highest = _group_extremes(np.stack(codes, axis=1), groups)
    for j, name in enumerate(columns):
        agree = lowest[:, j] == highest[:, j]
        values = [_plain(v) for v in labels[j][lowest[:, j]].tolist()]
        for g in range(n):
            out[g][name] = values[g] if agree[g] else None
    return out


def _group_extremes(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group (0..n-1, every one present), the column-wise minimum and maximum of
    ``values`` (rows x columns)."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rows = values[order]
    return np.minimum.reduceat(rows, starts, axis=0), np.maximum.reduceat(rows, starts, axis=0)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return _iso(value.value)
    return value


class EvidenceIndex:
    """The id-to-packet links of one incident, built once for every rule: sightings per
    packet as sorted arrays, so finding a group's evidence is a ``searchsorted`` over those,
    not a merge with the million-row tables per rule; a flow's packets are looked up for the
    flows a rule cites. Given the ``flows`` and ``packets`` every finding cites, only theirs
    are read (``source.evidence_tables``: a share at a time in a run cut into shares)."""

    def __init__(self, source: TableSource, *, flows: np.ndarray | None = None,
                 packets: np.ndarray | None = None) -> None:
        self._source = source
        self._wanted = None if flows is None and packets is None else (
            np.zeros(0, np.int64) if flows is None else flows,
            np.zeros(0, np.int64) if packets is None else packets)
        self._labels: dict[str, np.ndarray] = {}

    @cached_property
    def _tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(distinct, sightings): the source's, or only the cited ones'."""
        if self._wanted is not None and hasattr(self._source, "evidence_tables"):
            return self._source.evidence_tables(*self._wanted)
        return self._source.distinct, self._source.sightings

    @cached_property
    def _flows(self) -> tuple[np.ndarray, np.ndarray]:
        """Every distinct packet's flow id (-1: none) and packet id, in the table's order."""
        distinct = self._tables[0]
        return (distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1),
                distinct["packet_id"].to_numpy(dtype=np.int64))

    @cached_property
    def _sightings(self) -> dict[str, np.ndarray]:
        sightings = self._tables[1]
        packet = sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
        order = _sorting(packet)
        columns = {"packet_id": packet[order],
                   "frame": sightings["frame"].to_numpy(dtype=np.int64, na_value=-1)[order],
                   "t": _times(sightings, "ts_corrected" if "ts_corrected" in sightings
                               else "ts")[order]}
        for name in ("file", "node", "interface"):
            codes, labels = codes_of(sightings[name]) if name in sightings else (
                np.full(len(order), -1, np.int64), np.zeros(0, dtype=object))
            # codes renumbered in label order, so sorting codes sorts by name
            rank = np.argsort(np.argsort(labels.astype(str), kind="stable")) \
                if len(labels) else np.zeros(0, np.int64)
            columns[name] = per_row(codes[order], rank, -1)
            self._labels[name] = labels[np.argsort(rank)] if len(labels) else labels
        return columns

    def packets_of_flows(self, groups: np.ndarray, flows: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        """(group, packet_id) for every packet of every (group, flow). The wanted flows'
        packets are found with one lookup-table pass and sorted among themselves only: a
        finding cites few flows, and sorting every packet by flow cost more than all the
        rules' lookups."""
        flow, packet = self._flows
        rows = np.flatnonzero(int_isin(flow, np.unique(flows)))
        rows = rows[np.argsort(flow[rows], kind="stable")]
        return _expand(flow[rows], packet[rows], groups, flows)

    def sightings(self, groups: np.ndarray, packets: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        """(group, row of the sorted sightings) for every sighting of every (group, packet)."""
        rows = np.arange(len(self._sightings["packet_id"]))
        return _expand(self._sightings["packet_id"], rows, groups, packets)

    def column(self, name: str) -> np.ndarray:
        """The sorted sightings' ``t``, ``frame`` or, for file, node and interface, their
        codes in name order (``labels(name)`` turns them into text)."""
        return self._sightings[name]

    def labels(self, name: str, codes: np.ndarray) -> list[str | None]:
        """The names of file, node or interface ``codes`` (None for -1)."""
        self._sightings  # noqa: B018 - builds the labels
        return per_row(codes, self._labels[name], None).tolist()


def _sorting(keys: np.ndarray) -> np.ndarray:
    """The stable order sorting ``keys``; no sort when they are in order already (the
    sightings of one capture file are, by packet id)."""
    if not len(keys) or bool(np.all(keys[1:] >= keys[:-1])):
        return np.arange(len(keys))
    return np.argsort(keys, kind="stable")


def _expand(keys: np.ndarray, values: np.ndarray, groups: np.ndarray, wanted: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """For sorted ``keys`` and their ``values``: (group, value) for every key in ``wanted``."""
    starts = np.searchsorted(keys, wanted, side="left")
    sizes = np.searchsorted(keys, wanted, side="right") - starts
    total = int(sizes.sum())
    if not total:
        return np.zeros(0, np.int64), values[:0]
    offsets = np.repeat(starts - np.r_[0, np.cumsum(sizes)[:-1]], sizes) + np.arange(total)
    return np.repeat(groups, sizes), values[offsets]


def _evidence(rule: Rule, frame: pd.DataFrame, groups: np.ndarray, index: EvidenceIndex
              ) -> tuple[dict[int, list[Evidence]], dict[int, int], dict[int, dict[str, str]],
                         tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The evidence sightings of each group (earliest first, at most EVIDENCE_LIMIT), how
    many there are in all, every one's frame as ranges per file (``_frame_lists``) and
    the time span they cover (``_spans``)."""
    group_parts, packet_parts = [], []
    for column, pairs in _evidence_ids(rule, frame, groups):
        if _is_flow_column(column):
            found_groups, found_packets = index.packets_of_flows(pairs[:, 0], pairs[:, 1])
        else:
            found_groups, found_packets = pairs[:, 0], pairs[:, 1]
        group_parts.append(found_groups)
        packet_parts.append(found_packets)
    none = np.zeros(0, np.int64)
    if not group_parts:
        return {}, {}, {}, (none, none, none)
    pairs = _unique_pairs(np.concatenate(group_parts), np.concatenate(packet_parts))
    group, rows = index.sightings(pairs[:, 0], pairs[:, 1])
    if not len(rows):
        return {}, {}, {}, (none, none, none)
    t, frames = index.column("t")[rows], index.column("frame")[rows]
    files = index.column("file")[rows]
    order = np.lexsort((frames, files, t, group))
    group, rows = group[order], rows[order]
    totals = np.bincount(group)
    spans = _spans(group, index.column("t")[rows])
    frame_lists = _frame_lists(group, rows, index)
    rank = np.arange(len(group)) - np.searchsorted(group, group, side="left")
    listed = rank < EVIDENCE_LIMIT
    out: dict[int, list[Evidence]] = {}
    rows = rows[listed]
    times = _isos(index.column("t")[rows])
    for g, file, frame_no, time, node, iface in zip(
            group[listed].tolist(), index.labels("file", index.column("file")[rows]),
            index.column("frame")[rows].tolist(), times,
            index.labels("node", index.column("node")[rows]),
            index.labels("interface", index.column("interface")[rows]), strict=True):
        out.setdefault(g, []).append(Evidence(
            str(file), frame_no, time, None if node is None else str(node),
            None if iface is None else str(iface)))
    return out, {g: int(n) for g, n in enumerate(totals) if n}, frame_lists, spans


def _evidence_ids(rule: Rule, frame: pd.DataFrame, groups: np.ndarray
                  ) -> list[tuple[str, np.ndarray]]:
    """Per evidence column of the rule, the distinct (group, id) pairs its matched rows
    cite (a list column: every id of the row's list)."""
    table = declaration(rule.table)
    out = []
    for column in rule.evidence:
        if table[column].kind == "list":  # a list of ids per row (one per matched row)
            lists = frame[column].to_numpy(dtype=object)
            sizes = np.fromiter((len(ids) for ids in lists), np.int64, len(lists))
            ids = np.array([i for row in lists for i in row], dtype=np.float64)
            row_groups = np.repeat(groups, sizes)
        else:
            ids = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
            row_groups = groups
        present = ~np.isnan(ids)
        out.append((column, _unique_pairs(row_groups[present], ids[present].astype(np.int64))))
    return out


def _is_flow_column(column: str) -> bool:
    """Whether an evidence column holds flow ids (flow_id, flow_ids), else packet ids."""
    return column.removesuffix("s") == "flow_id"


def _frame_lists(group: np.ndarray, rows: np.ndarray, index: EvidenceIndex
                 ) -> dict[int, dict[str, str]]:
    """Per group, file -> the frames of every sighting as ranges (the report's
    ``details.evidence_frames``: what ``pcapkit export-evidence`` reads past the cap)."""
    files, frames = index.column("file")[rows], index.column("frame")[rows]
    known = (files >= 0) & (frames >= 1)
    pair_groups, pair_files, texts = frame_range_texts(group[known], files[known],
                                                       frames[known])
    out: dict[int, dict[str, str]] = {}
    for g, file, text in zip(pair_groups.tolist(), index.labels("file", pair_files), texts,
                             strict=True):
        out.setdefault(g, {})[str(file)] = text
    return out


def _unique_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The distinct (first, second) pairs of non-negative ints, sorted, as rows of a
    2-column array (one int64 key per pair: a 1-D unique, not numpy's slow ``axis=0``)."""
    if not len(first):
        return np.zeros((0, 2), dtype=np.int64)
    width = int(second.max()) + 1
    keys = np.unique(first.astype(np.int64) * width + second)
    return np.stack([keys // width, keys % width], axis=1)


def _spans(group: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(groups, earliest, latest known time) of sightings sorted by group then time."""
    known = t != NAT_NS
    group, t = group[known], t[known]
    if not len(group):
        return group, t, t
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    return group[starts], t[starts], np.maximum.reduceat(t, starts)


def _time_span(first: np.ndarray, last: np.ndarray,
               spans: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """Per group, first and last seen: the rows' own times widened to every evidence
    sighting (a flow's row holds when it began; its last packet may be seconds later)."""
    groups, earliest, latest = spans
    first, last = first.copy(), last.copy()
    start = first[groups]
    first[groups] = np.where(start == NAT_NS, earliest, np.minimum(start, earliest))
    last[groups] = np.maximum(last[groups], latest)
    return first, last


def _iso(ns: int) -> str | None:
    """ISO 8601 UTC with every nanosecond digit."""
    return _isos(np.array([ns], dtype=np.int64))[0]


def _isos(ns: np.ndarray) -> list[str | None]:
    """``_iso`` of a whole array at once (numpy formats datetime64 in C)."""
    text = np.datetime_as_string(ns.astype(np.int64).view("datetime64[ns]"), unit="ns")
    return [None if t == "NaT" else f"{t}Z" for t in text]


class _Values(dict):
    """Template values: a missing or disagreeing field reads as '?' (never an error)."""

    def __missing__(self, key: str) -> str:
        return "?"


def _render(value: Any) -> Any:
    if value is None:
        return "?"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


def _finding(rule: Rule, values: dict[str, Any], count: int, first: int, last: int,
             evidence: list[Evidence], total: int, frame_lists: dict[str, str],
             rows: int) -> Finding:
    key = {name: values.get(name) for name in rule.group_by}
    if not rule.group_by:
        key = {name: values.get(name) for name in values}
        key["first_seen"] = first
    template = _Values({k: _render(v) for k, v in values.items()})
    template.update(count=count, rows=rows, first_seen=_iso(first) or "?", last_seen=_iso(last) or "?")
    try:
        summary = rule.summary.format_map(template)
    except (ValueError, TypeError):  # a format spec that does not fit the value
        summary = rule.summary
    src, dst = endpoint(values, "orig"), endpoint(values, "resp")
    if src["ip"] is None and "src" in values:
        src.update(ip=values.get("src"), port=values.get("sport"))
        dst.update(ip=values.get("dst"), port=values.get("dport"))
    files: dict[str, list[int]] = {}
    for item in evidence:
        files.setdefault(item.file, []).append(item.frame)
    details = {name: values.get(name) for name in (*rule.group_by, *rule.fields)}
    details["evidence_total"] = total
    if rule.count is not None:  # count is of distinct rule.count values: say the rows too
        details["rows"] = rows
    if frame_lists:
        details[EVIDENCE_FRAMES] = frame_lists
    if len(files) > 1:
        details["display_filters"] = {file: display_filter(frames)
                                      for file, frames in files.items()}
    protocol = values.get("proto") or values.get("transport")
    return Finding(
        id=finding_id(rule.id, key), rule=rule.id, category=rule.category,
        severity=rule.level, title=rule.title, summary=summary, first_seen=_iso(first),
        last_seen=_iso(last), count=count, src=src, dst=dst,
        protocol=None if protocol is None else str(protocol), port=dst.get("port"),
        evidence=evidence,
        display_filter=display_filter(files[evidence[0].file]) if evidence else None,
        details=details, remediation=rule.remediation, references=list(rule.references))
