"""Benchmark: every snapshot asset on a repository shaped like our users' code (issue 11's targets).

Usage::

    .venv/bin/python benchmarks/bench_real.py [--files 2000] [--days 61] [--seed 11] [--repo PATH]
                                              [--keep DIR] [--wily] [--wily-revisions 90]
    .venv/bin/python benchmarks/bench_real.py --files 300 --days 5      # smoke run: 3-7 min on 2 shared cores

Builds (or takes with ``--repo``) a git repository like the one issue 11 was measured on
(``benchmarks/_realrepo.py``: >= 2,000 Python files of which ~25% do not parse, 200 KB - 2 MB JSON and
YAML reports, requirements that disagree, odd names, ``--days`` days of churn), then measures side by
side, each as its own process as a user would run it:

(a) ``radon cc -j`` over the working tree (the venv's radon);
(b) a COLD ``symphony run --date LAST``: every snapshot asset for the last day, fresh ``SYMPHONY_HOME``,
    fresh embedded PostgreSQL, empty blob cache;
(c) the same command again, WARM (no blob changed; the embedded server left running, as ``symphony``
    leaves it);
(d) ``symphony run --from FIRST --to LAST``: the ``--days``-day range as ONE run (a single-run
    backfill), cold (fresh home and server again), with its peak memory;
(e) with ``--wily``: ``wily build -n N -o cyclomatic`` (complexity only) on a clone of the repository.
    wily 1.25 pins radon < 5.2 while we pin radon 6.0.1, so it is not in our venv: install it into a
    throwaway one (``python3.11 -m venv /tmp/wily-venv && /tmp/wily-venv/bin/pip install wily==1.25``)
    and pass ``--wily-bin /tmp/wily-venv/bin/wily`` (the default when that file exists).

Wall time, and CPU time (user + system) of everything the command started, because the machine is
shared: this script makes itself a child subreaper, so the Dagster forkserver and the blob pool's workers,
orphaned when ``symphony`` exits, are reaped here and their CPU counted. The embedded PostgreSQL's CPU
(postmaster and its backends, read from ``/proc``) is shown apart. Peak RSS: the largest single process
(``wait4``'s ``ru_maxrss``, what ``/usr/bin/time -v`` reports) and the largest sum over the command's
process tree (sampled every 0.25 s; PostgreSQL not included).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import build_real_repo, last_commit_day  # noqa: E402

BIN = Path(sys.executable).parent
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Measure:
    label: str
    wall: float
    cpu: float  # the command's process tree (PostgreSQL not included)
    pg_cpu: float  # the embedded PostgreSQL, over the same span
    max_rss_mb: float  # the largest single process
    tree_rss_mb: float  # the largest sampled sum over the command's process tree
    rc: int


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _postmaster(home: Path | None) -> int | None:
    """The pid of the embedded server of ``home`` (first line of its ``postmaster.pid``), if running.

    Read here rather than through ``symphony_assets``: importing the package would grow this process,
    and a child's ``ru_maxrss`` starts at its parent's RSS (Linux keeps it across fork + exec)."""
    if home is None:
        return None
    try:
        first = (home / "pg" / "postmaster.pid").read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    pid = int(first) if first.isdigit() else None
    return pid if pid is not None and psutil.pid_exists(pid) else None


def _postgres_cpu(home: Path | None) -> float:
    """CPU seconds of the embedded server so far: the postmaster, the backends it reaped, live ones."""
    pid = _postmaster(home)
    if pid is None:
        return 0.0
    try:
        master = psutil.Process(pid)
        t = master.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in master.children(recursive=True):
            with _gone_ok():
                c = child.cpu_times()
                total += c.user + c.system
        return total
    except psutil.Error:
        return 0.0


class _gone_ok:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, psutil.Error)


def _is_postgres(proc: psutil.Process) -> bool:
    with _gone_ok():
        return proc.name() in ("postgres", "postmaster", "pg_ctl")
    return True


def _reap_orphans(timeout_s: float = 30.0) -> float:
    """Wait for what the command left behind (reparented to us: forkserver, pool workers, resource
    tracker), reaping each; returns the largest ``ru_maxrss`` seen (MB). PostgreSQL is left running."""
    peak = 0.0
    deadline = time.monotonic() + timeout_s
    while True:
        left = [p for p in psutil.Process().children() if not _is_postgres(p)]
        if not left:
            return peak
        for proc in left:
            try:
                pid, _status, usage = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if pid:
                peak = max(peak, usage.ru_maxrss / 1024)
        if time.monotonic() > deadline:
            for proc in left:
                with _gone_ok():
                    proc.kill()
            deadline = time.monotonic() + 10
        time.sleep(0.1)


def measure(
    label: str, cmd: list[str], env: dict[str, str], log: Path, pg_home: Path | None = None
) -> Measure:
    """Run ``cmd`` to its end and everything it started; wall, CPU, PostgreSQL CPU and peak RSS."""
    before = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
    pg_before = _postgres_cpu(pg_home)
    tree_peak = [0.0]
    started = time.perf_counter()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            root = psutil.Process(proc.pid)
            while not done.is_set():
                with _gone_ok():
                    procs = [root, *root.children(recursive=True)]
                    rss = 0
                    for p in procs:
                        if not _is_postgres(p):
                            with _gone_ok():
                                rss += p.memory_info().rss
                    tree_peak[0] = max(tree_peak[0], rss / 2**20)
                done.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    peak = max(usage.ru_maxrss / 1024, _reap_orphans())
    cpu = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - before
    pg = _postgres_cpu(pg_home) - pg_before
    rc = os.waitstatus_to_exitcode(status)
    print(f"  {label}: {wall:.1f} s wall, {cpu:.1f} s CPU (+ PostgreSQL {pg:.1f} s), rc {rc}", flush=True)
    return Measure(label, wall, cpu, pg, peak, tree_peak[0], rc)


def stop_postgres(home: Path) -> None:
    """Fast shutdown (SIGINT, as ``symphony pg stop`` does) of the server this script's runs started;
    it is our child (reparented once ``pg_ctl`` exited), so we reap it here."""
    pid = _postmaster(home)
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)
    with _gone_ok():
        psutil.Process(pid).wait(60)


def radon_errors(path: Path) -> tuple[int, int]:
    """(files radon scored, files it could not parse) from its JSON output."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        return (0, 0)
    errors = sum(1 for v in data.values() if isinstance(v, dict) and "error" in v)
    return (len(data), errors)


def fmt_ratio(num: float, den: float) -> str:
    return f"{num / den:.2f}x" if den > 0 else "-"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=2000, help="Python modules in the generated repository")
    parser.add_argument("--days", type=int, default=61, help="days of history (and of the backfill)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repo", type=Path, default=None, help="benchmark this repository instead")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--no-backfill", action="store_true", help="skip (d)")
    parser.add_argument("--wily", action="store_true", help="also run (e) wily build")
    parser.add_argument("--wily-revisions", type=int, default=90)
    default_wily = "/tmp/wily-venv/bin/wily" if Path("/tmp/wily-venv/bin/wily").exists() else "wily"
    parser.add_argument("--wily-bin", default=default_wily)
    args = parser.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("warning: could not become a child subreaper; CPU of orphaned workers is not counted")

    work = (args.keep or Path(tempfile.mkdtemp(prefix="bench-real-"))).absolute()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "runs.log"
    try:
        repo = args.repo.absolute() if args.repo else work / "repo"
        end = dt.date(2026, 10, 31)
        if args.repo is None and not repo.exists():
            t = time.perf_counter()
            shape = build_real_repo(repo, args.files, args.days, end, args.seed)
            print(f"repository built in {time.perf_counter() - t:.0f} s at {repo}:\n  {shape}", flush=True)
        else:
            end = last_commit_day(repo)
            print(f"repository {repo}, last commit day {end}")
        first = end - dt.timedelta(days=args.days - 1)
        config = work / "symphony.yaml"
        config.write_text(
            f"start_date: '{first - dt.timedelta(days=5)}'\ncodebases:\n  - name: real\n    path: {repo}\n",
            encoding="utf-8",
        )
        xdg = work / "xdg"
        xdg.mkdir(exist_ok=True, mode=0o700)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SYMPHONY_", "DAGSTER_"))}
        base.update({"SYMPHONY_CONFIG": str(config), "XDG_RUNTIME_DIR": str(xdg), "PYTHONWARNINGS": "ignore"})
        symphony = str(BIN / "symphony")
        results: list[Measure] = []

        radon_out = work / "radon.json"
        with radon_out.open("wb"):
            pass
        radon = ["sh", "-c", f'exec "$0" cc -j "$1" > "{radon_out}"', str(BIN / "radon"), str(repo)]
        m = measure("(a) radon cc", radon, base, log)
        results.append(m)
        scored, errors = radon_errors(radon_out)
        print(f"     radon: {scored} files, {errors} it could not parse", flush=True)

        home = work / "home-snapshot"
        env = {**base, "SYMPHONY_HOME": str(home)}
        run_day = [symphony, "run", "--date", str(end), "--progress", "plain"]
        results.append(measure("(b) symphony run, cold", run_day, env, log, pg_home=home))
        results.append(measure("(c) symphony run, warm", run_day, env, log, pg_home=home))
        stop_postgres(home)

        if not args.no_backfill:
            home = work / "home-backfill"
            env = {**base, "SYMPHONY_HOME": str(home)}
            cmd = [symphony, "run", "--from", str(first), "--to", str(end), "--progress", "plain"]
            results.append(
                measure(f"(d) {args.days}-day single-run backfill, cold", cmd, env, log, pg_home=home)
            )
            stop_postgres(home)

        if args.wily:
            print_table(results, args)  # the figures so far, in case wily is stopped
            clone = work / "wily-repo"
            shutil.rmtree(clone, ignore_errors=True)
            subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
            revisions = str(args.wily_revisions)
            cmd = [args.wily_bin, "-p", str(clone), "build", "-n", revisions, "-o", "cyclomatic", str(clone)]
            results.append(
                measure(f"(e) wily build -n {args.wily_revisions}", cmd, {**base, "HOME": str(work)}, log)
            )

        print_table(results, args)
        failed = [m.label for m in results if m.rc != 0 and not m.label.startswith("(a)")]
        if failed:
            print(f"FAILED (non-zero exit): {failed}; see {log}")
            return 1
        return 0
    finally:
        for name in ("home-snapshot", "home-backfill"):
            if (work / name / "pg").exists():
                try:
                    stop_postgres(work / name)
                except (OSError, psutil.Error) as exc:
                    print(f"could not stop the server of {name}: {exc}")
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work} (log: {log})")


def print_table(results: list[Measure], args: argparse.Namespace) -> None:
    def row(*cells: object) -> None:
        print("| " + " | ".join(str(c) for c in cells) + " |")

    print()
    row("run", "wall (s)", "CPU (s)", "PostgreSQL CPU (s)", "peak RSS, largest process (MB)",
        "peak RSS, process tree (MB)", "exit")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m in results:
        row(m.label, f"{m.wall:.1f}", f"{m.cpu:.1f}", f"{m.pg_cpu:.1f}", f"{m.max_rss_mb:.0f}",
            f"{m.tree_rss_mb:.0f}", m.rc)  # fmt: skip
    print()
    row("target", "wall", "CPU (tree + PostgreSQL)", "met?")
    print("|---|---:|---:|---|")
    by = {m.label[:3]: m for m in results}
    a, b, c, d, e = (by.get(k) for k in ("(a)", "(b)", "(c)", "(d)", "(e)"))

    def both(m: Measure) -> float:
        return m.cpu + m.pg_cpu

    def verdict(ok: bool, on: str = "wall") -> str:
        return f"{'yes' if ok else 'no'} ({on})"

    if a and b:
        row("cold snapshot <= 2x radon cc", fmt_ratio(b.wall, a.wall), fmt_ratio(both(b), a.cpu),
            verdict(b.wall <= 2 * a.wall))  # fmt: skip
    if c:
        row("warm snapshot <= 10 s", f"{c.wall:.1f} s", f"{both(c):.1f} s", verdict(c.wall <= 10))
    if b and d:
        row(f"{args.days}-day backfill <= 2x cold snapshot", fmt_ratio(d.wall, b.wall),
            fmt_ratio(both(d), both(b)), verdict(d.wall <= 2 * b.wall))  # fmt: skip
    if d and e:
        row("backfill >= 5x faster than wily", fmt_ratio(e.wall, d.wall), fmt_ratio(e.cpu, both(d)),
            verdict(e.wall >= 5 * d.wall))  # fmt: skip
    if d:
        largest, tree = f"{d.max_rss_mb:.0f} MB largest process", f"{d.tree_rss_mb:.0f} MB tree"
        row("backfill peak RSS < 1 GB", largest, tree, verdict(d.max_rss_mb < 1024, "largest process"))


if __name__ == "__main__":
    sys.exit(main())
