"""Redis and Celery workers as real processes, for the tests that spread runs over workers.

``redis_url`` (a fixture, registered by ``conftest.py``) starts Debian's ``redis-server`` on 127.0.0.1 and a
free port; :func:`start_workers` starts ``symphony worker`` processes, each with its own name, working
directory and SYMPHONY_HOME (so each keeps its own git mirrors) and a log file, ``worker<i>/worker.log``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The project root, importable by the workers (``symphony_assets.runner.PROJECT_ROOT``, without importing
#: Dagster when conftest loads this plugin).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    """Debian's redis-server on 127.0.0.1 and a free port, no persistence; stopped after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (`make redis` installs it as root with apt)")
    import redis

    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(data), "--protected-mode", "yes", "--loglevel", "notice",
         "--logfile", str(data / "redis.log")],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


@dataclass
class Worker:
    name: str  # Celery's node name, ``w1@host``: what steps record as worker_host
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid  # `symphony worker` execs celery: the same process


def start_workers(tmp_path: Path, count: int) -> list[Worker]:
    """``count`` solo-pool workers (one step at a time each) on the broker in ``SYMPHONY_BROKER_URL``."""
    workers = []
    for i in range(1, count + 1):
        where = tmp_path / f"worker{i}"
        (where / "home").mkdir(parents=True)
        env = {
            **os.environ,
            "SYMPHONY_HOME": str(where / "home"),  # its own mirrors: a worker's only local state
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        log = where / "worker.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "symphony_assets.cli", "worker", "--name", f"w{i}", "--pool", "solo",
                 "--concurrency", "1", "--loglevel", "INFO"],
                cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        workers.append(Worker(f"w{i}@{socket.gethostname()}", proc, log))
    return workers


def wait_ready(broker: str, workers: list[Worker], timeout: float = 90) -> None:
    """Until every worker answers a ping on the broker."""
    from celery import Celery

    names = {w.name for w in workers}
    app = Celery(broker=broker)
    try:
        deadline = time.monotonic() + timeout
        while True:
            replies = app.control.ping(timeout=1.0) or []
            seen = {name for reply in replies for name in reply}
            if names <= seen:
                return
            dead = [w.name for w in workers if w.proc.poll() is not None]
            assert not dead, f"workers exited before they were ready: {dead}"
            late = time.monotonic() > deadline
            assert not late, f"workers not ready after {timeout} s (replied: {sorted(seen)})"
            time.sleep(0.5)
    finally:
        app.close()


def stop_workers(workers: list[Worker]) -> None:
    """Stop every worker still running and print the tail of each log (pytest shows it on failure)."""
    for worker in workers:
        stop(worker.proc)
    for worker in workers:
        text = worker.log.read_text(errors="replace") if worker.log.exists() else "(no log)"
        sys.stderr.write(f"--- worker {worker.name} log (tail) ---\n{text[-3000:]}\n")
