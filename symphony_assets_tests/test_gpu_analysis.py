"""Hourly GPU aggregation and command-line-to-file matching, on inputs whose answers are worked by hand."""

from __future__ import annotations

import pytest

from symphony_assets.analysis.gpu import (
    GPU_UTIL,
    MEM_TOTAL,
    MEM_USED,
    MEM_UTIL,
    POWER,
    TEMPERATURE,
    GpuSample,
    ProcessSample,
    aggregate_hour,
    match_cmdline_to_file,
    percentile,
)

H = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
S = 1_000_000


def g(uuid: str, kind: str, seconds: float, value: float) -> GpuSample:
    return GpuSample("box", uuid, kind, H + int(seconds * S), value)


def test_percentile_by_hand() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    # [1, 2, 3, 4]: position (4-1)*0.5 = 1.5 -> 2 + 0.5*(3-2) = 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5


def test_aggregate_hour_on_known_samples() -> None:
    a = "GPU-a"
    samples = [
        g(a, GPU_UTIL, 0, 10),
        g(a, GPU_UTIL, 30, 20),
        g(a, GPU_UTIL, 60, 95),  # minute 1: above 90
        g(a, GPU_UTIL, 60, 95),  # the same sample read twice (overlapping reads)
        g(a, GPU_UTIL, 90, 50),
        g(a, GPU_UTIL, 120, 90),  # exactly 90 is not above
        g(a, GPU_UTIL, 300, 100),  # minute 5: above
        g(a, MEM_UTIL, 0, 30),
        g(a, MEM_UTIL, 60, 60),
        g(a, MEM_TOTAL, 0, 1000),
        g(a, MEM_USED, 0, 500),
        g(a, MEM_TOTAL, 60, 1000),
        g(a, MEM_USED, 60, 950),  # 95 % -> minute 1
        g(a, MEM_TOTAL, 180, 1000),
        g(a, MEM_USED, 180, 910),  # 91 % -> minute 3
        g(a, MEM_USED, 240, 800),  # no total at this instant: 800 / max total 1000 = 80 %
        g(a, TEMPERATURE, 0, 60),
        g(a, TEMPERATURE, 60, 83),
        g(a, POWER, 0, 250_000),
        g("GPU-b", GPU_UTIL, 10, 40),
    ]
    summary = aggregate_hour(samples, [], threshold=90.0)
    assert [d.device_uuid for d in summary.devices] == ["GPU-a", "GPU-b"]
    dev_a, dev_b = summary.devices
    # Utilisation values once each: sorted [10, 20, 50, 90, 95, 100], n = 6.
    assert dev_a.gpu_util_samples == 6
    assert dev_a.gpu_util_p50 == pytest.approx(70.0)  # pos 2.5: 50 + 0.5*(90-50)
    assert dev_a.gpu_util_p95 == pytest.approx(98.75)  # pos 4.75: 95 + 0.75*(100-95)
    assert dev_a.gpu_util_max == 100.0
    assert dev_a.mem_util_max == 60.0
    assert dev_a.mem_util_p95 == pytest.approx(58.5)  # [30, 60], pos 0.95: 30 + 0.95*30
    assert dev_a.peak_memory_bytes == 950
    assert dev_a.memory_total_bytes == 1000
    assert dev_a.peak_memory_pct == pytest.approx(95.0)
    assert dev_a.max_temperature_c == 83.0 and dev_a.max_power_mw == 250_000.0
    assert dev_a.minutes_util_above == 2  # minutes 1 and 5
    assert dev_a.minutes_memory_above == 2  # minutes 1 and 3
    assert dev_a.minutes_any_above == 3  # minutes 1, 3, 5
    assert (dev_b.gpu_util_p50, dev_b.gpu_util_p95, dev_b.gpu_util_max) == (40.0, 40.0, 40.0)
    assert dev_b.peak_memory_bytes is None and dev_b.minutes_any_above == 0

    lower = aggregate_hour(samples, [], threshold=49.0)
    # util above 49: 95 (min 1), 50 (min 1), 90 (min 2), 100 (min 5); memory above 49 %: min 0,1,3,4
    assert lower.devices[0].minutes_util_above == 3
    assert lower.devices[0].minutes_memory_above == 4
    assert lower.devices[0].minutes_any_above == 6  # minutes 0-5


def test_process_and_agent_peaks() -> None:
    t = H + 5 * S
    rows = [
        ProcessSample("box", "GPU-a", 11, t, used_memory_bytes=100, agent_file="agents/a.py"),
        ProcessSample("box", "GPU-a", 11, t + S, used_memory_bytes=300, agent_file="agents/a.py"),
        ProcessSample("box", "GPU-a", 12, t, sm_util=70, mem_util=20, agent_file="agents/a.py", status="n/a"),
        ProcessSample("box", "GPU-a", 13, t, used_memory_bytes=50, cmdline=("python", "x.py")),
        ProcessSample("box", "GPU-a", 13, t, used_memory_bytes=50, cmdline=("python", "x.py")),  # repeat
        ProcessSample("box", "GPU-a", 13, t, sm_util=10, mem_util=5, status="n/a"),  # same instant, util row
        ProcessSample("box", "GPU-b", 11, t, used_memory_bytes=7, agent_file="agents/a.py"),
    ]
    peaks = aggregate_hour([], rows).processes
    by = {(p.device_uuid, p.agent_file, p.pids): p for p in peaks}
    agent = by[("GPU-a", "agents/a.py", (11, 12))]
    assert (agent.peak_memory_bytes, agent.peak_sm_util, agent.peak_mem_util, agent.samples) == (
        300,
        70,
        20,
        3,
    )
    lone = by[("GPU-a", None, (13,))]
    assert (lone.peak_memory_bytes, lone.peak_sm_util, lone.samples) == (50, 10, 2)
    assert lone.cmdline == ("python", "x.py")
    assert by[("GPU-b", "agents/a.py", (11,))].peak_memory_bytes == 7
    assert len(peaks) == 3


FILES = frozenset(
    {
        "agents/agent.py",
        "agents/trainer_agent.py",
        "pkg/__init__.py",
        "pkg/mod.py",
        "pkg/runner/__main__.py",
        "src/svc/app.py",
        "tools/agent.py",
        "train.py",
    }
)


@pytest.mark.parametrize(
    ("cmdline", "cwd", "expected"),
    [
        (["python", "agents/agent.py"], None, "agents/agent.py"),
        (["python3", "-u", "train.py", "--epochs", "3"], "/srv/repo", "train.py"),
        (["/usr/bin/python3.11", "-u", "agent.py"], "/srv/repo/agents", "agents/agent.py"),
        (["python", "-W", "ignore", "-X", "dev", "./train.py"], None, "train.py"),
        (["python", "-m", "pkg.mod"], None, "pkg/mod.py"),
        (["python3", "-u", "-m", "pkg.runner", "--flag"], None, "pkg/runner/__main__.py"),
        (["python", "-mpkg.mod"], None, "pkg/mod.py"),
        (["python", "-m", "svc.app"], None, "src/svc/app.py"),  # under a source root
        (["python", "/srv/repo/agents/trainer_agent.py"], None, "agents/trainer_agent.py"),
        (["uvicorn", "pkg.mod:app", "--port", "8000"], None, "pkg/mod.py"),
        (["/venv/bin/gunicorn", "-w", "4", "svc.app:create_app()"], None, "src/svc/app.py"),
        (["python", "-m", "uvicorn", "pkg.mod:app"], None, "pkg/mod.py"),
        (["nohup", "python", "train.py"], None, "train.py"),
        (["timeout", "10", "python3", "train.py"], None, "train.py"),
        (["timeout", "-s", "KILL", "5m", "python3", "train.py"], None, "train.py"),
        (["env", "CUDA_VISIBLE_DEVICES=1", "X=1", "python", "-u", "train.py"], None, "train.py"),
        (["nohup", "env", "-u", "HOME", "nice", "-n", "5", "python", "train.py"], None, "train.py"),
        (["uv", "run", "python", "-m", "pkg.mod"], None, "pkg/mod.py"),
        (["torchrun", "--nproc_per_node=8", "train.py", "--lr", "1e-3"], None, "train.py"),
        (["/srv/repo/train.py", "--x"], None, "train.py"),  # executable script with a shebang
        (["python", "agent.py"], None, None),  # agents/agent.py or tools/agent.py: ambiguous
        (["python", "-c", "import train"], None, None),
        (["python"], None, None),
        (["bash", "run.sh"], None, None),
        (["python", "notinrepo.py"], "/srv/repo", None),
        (["python", "-m", "json.tool"], None, None),
        ([], None, None),
    ],
)
def test_match_cmdline_to_file(cmdline: list[str], cwd: str | None, expected: str | None) -> None:
    assert match_cmdline_to_file(cmdline, FILES, cwd) == expected


def test_match_with_root_rejects_paths_outside_it() -> None:
    root = "/srv/repo"
    assert match_cmdline_to_file(["python", "/srv/repo/train.py"], FILES, None, root=root) == "train.py"
    assert match_cmdline_to_file(["python", "/elsewhere/train.py"], FILES, None, root=root) is None
    assert match_cmdline_to_file(["python", "../repo/train.py"], FILES, "/srv/other", root=root) == "train.py"
    assert (
        match_cmdline_to_file(["python", "agent.py"], FILES, "/srv/repo/tools", root=root) == "tools/agent.py"
    )
