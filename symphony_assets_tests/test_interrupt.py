"""Ctrl-C and SIGTERM stop ``symphony run``: a real signal sent to a real run, in the middle of a step.

Before, Dagster turned the interrupt into a retry of the step (every snapshot asset has a retry
policy), the step ran again 10 s later and the run went on to its end with status 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets.definitions import defs
from symphony_assets.defs import interrupts
from symphony_assets.runner import PROJECT_ROOT
from symphony_assets_tests.gitrepo import GitRepo

DAYS = ("2024-06-01", "2024-06-08")
STEP_STARTED = re.compile(r"^busy: (\w+) started \(step [2-9]")


def _module(index: int, day: int) -> str:
    body = "".join(
        f"\n\ndef handler_{index}_{n}(items, limit=10):\n"
        f"    total = 0\n"
        f"    for item in items:\n"
        f"        if item > limit and item % {n + 2} == {day % (n + 2)}:\n"
        f"            total += item\n"
        f"        elif item < 0:\n"
        f"            raise ValueError(item)\n"
        f"    return total\n"
        for n in range(12)
    )
    return f"import os\nimport json\nfrom pkg import mod_{(index + 1) % 300}\n{body}"


@pytest.fixture()
def busy_repo(tmp_path: Path, symphony_env: Path, write_config: Any) -> GitRepo:
    """Enough Python over eight days that the run's steps take seconds, so a signal lands inside one."""
    repo = GitRepo(tmp_path / "busy")
    repo.write("pkg/__init__.py", "")
    for day in range(8):
        for index in range(300) if day == 0 else range(day * 20, day * 20 + 40):
            repo.write(f"pkg/mod_{index}.py", _module(index, day))
        repo.commit(f"day {day}", when=f"2024-06-0{day + 1}T10:00:00+00:00")
    write_config({"name": "busy", "path": str(repo.root)}, start_date="2024-05-01")
    return repo


def _interrupt_mid_step(send: str) -> tuple[int, str, float]:
    """Start ``symphony run`` over the range, send the signal when a step after the first has started,
    and return (status, everything it printed, seconds from the signal to its exit)."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "symphony_assets.cli", "run", "--from", DAYS[0], "--to", DAYS[1],
         "--progress", "plain"],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: the "terminal" Ctrl-C goes to, not pytest's
    )  # fmt: skip
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if STEP_STARTED.match(line):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(timeout=300), "no step after the first started:\n" + "".join(lines)
        time.sleep(0.5)  # the progress line trails the step's start: be inside its compute
        sent = time.monotonic()
        if send == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole foreground group
        else:
            os.kill(proc.pid, signal.SIGTERM)  # what `kill PID` or a supervisor does
        status = proc.wait(timeout=180)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        reader.join(timeout=30)
    return status, "".join(lines), took


@pytest.mark.parametrize("send", ["ctrl-c", "sigterm"])
def test_a_signal_stops_the_run_instead_of_retrying_the_step(busy_repo: GitRepo, send: str) -> None:
    status, out, took = _interrupt_mid_step(send)
    assert status == 130, out
    assert "interrupted (Ctrl-C or SIGTERM)" in out, out
    assert "will retry" not in out and "restarted" not in out, out  # the step was not run again
    assert "(fleet): run" not in out, out  # no later phase started
    done = re.search(r"busy\s+\S+\s+\d+/\d+ days\s+steps (\d+)/(\d+)", out)
    assert done is None or done.group(1) != done.group(2), out  # the run did not go on to its end
    assert took < 60, f"{took:.0f} s from the signal to the exit"


def test_each_asset_links_to_its_own_function_not_to_the_guard() -> None:
    """The guard wraps the compute of the snapshot assets; the UI's code link must still name the file
    and line of the asset's own function (Dagster's helper would name the wrapper's file)."""

    specs = [
        s for s in defs().resolve_all_asset_specs() if s.key.path[-1] != "gpu_samples"
    ]  # an external asset
    assert len(specs) > 20
    for spec in specs:
        links = spec.metadata["dagster/code_references"].code_references
        assert len(links) == 1 and isinstance(links[0], dg.LocalFileCodeReference), spec.key
        path, line = Path(links[0].file_path), links[0].line_number
        assert path.name != "interrupts.py" and "defs" in path.parts, (spec.key, path)
        source = path.read_text(encoding="utf-8").splitlines()
        # The line of the decorator or the def: the function follows within its decorator's lines.
        assert any(row.startswith("def ") for row in source[line - 1 : line + 40]), (spec.key, path, line)


def test_an_interrupt_stops_its_own_run_only(tmp_path: Path) -> None:
    """Interrupted in one run, a guarded step fails without a retry and the run's later steps refuse to
    start; the next run in the same process (a Celery worker's child runs steps of many) runs as usual."""

    retry = dg.RetryPolicy(max_retries=2, delay=0)
    hits = {"later": 0}

    @dg.asset(retry_policy=retry)
    @interrupts.stops_on_interrupt
    def interrupted_step(context) -> int:
        raise KeyboardInterrupt  # what Dagster's handler raises when the signal lands in compute

    @dg.asset(retry_policy=retry, deps=[])
    @interrupts.stops_on_interrupt
    def later_step(context) -> int:
        hits["later"] += 1
        return 1

    interrupts.reset()
    try:
        with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
            first = dg.materialize([interrupted_step, later_step], instance=instance, raise_on_error=False)
            assert not first.success
            kinds = [e.event_type for e in first.all_events]
            assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in kinds  # not retried
            assert hits["later"] == 0  # the run's later step refused to start
            assert interrupts.interrupted()

            second = dg.materialize([later_step], instance=instance)  # another run, same process
            assert second.success and hits["later"] == 1
    finally:
        interrupts.reset()
