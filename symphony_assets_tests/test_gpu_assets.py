"""GPU domain through Dagster: the sampler sensor, gpu_utilisation and agent_inventory, on real Postgres."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.analysis.gpu import GPU_UTIL, MEM_TOTAL, MEM_USED, MEM_UTIL, GpuSample, ProcessSample
from symphony_assets.defs.gpu.assets import gpu_utilisation
from symphony_assets.defs.gpu.sensors import gpu_sampler, parse_cursor, sample_tick
from symphony_assets.resources.nvml import (
    STATUS_NO_LIBRARY,
    STATUS_OK,
    GpuSampleStore,
    NvmlResource,
    NvmlSampler,
    ProcInfo,
    SampleBatch,
    SamplerCursor,
)
from symphony_assets.resources.postgres import Database, PostgresResource
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.io_manager import WarehouseIOManager
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests import fake_pynvml
from symphony_assets_tests.fake_pynvml import FakeNvml, history_keys
from symphony_assets_tests.gitrepo import GitRepo

S = 1_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
STREAMS = (
    (fake_pynvml.NVML_GPU_UTILIZATION_SAMPLES, GPU_UTIL),
    (fake_pynvml.NVML_MEMORY_UTILIZATION_SAMPLES, MEM_UTIL),
)


def us(ts: dt.datetime) -> int:
    return (ts - EPOCH) // dt.timedelta(microseconds=1)


def stored_keys(db: Database, host: str) -> set[tuple[str, str, str, int]]:
    df = db.read_frame(
        "SELECT host, device_uuid, sample_type, ts FROM symphony.gpu_samples"
        " WHERE host = %s AND sample_type IN ('gpu_util', 'mem_util')",
        (host,),
    )
    return {(r.host, r.device_uuid, r.sample_type, us(r.ts.to_pydatetime())) for r in df.itertuples()}


def fake_resource(fake: FakeNvml, host: str) -> NvmlResource:
    """NvmlResource whose sampler reads the stand-in (the real one reads ``pynvml``)."""

    class FakeNvmlResource(NvmlResource):
        def sampler(self) -> NvmlSampler:
            return NvmlSampler(
                nvml=fake,
                host=self.machine(),
                clock=lambda: fake.now_us,
                proc_info=lambda pid: ProcInfo(("python", "agents/trainer_agent.py"), "/srv/repo", "ok"),
            )

    return FakeNvmlResource(host=host)


def test_sensor_across_ticks_stores_every_sample_once(db: Database, dagster_instance, pg_url: str) -> None:
    host = f"box-{uuid.uuid4().hex[:8]}"
    fake = FakeNvml(start_us=us(dt.datetime.now(dt.UTC)) - 3600 * S, sample_period_us=500_000)
    fake.add_device("GPU-a").processes = {4242: 3 * 2**30}
    fake.add_device("GPU-b")
    resources = {"nvml": fake_resource(fake, host), "postgres": PostgresResource(url=pg_url)}
    cursor: str | None = None
    per_tick_new: list[int] = []
    for tick in range(25):
        fake.advance(30 + (tick % 4) * 3)
        before = len(stored_keys(db, host))
        with dg.build_sensor_context(cursor=cursor, resources=resources, instance=dagster_instance) as ctx:
            result = gpu_sampler(ctx)
            cursor = ctx.cursor
        assert isinstance(result, dg.SensorResult)
        per_tick_new.append(len(stored_keys(db, host)) - before)
        if tick == 0:
            assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [[host]]
            dagster_instance.add_dynamic_partitions("host", [host])
    # Every sample the stand-in produced is in Postgres, exactly once (the primary key guarantees
    # "once"; the per-tick counts show no tick re-read the previous tick's samples).
    assert stored_keys(db, host) == history_keys(fake, host, STREAMS)
    assert per_tick_new == [2 * 2 * 2 * (30 + (t % 4) * 3) for t in range(25)]
    # A replayed tick (cursor lost after storing) adds nothing.
    sampler_cursor, _ = parse_cursor(cursor)
    stale = SamplerCursor(
        {k: {s: ts - 20 * S for s, ts in v.items()} for k, v in sampler_cursor.last_seen.items()}
    )
    replay = fake_resource(fake, host).sampler().read(stale)
    assert len(replay.samples) > 0
    assert GpuSampleStore(db).append(replay).samples_inserted == 0
    procs = db.read_frame(
        "SELECT DISTINCT pid, cmdline FROM symphony.gpu_process_samples WHERE host = %s AND kind = 'memory'",
        (host,),
    )
    assert list(procs["pid"]) == [4242]
    assert list(procs["cmdline"][0]) == ["python", "agents/trainer_agent.py"]


def test_sensor_without_nvml_skips_and_keeps_the_daemon_up(
    db: Database, dagster_instance, pg_url: str
) -> None:
    host = f"nogpu-{uuid.uuid4().hex[:8]}"
    resources = {
        "nvml": fake_resource(FakeNvml(library_present=False), host),
        "postgres": PostgresResource(url=pg_url),
    }
    for _ in range(3):
        with dg.build_sensor_context(resources=resources, instance=dagster_instance) as ctx:
            result = gpu_sampler(ctx)
        assert isinstance(result, dg.SkipReason)
        assert STATUS_NO_LIBRARY in (result.skip_message or "")
    status = db.read_frame("SELECT status FROM symphony.gpu_sampler_status WHERE host = %s", (host,))
    assert list(status["status"]) == [STATUS_NO_LIBRARY]  # once per hour or change, not every tick
    # Postgres down: a skip with the cursor kept, not an exception.
    down = {
        "nvml": fake_resource(FakeNvml(), host),
        "postgres": PostgresResource(url="postgresql://nobody@/nodb?host=/nonexistent"),
    }
    with dg.build_sensor_context(
        cursor='{"last_seen": {}}', resources=down, instance=dagster_instance
    ) as ctx:
        result = gpu_sampler(ctx)
    assert isinstance(result, dg.SkipReason) and "cursor kept" in (result.skip_message or "")
    assert ctx.cursor == '{"last_seen": {}}'


def test_finished_hour_is_requested_once(db: Database) -> None:
    fake = FakeNvml()
    fake.add_device("GPU-a")
    sampler = NvmlSampler(nvml=fake, host=f"h-{uuid.uuid4().hex[:6]}", clock=lambda: fake.now_us)
    t0 = dt.datetime(2026, 3, 1, 10, 59, 30, tzinfo=dt.UTC)
    cursor, _, _, finished = sample_tick(sampler, db, None, t0)
    assert finished == []
    cursor, _, _, finished = sample_tick(sampler, db, cursor, t0 + dt.timedelta(seconds=40))
    assert finished == ["2026-03-01-10:00"]
    cursor, _, _, finished = sample_tick(sampler, db, cursor, t0 + dt.timedelta(seconds=80))
    assert finished == []


def test_hours_missed_while_the_daemon_was_down_are_requested(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down from 10:59 to 15:00: the sampled hours of the gap (10:00, 12:00) and the hour just finished
    (14:00) are requested, unsampled ones (11:00, 13:00) are not; at most the configured number."""
    fake = FakeNvml()
    fake.add_device("GPU-a")
    host = f"h-{uuid.uuid4().hex[:6]}"
    sampler = NvmlSampler(nvml=fake, host=host, clock=lambda: fake.now_us)
    t0 = dt.datetime(2026, 3, 1, 10, 59, 30, tzinfo=dt.UTC)
    cursor, _, _, _ = sample_tick(sampler, db, None, t0)
    with db.transaction() as cur:  # samples of the gap, e.g. stored by a sampler that drained NVML's ring
        for hour in (10, 12):
            cur.execute(
                "INSERT INTO symphony.gpu_samples VALUES (%s, 'GPU-a', 'gpu_util', %s, 50)",
                (host, dt.datetime(2026, 3, 1, hour, 30, tzinfo=dt.UTC)),
            )
    later = dt.datetime(2026, 3, 1, 15, 0, 30, tzinfo=dt.UTC)
    _, _, _, finished = sample_tick(sampler, db, cursor, later)
    assert finished == ["2026-03-01-10:00", "2026-03-01-12:00", "2026-03-01-14:00"]
    monkeypatch.setenv("SYMPHONY_GPU_BACKFILL_HOURS", "4")  # 11:00..14:00 only
    _, _, _, bounded = sample_tick(sampler, db, cursor, later)
    assert bounded == ["2026-03-01-12:00", "2026-03-01-14:00"]


def _materialize(assets, key, pg_url, instance, nvml, config=None):
    postgres = PostgresResource(url=pg_url)
    return dg.materialize(
        assets,
        partition_key=key,
        instance=instance,
        resources={
            "nvml": nvml,
            "postgres": postgres,
            "warehouse_io_manager": WarehouseIOManager(postgres=postgres),
        },
        run_config=config,
        raise_on_error=False,
    )


def test_gpu_utilisation_on_known_samples(db: Database, dagster_instance, pg_url: str) -> None:
    host = f"rig-{uuid.uuid4().hex[:8]}"
    dagster_instance.add_dynamic_partitions("host", [host])
    hour = dt.datetime(2026, 2, 3, 14, tzinfo=dt.UTC)
    h = us(hour)
    samples = []
    # Minute m (0..59) holds utilisation 100 for m < 12, else 10; one memory reading per minute:
    # 95 % of 1000 bytes for m < 3, else 50 %. A sample just outside the hour must not count.
    for m in range(60):
        ts = h + m * 60 * S
        samples += [
            GpuSample(host, "GPU-x", GPU_UTIL, ts, 100.0 if m < 12 else 10.0),
            GpuSample(host, "GPU-x", MEM_TOTAL, ts, 1000.0),
            GpuSample(host, "GPU-x", MEM_USED, ts, 950.0 if m < 3 else 500.0),
        ]
    samples.append(GpuSample(host, "GPU-x", GPU_UTIL, h + 3600 * S, 100.0))
    procs = (ProcessSample(host, "GPU-x", 77, h + 5 * S, used_memory_bytes=900, cmdline=("python", "a.py")),)
    batch = SampleBatch(host, h, STATUS_OK, "test", (), tuple(samples), procs, SamplerCursor())
    GpuSampleStore(db).append(batch)

    key = f"{host}|{hour:%Y-%m-%d-%H:%M}"
    result = _materialize([gpu_utilisation], key, pg_url, dagster_instance, NvmlResource(host="elsewhere"))
    assert result.success
    df = Warehouse().read("gpu_utilisation", {"host": host, "hour": f"{hour:%Y-%m-%dT%H}"})
    assert df is not None and len(df) == 1
    row = df.iloc[0]
    # 60 values: 12 x 100 and 48 x 10; p50 = 10; p95 position 56.05 -> both neighbours 100.
    assert (row["samples"], row["gpu_util_p50"], row["gpu_util_p95"], row["gpu_util_max"]) == (
        60,
        10,
        100,
        100,
    )
    assert (row["peak_memory_bytes"], row["memory_total_bytes"], row["peak_memory_pct"]) == (950, 1000, 95.0)
    assert (row["minutes_util_above"], row["minutes_memory_above"], row["minutes_any_above"]) == (12, 3, 12)
    assert "pid 77 python a.py peak 900 B" in row["top_processes"]
    in_pg = db.read_frame("SELECT minutes_any_above FROM symphony.gpu_utilisation WHERE host = %s", (host,))
    assert list(in_pg["minutes_any_above"]) == [12]
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    # A higher bar for "hot" (15 minutes): the same hour passes.
    relaxed = _materialize(
        [gpu_utilisation],
        key,
        pg_url,
        dagster_instance,
        NvmlResource(host="elsewhere"),
        {"ops": {"gpu_utilisation": {"config": {"threshold_pct": 90.0, "hot_minutes": 15}}}},
    )
    assert relaxed.get_asset_check_evaluations()[0].passed


def test_no_gpu_machine_writes_an_empty_partition_with_the_reason(
    db: Database, dagster_instance, pg_url
) -> None:
    """The real pynvml on this GPU-less machine: the hour in progress is read live and found empty."""
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:  # pragma: no cover - only on a machine with a driver
        pynvml.nvmlShutdown()
        pytest.skip("this machine has NVML")
    host = f"laptop-{uuid.uuid4().hex[:8]}"
    dagster_instance.add_dynamic_partitions("host", [host])
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    key = f"{host}|{hour:%Y-%m-%d-%H:%M}"
    result = _materialize([gpu_utilisation], key, pg_url, dagster_instance, NvmlResource(host=host))
    assert result.success
    (mat,) = result.asset_materializations_for_node("gpu_utilisation")
    assert mat.metadata["dagster/row_count"].value == 0
    assert mat.metadata["read_now"].value is True
    assert str(mat.metadata["empty_reason"].value).startswith(STATUS_NO_LIBRARY)
    df = Warehouse().read("gpu_utilisation", {"host": host, "hour": f"{hour:%Y-%m-%dT%H}"})
    assert df is not None and df.empty and "gpu_util_p95" in df.columns
    assert result.get_asset_check_evaluations()[0].passed


AGENT = """import socket
import torch

def main():
    s = socket.socket()
    s.bind(("0.0.0.0", 8123))
    model = torch.nn.Linear(4, 4).cuda()
    x = torch.zeros(4, device="cuda")
    return model(x)
"""


def test_agent_inventory_for_a_repo_with_agents_ports_and_cuda(
    dagster_instance, git_repo: GitRepo, write_config, db: Database, pg_url: str
) -> None:
    git_repo.write("agents/trainer_agent.py", AGENT)
    git_repo.write("agents/helper.py", "def help():\n    return 1\n")
    git_repo.write("tools/serve_agent.py", "import http.server\n")
    git_repo.write("lib/worker.py", "import torch\ntorch.cuda.synchronize()\n")
    git_repo.write("lib/util.py", "X = 1\n")
    git_repo.commit("agents", when="2024-06-01T10:00:00+00:00")
    machine = f"gpu-{uuid.uuid4().hex[:8]}"
    write_config({"name": "agents", "path": str(git_repo.root), "machine": machine})
    day = dt.datetime.now(dt.UTC).date()

    upstream = ["file_inventory", "code_findings", "port_map"]
    (outcome,) = run_snapshots(dagster_instance, ["agents"], day, day, assets=upstream)
    assert outcome.success, outcome.error
    # Two GPU processes on the codebase's machine today: the agent (by relative path and cwd) and
    # lib/worker.py (by absolute path), plus one from another codebase.
    now_us = us(dt.datetime.now(dt.UTC))
    root = str(git_repo.root)
    procs = (
        ProcessSample(machine, "GPU-0", 501, now_us, used_memory_bytes=6 * 2**30,
                      cmdline=("nohup", "python3", "-u", "agents/trainer_agent.py"), cwd=root),
        ProcessSample(machine, "GPU-0", 501, now_us + S, sm_util=88.0, mem_util=40.0, status="n/a"),
        ProcessSample(machine, "GPU-0", 502, now_us, used_memory_bytes=2**30,
                      cmdline=("python", f"{root}/lib/worker.py"), cwd="/"),
        ProcessSample(machine, "GPU-0", 503, now_us, used_memory_bytes=5, cmdline=("python", "/other/x.py")),
    )  # fmt: skip
    GpuSampleStore(db).append(SampleBatch(machine, now_us, STATUS_OK, "t", (), (), procs, SamplerCursor()))

    (outcome,) = run_snapshots(dagster_instance, ["agents"], day, day, assets=["agent_inventory"])
    assert outcome.success, outcome.error
    df = Warehouse().read("agent_inventory", {"codebase": "agents", "date": str(day)})
    assert df is not None
    rows = df.set_index("path")
    assert sorted(rows.index) == [
        "agents/helper.py",
        "agents/trainer_agent.py",
        "lib/worker.py",
        "tools/serve_agent.py",
    ]
    t = rows.loc["agents/trainer_agent.py"]
    assert t["why"] == "agents_dir,gpu_process" and t["machine"] == machine
    assert t["ports"] == "0.0.0.0:8123 (bind, line 6)" and t["port_count"] == 1
    assert t["gpu_sites"] >= 2 and "7:" in t["gpu_site_lines"]
    assert bool(t["gpu_seen"]) and t["gpu_pids"] == "501"
    assert t["gpu_peak_memory_bytes"] == 6 * 2**30 and t["gpu_peak_sm_util"] == 88.0
    assert not pd.isna(t["last_modified"])
    assert (
        rows.loc["lib/worker.py", "why"] == "gpu_process" and rows.loc["lib/worker.py", "gpu_pids"] == "502"
    )
    assert rows.loc["tools/serve_agent.py", "why"] == "agent_name"
    helper = rows.loc["agents/helper.py"]
    assert not bool(helper["gpu_seen"]) and helper["gpu_sites"] == 0 and helper["port_count"] == 0
    in_pg = db.read_frame("SELECT path FROM symphony.agent_inventory WHERE codebase = 'agents' ORDER BY path")
    assert list(in_pg["path"]) == sorted(rows.index)


def test_agent_inventory_tolerates_missing_upstream(
    dagster_instance, git_repo: GitRepo, write_config
) -> None:
    git_repo.write("agents/a.py", "print(1)\n")
    git_repo.commit("a", when="2024-06-01T10:00:00+00:00")
    write_config({"name": "lonely", "path": str(git_repo.root)})
    day = dt.date(2024, 6, 2)
    (outcome,) = run_snapshots(dagster_instance, ["lonely"], day, day, assets=["agent_inventory"])
    assert outcome.success, outcome.error
    df = Warehouse().read("agent_inventory", {"codebase": "lonely", "date": str(day)})
    assert df is not None and df.empty
    mats = dagster_instance.fetch_materializations(dg.AssetKey("agent_inventory"), limit=1).records
    meta = mats[0].asset_materialization.metadata
    missing = str(meta["upstream_missing"].value)
    assert "file_inventory partition missing" in missing and "port_map partition missing" in missing
