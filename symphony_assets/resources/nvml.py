"""Read GPU state through NVML (``nvidia-ml-py``: ``import pynvml``) without losing or repeating samples.

Utilisation comes from NVML's own ring buffer of samples (``nvmlDeviceGetSamples``), which the
driver fills several times a second and keeps for a while, rather than from one instantaneous
reading per poll: a sensor ticking every 30 s then sees every sample, not one in 180. The
:class:`SamplerCursor` remembers, per device and sample stream, the newest timestamp already
read, and each read asks only for samples after it; the cursor is plain JSON so it can live in a
Dagster sensor cursor.

Timestamps are NVML's: microseconds since the Unix epoch (``unsigned long long``). If they ever go
backwards (a wrap, a clock step, a driver reset), asking for "newer than the cursor" would return
nothing until the new clock passes the old one, silently dropping everything in between. The
sampler detects this from buffer order (the ring is oldest-first, so a timestamp smaller than its
predecessor marks the jump, and a buffer whose newest sample is older than the cursor means the
jump happened before the oldest entry still held) and then reads the whole ring and keeps what
follows the jump, until the pre-jump samples have aged out of the ring. See :meth:`NvmlSampler._stream`.

Every failure ends up as a status, never an exception: no library ("no NVML library"), no devices,
a device lost between or during reads (that device's status, the others go on), a process gone
between listing and reading its command line (``cmdline`` None, status ``exited``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import psutil

from symphony_assets.analysis.gpu import (
    GPU_UTIL,
    MEM_TOTAL,
    MEM_USED,
    MEM_UTIL,
    POWER,
    TEMPERATURE,
    GpuSample,
    ProcessSample,
)

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_NO_LIBRARY = "no NVML library"
STATUS_NO_DEVICES = "no devices"
STATUS_NVML_ERROR = "nvml error"

DEVICE_OK = "ok"
DEVICE_LOST = "lost"
DEVICE_PARTIAL = "partial"

#: The per-process utilisation stream's name in the cursor.
PROCESS_STREAM = "process"

#: Errors meaning "this device is gone (or its handle is no longer valid)".
_DEVICE_GONE = (
    "NVMLError_GpuIsLost",
    "NVMLError_NotFound",
    "NVMLError_InvalidArgument",
    "NVMLError_ResetRequired",
)
#: Errors at init meaning "there is no usable NVML here".
_NO_LIBRARY = ("NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded", "NVMLError_FunctionNotFound")


@dataclass
class SamplerCursor:
    """Per device uuid and stream (``gpu_util``, ``mem_util``, ``process``): the newest timestamp read.

    ``rewound`` lists ``"uuid|stream"`` pairs whose clock went backwards while pre-jump samples are
    still in the ring; those streams are read whole until the jump has aged out.
    """

    last_seen: dict[str, dict[str, int]] = field(default_factory=dict)
    rewound: list[str] = field(default_factory=list)

    def get(self, uuid: str, stream: str) -> int:
        return self.last_seen.get(uuid, {}).get(stream, 0)

    def set(self, uuid: str, stream: str, ts: int) -> None:
        self.last_seen.setdefault(uuid, {})[stream] = ts

    def is_rewound(self, uuid: str, stream: str) -> bool:
        return f"{uuid}|{stream}" in self.rewound

    def set_rewound(self, uuid: str, stream: str, on: bool) -> None:
        key = f"{uuid}|{stream}"
        if on and key not in self.rewound:
            self.rewound.append(key)
            self.rewound.sort()
        elif not on and key in self.rewound:
            self.rewound.remove(key)

    def copy(self) -> SamplerCursor:
        return SamplerCursor({k: dict(v) for k, v in self.last_seen.items()}, list(self.rewound))

    def to_json(self) -> str:
        return json.dumps({"last_seen": self.last_seen, "rewound": self.rewound}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> SamplerCursor:
        """Parse a stored cursor; a missing or unreadable one starts afresh (reads the whole ring)."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
            last_seen = {
                str(uuid): {str(s): int(ts) for s, ts in streams.items()}
                for uuid, streams in dict(raw.get("last_seen") or {}).items()
            }
            rewound = sorted(str(x) for x in raw.get("rewound") or [])
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("unreadable sampler cursor, starting afresh: %s", exc)
            return cls()
        return cls(last_seen, rewound)


@dataclass(frozen=True)
class DeviceStatus:
    index: int
    device_uuid: str | None
    name: str | None
    status: str
    message: str = ""


@dataclass(frozen=True)
class SampleBatch:
    """What one read produced. ``cursor`` is the cursor to hand to the next read."""

    host: str
    read_at_us: int
    status: str
    message: str
    devices: tuple[DeviceStatus, ...]
    samples: tuple[GpuSample, ...]
    process_samples: tuple[ProcessSample, ...]
    cursor: SamplerCursor


@dataclass(frozen=True)
class ProcInfo:
    cmdline: tuple[str, ...] | None
    cwd: str | None
    status: str


def psutil_proc_info(pid: int) -> ProcInfo:
    """Command line and working directory of ``pid`` on this machine (NVML pids are host pids)."""
    try:
        proc = psutil.Process(pid)
        cmdline = tuple(proc.cmdline())
        try:
            cwd: str | None = proc.cwd()
        except (psutil.AccessDenied, psutil.ZombieProcess):
            cwd = None
        return ProcInfo(cmdline, cwd, "ok")
    except psutil.ZombieProcess:
        return ProcInfo(None, None, "zombie")
    except psutil.NoSuchProcess:
        return ProcInfo(None, None, "exited")
    except psutil.AccessDenied:
        return ProcInfo(None, None, "access_denied")


def dedupe(samples: Iterable[GpuSample]) -> list[GpuSample]:
    """Drop repeats by (host, device uuid, sample type, timestamp), keeping the first."""
    seen: dict[tuple[str, str, str, int], GpuSample] = {}
    for s in samples:
        seen.setdefault(s.key, s)
    return list(seen.values())


def _last_step(ts: Sequence[int]) -> int:
    """Index of the first sample after the last backwards step in buffer order, 0 when none."""
    for i in range(len(ts) - 1, 0, -1):
        if ts[i] < ts[i - 1]:
            return i
    return 0


class NvmlSampler:
    """Reads every device once per :meth:`read`; plain class, wrapped by a Dagster resource."""

    def __init__(
        self,
        nvml: Any = None,
        host: str | None = None,
        clock: Callable[[], int] | None = None,
        proc_info: Callable[[int], ProcInfo] = psutil_proc_info,
    ) -> None:
        self._nvml = nvml
        self.host = host or socket.gethostname()
        self._clock = clock or (lambda: time.time_ns() // 1000)
        self._proc_info = proc_info

    def _module(self) -> Any:
        if self._nvml is None:
            import pynvml  # local: a machine without the package still gets a clean status

            self._nvml = pynvml
        return self._nvml

    def _is(self, exc: BaseException, names: Iterable[str]) -> bool:
        nv = self._module()
        return any(isinstance(exc, getattr(nv, n, ())) for n in names)

    def read(self, cursor: SamplerCursor | None = None) -> SampleBatch:
        cursor = (cursor or SamplerCursor()).copy()
        now = self._clock()
        try:
            nv = self._module()
        except ImportError as exc:
            return self._empty(now, STATUS_NO_LIBRARY, f"pynvml not importable: {exc}", cursor)
        nvml_error: type[BaseException] = getattr(nv, "NVMLError", Exception)
        try:
            nv.nvmlInit()
        except nvml_error as exc:
            if self._is(exc, _NO_LIBRARY):
                return self._empty(now, STATUS_NO_LIBRARY, f"nvmlInit: {exc}", cursor)
            return self._empty(now, STATUS_NVML_ERROR, f"nvmlInit: {exc}", cursor)
        except OSError as exc:
            return self._empty(now, STATUS_NO_LIBRARY, f"nvmlInit: {exc}", cursor)
        try:
            return self._read_devices(nv, now, cursor)
        finally:
            try:
                nv.nvmlShutdown()
            except nvml_error as exc:
                log.warning("nvmlShutdown failed: %s", exc)

    def _empty(self, now: int, status: str, message: str, cursor: SamplerCursor) -> SampleBatch:
        return SampleBatch(self.host, now, status, message, (), (), (), cursor)

    def _read_devices(self, nv: Any, now: int, cursor: SamplerCursor) -> SampleBatch:
        try:
            count = int(nv.nvmlDeviceGetCount())
        except nv.NVMLError as exc:
            return self._empty(now, STATUS_NVML_ERROR, f"nvmlDeviceGetCount: {exc}", cursor)
        if count == 0:
            return self._empty(now, STATUS_NO_DEVICES, "NVML reports no devices", cursor)
        statuses: list[DeviceStatus] = []
        samples: list[GpuSample] = []
        procs: list[ProcessSample] = []
        for index in range(count):
            statuses.append(self._read_device(nv, index, now, cursor, samples, procs))
        live = sum(1 for s in statuses if s.status != DEVICE_LOST)
        message = f"{live} of {count} devices read"
        return SampleBatch(
            self.host, now, STATUS_OK, message, tuple(statuses), tuple(dedupe(samples)), tuple(procs), cursor
        )

    def _read_device(
        self,
        nv: Any,
        index: int,
        now: int,
        cursor: SamplerCursor,
        samples: list[GpuSample],
        procs: list[ProcessSample],
    ) -> DeviceStatus:
        uuid: str | None = None
        name: str | None = None
        problems: list[str] = []
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(nv.nvmlDeviceGetUUID(handle))
            name = _text(nv.nvmlDeviceGetName(handle))

            def point(sample_type: str, read: Callable[[], float]) -> None:
                try:
                    value = read()
                except nv.NVMLError as exc:
                    if self._is(exc, _DEVICE_GONE):
                        raise
                    problems.append(f"{sample_type}: {exc}")
                    return
                samples.append(GpuSample(self.host, str(uuid), sample_type, now, float(value)))

            memory: list[Any] = []

            def mem(attr: str) -> float:
                if not memory:
                    memory.append(nv.nvmlDeviceGetMemoryInfo(handle))
                return float(getattr(memory[0], attr))

            point(MEM_USED, lambda: mem("used"))
            point(MEM_TOTAL, lambda: mem("total"))
            point(TEMPERATURE, lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU))
            point(POWER, lambda: nv.nvmlDeviceGetPowerUsage(handle))
            for stream, code in (
                (GPU_UTIL, nv.NVML_GPU_UTILIZATION_SAMPLES),
                (MEM_UTIL, nv.NVML_MEMORY_UTILIZATION_SAMPLES),
            ):
                for ts, value in self._stream(nv, handle, uuid, stream, code, cursor, problems):
                    samples.append(GpuSample(self.host, uuid, stream, ts, value))
            procs.extend(self._processes(nv, handle, uuid, now, cursor, problems))
        except nv.NVMLError as exc:
            if not self._is(exc, _DEVICE_GONE):
                raise
            return DeviceStatus(index, uuid, name, DEVICE_LOST, f"{type(exc).__name__}: {exc}")
        status = DEVICE_PARTIAL if problems else DEVICE_OK
        return DeviceStatus(index, uuid, name, status, "; ".join(problems))

    def _get_samples(self, nv: Any, handle: Any, code: int, last: int) -> list[tuple[int, float]]:
        """Samples newer than ``last`` in buffer order; NVML's NOT_FOUND ("none newer") is empty."""
        try:
            value_type, raw = nv.nvmlDeviceGetSamples(handle, code, last)
        except nv.NVMLError_NotFound:
            return []
        return [(int(s.timeStamp), _sample_value(nv, value_type, s.sampleValue)) for s in raw]

    def _stream(
        self,
        nv: Any,
        handle: Any,
        uuid: str,
        stream: str,
        code: int,
        cursor: SamplerCursor,
        problems: list[str],
    ) -> list[tuple[int, float]]:
        """New samples of one stream, moving the cursor; copes with timestamps that go backwards.

        The fast path asks NVML for samples newer than the cursor. A backwards step in what comes
        back, nothing coming back, a first read, or a stream marked ``rewound`` reads the whole ring
        (``lastSeen`` 0) instead, which is oldest-first, and splits it at backwards steps:

        * no step: samples newer than the cursor, or the whole ring when even its newest sample is
          older than the cursor (the jump has already scrolled out of the ring);
        * a step not yet handled (or a second jump): the unread tail of the segment the cursor was
          in, plus everything after the last step;
        * a step already handled (``rewound``): what is newer than the cursor after the step.

        The cursor becomes the ring's newest sample by position, and ``rewound`` stays set while a
        step is still in the ring, so each sample is returned once and no read loops.
        """
        last = cursor.get(uuid, stream)
        rewound = cursor.is_rewound(uuid, stream)
        try:
            if last and not rewound:
                batch = self._get_samples(nv, handle, code, last)
                if batch and _last_step([t for t, _ in batch]) == 0:
                    cursor.set(uuid, stream, batch[-1][0])
                    return batch
            ring = self._get_samples(nv, handle, code, 0)
        except nv.NVMLError as exc:
            if self._is(exc, _DEVICE_GONE):
                raise
            problems.append(f"{stream}: {exc}")
            return []
        if not ring:
            return []
        stamps = [t for t, _ in ring]
        start = _last_step(stamps)
        newest = stamps[-1]
        if last == 0:
            fresh = ring
        elif start == 0:
            fresh = ring if newest < last else [x for x in ring if x[0] > last]
        elif newest < last or not rewound:
            prev = _last_step(stamps[:start])
            fresh = [x for x in ring[prev:start] if x[0] > last] + ring[start:]
            log.warning("%s %s: sample timestamps went backwards; reading past the jump", uuid, stream)
        else:
            fresh = [x for x in ring[start:] if x[0] > last]
        cursor.set(uuid, stream, newest)
        cursor.set_rewound(uuid, stream, start > 0)
        return fresh

    def _processes(
        self,
        nv: Any,
        handle: Any,
        uuid: str,
        now: int,
        cursor: SamplerCursor,
        problems: list[str],
    ) -> list[ProcessSample]:
        out: list[ProcessSample] = []
        try:
            running = nv.nvmlDeviceGetComputeRunningProcesses(handle)
        except nv.NVMLError as exc:
            if self._is(exc, _DEVICE_GONE):
                raise
            problems.append(f"processes: {exc}")
            running = []
        infos: dict[int, ProcInfo] = {}
        for p in running:
            pid = int(p.pid)
            if pid not in infos:
                infos[pid] = self._proc_info(pid)
            info = infos[pid]
            used = p.usedGpuMemory
            out.append(
                ProcessSample(
                    host=self.host,
                    device_uuid=uuid,
                    pid=pid,
                    ts_us=now,
                    used_memory_bytes=None if used is None else int(used),
                    cmdline=info.cmdline,
                    cwd=info.cwd,
                    status=info.status,
                )
            )
        last = cursor.get(uuid, PROCESS_STREAM)
        try:
            util = nv.nvmlDeviceGetProcessUtilization(handle, last)
        except (nv.NVMLError_NotFound, nv.NVMLError_NotSupported):
            # NotFound: nothing newer; NotSupported: this GPU/driver has no per-process utilisation.
            util = []
        except nv.NVMLError as exc:
            if self._is(exc, _DEVICE_GONE):
                raise
            problems.append(f"process utilisation: {exc}")
            util = []
        newest = last
        seen: set[tuple[int, int]] = set()
        for s in util:
            ts, pid = int(s.timeStamp), int(s.pid)
            if ts <= last or (pid, ts) in seen:
                continue
            seen.add((pid, ts))
            newest = max(newest, ts)
            known = infos.get(pid)
            out.append(
                ProcessSample(
                    host=self.host,
                    device_uuid=uuid,
                    pid=pid,
                    ts_us=ts,
                    sm_util=float(s.smUtil),
                    mem_util=float(s.memUtil),
                    cmdline=known.cmdline if known else None,
                    cwd=known.cwd if known else None,
                    status="n/a",
                )
            )
        if newest != last:
            cursor.set(uuid, PROCESS_STREAM, newest)
        return out


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _sample_value(nv: Any, value_type: int, value: Any) -> float:
    """Pick the union member NVML says is filled (utilisation samples are unsigned ints)."""
    member = {
        getattr(nv, "NVML_VALUE_TYPE_DOUBLE", 0): "dVal",
        getattr(nv, "NVML_VALUE_TYPE_UNSIGNED_INT", 1): "uiVal",
        getattr(nv, "NVML_VALUE_TYPE_UNSIGNED_LONG", 2): "ulVal",
        getattr(nv, "NVML_VALUE_TYPE_UNSIGNED_LONG_LONG", 3): "ullVal",
    }.get(value_type, "uiVal")
    return float(getattr(value, member))


__all__ = [
    "DeviceStatus",
    "GpuSampleStore",
    "NvmlResource",
    "NvmlSampler",
    "ProcInfo",
    "SampleBatch",
    "SamplerCursor",
    "StoreResult",
    "dedupe",
    "psutil_proc_info",
]


# ---------------------------------------------------------------------------------------------------
# Storage of raw samples (Postgres) and the Dagster resource
# ---------------------------------------------------------------------------------------------------

#: Postgres ``timestamptz`` stops at year 294276; a sample stamped beyond it (a corrupt clock) is
#: counted and skipped rather than failing the whole batch.
_MAX_TS_US = 9_000_000_000_000_000_000
MACHINE_ENV = "SYMPHONY_MACHINE"


def _ts(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class StoreResult:
    samples_offered: int
    samples_inserted: int
    process_rows_inserted: int
    skipped_bad_timestamp: int


class GpuSampleStore:
    """Appends sampler batches to ``symphony.gpu_samples`` / ``gpu_process_samples`` idempotently.

    The primary keys are the dedup keys, and every insert is ``ON CONFLICT DO NOTHING``: a batch
    stored twice (a tick whose cursor was not saved) adds nothing the second time.
    """

    def __init__(self, db: Any) -> None:
        self.db = db

    def hours_with_samples(self, host: str, first: dt.datetime, last: dt.datetime) -> set[dt.datetime]:
        """Start of each hour in ``[first, last]`` for which ``host`` has any stored sample."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT DISTINCT date_trunc('hour', ts) FROM symphony.gpu_samples"
                " WHERE host = %s AND ts >= %s AND ts < %s + interval '1 hour'",
                (host, first, last),
            )
            return {row[0].astimezone(dt.UTC) for row in cur.fetchall()}

    def append(self, batch: SampleBatch, record_status: bool = True) -> StoreResult:
        good = [s for s in batch.samples if 0 <= s.ts_us < _MAX_TS_US]
        procs = [p for p in batch.process_samples if 0 <= p.ts_us < _MAX_TS_US]
        skipped = len(batch.samples) - len(good) + len(batch.process_samples) - len(procs)
        inserted = proc_inserted = 0
        with self.db.transaction() as cur:
            for chunk in _chunks(good, 1000):
                args = [(s.host, s.device_uuid, s.sample_type, _ts(s.ts_us), s.value) for s in chunk]
                inserted += _insert_many(
                    cur,
                    "INSERT INTO symphony.gpu_samples (host, device_uuid, sample_type, ts, value) VALUES %s"
                    " ON CONFLICT DO NOTHING",
                    args,
                )
            for chunk in _chunks(procs, 1000):
                pargs = [
                    (
                        p.host,
                        p.device_uuid,
                        p.pid,
                        _ts(p.ts_us),
                        "memory" if p.sm_util is None else "utilisation",
                        p.used_memory_bytes,
                        p.sm_util,
                        p.mem_util,
                        list(p.cmdline) if p.cmdline is not None else None,
                        p.cwd,
                        p.status,
                    )
                    for p in chunk
                ]
                proc_inserted += _insert_many(
                    cur,
                    "INSERT INTO symphony.gpu_process_samples (host, device_uuid, pid, ts, kind,"
                    " used_memory_bytes, sm_util, mem_util, cmdline, cwd, status) VALUES %s"
                    " ON CONFLICT DO NOTHING",
                    pargs,
                )
            if not record_status:
                return StoreResult(len(batch.samples), inserted, proc_inserted, skipped)
            cur.execute(
                "INSERT INTO symphony.gpu_sampler_status (host, read_at, status, message, devices,"
                " samples, process_rows) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    batch.host,
                    _ts(batch.read_at_us),
                    batch.status,
                    batch.message,
                    json.dumps([d.__dict__ for d in batch.devices]),
                    inserted,
                    proc_inserted,
                ),
            )
        return StoreResult(len(batch.samples), inserted, proc_inserted, skipped)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _insert_many(cur: Any, query: str, args: Sequence[tuple[Any, ...]]) -> int:
    """``execute_values`` with ``RETURNING 1`` so the count is rows actually inserted."""
    from psycopg2.extras import execute_values

    if not args:
        return 0
    rows = execute_values(cur, query + " RETURNING 1", args, page_size=len(args), fetch=True)
    return len(rows)


def default_machine() -> str:
    """The machine label samples are stored under: the ``host`` partition (``Codebase.machine``)."""
    return os.environ.get(MACHINE_ENV) or "local"


class NvmlResource(dg.ConfigurableResource):
    """Hands out an :class:`NvmlSampler` for this machine.

    ``host`` is the machine label (the ``host`` partition, the ``machine`` of the codebases running
    here), not the network host name, so samples line up with the codebases configured for it.
    """

    host: str | None = None

    def machine(self) -> str:
        return self.host or default_machine()

    def sampler(self) -> NvmlSampler:
        return NvmlSampler(host=self.machine())
