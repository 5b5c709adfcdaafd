"""A stand-in for the ``pynvml`` module (nvidia-ml-py) that behaves as the real one does, minus the GPU.

Mirrors what our sampler calls: the same function names and signatures, the same constants and
error codes, the same exception hierarchy (``NVMLError(code)`` returns the matching subclass, built
the way ``pynvml._extractNVMLErrorsAsClasses`` builds it), ``nvmlInit``/``nvmlShutdown`` reference
counting (calls before init raise ``NVMLError_Uninitialized``), NVML's units (percent, bytes,
milliwatts, degrees C, microsecond timestamps) and the driver's sample ring buffer: ``nvmlDeviceGetSamples``
returns ``(value_type, [sample...])`` in buffer order for samples newer than ``lastSeenTimeStamp`` and
raises ``NVMLError_NotFound`` when there are none.

One :class:`FakeNvml` instance is one "module" with its own devices and clock, so tests do not share
state. Scripted events: :meth:`FakeNvml.lose_device`, :meth:`FakeNvml.remove_device`,
:meth:`FakeNvml.rewind_clock` (timestamps jump back, as after a wrap or a driver reset),
:meth:`FakeNvml.on_call` (run a callback before a named NVML call, e.g. kill a process between
listing it and reading its command line).
"""

from __future__ import annotations

import string
import sys
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Constants: the same names and values as pynvml.
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22
NVML_ERROR_INSUFFICIENT_RESOURCES = 23
NVML_ERROR_FREQ_NOT_SUPPORTED = 24
NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25
NVML_ERROR_DEPRECATED = 26
NVML_ERROR_NOT_READY = 27
NVML_ERROR_GPU_NOT_FOUND = 28
NVML_ERROR_INVALID_STATE = 29
NVML_ERROR_RESET_TYPE_NOT_SUPPORTED = 30
NVML_ERROR_UNKNOWN = 999

NVML_VALUE_TYPE_DOUBLE = 0
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_VALUE_TYPE_UNSIGNED_LONG = 2
NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3

NVML_TOTAL_POWER_SAMPLES = 0
NVML_GPU_UTILIZATION_SAMPLES = 1
NVML_MEMORY_UTILIZATION_SAMPLES = 2

NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    """Same shape as pynvml's: ``NVMLError(code)`` is an instance of the subclass for ``code``."""

    _valClassMapping: dict[int, type] = {}
    _errcode_to_string = {
        NVML_ERROR_UNINITIALIZED: "Uninitialized",
        NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
        NVML_ERROR_NOT_SUPPORTED: "Not Supported",
        NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
        NVML_ERROR_ALREADY_INITIALIZED: "Already Initialized",
        NVML_ERROR_NOT_FOUND: "Not Found",
        NVML_ERROR_INSUFFICIENT_SIZE: "Insufficient Size",
        NVML_ERROR_INSUFFICIENT_POWER: "Insufficient External Power",
        NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
        NVML_ERROR_TIMEOUT: "Timeout",
        NVML_ERROR_IRQ_ISSUE: "Interrupt Request Issue",
        NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
        NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
        NVML_ERROR_CORRUPTED_INFOROM: "Corrupted infoROM",
        NVML_ERROR_GPU_IS_LOST: "GPU is lost",
        NVML_ERROR_RESET_REQUIRED: "GPU requires restart",
        NVML_ERROR_OPERATING_SYSTEM: "The operating system has blocked the request.",
        NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
        NVML_ERROR_MEMORY: "Insufficient Memory",
        NVML_ERROR_UNKNOWN: "Unknown Error",
    }
    value: int

    def __new__(typ, value: int) -> NVMLError:
        if typ == NVMLError:
            typ = NVMLError._valClassMapping.get(value, typ)
        obj = Exception.__new__(typ)
        obj.value = value
        return obj

    def __str__(self) -> str:
        return self._errcode_to_string.get(self.value, f"NVML Error with code {self.value}")

    def __eq__(self, other: object) -> bool:
        return self.value == getattr(other, "value", None)

    __hash__ = Exception.__hash__


def _extract_errors_as_classes() -> None:
    """``NVML_ERROR_GPU_IS_LOST`` -> ``NVMLError_GpuIsLost``, exactly as pynvml names them."""
    module = sys.modules[__name__]
    for err_name in [x for x in dir(module) if x.startswith("NVML_ERROR_")]:
        class_name = "NVMLError_" + string.capwords(err_name.replace("NVML_ERROR_", ""), "_").replace("_", "")
        err_val = getattr(module, err_name)

        def gen_new(val: int) -> Callable[..., NVMLError]:
            def new(typ: type, *args: Any) -> NVMLError:
                return NVMLError.__new__(typ, val)

            return new

        cls = type(class_name, (NVMLError,), {"__new__": gen_new(err_val)})
        cls.__module__ = __name__
        setattr(module, class_name, cls)
        NVMLError._valClassMapping[err_val] = cls


_extract_errors_as_classes()


# Return types with the attribute names of pynvml's ctypes structures.
@dataclass
class c_nvmlValue_t:
    dVal: float = 0.0
    uiVal: int = 0
    ulVal: int = 0
    ullVal: int = 0


@dataclass
class c_nvmlSample_t:
    timeStamp: int
    sampleValue: c_nvmlValue_t


@dataclass
class c_nvmlMemory_t:
    total: int
    free: int
    used: int


@dataclass
class c_nvmlProcessUtilizationSample_t:
    pid: int
    timeStamp: int
    smUtil: int
    memUtil: int
    encUtil: int = 0
    decUtil: int = 0


@dataclass
class ProcessInfo:
    """What ``nvmlStructToFriendlyObject`` hands back for ``c_nvmlProcessInfo_t``."""

    pid: int
    usedGpuMemory: int | None
    gpuInstanceId: int = 0xFFFFFFFF
    computeInstanceId: int = 0xFFFFFFFF


@dataclass(eq=False)
class Handle:
    """An opaque device handle, like ``c_nvmlDevice_t``."""

    device: FakeDevice


@dataclass(eq=False)
class FakeDevice:
    uuid: str
    name: str = "NVIDIA Fake H100"
    memory_total: int = 80 * 1024**3
    memory_used: int = 0
    temperature: int = 40
    power_mw: int = 70_000
    power_supported: bool = True
    process_util_supported: bool = True
    buffer_size: int = 120
    lost: bool = False
    removed: bool = False
    #: Sample rings per sampling type: (timeStamp us, value), in insertion order, oldest first.
    rings: dict[int, deque[tuple[int, int]]] = field(default_factory=dict)
    process_ring: deque[c_nvmlProcessUtilizationSample_t] = field(default_factory=deque)
    #: pid -> used GPU memory (bytes, None when the driver cannot tell).
    processes: dict[int, int | None] = field(default_factory=dict)
    #: Every sample ever pushed, for tests to compare against what was stored.
    history: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t in (NVML_GPU_UTILIZATION_SAMPLES, NVML_MEMORY_UTILIZATION_SAMPLES):
            self.rings[t] = deque(maxlen=self.buffer_size)
            self.history[t] = []
        self.process_ring = deque(maxlen=self.buffer_size)


class FakeNvml:
    """One instance stands for the ``pynvml`` module: pass it wherever the sampler takes ``nvml``."""

    def __init__(
        self,
        library_present: bool = True,
        start_us: int = 1_700_000_000_000_000,
        sample_period_us: int = 1_000_000,
    ) -> None:
        module = sys.modules[__name__]
        for name in dir(module):
            if name.startswith(("NVML_", "NVMLError", "c_nvml")):
                setattr(self, name, getattr(module, name))
        self.library_present = library_present
        self.now_us = start_us
        self.sample_period_us = sample_period_us
        self.devices: list[FakeDevice] = []
        self.refcount = 0
        self.calls: list[str] = []
        self._hooks: dict[str, list[tuple[Callable[[], None], bool]]] = {}
        #: Per-device offset added to wall time to make sample timestamps (moved by rewind_clock).
        self._ts_offset: dict[str, int] = {}

    # ---- scripting ------------------------------------------------------------------------------
    def add_device(self, uuid: str, **kwargs: Any) -> FakeDevice:
        dev = FakeDevice(uuid=uuid, **kwargs)
        self.devices.append(dev)
        self._ts_offset[uuid] = 0
        return dev

    def device(self, uuid: str) -> FakeDevice:
        return next(d for d in self.devices if d.uuid == uuid)

    def on_call(self, name: str, callback: Callable[[], None], once: bool = True) -> None:
        self._hooks.setdefault(name, []).append((callback, once))

    def lose_device(self, uuid: str) -> None:
        """The GPU fell off the bus: every call on it now raises ``NVMLError_GpuIsLost``."""
        self.device(uuid).lost = True

    def remove_device(self, uuid: str) -> None:
        """The device is gone from the driver's list: the count drops, old handles are invalid."""
        self.device(uuid).removed = True

    def rewind_clock(self, uuid: str, by_us: int) -> None:
        """From now on this device stamps its samples ``by_us`` earlier (a wrap / driver reset)."""
        self._ts_offset[uuid] -= by_us

    def push_sample(self, uuid: str, sampling_type: int, ts: int, value: int) -> None:
        dev = self.device(uuid)
        dev.rings[sampling_type].append((ts, value))
        dev.history[sampling_type].append((ts, value))

    def advance(
        self,
        seconds: float,
        util: Callable[[FakeDevice, int], int] | None = None,
        mem_util: Callable[[FakeDevice, int], int] | None = None,
        proc_util: Callable[[FakeDevice, int, int], int] | None = None,
    ) -> None:
        """Let time pass: every live device records one sample per period per sampling type."""
        steps = int(seconds * 1_000_000 // self.sample_period_us)
        for _ in range(steps):
            self.now_us += self.sample_period_us
            for dev in self.devices:
                if dev.lost or dev.removed:
                    continue
                ts = self.now_us + self._ts_offset[dev.uuid]
                u = util(dev, ts) if util else (ts // self.sample_period_us) % 101
                m = mem_util(dev, ts) if mem_util else (ts // self.sample_period_us * 7) % 101
                self.push_sample(dev.uuid, NVML_GPU_UTILIZATION_SAMPLES, ts, u)
                self.push_sample(dev.uuid, NVML_MEMORY_UTILIZATION_SAMPLES, ts, m)
                for pid in dev.processes:
                    sm = proc_util(dev, pid, ts) if proc_util else u // 2
                    dev.process_ring.append(c_nvmlProcessUtilizationSample_t(pid, ts, sm, m // 2))

    # ---- the pynvml API ----------------------------------------------------------------------
    def _enter(self, name: str) -> None:
        self.calls.append(name)
        hooks = self._hooks.get(name, [])
        for cb, once in list(hooks):
            if once:
                hooks.remove((cb, once))
            cb()
        if name not in {"nvmlInit", "nvmlInitWithFlags"} and self.refcount == 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _dev(self, handle: Handle) -> FakeDevice:
        if not isinstance(handle, Handle):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        dev = handle.device
        if dev.removed:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if dev.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return dev

    def nvmlInitWithFlags(self, flags: int) -> None:
        self._enter("nvmlInitWithFlags")
        if not self.library_present:
            raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
        self.refcount += 1

    def nvmlInit(self) -> None:
        self._enter("nvmlInit")
        if not self.library_present:
            raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
        self.refcount += 1

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")
        self.refcount -= 1

    def _visible(self) -> list[FakeDevice]:
        return [d for d in self.devices if not d.removed]

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self._visible())

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Handle:
        self._enter("nvmlDeviceGetHandleByIndex")
        visible = self._visible()
        if not 0 <= index < len(visible):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if visible[index].lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return Handle(visible[index])

    def nvmlDeviceGetUUID(self, handle: Handle) -> str:
        self._enter("nvmlDeviceGetUUID")
        return self._dev(handle).uuid

    def nvmlDeviceGetName(self, handle: Handle) -> str:
        self._enter("nvmlDeviceGetName")
        return self._dev(handle).name

    def nvmlDeviceGetMemoryInfo(self, handle: Handle, version: int | None = None) -> c_nvmlMemory_t:
        self._enter("nvmlDeviceGetMemoryInfo")
        dev = self._dev(handle)
        return c_nvmlMemory_t(dev.memory_total, dev.memory_total - dev.memory_used, dev.memory_used)

    def nvmlDeviceGetTemperature(self, handle: Handle, sensor: int) -> int:
        self._enter("nvmlDeviceGetTemperature")
        dev = self._dev(handle)
        if sensor != NVML_TEMPERATURE_GPU:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return dev.temperature

    def nvmlDeviceGetPowerUsage(self, handle: Handle) -> int:
        self._enter("nvmlDeviceGetPowerUsage")
        dev = self._dev(handle)
        if not dev.power_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return dev.power_mw

    def nvmlDeviceGetSamples(
        self, device: Handle, sampling_type: int, timeStamp: int
    ) -> tuple[int, list[c_nvmlSample_t]]:
        self._enter("nvmlDeviceGetSamples")
        dev = self._dev(device)
        if sampling_type not in dev.rings:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if not 0 <= timeStamp < 2**64:
            raise OverflowError("timeStamp does not fit an unsigned long long")
        picked = [
            c_nvmlSample_t(ts, c_nvmlValue_t(uiVal=v)) for ts, v in dev.rings[sampling_type] if ts > timeStamp
        ]
        if not picked:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return (NVML_VALUE_TYPE_UNSIGNED_INT, picked)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Handle) -> list[ProcessInfo]:
        self._enter("nvmlDeviceGetComputeRunningProcesses")
        dev = self._dev(handle)
        return [ProcessInfo(pid, mem) for pid, mem in dev.processes.items()]

    def nvmlDeviceGetProcessUtilization(
        self, handle: Handle, timeStamp: int
    ) -> list[c_nvmlProcessUtilizationSample_t]:
        self._enter("nvmlDeviceGetProcessUtilization")
        dev = self._dev(handle)
        if not dev.process_util_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        picked = [s for s in dev.process_ring if s.timeStamp > timeStamp]
        if not picked:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return picked


def history_keys(
    fake: FakeNvml, host: str, names: Iterable[tuple[int, str]]
) -> set[tuple[str, str, str, int]]:
    """Every (host, uuid, sample type, ts) the fake ever produced, for the sampling types in ``names``."""
    out: set[tuple[str, str, str, int]] = set()
    for dev in fake.devices:
        for code, label in names:
            out.update((host, dev.uuid, label, ts) for ts, _ in dev.history[code])
    return out
