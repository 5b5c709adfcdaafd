"""GPU utilisation: hourly aggregation of raw samples, and linking a GPU process to a file of the codebase.

Pure functions over values the caller hands in (rows read from ``symphony.gpu_samples`` or straight
from the NVML sampler), so the arithmetic can be checked without a GPU.

Sample types (``GpuSample.sample_type``) and their units are NVML's own:

* ``gpu_util`` / ``mem_util``: percent of the sample period the SMs / the memory controller were busy,
  from NVML's buffered samples (``nvmlDeviceGetSamples``).
* ``mem_used_bytes`` / ``mem_total_bytes``: framebuffer memory, a point reading at each sampler read.
* ``temperature_c`` (degrees Celsius) and ``power_mw`` (milliwatts): point readings.

"Memory %" below is occupancy, ``mem_used_bytes / mem_total_bytes``, not the controller's busy time.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

GPU_UTIL = "gpu_util"
MEM_UTIL = "mem_util"
MEM_USED = "mem_used_bytes"
MEM_TOTAL = "mem_total_bytes"
TEMPERATURE = "temperature_c"
POWER = "power_mw"
SAMPLE_TYPES = (GPU_UTIL, MEM_UTIL, MEM_USED, MEM_TOTAL, TEMPERATURE, POWER)

US_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class GpuSample:
    """One device-level value at one instant (``ts_us``: microseconds since the Unix epoch, as NVML)."""

    host: str
    device_uuid: str
    sample_type: str
    ts_us: int
    value: float

    @property
    def key(self) -> tuple[str, str, str, int]:
        """The identity used to drop duplicates from overlapping reads (the table's primary key)."""
        return (self.host, self.device_uuid, self.sample_type, self.ts_us)


@dataclass(frozen=True)
class ProcessSample:
    """One process on one device at one instant; fields NVML did not give are None.

    A sampler read yields one row per running process with ``used_memory_bytes`` (from the running
    process list) and, where the driver supports it, rows with ``sm_util``/``mem_util`` (from
    ``nvmlDeviceGetProcessUtilization``).
    """

    host: str
    device_uuid: str
    pid: int
    ts_us: int
    used_memory_bytes: int | None = None
    sm_util: float | None = None
    mem_util: float | None = None
    cmdline: tuple[str, ...] | None = None
    cwd: str | None = None
    #: How reading the command line went: ``ok``, ``exited`` (gone between listing and reading),
    #: ``access_denied``, ``zombie``, or ``n/a`` for utilisation rows that carry no command line.
    status: str = "ok"
    agent_file: str | None = None

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.host, self.device_uuid, self.pid, self.ts_us)


@dataclass(frozen=True)
class DeviceHour:
    device_uuid: str
    gpu_util_samples: int
    gpu_util_p50: float | None
    gpu_util_p95: float | None
    gpu_util_max: float | None
    mem_util_p95: float | None
    mem_util_max: float | None
    peak_memory_bytes: int | None
    memory_total_bytes: int | None
    peak_memory_pct: float | None
    max_temperature_c: float | None
    max_power_mw: float | None
    minutes_util_above: int
    minutes_memory_above: int
    minutes_any_above: int


@dataclass(frozen=True)
class ProcessPeak:
    """Peaks of one process (or of all processes running one agent file) on one device."""

    device_uuid: str
    agent_file: str | None
    pids: tuple[int, ...]
    cmdline: tuple[str, ...] | None
    peak_memory_bytes: int | None
    peak_sm_util: float | None
    peak_mem_util: float | None
    samples: int


@dataclass(frozen=True)
class HourSummary:
    threshold: float
    devices: tuple[DeviceHour, ...]
    processes: tuple[ProcessPeak, ...]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default): ``x[(n-1)q]`` interpolated."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _minute(ts_us: int) -> int:
    return ts_us // US_PER_MINUTE


def _dedupe_gpu(samples: Iterable[GpuSample]) -> list[GpuSample]:
    seen: dict[tuple[str, str, str, int], GpuSample] = {}
    for s in samples:
        seen.setdefault(s.key, s)
    return list(seen.values())


def aggregate_hour(
    samples: Iterable[GpuSample],
    process_samples: Iterable[ProcessSample] = (),
    threshold: float = 90.0,
) -> HourSummary:
    """Summarise one hour of samples per device and per process/agent.

    "Minutes above" counts distinct wall-clock minute buckets (``ts_us // 60e6``) holding at least one
    sample strictly above ``threshold``: NVML's sample rate varies by GPU (about 6 per second on
    recent boards, one per read for memory), so counting samples would weigh boards differently; a
    minute bucket is the same unit everywhere. Memory % for a ``mem_used_bytes`` reading uses the
    ``mem_total_bytes`` reading of the same instant, or the largest total seen that hour when none.
    Duplicate samples (same key) are counted once.
    """
    by_device: dict[str, dict[str, list[GpuSample]]] = defaultdict(lambda: defaultdict(list))
    for s in _dedupe_gpu(samples):
        by_device[s.device_uuid][s.sample_type].append(s)

    devices = []
    for uuid in sorted(by_device):
        kinds = by_device[uuid]
        util = [s.value for s in kinds.get(GPU_UTIL, [])]
        mem_util = [s.value for s in kinds.get(MEM_UTIL, [])]
        used = kinds.get(MEM_USED, [])
        totals = {s.ts_us: s.value for s in kinds.get(MEM_TOTAL, [])}
        max_total = max(totals.values()) if totals else None
        util_minutes = {_minute(s.ts_us) for s in kinds.get(GPU_UTIL, []) if s.value > threshold}
        mem_minutes: set[int] = set()
        peak_pct: float | None = None
        for s in used:
            total = totals.get(s.ts_us, max_total)
            if not total:
                continue
            pct = 100.0 * s.value / total
            peak_pct = pct if peak_pct is None else max(peak_pct, pct)
            if pct > threshold:
                mem_minutes.add(_minute(s.ts_us))
        temps = [s.value for s in kinds.get(TEMPERATURE, [])]
        power = [s.value for s in kinds.get(POWER, [])]
        devices.append(
            DeviceHour(
                device_uuid=uuid,
                gpu_util_samples=len(util),
                gpu_util_p50=percentile(util, 0.50),
                gpu_util_p95=percentile(util, 0.95),
                gpu_util_max=max(util) if util else None,
                mem_util_p95=percentile(mem_util, 0.95),
                mem_util_max=max(mem_util) if mem_util else None,
                peak_memory_bytes=int(max(s.value for s in used)) if used else None,
                memory_total_bytes=int(max_total) if max_total is not None else None,
                peak_memory_pct=peak_pct,
                max_temperature_c=max(temps) if temps else None,
                max_power_mw=max(power) if power else None,
                minutes_util_above=len(util_minutes),
                minutes_memory_above=len(mem_minutes),
                minutes_any_above=len(util_minutes | mem_minutes),
            )
        )
    return HourSummary(threshold=threshold, devices=tuple(devices), processes=_process_peaks(process_samples))


def _max_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _process_peaks(process_samples: Iterable[ProcessSample]) -> tuple[ProcessPeak, ...]:
    """Group by (device, agent file) when the process was linked to a file, else by (device, pid)."""
    groups: dict[tuple[str, str, int], list[ProcessSample]] = defaultdict(list)
    seen: set[tuple[str, str, int, int, bool]] = set()
    for p in process_samples:
        # A memory row and a utilisation row of one process may share a timestamp and both carry
        # data; a repeat of either from an overlapping read must not count twice.
        dup_key = (*p.key, p.used_memory_bytes is None)
        if dup_key in seen:
            continue
        seen.add(dup_key)
        group = (p.device_uuid, p.agent_file or "", -1 if p.agent_file else p.pid)
        groups[group].append(p)
    peaks = []
    for (uuid, agent, _), rows in sorted(groups.items()):
        mem: float | None = None
        sm: float | None = None
        mu: float | None = None
        for r in rows:
            mem = _max_opt(mem, None if r.used_memory_bytes is None else float(r.used_memory_bytes))
            sm = _max_opt(sm, r.sm_util)
            mu = _max_opt(mu, r.mem_util)
        cmdline = next((r.cmdline for r in rows if r.cmdline), None)
        peaks.append(
            ProcessPeak(
                device_uuid=uuid,
                agent_file=agent or None,
                pids=tuple(sorted({r.pid for r in rows})),
                cmdline=cmdline,
                peak_memory_bytes=None if mem is None else int(mem),
                peak_sm_util=sm,
                peak_mem_util=mu,
                samples=len(rows),
            )
        )
    return tuple(peaks)


# ---------------------------------------------------------------------------------------------------
# Linking a command line to a file of the codebase
# ---------------------------------------------------------------------------------------------------

#: Wrappers that run another command: name -> options that take a value (the rest are flags).
_WRAPPERS: dict[str, frozenset[str]] = {
    "nohup": frozenset(),
    "setsid": frozenset(),
    "exec": frozenset(),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "--class", "--classdata"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "taskset": frozenset(),
    "numactl": frozenset({"-C", "-N", "-m", "-p", "-i"}),
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-U", "-r", "-t"}),
    "chrt": frozenset(),
    "xvfb-run": frozenset({"-n", "-s", "-a", "-f", "-e", "-p", "-w"}),
}
#: Runners whose first non-option argument is the command to run (``uv run python x.py``).
_RUNNERS: dict[str, str] = {"uv": "run", "poetry": "run", "pipenv": "run", "pdm": "run", "hatch": "run"}
#: Python launchers whose first positional argument is a script or (with ``-m``) a module.
_LAUNCHERS = frozenset({"torchrun", "deepspeed", "accelerate", "python-launch"})
#: ASGI/WSGI servers taking ``module.path:attribute``.
_APP_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "daphne", "granian", "fastapi"})
#: Python options that take a value (``-W ignore``, ``-X dev``); ``-c``/``-m`` are handled apart.
_PY_VALUE_OPTS = frozenset({"W", "X", "Q", "--check-hash-based-pycs"})

_PYTHON_RE = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?[mwd]?(\.exe)?$")
_APP_RE = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):[A-Za-z_][\w.()\[\]'\", =]*$")
_ENV_ASSIGN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_DURATION_RE = re.compile(r"^\d+(\.\d+)?[smhd]?$")


def _base(arg: str) -> str:
    return posixpath.basename(arg.replace("\\", "/"))


def _strip_wrappers(argv: list[str]) -> list[str]:
    """Drop wrappers (``nohup``, ``timeout 10``, ``env X=1``, ``uv run``...) until the real command."""
    for _ in range(32):  # bounded: a pathological command line cannot spin
        if not argv:
            return argv
        name = _base(argv[0])
        if _ENV_ASSIGN_RE.match(argv[0]):
            argv = argv[1:]
            continue
        if name in _RUNNERS and len(argv) > 1 and argv[1] == _RUNNERS[name]:
            argv = argv[2:]
            while argv and argv[0].startswith("-"):
                argv = argv[1:]
            continue
        if name == "conda" and len(argv) > 1 and argv[1] == "run":
            argv = argv[2:]
            while argv and argv[0].startswith("-"):
                takes = argv[0] in {"-n", "--name", "-p", "--prefix", "--cwd"}
                argv = argv[2:] if takes else argv[1:]
            continue
        if name not in _WRAPPERS:
            return argv
        value_opts = _WRAPPERS[name]
        rest = argv[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-":
            opt = rest[0]
            if opt == "--":
                rest = rest[1:]
                break
            rest = rest[2:] if opt in value_opts else rest[1:]
        if name == "env":
            while rest and _ENV_ASSIGN_RE.match(rest[0]):
                rest = rest[1:]
        elif name == "timeout" and rest and _DURATION_RE.match(rest[0]):
            rest = rest[1:]
        elif name in {"taskset", "chrt"} and rest:
            rest = rest[1:]  # the CPU mask / priority
        argv = rest
    return argv


@dataclass(frozen=True)
class _Target:
    script: str | None = None
    module: str | None = None


def _python_target(args: list[str]) -> tuple[_Target | None, list[str]]:
    """Parse the options of a ``python`` command line; returns the target and the arguments after it."""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-") or a == "-":
            break
        if a == "-c":
            return None, []
        if a == "-m":
            if i + 1 < len(args):
                return _Target(module=args[i + 1]), args[i + 2 :]
            return None, []
        if a.startswith("-m") and len(a) > 2 and not a.startswith("--"):
            return _Target(module=a[2:]), args[i + 1 :]
        if a in _PY_VALUE_OPTS or (not a.startswith("--") and a[1:] in _PY_VALUE_OPTS):
            i += 2
            continue
        if not a.startswith("--") and "c" in a[1:]:
            return None, []  # bundled flags ending in -c (``-uc "code"``)
        i += 1
    if i < len(args) and args[i] != "-":
        return _Target(script=args[i]), args[i + 1 :]
    return None, []


def _is_python(name: str) -> bool:
    return bool(_PYTHON_RE.match(name))


def _normalise(path: str) -> str:
    norm = posixpath.normpath(path.replace("\\", "/"))
    return "" if norm == "." else norm


def _match_path(path: str, files: Collection[str], cwd: str | None, root: str | None) -> str | None:
    """Match a script path (relative to ``cwd`` or absolute) to one of ``files`` (codebase-relative)."""
    path = path.replace("\\", "/")
    absolute = path if path.startswith("/") else (posixpath.join(cwd, path) if cwd else None)
    if absolute is not None:
        absolute = _normalise(absolute)
        if root:
            root_n = _normalise(root).rstrip("/")
            if absolute == root_n or not absolute.startswith(root_n + "/"):
                return None
            rel = absolute[len(root_n) + 1 :]
            return rel if rel in files else None
        return _longest_suffix(absolute, files)
    rel = _normalise(path)
    if rel in files:
        return rel
    return _unique_ending(rel, files)


def _longest_suffix(path: str, files: Collection[str]) -> str | None:
    """The file whose path is the longest '/'-aligned suffix of ``path``; None when tied or absent."""
    best: list[str] = []
    best_len = 0
    for f in files:
        if path == f or path.endswith("/" + f):
            if len(f) > best_len:
                best, best_len = [f], len(f)
            elif len(f) == best_len:
                best.append(f)
    return best[0] if len(best) == 1 else None


def _unique_ending(rel: str, files: Collection[str]) -> str | None:
    """The one file whose path ends with ``/rel`` (a source root or an unknown cwd in front)."""
    if rel.startswith("../") or not rel:
        return None
    hits = [f for f in files if f.endswith("/" + rel)]
    return hits[0] if len(hits) == 1 else None


def _match_module(module: str, files: Collection[str]) -> str | None:
    """``pkg.mod`` -> ``pkg/mod.py`` or ``pkg/mod/__main__.py``, also under a source root (``src/``)."""
    if not re.match(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$", module):
        return None
    stem = module.replace(".", "/")
    for candidate in (stem + ".py", stem + "/__main__.py"):
        if candidate in files:
            return candidate
    for candidate in (stem + ".py", stem + "/__main__.py"):
        found = _unique_ending(candidate, files)
        if found is not None:
            return found
    return None


def _scan_args(args: Sequence[str], files: Collection[str], cwd: str | None, root: str | None) -> str | None:
    """Fallback for launchers: the first argument naming a ``.py`` file or an ``app.module:attr``."""
    for a in args:
        if a.startswith("-"):
            value = a.split("=", 1)[1] if "=" in a else ""
            if not value.endswith(".py"):
                continue
            a = value
        if a.endswith(".py"):
            hit = _match_path(a, files, cwd, root)
            if hit:
                return hit
        m = _APP_RE.match(a)
        if m:
            hit = _match_module(m.group(1), files)
            if hit:
                return hit
    return None


def match_cmdline_to_file(
    cmdline: Sequence[str],
    files: Collection[str],
    cwd: str | None = None,
    root: str | None = None,
) -> str | None:
    """The codebase file a process runs, or None.

    ``files`` are paths relative to the codebase root ('/'-separated); ``cwd`` is the process's
    working directory. With ``root`` (the codebase's absolute path on the process's machine), an
    absolute path must lie inside it; without, it matches the file that is its longest path suffix,
    and an ambiguous match returns None rather than a guess.
    """
    if not cmdline or not files:
        return None
    files = files if isinstance(files, (set, frozenset, dict)) else frozenset(files)
    argv = _strip_wrappers([str(a) for a in cmdline])
    if not argv:
        return None
    name = _base(argv[0])
    if _is_python(name):
        target, rest = _python_target(argv[1:])
        if target is not None and target.script is not None:
            hit = _match_path(target.script, files, cwd, root)
            if hit:
                return hit
        if target is not None and target.module is not None:
            hit = _match_module(target.module, files)
            if hit:
                return hit
            return _scan_args(rest, files, cwd, root)
        return None
    if name in _APP_SERVERS or name in _LAUNCHERS:
        return _scan_args(argv[1:], files, cwd, root)
    if name.endswith(".py"):
        return _match_path(argv[0], files, cwd, root)
    return None


def fill_cmdlines(procs: Sequence[ProcessSample]) -> list[ProcessSample]:
    """Utilisation rows of a pid get the command line its memory row of the same host/device saw."""
    known: dict[tuple[str, str, int], tuple[tuple[str, ...], str | None]] = {}
    for p in procs:
        if p.cmdline:
            known.setdefault((p.host, p.device_uuid, p.pid), (p.cmdline, p.cwd))
    out = []
    for p in procs:
        if p.cmdline is None and (p.host, p.device_uuid, p.pid) in known:
            cmd, cwd = known[(p.host, p.device_uuid, p.pid)]
            p = ProcessSample(**{**p.__dict__, "cmdline": cmd, "cwd": cwd})
        out.append(p)
    return out
