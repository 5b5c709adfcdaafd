"""The NVML sampler against the pynvml stand-in (and, for the no-driver case, the real pynvml)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pynvml
import pytest

from symphony_assets.analysis.gpu import GPU_UTIL, MEM_TOTAL, MEM_USED, MEM_UTIL, POWER, TEMPERATURE
from symphony_assets.resources.nvml import (
    DEVICE_LOST,
    DEVICE_OK,
    DEVICE_PARTIAL,
    PROCESS_STREAM,
    STATUS_NO_DEVICES,
    STATUS_NO_LIBRARY,
    STATUS_OK,
    NvmlSampler,
    ProcInfo,
    SamplerCursor,
    psutil_proc_info,
)
from symphony_assets_tests import fake_pynvml
from symphony_assets_tests.fake_pynvml import FakeNvml, history_keys

HOST = "gpu-box-1"
STREAMS = (
    (fake_pynvml.NVML_GPU_UTILIZATION_SAMPLES, GPU_UTIL),
    (fake_pynvml.NVML_MEMORY_UTILIZATION_SAMPLES, MEM_UTIL),
)


def sampler(fake: FakeNvml, proc_info=psutil_proc_info) -> NvmlSampler:
    return NvmlSampler(nvml=fake, host=HOST, clock=lambda: fake.now_us, proc_info=proc_info)


def util_keys(batch) -> list[tuple[str, str, str, int]]:
    return [s.key for s in batch.samples if s.sample_type in (GPU_UTIL, MEM_UTIL)]


# ---- the stand-in is faithful to pynvml --------------------------------------------------------------


def test_fake_mirrors_real_error_codes_and_classes() -> None:
    real = {n: getattr(pynvml, n) for n in dir(pynvml) if n.startswith("NVML_ERROR_")}
    fake = {n: getattr(fake_pynvml, n) for n in dir(fake_pynvml) if n.startswith("NVML_ERROR_")}
    assert fake == real
    real_classes = sorted(n for n in dir(pynvml) if n.startswith("NVMLError_"))
    fake_classes = sorted(n for n in dir(fake_pynvml) if n.startswith("NVMLError_"))
    assert fake_classes == real_classes
    for code in real.values():
        r, f = pynvml.NVMLError(code), fake_pynvml.NVMLError(code)
        assert type(r).__name__ == type(f).__name__
        assert f.value == code and isinstance(f, fake_pynvml.NVMLError)
        assert str(r) == str(f) or code not in pynvml.NVMLError._errcode_to_string
    lost = fake_pynvml.NVMLError_GpuIsLost()
    assert lost.value == fake_pynvml.NVML_ERROR_GPU_IS_LOST
    for name in ("NVML_GPU_UTILIZATION_SAMPLES", "NVML_MEMORY_UTILIZATION_SAMPLES", "NVML_TEMPERATURE_GPU"):
        assert getattr(fake_pynvml, name) == getattr(pynvml, name)


def test_fake_refcount_and_sample_buffer() -> None:
    nv = FakeNvml()
    dev = nv.add_device("GPU-a")
    with pytest.raises(nv.NVMLError_Uninitialized):
        nv.nvmlDeviceGetCount()
    nv.nvmlInit()
    nv.nvmlInit()
    nv.nvmlShutdown()
    assert nv.nvmlDeviceGetCount() == 1  # still one reference
    handle = nv.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(nv.NVMLError_NotFound):
        nv.nvmlDeviceGetSamples(handle, nv.NVML_GPU_UTILIZATION_SAMPLES, 0)
    nv.advance(3)
    vtype, got = nv.nvmlDeviceGetSamples(handle, nv.NVML_GPU_UTILIZATION_SAMPLES, 0)
    assert vtype == nv.NVML_VALUE_TYPE_UNSIGNED_INT and len(got) == 3
    assert [s.timeStamp for s in got] == [ts for ts, _ in dev.history[1]]
    _, newer = nv.nvmlDeviceGetSamples(handle, nv.NVML_GPU_UTILIZATION_SAMPLES, got[0].timeStamp)
    assert len(newer) == 2
    nv.nvmlShutdown()
    with pytest.raises(nv.NVMLError_Uninitialized):
        nv.nvmlShutdown()


# ---- failure modes --------------------------------------------------------------------------------


def test_real_pynvml_without_driver_reports_no_library() -> None:
    """This machine has no NVIDIA driver: the real module must yield the clean status, not raise."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound:
        pass
    else:  # pragma: no cover - only on a machine with a driver
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present here")
    batch = NvmlSampler(host=HOST).read(SamplerCursor())
    assert batch.status == STATUS_NO_LIBRARY
    assert batch.samples == () and batch.devices == ()


def test_driver_missing() -> None:
    nv = FakeNvml(library_present=False)
    cursor = SamplerCursor({"GPU-a": {GPU_UTIL: 5}})
    batch = sampler(nv).read(cursor)
    assert batch.status == STATUS_NO_LIBRARY
    assert "Library Not Found" in batch.message
    assert batch.cursor.to_json() == cursor.to_json()  # kept for when the driver comes back
    assert "nvmlShutdown" not in nv.calls


def test_no_devices() -> None:
    nv = FakeNvml()
    batch = sampler(nv).read(None)
    assert batch.status == STATUS_NO_DEVICES
    assert batch.samples == ()
    assert nv.refcount == 0  # init and shutdown balanced


def test_device_readings_in_nvml_units() -> None:
    nv = FakeNvml()
    nv.add_device("GPU-a", memory_total=16 * 2**30, memory_used=3 * 2**30, temperature=71, power_mw=245_500)
    nv.advance(5)
    batch = sampler(nv).read(None)
    assert batch.status == STATUS_OK and batch.devices[0].status == DEVICE_OK
    point = {
        s.sample_type: s.value
        for s in batch.samples
        if s.ts_us == nv.now_us and s.sample_type not in (GPU_UTIL, MEM_UTIL)
    }
    assert point == {MEM_USED: 3 * 2**30, MEM_TOTAL: 16 * 2**30, TEMPERATURE: 71.0, POWER: 245_500.0}
    assert Counter(s.sample_type for s in batch.samples)[GPU_UTIL] == 5


def test_device_disappears_between_reads_others_continue() -> None:
    nv = FakeNvml()
    nv.add_device("GPU-a")
    nv.add_device("GPU-b")
    nv.add_device("GPU-c")
    s = sampler(nv)
    nv.advance(4)
    first = s.read(None)
    assert [d.status for d in first.devices] == [DEVICE_OK] * 3
    nv.lose_device("GPU-a")  # fell off the bus: GpuIsLost on every call
    nv.advance(4)
    second = s.read(first.cursor)
    assert second.status == STATUS_OK
    assert second.devices[0].status == DEVICE_LOST and "GpuIsLost" in second.devices[0].message
    assert [d.status for d in second.devices[1:]] == [DEVICE_OK, DEVICE_OK]
    assert {k[1] for k in util_keys(second)} == {"GPU-b", "GPU-c"}
    assert len(util_keys(second)) == 2 * 2 * 4
    nv.remove_device("GPU-b")  # gone from the driver's list
    nv.advance(4)
    third = s.read(second.cursor)
    assert [d.device_uuid for d in third.devices if d.status == DEVICE_OK] == ["GPU-c"]
    assert nv.refcount == 0


def test_device_lost_in_the_middle_of_a_read() -> None:
    nv = FakeNvml()
    nv.add_device("GPU-a")
    nv.add_device("GPU-b")
    nv.advance(3)
    # Lost right after its memory info was read: the first GetSamples call is on GPU-a.
    nv.on_call("nvmlDeviceGetSamples", lambda: nv.lose_device("GPU-a"))
    batch = sampler(nv).read(None)
    a, b = batch.devices
    assert a.device_uuid == "GPU-a" and a.status == DEVICE_LOST
    assert b.status == DEVICE_OK
    assert {s.sample_type for s in batch.samples if s.device_uuid == "GPU-a"} == {
        MEM_USED,
        MEM_TOTAL,
        TEMPERATURE,
        POWER,
    }
    assert len([k for k in util_keys(batch) if k[1] == "GPU-b"]) == 6


def test_power_not_supported_is_partial_not_lost() -> None:
    nv = FakeNvml()
    nv.add_device("GPU-a", power_supported=False)
    nv.advance(2)
    batch = sampler(nv).read(None)
    assert batch.devices[0].status == DEVICE_PARTIAL and "Not Supported" in batch.devices[0].message
    assert POWER not in {s.sample_type for s in batch.samples}
    assert len(util_keys(batch)) == 4


def test_process_exits_between_listing_and_reading_cmdline(tmp_path) -> None:
    script = tmp_path / "agents" / "trainer_agent.py"
    script.parent.mkdir()
    script.write_text("import time\ntime.sleep(60)\n")
    live = subprocess.Popen([sys.executable, "-u", str(script)], cwd=tmp_path)
    doomed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        nv = FakeNvml()
        dev = nv.add_device("GPU-a", process_util_supported=False)
        dev.processes = {live.pid: 2 * 2**30, doomed.pid: 512 * 2**20}
        nv.advance(2)

        def kill_doomed() -> None:
            doomed.kill()
            doomed.wait()

        # The hook fires as NVML lists the processes; the list still holds the pid (the driver
        # had not noticed yet), and the process is gone when psutil reads its command line.
        nv.on_call("nvmlDeviceGetComputeRunningProcesses", kill_doomed)
        batch = sampler(nv).read(None)
    finally:
        live.kill()
        live.wait()
        if doomed.poll() is None:
            doomed.kill()
    by_pid = {p.pid: p for p in batch.process_samples}
    assert by_pid[doomed.pid].cmdline is None and by_pid[doomed.pid].status == "exited"
    assert by_pid[doomed.pid].used_memory_bytes == 512 * 2**20
    assert by_pid[live.pid].status == "ok"
    assert by_pid[live.pid].cmdline == (sys.executable, "-u", str(script))
    assert by_pid[live.pid].cwd == str(tmp_path)
    assert batch.devices[0].status == DEVICE_OK  # NotSupported process utilisation is skipped cleanly


def test_process_utilisation_is_read_once_each() -> None:
    info = {7: ProcInfo(("python", "agent.py"), "/srv/app", "ok")}
    nv = FakeNvml()
    dev = nv.add_device("GPU-a")
    dev.processes = {7: 1000}
    s = sampler(nv, proc_info=lambda pid: info.get(pid, ProcInfo(None, None, "exited")))
    seen: list[tuple[int, int]] = []
    cursor = SamplerCursor()
    for _ in range(5):
        nv.advance(3)
        batch = s.read(cursor)
        cursor = batch.cursor
        util_rows = [p for p in batch.process_samples if p.sm_util is not None]
        assert all(p.cmdline == ("python", "agent.py") for p in util_rows)
        seen.extend((p.pid, p.ts_us) for p in util_rows)
    assert len(seen) == len(set(seen)) == 15
    assert cursor.get("GPU-a", PROCESS_STREAM) == dev.process_ring[-1].timeStamp


# ---- cursor: nothing lost, nothing twice --------------------------------------------------------------


def test_cursor_json_round_trip_and_garbage() -> None:
    c = SamplerCursor()
    c.set("GPU-a", GPU_UTIL, 2**64 - 1)
    c.set_rewound("GPU-a", GPU_UTIL, True)
    back = SamplerCursor.from_json(json.loads(json.dumps(c.to_json())))
    assert back == c and back.get("GPU-a", GPU_UTIL) == 2**64 - 1
    assert SamplerCursor.from_json("{not json") == SamplerCursor()
    assert SamplerCursor.from_json('{"last_seen": [1, 2]}') == SamplerCursor()
    assert SamplerCursor.from_json(None) == SamplerCursor()


def test_fifty_ticks_no_sample_lost_or_double_counted() -> None:
    nv = FakeNvml(sample_period_us=500_000)  # 2 samples/s; the ring (120) spans 60 s
    for uuid in ("GPU-a", "GPU-b"):
        nv.add_device(uuid)
    s = sampler(nv)
    cursor = SamplerCursor.from_json(None)
    stored: list[tuple[str, str, str, int]] = []
    for tick in range(50):
        nv.advance(30 + (tick % 3) * 5)  # 30-40 s between ticks, like a sensor with jitter
        batch = s.read(SamplerCursor.from_json(cursor.to_json()))  # through JSON, as in a sensor
        stored.extend(util_keys(batch))
        cursor = batch.cursor
    assert len(stored) == len(set(stored)), "a sample was read twice"
    assert set(stored) == history_keys(nv, HOST, STREAMS), "a sample was lost"
    assert len(stored) == 2 * 2 * sum(2 * (30 + (t % 3) * 5) for t in range(50))


def test_duplicate_samples_on_overlapping_reads_are_deduplicated() -> None:
    """A tick whose cursor was never saved (daemon died after storing) reads the same samples again."""
    nv = FakeNvml()
    nv.add_device("GPU-a")
    s = sampler(nv)
    nv.advance(10)
    first = s.read(SamplerCursor())
    nv.advance(10)
    replay = s.read(SamplerCursor())  # the stale cursor: overlaps the first read
    table: dict[tuple[str, str, str, int], float] = {}  # what the primary key keeps
    for batch in (first, replay):
        for sample in batch.samples:
            if sample.sample_type in (GPU_UTIL, MEM_UTIL):
                table.setdefault(sample.key, sample.value)
    assert len(util_keys(first)) == 20 and len(util_keys(replay)) == 40
    assert set(table) == history_keys(nv, HOST, STREAMS)
    assert len(table) == 40
    # Within one read nothing repeats either.
    assert len(set(util_keys(replay))) == len(util_keys(replay))


def test_timestamp_going_backwards_keeps_newer_samples_and_does_not_loop() -> None:
    nv = FakeNvml(sample_period_us=1_000_000)
    nv.add_device("GPU-a", buffer_size=100)
    nv.add_device("GPU-b", buffer_size=100)
    s = sampler(nv)
    cursor = SamplerCursor()
    stored: list[tuple[str, str, str, int]] = []
    per_tick: list[int] = []

    def tick(seconds: int) -> None:
        nonlocal cursor
        nv.advance(seconds)
        batch = s.read(cursor)
        keys = util_keys(batch)
        stored.extend(keys)
        per_tick.append(len([k for k in keys if k[1] == "GPU-a"]))
        cursor = batch.cursor

    tick(30)
    tick(30)
    before = cursor.get("GPU-a", GPU_UTIL)
    # GPU-a's clock jumps back one hour: its new samples are all older than the cursor.
    nv.rewind_clock("GPU-a", 3600 * 1_000_000)
    tick(30)
    assert cursor.get("GPU-a", GPU_UTIL) < before
    assert cursor.is_rewound("GPU-a", GPU_UTIL)  # pre-jump samples still in the 100-slot ring
    for _ in range(6):
        tick(30)
    assert not cursor.is_rewound("GPU-a", GPU_UTIL)  # jump aged out of the ring: back to normal reads
    assert per_tick == [60] * 9  # 30 samples x 2 streams every tick, none repeated, none looping
    assert len(stored) == len(set(stored))
    assert set(stored) == history_keys(nv, HOST, STREAMS)


def test_jump_back_inside_one_read_and_jump_older_than_ring() -> None:
    nv = FakeNvml()
    nv.add_device("GPU-a", buffer_size=50)
    s = sampler(nv)
    stored: list[tuple[str, str, str, int]] = []
    cursor = SamplerCursor()
    nv.advance(20)
    b = s.read(cursor)
    stored += util_keys(b)
    cursor = b.cursor
    # 5 s pass, the clock jumps back 5.25 s (off the sample grid, so no timestamp repeats), then
    # 20 s pass: the post-jump samples overtake the cursor within one read, and the 5 pre-jump
    # samples newer than the cursor must be kept too.
    nv.advance(5)
    nv.rewind_clock("GPU-a", 5_250_000)
    nv.advance(20)
    b = s.read(cursor)
    assert len(util_keys(b)) == 2 * 25
    stored += util_keys(b)
    cursor = b.cursor
    assert len(stored) == len(set(stored))
    assert set(stored) == history_keys(nv, HOST, STREAMS)
    # A jump back far enough that the whole ring (50) has turned over before the next read.
    nv.rewind_clock("GPU-a", 10**9)
    nv.advance(60)
    b = s.read(cursor)
    assert len(util_keys(b)) == 2 * 50  # the ring's whole content is new
    stored += util_keys(b)
    cursor = b.cursor
    nv.advance(10)
    b = s.read(cursor)
    assert len(util_keys(b)) == 2 * 10
    stored += util_keys(b)
    assert len(stored) == len(set(stored))
    lost_to_ring = history_keys(nv, HOST, STREAMS) - set(stored)
    # Only the samples the driver itself overwrote (60 s produced, 50 kept) are missing.
    assert len(lost_to_ring) == 2 * 10
