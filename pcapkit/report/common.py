"""What every report format says the same way: who a finding's ends are, where its evidence
is and which Wireshark filter shows it, and the order findings are listed in (severity, then
category, then time). Each renderer formats these; none works them out again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcapkit.findings import SEVERITIES, severity_rank
from pcapkit.ingest.archives import ARCHIVE_SUFFIXES

#: the endpoint fields that name an end, in the order the flow tables' ``<end>_identity``
#: picks them (workload, else pod, else Service, else address: IDENTITY_LABEL)
_IDENTITY_ORDER = ("workload", "name", "service", "ip")
_DETAIL_IDENTITY = {"src": "orig_identity", "dst": "resp_identity"}


def end_identity(finding: dict[str, Any], end: str) -> str | None:
    """The identity label of a finding's ``src`` or ``dst`` end: the one the flow and DNS
    tables group that end by (``orig_identity``/``resp_identity``), so a finding lands on
    the workload graph's edge; None when the finding names no such end."""
    named = (finding.get("details") or {}).get(_DETAIL_IDENTITY[end])
    if named:
        return str(named)
    values = finding.get(end) or {}
    for field in _IDENTITY_ORDER:
        if values.get(field):
            return str(values[field])
    return None


def endpoint_label(end: dict[str, Any]) -> str:
    """One line naming an end: workload, pod and Service when known, then ip:port."""
    where = end.get("ip") or "?"
    if end.get("port") is not None:
        where += f":{end['port']}"
    names = []
    if end.get("workload"):
        names.append(str(end["workload"]))
    pod = f"{end['namespace']}/{end['name']}" if end.get("namespace") and end.get("name") \
        else end.get("name")
    if pod and not (end.get("workload") or "").endswith(f" {pod}"):  # bare pods: once
        names.append(f"pod {pod}")
    if end.get("service"):
        names.append(f"service {end['service']}")
    if not names and end.get("ip") is None:
        return "-"
    return f"{', '.join(names)} ({where})" if names else where


def file_filters(finding: dict[str, Any]) -> dict[str, str]:
    """The Wireshark display filter of each file holding evidence of the finding (file ->
    ``frame.number in {...}``), in the order the evidence lists the files."""
    per_file = (finding.get("details") or {}).get("display_filters")
    if isinstance(per_file, dict) and per_file:
        return {str(f): str(v) for f, v in per_file.items()}
    if finding.get("evidence") and finding.get("display_filter"):
        return {str(finding["evidence"][0]["file"]): str(finding["display_filter"])}
    return {}


def wireshark_command(file: str, display_filter: str) -> str:
    """The command that opens ``file`` showing only the evidence frames. Wireshark cannot
    read inside an archive: for a member (``archive!member``, as Retina's tarballs are
    shown) the command unpacks the archive into /tmp first, then opens the member there."""
    show = f"-Y {_shell_word(display_filter)}"
    archive, member = _archive_member(file)
    if archive is None:
        return f"wireshark -r {_shell_word(file)} {show}"
    name = Path(archive).name
    stem = next((name[:-len(s)] for s in ARCHIVE_SUFFIXES if name.lower().endswith(s)), name)
    directory = f"/tmp/pcapkit-{stem}"
    return (f"mkdir -p {_shell_word(directory)} && tar -xf {_shell_word(archive)} -C "
            f"{_shell_word(directory)} && wireshark -r {_shell_word(f'{directory}/{member}')} "
            f"{show}")


def _archive_member(file: str) -> tuple[str | None, str]:
    """(archive, member) of a shown ``archive!member`` name, (None, file) for a plain file:
    the archive is the first prefix before a "!" that is a file here, else the first that
    is named like an archive (the report may be read away from the captures)."""
    cuts = [i for i, char in enumerate(file) if char == "!"]
    for at in cuts:
        if Path(file[:at]).is_file():
            return file[:at], file[at + 1:]
    for at in cuts:
        if file[:at].lower().endswith(ARCHIVE_SUFFIXES):
            return file[:at], file[at + 1:]
    return None, file


def _shell_word(text: str) -> str:
    if text and all(c.isalnum() or c in "/._-+:=@%," for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def grouped(findings: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Findings as (severity, category, findings) groups: severities highest first,
    categories alphabetically, each group in order of first sighting (undated last).
    Every finding is in exactly one group."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for finding in findings:
        groups.setdefault((finding["severity"], finding["category"]), []).append(finding)
    order = sorted(groups, key=lambda key: (severity_rank(key[0]), key[1]))
    return [(severity, category,
             sorted(groups[severity, category],
                    key=lambda f: (f["first_seen"] is None, f["first_seen"] or "", f["id"])))
            for severity, category in order]


def severity_counts(report: dict[str, Any]) -> list[tuple[str, int]]:
    """(severity, number of findings) for every severity, highest first."""
    counts = report["summary"]["by_severity"]
    return [(severity, int(counts.get(severity, 0))) for severity in SEVERITIES]


def input_problems(report: dict[str, Any]) -> list[str]:
    """Every read error of every input file."""
    return [str(error) for item in report["inputs"] for error in item["errors"]]


def snapshot_line(report: dict[str, Any]) -> str | None:
    """Which cluster exports were read, and whether they were found in the incident
    directory rather than named (None when none was)."""
    snapshot = report.get("snapshot") or {}
    files = snapshot.get("files") or []
    if not snapshot.get("loaded") or not files:
        return None
    how = " (found in the incident directory)" if snapshot.get("discovered") else ""
    return f"cluster snapshot: {', '.join(files)}{how}"
