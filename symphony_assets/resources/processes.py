"""Processes and temp files left behind: find long-running matches, stop them, list stale files.

The side effects behind ``stale_processes`` (psutil, signals, the file system); the asset decides
whether to act.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import psutil

from symphony_assets.resources.quarantine import Candidate


def find_stale_processes(patterns: list[str], min_age_hours: float, now: float) -> list[dict[str, Any]]:
    """Processes whose command line matches a pattern and that have run longer than the threshold."""
    compiled = [(p, re.compile(p)) for p in patterns]
    me = os.getpid()
    ancestors = {p.pid for p in psutil.Process(me).parents()}
    out = []
    for proc in psutil.process_iter(["pid", "cmdline", "create_time", "memory_info"]):
        info = proc.info
        if info["pid"] == me or info["pid"] in ancestors or not info.get("cmdline"):
            continue
        cmdline = " ".join(info["cmdline"])
        hit = next((p for p, rx in compiled if rx.search(cmdline)), None)
        if hit is None:
            continue
        age = (now - float(info["create_time"] or now)) / 3600
        if age < min_age_hours:
            continue
        mem = info.get("memory_info")
        out.append({"proc": proc, "pid": info["pid"], "target": cmdline, "pattern": hit, "age_hours": age,
                    "size_bytes": int(mem.rss) if mem else None})  # fmt: skip
    return out


def stop_processes(found: list[dict[str, Any]], grace_s: float) -> dict[int, tuple[str, str, str]]:
    """SIGTERM all, wait up to the grace period, SIGKILL the survivors: pid -> (action, state, message)."""
    results: dict[int, tuple[str, str, str]] = {}
    procs = []
    for item in found:
        proc: psutil.Process = item["proc"]
        try:
            proc.send_signal(signal.SIGTERM)
            procs.append(proc)
        except psutil.NoSuchProcess:
            results[item["pid"]] = ("gone", "done", "exited before SIGTERM")
        except psutil.AccessDenied as exc:
            results[item["pid"]] = ("refuse", "failed", f"no permission to signal: {exc}")
    gone, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in gone:
        results[proc.pid] = ("terminated", "done", "stopped after SIGTERM")
    for proc in alive:
        try:
            proc.kill()
            proc.wait(timeout=5)
            results[proc.pid] = ("killed", "done", f"SIGKILL after {grace_s:g}s grace")
        except psutil.NoSuchProcess:
            results[proc.pid] = ("terminated", "done", "stopped after SIGTERM")
        except (psutil.AccessDenied, psutil.TimeoutExpired) as exc:
            results[proc.pid] = ("killed", "failed", f"SIGKILL did not stop it: {exc}")
    return results


def stale_temp_files(folder: Path, min_age_hours: float, now: float) -> list[Candidate]:
    out: list[Candidate] = []
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            full = Path(dirpath) / name
            try:
                st = os.lstat(full)
            except OSError:
                continue
            age = (now - st.st_mtime) / 3600
            if age >= min_age_hours:
                rel = full.relative_to(folder).as_posix()
                out.append(Candidate(rel, "stale_temp_file", f"{age:.1f} h old", st.st_size, st.st_mtime))
    return out
