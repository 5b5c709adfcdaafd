"""Which files of a codebase are agents, joined with the GPU processes that run them.

An agent is a Python file under an ``agents/`` folder, a ``*agent*.py`` file, or a file a GPU process
runs (:func:`~symphony_assets.analysis.gpu.match_cmdline_to_file`). Each gets its GPU code sites
(``code_findings``), the ports it binds (``port_map``) and its GPU peak over the day. Upstream rows
arrive as plain dicts with missing values as None; any upstream may be missing altogether.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from symphony_assets.analysis.gpu import ProcessSample, fill_cmdlines, match_cmdline_to_file

Row = Mapping[str, Any]


def is_agent_path(path: str) -> str | None:
    """Why a path is an agent by its name: a Python file under an ``agents/`` folder, or ``*agent*.py``."""
    if not path.endswith(".py"):
        return None
    parts = path.split("/")
    if "agents" in parts[:-1]:
        return "agents_dir"
    if "agent" in parts[-1].lower():
        return "agent_name"
    return None


def gpu_hosts(machine: str, option: Any) -> list[str]:
    """Hosts whose GPU samples count for a codebase: its machine label, or ``gpu: {hosts: [...]}``."""
    if isinstance(option, list) and option:
        return [str(h) for h in option]
    return [machine]


def _binds(role: Any) -> bool:
    text = str(role or "").lower()
    return any(word in text for word in ("bind", "listen", "serve"))


def _path_key(row: Row) -> str | None:
    for name in ("path", "file"):
        if name in row:
            return name
    return None


@dataclass
class _GpuPeak:
    pids: set[int] = field(default_factory=set)
    mem: int | None = None
    sm: float | None = None


def _gpu_peaks(
    procs: Sequence[ProcessSample], files: Collection[str], root: str | None
) -> dict[str, _GpuPeak]:
    gpu: dict[str, _GpuPeak] = {}
    for p in fill_cmdlines(procs):
        if not p.cmdline:
            continue
        hit = match_cmdline_to_file(p.cmdline, files, p.cwd, root=root) if files else None
        if hit is None:
            continue
        g = gpu.setdefault(hit, _GpuPeak())
        g.pids.add(p.pid)
        if p.used_memory_bytes is not None:
            g.mem = max(g.mem or 0, p.used_memory_bytes)
        if p.sm_util is not None:
            g.sm = max(g.sm or 0.0, p.sm_util)
    return gpu


def _gpu_sites(findings: Sequence[Row]) -> dict[str, list[str]]:
    sites: dict[str, list[str]] = defaultdict(list)
    for r in findings:
        if r.get("kind") != "gpu_site":
            continue
        line = r.get("line")
        form = r.get("subkind") or r.get("detail") or ""
        sites[str(r[_path_key(r) or "path"])].append(f"{'' if line is None else int(line)}:{form}")
    return sites


def _bound_ports(ports: Sequence[Row]) -> tuple[dict[str, list[str]], dict[str, set[int]]]:
    bound: dict[str, list[str]] = defaultdict(list)
    bound_ports: dict[str, set[int]] = defaultdict(set)
    for r in ports:
        col = _path_key(r)
        if col is None or ("role" in r and not _binds(r.get("role"))):
            continue
        port = r.get("port")
        if port is None:
            continue
        host = r.get("host") or "*"
        line = r.get("line")
        where = "" if line is None else f", line {int(line)}"
        bound[str(r[col])].append(f"{host}:{int(port)} ({r.get('role', 'bind')}{where})")
        bound_ports[str(r[col])].add(int(port))
    return bound, bound_ports


def agent_rows(
    *,
    machine: str,
    root: str | None,
    files: Collection[str] | None,
    modified: Mapping[str, Any],
    findings: Sequence[Row] | None,
    ports: Sequence[Row] | None,
    procs: Sequence[ProcessSample],
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per agent (sorted by path), and a note for each upstream that is missing (None)."""
    notes: list[str] = []
    if files is None:
        notes.append("file_inventory partition missing: no file list, so no agents by name")
    known = set(files or ())
    why: dict[str, set[str]] = defaultdict(set)
    for path in known:
        reason = is_agent_path(path)
        if reason:
            why[path].add(reason)
    gpu = _gpu_peaks(procs, known, root)
    for path in gpu:
        why[path].add("gpu_process")
    if findings is None:
        notes.append("code_findings partition missing: GPU sites unknown")
    sites = _gpu_sites(findings or ())
    if ports is None:
        notes.append("port_map partition missing: ports unknown")
    bound, bound_ports = _bound_ports(ports or ())
    rows = []
    for path in sorted(why):
        g = gpu.get(path)
        rows.append(
            {
                "path": path,
                "why": ",".join(sorted(why[path])),
                "machine": machine,
                "ports": "; ".join(sorted(bound.get(path, []))) or None,
                "port_count": len(bound_ports.get(path, ())),
                "gpu_sites": len(sites.get(path, [])),
                "gpu_site_lines": ", ".join(sites.get(path, [])) or None,
                "last_modified": modified.get(path),
                "gpu_seen": g is not None,
                "gpu_pids": ",".join(str(x) for x in sorted(g.pids)) if g else None,
                "gpu_peak_memory_bytes": g.mem if g else None,
                "gpu_peak_sm_util": g.sm if g else None,
            }
        )
    return rows, notes
