"""A finding's evidence packets: the frame lists a report keeps, and their export to pcapng.

A report lists at most a few sightings per finding (``evidence``; ``details.evidence_total``
counts them all), so it also keeps every sighting compactly: ``details.evidence_frames``
maps each capture file to its frame numbers as ranges (``"12-15,40,77-80"``: ascending,
one range per run of consecutive frames). ``export`` reads those frames' original bytes
from the capture files the report names (paths as written there: relative to the current
directory, or to ``base``), one pass per file that stops after the last frame it needs, and
writes one pcapng per finding (:mod:`pcapkit.io.pcapng_writer`): one interface per
(node, interface, link type) named ``node:interface``, each packet with its original
timestamp, lengths and bytes and the comment ``pcapkit finding <id>: <rule> <title>``,
every capture point's sightings interleaved in time order.

A capture file changed since the report is refused, not exported: its size must equal the
report's ``inputs[].size``, every cited frame must still be there, and the listed
sightings' times must differ from the frames' timestamps by one clock offset per node
(the report's times are clock-corrected).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcapkit.errors import PcapkitError

#: the details key holding every sighting's frames per file
EVIDENCE_FRAMES = "evidence_frames"
_RANGES = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


# -- the compact frame lists ------------------------------------------------------------

def frame_range_texts(groups: np.ndarray, files: np.ndarray, frames: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The frame ranges of each distinct (group, file): (groups, files, texts), one entry
    per pair in ascending order. Runs are found and formatted as arrays; Python joins one
    text per pair."""
    groups, files, frames = (np.asarray(a, dtype=np.int64) for a in (groups, files, frames))
    if not len(frames):
        return groups[:0], files[:0], []
    order = np.lexsort((frames, files, groups))
    groups, files, frames = groups[order], files[order], frames[order]
    pair_start = np.r_[True, (groups[1:] != groups[:-1]) | (files[1:] != files[:-1])]
    keep = pair_start | np.r_[True, frames[1:] != frames[:-1]]  # a frame cited twice: once
    groups, files, frames, pair_start = groups[keep], files[keep], frames[keep], \
        pair_start[keep]
    run_start = np.flatnonzero(pair_start | np.r_[True, frames[1:] != frames[:-1] + 1])
    first, last = frames[run_start], frames[np.r_[run_start[1:], len(frames)] - 1]
    first_text = first.astype(str)
    runs = np.where(first == last, first_text,
                    np.char.add(np.char.add(first_text, "-"), last.astype(str))).tolist()
    pair_of_run = np.cumsum(pair_start)[run_start] - 1
    bounds = np.r_[np.searchsorted(pair_of_run, np.arange(pair_of_run[-1] + 1)), len(runs)]
    texts = [",".join(runs[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    pairs = np.flatnonzero(pair_start)
    return groups[pairs], files[pairs], texts


def frame_ranges(frames: Iterable[int]) -> str:
    """The ranges text of one file's ``frames``."""
    frames = np.fromiter(frames, dtype=np.int64)
    texts = frame_range_texts(np.zeros(len(frames)), np.zeros(len(frames)), frames)[2]
    return texts[0] if texts else ""


def parse_frame_ranges(text: str) -> np.ndarray:
    """The ascending frame numbers of a ranges text; ValueError for anything else."""
    if not isinstance(text, str) or not _RANGES.match(text):
        raise ValueError(f"not a list of frame ranges: {str(text)[:40]!r}")
    numbers = np.array(re.split(r"[,-]", text), dtype=np.int64)
    dash = np.array(re.findall(r"[,-]", text) + [","]) == "-"   # number i starts a range
    ends_range = np.r_[False, dash[:-1]]
    first = numbers[~ends_range]
    last = np.where(dash, np.r_[numbers[1:], 0], numbers)[~ends_range]
    sizes = last - first + 1
    if (sizes < 1).any() or (first < 1).any() or (first[1:] <= last[:-1]).any():
        raise ValueError(f"frame ranges not ascending: {text[:40]!r}")
    return np.repeat(first, sizes) + np.arange(int(sizes.sum())) \
        - np.repeat(np.cumsum(sizes) - sizes, sizes)


# -- reports ----------------------------------------------------------------------------

def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """A pcapkit JSON report (``pcapkit analyze --format json``); PcapkitError otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PcapkitError(f"cannot read report {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PcapkitError(f"{path} is not a pcapkit JSON report (not text)") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PcapkitError(f"{path} is not a pcapkit JSON report (not JSON: {exc.msg} at "
                           f"line {exc.lineno}); write one with pcapkit analyze --format "
                           "json -o FILE") from None
    if not isinstance(report, dict) or not {"pcapkit_version", "inputs", "findings"} <= \
            set(report) or not isinstance(report["findings"], list):
        raise PcapkitError(f"{path} is JSON but not a pcapkit report (no pcapkit_version, "
                           "inputs and findings)")
    return report


def find_finding(report: dict[str, Any], finding_id: str) -> dict[str, Any]:
    """The finding ``finding_id`` of ``report``; PcapkitError naming a few ids if absent."""
    for finding in report["findings"]:
        if finding.get("id") == finding_id:
            return finding
    ids = [str(f.get("id")) for f in report["findings"]]
    if not ids:
        raise PcapkitError(f"no finding {finding_id!r}: the report has no findings")
    listed = ", ".join(ids[:5]) + (f" ... ({len(ids)} in all)" if len(ids) > 5 else "")
    raise PcapkitError(f"no finding {finding_id!r} in the report; its findings: {listed}")


def sighted_frames(finding: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every sighting of ``finding`` as file -> ascending frame numbers."""
    details = finding.get("details") or {}
    evidence = finding.get("evidence") or []
    listed: dict[str, list[int]] = {}
    for item in evidence:
        listed.setdefault(str(item["file"]), []).append(int(item["frame"]))
    stored = details.get(EVIDENCE_FRAMES)
    if stored is None:
        total = details.get("evidence_total", len(evidence))
        if total > len(evidence):
            raise PcapkitError(
                f"finding {finding['id']} lists {len(evidence)} of its {total} evidence "
                f"packets and the report has no details.{EVIDENCE_FRAMES} (an older "
                "pcapkit wrote it): run pcapkit analyze again")
        return {file: np.unique(frames) for file, frames in listed.items()}
    if not isinstance(stored, dict):
        raise PcapkitError(f"finding {finding['id']}: details.{EVIDENCE_FRAMES} is not a "
                           "file -> frame ranges object")
    try:
        frames = {str(file): parse_frame_ranges(text) for file, text in stored.items()}
    except ValueError as exc:
        raise PcapkitError(f"finding {finding['id']}: details.{EVIDENCE_FRAMES}: "
                           f"{exc}") from None
    for file, numbers in listed.items():
        if file not in frames or not np.isin(numbers, frames[file]).all():
            raise PcapkitError(f"finding {finding['id']}: its evidence cites frames of "
                               f"{file} that details.{EVIDENCE_FRAMES} lacks")
    return frames


# -- reading the frames -----------------------------------------------------------------

@dataclass
class FramesRead:
    """The packets read from one capture file: columns, one element per frame asked for
    (ascending), their bytes in one buffer, and the interfaces they were captured on."""

    file: str
    frame: np.ndarray
    ts_ns: np.ndarray
    caplen: np.ndarray
    wirelen: np.ndarray
    interface: np.ndarray        # index into ``interfaces``
    data: np.ndarray
    offset: np.ndarray
    interfaces: list[tuple[str, int, int]]   # (name, linktype, snaplen)
    #: each frame's interface as the tables name it (an SLL2 ifindex named from the node's
    #: interface list beside the capture: pcapkit.ingest.links)
    names: np.ndarray | None = None


def read_frames(path: str, frames: np.ndarray, *, shown_as: str | None = None,
                cited: bool = True) -> FramesRead:
    """Frames ``frames`` (ascending) of capture ``path``: one pass over the file that stops
    after the last of them. PcapkitError if one is missing or unreadable (``cited``: the
    frames are a report's evidence, so a missing one means the file changed since)."""
    from pcapkit.decode.assemble import interface_name
    from pcapkit.ingest.links import frame_interfaces
    from pcapkit.io.pcapng_writer import copy_ranges
    from pcapkit.io.reader import open_capture

    name = shown_as or path
    parts: list[tuple[np.ndarray, ...]] = []
    interfaces = []
    last = int(frames[-1]) if len(frames) else 0
    with open_capture(path) as reader:
        for batch in reader.batches():
            in_batch = frames[(frames >= batch.frame[0]) & (frames <= batch.frame[-1])]
            rows = np.searchsorted(batch.frame, in_batch)
            rows = rows[batch.frame[rows] == in_batch]
            if len(rows):
                caplen = batch.caplen[rows]
                offset = np.cumsum(caplen) - caplen
                data = np.empty(int(caplen.sum()), dtype=np.uint8)
                copy_ranges(data, offset, batch.data, batch.offset[rows], caplen)
                parts.append((batch.frame[rows], batch.ts_ns[rows], caplen,
                              batch.wirelen[rows], batch.interface[rows].astype(np.int64),
                              data))
            if batch.frame[-1] >= last:
                break
        interfaces = [(interface_name(i), i.linktype, i.snaplen) for i in reader.interfaces]
        errors = list(reader.errors)
    columns = [np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64)
               for k in range(5)]
    data = np.concatenate([p[5] for p in parts]) if parts else np.zeros(0, np.uint8)
    found = columns[0]
    if len(found) < len(frames):
        missing = frames[~np.isin(frames, found)]
        why = f": {errors[0].message}" if errors else \
            f" (it ends before frame {int(missing[0])})" + (
                ": it changed since the report" if cited else "")
        raise PcapkitError(f"{name}: cannot read {'evidence ' if cited else ''}frame "
                           f"{int(missing[0])}{why}")
    offset = np.cumsum(columns[2]) - columns[2]
    names = frame_interfaces(Path(path), [(n, linktype) for n, linktype, _ in interfaces],
                             columns[4], data, offset, columns[2])
    return FramesRead(name, found, columns[1], columns[2], columns[3], columns[4], data,
                      offset, interfaces, names)


# -- export -----------------------------------------------------------------------------

def _ns(text: str | None) -> int | None:
    if not text:
        return None
    return int(np.datetime64(text.removesuffix("Z"), "ns").astype(np.int64))


def _check_times(finding: dict[str, Any], read: dict[str, FramesRead],
                 nodes: dict[str, str]) -> None:
    """The listed sightings' (clock-corrected) times must be their frames' timestamps
    shifted by one offset per node; else a file changed since the report."""
    shift_of_node: dict[str, tuple[int, str]] = {}
    for item in finding.get("evidence") or []:
        expected = _ns(item.get("time"))
        frames = read.get(str(item["file"]))
        if expected is None or frames is None:
            continue
        at = int(np.searchsorted(frames.frame, int(item["frame"])))
        shift = expected - int(frames.ts_ns[at])
        node = nodes.get(frames.file) or frames.file
        seen = shift_of_node.setdefault(node, (shift, f"{frames.file} frame {item['frame']}"))
        if seen[0] != shift:
            raise PcapkitError(f"{frames.file}: frame {item['frame']} is not the packet the "
                               f"report cites at {item['time']} (compared with {seen[1]}): "
                               "the file changed since the report")


def _resolve(file: str, base: str | os.PathLike | None) -> str:
    path = file if base is None or os.path.isabs(file) else os.path.join(base, file)
    if "!" in file and not os.path.isfile(path):  # a member of a (Retina) tarball
        from pcapkit.ingest import member_path

        member = member_path(path)
        return path if member is None else str(member)
    return path


def _check_inputs(frames: dict[str, np.ndarray], report: dict[str, Any],
                  base: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    """The report's input of each cited file, after checking the file is there and has
    the size the report recorded."""
    inputs = {str(i.get("file")): i for i in report.get("inputs") or []}
    for file in frames:
        path = _resolve(file, base)
        item = inputs.get(file)
        if item is None:
            raise PcapkitError(f"the report cites {file}, which its inputs do not list")
        if not os.path.isfile(path):
            where = f"under {base}" if base is not None else "relative to the current directory"
            raise PcapkitError(f"capture file {path} named in the report is missing (paths "
                               f"are {where}; --base DIR resolves them elsewhere)")
        size = item.get("size")
        if size is not None and os.path.getsize(path) != size:
            raise PcapkitError(f"{path} has {os.path.getsize(path):,} bytes, the report read "
                               f"{size:,}: the file changed since the report")
    return inputs


def evidence_file_name(finding: dict[str, Any]) -> str:
    """The stable file name of a finding's evidence: ``<category>-<id>.pcapng``."""
    category = re.sub(r"[^A-Za-z0-9._-]+", "_", str(finding.get("category") or "finding"))
    return f"{category}-{finding['id']}.pcapng"


@dataclass(frozen=True)
class Exported:
    """What one evidence file holds."""

    finding: str
    path: str
    packets: int
    interfaces: int
    files: int


def export(report: dict[str, Any], finding_ids: Sequence[str], outputs: Sequence[str], *,
           base: str | os.PathLike | None = None) -> list[Exported]:
    """Write the evidence of each finding of ``finding_ids`` to the matching ``outputs``
    path (one pcapng each). Each capture file is read once for all of them."""
    findings = [find_finding(report, finding_id) for finding_id in finding_ids]
    per_finding = [sighted_frames(f) for f in findings]
    for finding, frames in zip(findings, per_finding, strict=True):
        if not frames:
            raise PcapkitError(f"finding {finding['id']} has no evidence packets to export")
    wanted: dict[str, list[np.ndarray]] = {}
    for frames in per_finding:
        for file, numbers in frames.items():
            wanted.setdefault(file, []).append(numbers)
    union = {file: np.unique(np.concatenate(parts)) for file, parts in wanted.items()}
    inputs = _check_inputs(union, report, base)
    read = {file: read_frames(_resolve(file, base), numbers, shown_as=file)
            for file, numbers in union.items()}
    nodes = {file: str(inputs[file].get("node") or "unknown") for file in union}
    for finding in findings:
        _check_times(finding, read, nodes)
    done = []
    for finding, frames, output in zip(findings, per_finding, outputs, strict=True):
        done.append(_write(finding, frames, read, nodes, output))
    return done


def export_all(report: dict[str, Any], directory: str | os.PathLike, *,
               base: str | os.PathLike | None = None) -> tuple[list[Exported], int]:
    """Every finding's evidence as ``directory/<category>-<id>.pcapng`` (each capture file
    read once); also how many findings had no evidence packets (no file for them)."""
    with_evidence = [f for f in report["findings"] if sighted_frames(f)]
    names = [os.path.join(directory, evidence_file_name(f)) for f in with_evidence]
    done = export(report, [f["id"] for f in with_evidence], names, base=base)
    return done, len(report["findings"]) - len(with_evidence)


def _write(finding: dict[str, Any], frames: dict[str, np.ndarray],
           read: dict[str, FramesRead], nodes: dict[str, str], output: str) -> Exported:
    """One finding's pcapng: its frames of every file, interleaved by time."""
    from pcapkit._version import __version__
    from pcapkit.io.pcapng_writer import PacketColumns, WriterInterface, write_pcapng
    from pcapkit.io.timestamps import NO_TIMESTAMP

    keys: dict[tuple[str, str, int], list[Any]] = {}   # (node, name, linktype) -> [snaplen, files]
    columns: list[list[np.ndarray]] = [[] for _ in range(7)]
    data_parts, data_size = [], 0
    for number, (file, numbers) in enumerate(frames.items()):
        source = read[file]
        rows = np.searchsorted(source.frame, numbers)
        # one place per (interface, name): an SLL2 interface splits into its devices
        row_names = source.names[rows] if source.names is not None else np.array(
            [n for n, _, _ in source.interfaces], dtype=object)[source.interface[rows]]
        labels, name_code = np.unique(row_names.astype(str), return_inverse=True)
        places, place = np.unique(source.interface[rows] * len(labels) + name_code,
                                  return_inverse=True)
        ids = np.empty(len(places), dtype=np.int64)
        for i, combined in enumerate(places.tolist()):
            _, linktype, snaplen = source.interfaces[combined // len(labels)]
            name = str(labels[combined % len(labels)])
            entry = keys.setdefault((nodes[file], name, linktype), [snaplen, []])
            entry[0] = 0 if 0 in (entry[0], snaplen) else max(entry[0], snaplen)
            if file not in entry[1]:
                entry[1].append(file)
            ids[i] = list(keys).index((nodes[file], name, linktype))
        columns[0].append(source.ts_ns[rows])
        columns[1].append(np.full(len(rows), number, np.int64))
        columns[2].append(numbers)
        columns[3].append(source.caplen[rows])
        columns[4].append(source.wirelen[rows])
        columns[5].append(ids[place.reshape(-1)])
        columns[6].append(source.offset[rows] + data_size)
        data_parts.append(source.data)
        data_size += len(source.data)
    ts, file_no, frame_no, caplen, wirelen, iface, offset = (np.concatenate(c)
                                                              for c in columns)
    order = np.lexsort((frame_no, file_no, ts))
    used = np.unique(iface)                    # this finding's interfaces, numbered anew
    renumber = np.full(len(keys), -1, np.int64)
    renumber[used] = np.arange(len(used))
    key_list = list(keys)
    interfaces = []
    for node, name, linktype in (key_list[k] for k in used.tolist()):
        snaplen, files = keys[node, name, linktype]
        interfaces.append(WriterInterface(linktype, snaplen, f"{node}:{name}",
                                          "captured in " + ", ".join(files)))
    untimed = ts[order] == NO_TIMESTAMP
    label = f"pcapkit finding {finding['id']}: {finding['rule']} {finding['title']}"
    packets = PacketColumns(np.concatenate(data_parts), offset[order], caplen[order],
                            wirelen[order], ts[order], renumber[iface[order]],
                            untimed.astype(np.int64))
    comments = [label, label + " (no timestamp in the capture)"]
    try:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        with open(output, "wb") as handle:
            write_pcapng(handle, interfaces, packets, comments,
                         application=f"pcapkit {__version__}",
                         section_comment=f"pcapkit evidence of finding {finding['id']}: "
                                         f"{finding['title']}")
    except OSError as exc:
        raise PcapkitError(f"cannot write {output}: {exc.strerror or exc}") from None
    return Exported(finding["id"], output, len(packets), len(interfaces), len(frames))
