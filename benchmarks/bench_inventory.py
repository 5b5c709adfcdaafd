"""Benchmark: reference counting for the file inventory, the seed's approach vs ours, on one git repo.

Usage::

    .venv/bin/python benchmarks/bench_inventory.py [--files 2000] [--repo PATH] [--keep]

Builds (or takes, with ``--repo``) a git repository and times, in one run:

(a) the seed: one ``git grep -lw <basename>`` subprocess per tracked file;
(b) ours: ``git ls-tree`` + one ``git cat-file --batch`` to read every blob (read time included), then
    :func:`symphony_assets.analysis.references.count_references` over all of them.

Then checks that every file's ``references`` equals the number of *other* tracked files that
``git grep -I -lwF <basename>`` lists (``-I``: binary files are never referrers, by design), and exits
non-zero when any count differs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symphony_assets.analysis.references import ReferenceCount, count_references  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
TIME_BIN = Path("/usr/bin/time")
REGULAR_MODES = ("100644", "100755")

# --------------------------------------------------------------------------------------------------
# A repository that looks real
# --------------------------------------------------------------------------------------------------

WORDS = [
    "utils",
    "helpers",
    "models",
    "views",
    "client",
    "server",
    "config",
    "loader",
    "parser",
    "schema",
    "service",
    "handlers",
    "tasks",
    "metrics",
    "cache",
    "storage",
    "api",
    "core",
    "io",
    "types",
    "errors",
    "constants",
    "validators",
    "serializers",
    "pipeline",
    "scheduler",
    "worker",
    "queue",
    "auth",
    "session",
    "events",
    "hooks",
    "registry",
    "plugins",
    "formats",
    "export",
    "importer",
    "transform",
    "features",
    "train",
    "evaluate",
    "predict",
    "dataset",
    "tokenizer",
    "encoder",
    "decoder",
    "layers",
    "optim",
    "report",
    "render",
    "template",
    "mailer",
    "notify",
    "billing",
    "invoice",
    "account",
    "users",
    "groups",
    "audit",
    "search",
    "index",
]
VERBS = [
    "load",
    "save",
    "build",
    "parse",
    "fetch",
    "push",
    "compute",
    "check",
    "render",
    "send",
    "merge",
    "split",
    "clean",
    "sync",
]
NOUNS = [
    "record",
    "batch",
    "frame",
    "user",
    "item",
    "order",
    "config",
    "report",
    "token",
    "result",
    "entry",
    "table",
    "chunk",
    "page",
]
MAIN_GUARD = 'if __name__ == "__main__":'
#: The generated repository's one commit, in the past so that its day is a history partition.
COMMIT_TIME = "2024-06-01T12:00:00+00:00"


@dataclass
class Module:
    path: str  # repo-relative
    dotted: str  # import path
    name: str  # module name


def _identifier(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"


def _python_module(rng: random.Random, me: Module, others: Sequence[Module], refs: Sequence[str]) -> str:
    """A plausible module: imports of sibling modules, functions, a class, comments naming files."""
    package = me.dotted.rsplit(".", 1)[0]
    lines = [f'"""{me.name.replace("_", " ").capitalize()}: part of {package}."""', ""]
    lines += ["from __future__ import annotations", "", "import logging", "import os"]
    for dep in rng.sample(list(others), k=min(len(others), rng.randint(1, 6))):
        pkg, _, name = dep.dotted.rpartition(".")
        if rng.random() < 0.6:
            lines.append(f"from {pkg} import {name}")
        else:
            lines.append(f"import {dep.dotted} as {name}_mod")
    lines += ["", "logger = logging.getLogger(__name__)", ""]
    for _ in range(rng.randint(2, 9)):
        fn = _identifier(rng)
        arg = rng.choice(NOUNS)
        summary = fn.replace("_", " ").capitalize()
        lines += [
            "",
            f"def {fn}({arg}: dict, *, limit: int = {rng.randint(1, 500)}) -> list:",
            f'    """{summary} for one {arg}; see {rng.choice(refs)}."""',
            "    out = []",
            f"    for key, value in sorted({arg}.items()):",
            "        if len(out) >= limit:",
            "            break",
            f'        out.append((key, value, os.environ.get("{fn.upper()}", "")))',
        ]
        if rng.random() < 0.3:
            lines.append(f"    # Kept in sync with {rng.choice(refs)}; ask before changing.")
        lines += [f'    logger.debug("{fn}: %d entries", len(out))', "    return out"]
    if rng.random() < 0.4:
        cls = "".join(w.capitalize() for w in _identifier(rng).split("_"))
        lines += ["", "", f"class {cls}:", f'    """Holds state for {me.name}."""', ""]
        lines += ["    def __init__(self, path: str) -> None:", "        self.path = path", ""]
        lines += ["    def __repr__(self) -> str:", f'        return f"{cls}({{self.path!r}})"']
    if rng.random() < 0.08:
        lines += ["", "", MAIN_GUARD, f"    print({_identifier(rng)}({{}}))"]
    return "\n".join(lines) + "\n"


def generate_files(n_files: int, seed: int = 7) -> dict[str, bytes]:
    """About ``n_files`` files: packages importing each other, tests, docs, configs, scripts, data,
    logs, backups, a few binaries, with the duplicate basenames (``utils.py``, ``__init__.py``) real
    trees have."""
    rng = random.Random(seed)
    per_pkg = 12
    n_pkgs = max(1, int(n_files * 0.58) // (per_pkg + 1))
    modules: list[Module] = []
    pkg_names: list[str] = []
    for p in range(n_pkgs):
        pkg = f"{rng.choice(WORDS)}_{p}" if rng.random() < 0.5 else f"{rng.choice(WORDS)}{p}"
        pkg_names.append(pkg)
        names = rng.sample(WORDS, k=per_pkg // 2)
        names += [f"{rng.choice(WORDS)}_{_identifier(rng)}" for _ in range(per_pkg // 2)]
        for name in dict.fromkeys(names):
            modules.append(Module(f"src/acme/{pkg}/{name}.py", f"acme.{pkg}.{name}", name))

    configs = ["config/settings.yaml", "config/logging.ini", "pyproject.toml", "setup.cfg", ".env"]
    configs += ["Dockerfile"] + [f"config/{rng.choice(WORDS)}_{i}.yaml" for i in range(int(n_files * 0.04))]
    docs = ["README.md", "CHANGELOG.md", "LICENSE"]
    docs += [f"docs/{rng.choice(WORDS)}_{i}.md" for i in range(int(n_files * 0.06))]
    scripts = [
        f"scripts/{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{i}.{rng.choice(['py', 'sh'])}"
        for i in range(int(n_files * 0.04))
    ]
    data = [
        f"data/{rng.choice(NOUNS)}s_{i}.{rng.choice(['csv', 'json', 'jsonl'])}"
        for i in range(int(n_files * 0.03))
    ]
    refs = [m.path.rsplit("/", 1)[1] for m in modules[:200]]
    refs += [c.rsplit("/", 1)[-1] for c in configs] + [d.rsplit("/", 1)[-1] for d in data]

    files: dict[str, bytes] = {"src/acme/__init__.py": b'"""Acme."""\n__version__ = "1.4.2"\n'}
    for pkg in pkg_names:
        files[f"src/acme/{pkg}/__init__.py"] = f'"""The {pkg} package."""\n'.encode()
    for m in modules:
        others = [o for o in rng.sample(modules, k=min(12, len(modules))) if o is not m]
        files[m.path] = _python_module(rng, m, others, refs).encode()
    for i in range(int(n_files * 0.14)):  # tests import what they cover
        target = rng.choice(modules)
        body = [f"from {target.dotted.rsplit('.', 1)[0]} import {target.name}", "", ""]
        for j in range(rng.randint(2, 6)):
            body += [f"def test_{target.name}_{j}() -> None:", f"    assert {target.name} is not None", ""]
        files[f"tests/{target.dotted.split('.')[1]}/test_{target.name}_{i}.py"] = "\n".join(body).encode()
    files["tests/conftest.py"] = b"import pytest\n"
    for c in configs:
        pairs = "".join(f"{rng.choice(NOUNS)}_{k}: {r}\n" for k, r in enumerate(rng.sample(refs, k=4)))
        files[c] = ("# settings\n" + pairs).encode()
    script_names = [s.rsplit("/", 1)[1] for s in scripts]
    for d in docs:
        text = [f"# {d}", "", "This page explains how the pieces fit together."]
        for r in rng.sample(refs + script_names, k=rng.randint(2, 10)):
            text.append(f"- `{r}`: {rng.choice(VERBS)}s the {rng.choice(NOUNS)} (see also ./{r}).")
        files[d] = ("\n".join(text) + "\n").encode()
    for s in scripts:
        target = rng.choice(modules)
        if s.endswith(".sh"):
            files[s] = f'#!/bin/bash\nset -euo pipefail\npython -m {target.dotted} "$@"\n'.encode()
        else:
            pkg = target.dotted.rsplit(".", 1)[0]
            head = f"#!/usr/bin/env python3\nfrom {pkg} import {target.name}\n\n"
            files[s] = f"{head}{MAIN_GUARD}\n    print({target.name})\n".encode()
    for d in data:
        rows = "".join(f"{i},{rng.choice(NOUNS)},{rng.random():.4f}\n" for i in range(rng.randint(5, 80)))
        files[d] = ("id,kind,score\n" + rows).encode()
    # The clutter the inventory is meant to find: logs, backups, trash, generated drafts.
    for i in range(int(n_files * 0.02)):
        name = rng.choice(modules).path.rsplit("/", 1)[1]
        lines = (f"2024-06-0{k % 9 + 1} INFO {name}: {rng.choice(VERBS)} ok\n" for k in range(40))
        files[f"logs/run_{i}.log"] = "".join(lines).encode()
    for i in range(int(n_files * 0.03)):
        m = rng.choice(modules)
        files[m.path + rng.choice([".bak", ".backup_1753227699", ".orig", "~"])] = files[m.path]
        if i % 5 == 0:
            files[f"_trash_2024_0{i % 9 + 1}/{m.name}.py"] = files[m.path]
    for i in range(int(n_files * 0.01)):
        m = rng.choice(modules)
        files[f"ai_generated_{rng.choice(WORDS)}_{i}.py"] = _python_module(rng, m, modules[:5], refs).encode()
    for i in range(5):
        files[f"assets/img_{i}.png"] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + rng.randbytes(200) + b" utils.py "
    i = 0
    while len(files) < n_files - 2:  # top up with short notes naming a few files
        files[f"notes/note_{i}.txt"] = (" ".join(rng.sample(refs, k=3)) + "\n").encode()
        i += 1
    return files


def build_repo(root: Path, n_files: int) -> None:
    """Write the generated files plus two symlinks, commit them, and pack the objects."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in generate_files(n_files).items():
        full = root / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(content)
    os.symlink("README.md", root / "docs_link.md")
    os.symlink("src/acme", root / "acme")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    ident = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]
    when = {"GIT_AUTHOR_DATE": COMMIT_TIME, "GIT_COMMITTER_DATE": COMMIT_TIME}
    _git(root, *ident, "commit", "-q", "-m", "benchmark repository", env=when)
    _git(root, "repack", "-adq")  # a real repository is mostly packed, not loose objects
    # Files written in the same second as the index are "racily clean": every `git status` would
    # re-hash them all. Not so in a real checkout; refresh the index once, a second later.
    time.sleep(1.1)
    _git(root, "update-index", "-q", "--really-refresh")


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(["git", *args], cwd=root, env=full_env, capture_output=True, check=True).stdout


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


def run_git(args: Sequence[str], cwd: Path, stdin_path: Path | None = None) -> bytes:
    """Run git and return stdout (exit 1 from ``git grep`` means "no match", not an error)."""
    with open(stdin_path or os.devnull, "rb") as stdin:
        out = subprocess.run(["git", *args], cwd=cwd, stdin=stdin, capture_output=True, check=False)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"git {' '.join(args)} failed: {out.stderr.decode(errors='replace')}")
    return out.stdout


def git_peak_rss_kib(args: Sequence[str], cwd: Path, stdin_path: Path | None = None) -> int | None:
    """Peak RSS of one git process, from GNU time (``%M``).

    ``wait4`` or ``RUSAGE_CHILDREN`` on a direct child of this Python process would report at least
    this process's own RSS (Linux keeps ``maxrss`` across fork + exec), so measure through
    ``/usr/bin/time``, whose own small RSS is then the floor.
    """
    if not TIME_BIN.exists():
        return None
    with (
        tempfile.NamedTemporaryFile("r", suffix=".rss") as out,
        open(stdin_path or os.devnull, "rb") as stdin,
    ):
        subprocess.run(
            [str(TIME_BIN), "-f", "%M", "-o", out.name, "git", *args],
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return int(out.read().strip().splitlines()[-1])


def tracked_files(root: Path) -> list[tuple[str, str, str]]:
    """(mode, object id, path) of every tracked entry at HEAD."""
    entries = []
    for rec in _git(root, "ls-tree", "-r", "-z", "--full-tree", "HEAD").split(b"\0"):
        if rec:
            meta, _, path = rec.partition(b"\t")
            mode, _kind, oid = meta.decode().split()
            entries.append((mode, oid, os.fsdecode(path)))
    return entries


def read_blobs(
    root: Path, entries: Sequence[tuple[str, str, str]], tmp: Path
) -> list[tuple[str, bytes | None]]:
    """Every regular file's bytes through one ``git cat-file --batch``; symlinks and submodules: None."""
    ids = tmp / "oids.txt"
    ids.write_text("".join(f"{oid}\n" for mode, oid, _ in entries if mode in REGULAR_MODES))
    buf = run_git(["cat-file", "--batch"], root, stdin_path=ids)
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(buf):
        nl = buf.index(b"\n", pos)
        oid, _kind, size = buf[pos:nl].decode().split()
        end = nl + 1 + int(size)
        blobs[oid] = buf[nl + 1 : end]
        pos = end + 1
    return [(path, blobs[oid] if mode in REGULAR_MODES else None) for mode, oid, path in entries]


def ours(root: Path, tmp: Path) -> dict[str, ReferenceCount]:
    return count_references(read_blobs(root, tracked_files(root), tmp))


def seed_args(path: str) -> list[str]:
    return ["grep", "-lw", "-e", path.rsplit("/", 1)[-1]]


def seed(root: Path, paths: Sequence[str]) -> dict[str, int]:
    """The seed's way: one ``git grep -lw <basename>`` per file (a regex, not a fixed string)."""
    counts: dict[str, int] = {}
    for path in paths:
        listed = {os.fsdecode(p) for p in run_git(seed_args(path), root).splitlines()}
        counts[path] = len(listed - {path})
    return counts


def git_grep_truth(root: Path, paths: Sequence[str], workers: int = 2) -> dict[str, int]:
    """What ``git grep -I -lwF`` says for every path, one subprocess per distinct basename."""
    bases = sorted({p.rsplit("/", 1)[-1] for p in paths})

    def listed(base: str) -> set[str]:
        out = run_git(["grep", "-z", "-I", "-lwF", "-e", base], root)
        return {os.fsdecode(p) for p in out.split(b"\0") if p}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        by_base = dict(zip(bases, pool.map(listed, bases)))
    return {p: len(by_base[p.rsplit("/", 1)[-1]] - {p}) for p in paths}


def spine_inventory(root: Path, day: date, today: date) -> tuple[pd.DataFrame, str | None]:
    """The whole ``file_inventory`` computation of one partition, through the spine's own function:
    snapshot (ls-tree or working-tree walk), reads, one ``git log`` pass, rows, typed DataFrame."""
    from symphony_assets.config import Codebase
    from symphony_assets.defs.inventory.assets import compute_file_inventory
    from symphony_assets.resources.git import take_snapshot

    snapshot = take_snapshot(Codebase(name="bench", path=root), day, today=today)
    df, _metadata = compute_file_inventory(snapshot)
    return df, snapshot.commit


def head_day(root: Path) -> date:
    ts = int(_git(root, "log", "-1", "--format=%ct", "HEAD").decode().strip())
    return datetime.fromtimestamp(ts, tz=UTC).date()


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def self_maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def fmt_mib(kib: float | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def git_version() -> str:
    return _git(Path.cwd(), "--version").decode().split()[-1]


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--files", type=int, default=2000, help="size of the generated repository")
    ap.add_argument("--repo", type=Path, help="benchmark this existing git repository instead")
    ap.add_argument("--keep", action="store_true", help="keep the generated repository and print its path")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of (b), (c) and (d)")
    ap.add_argument(
        "--rss-sample", type=int, default=50, help="how many seed git grep runs to measure RSS of"
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_inventory_"))
    try:
        return run(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Timing:
    """Wall and CPU seconds of repeated runs; CPU counts this process and its waited-for git children."""

    walls: list[float]
    cpus: list[float]

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return min(self.cpus)


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn: Callable[[], T], repeats: int) -> tuple[T, Timing]:
    timing = Timing([], [])
    result: T | None = None
    for _ in range(max(1, repeats)):
        c0, t0 = cpu_seconds(), time.perf_counter()
        result = fn()
        timing.walls.append(time.perf_counter() - t0)
        timing.cpus.append(cpu_seconds() - c0)
    assert result is not None
    return result, timing


def heap_peak(fn: Callable[[], object]) -> int:
    """Peak Python heap of one run, by tracemalloc (a separate, untimed run: tracing slows it down)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(args: argparse.Namespace, tmp: Path) -> int:
    if args.repo:
        root = args.repo.resolve()
    else:
        root = tmp / "repo"
        _, build_s = timed(lambda: build_repo(root, args.files))
        print(f"built {root} in {build_s:.1f}s")
    entries = tracked_files(root)
    paths = [p for _, _, p in entries]
    warm = read_blobs(root, entries, tmp)  # also warms the page cache, for both approaches alike
    size = sum(len(c) for _, c in warm if c is not None)
    del warm
    print(f"repository: {len(paths)} tracked files, {size / 1e6:.1f} MB of blobs, git {git_version()}")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

    # (b) ours.
    rss_before = self_maxrss_kib()
    our_counts, ours_t = measure(lambda: ours(root, tmp), args.repeats)
    rss_after = self_maxrss_kib()
    ours_heap = heap_peak(lambda: ours(root, tmp))
    cat_rss = git_peak_rss_kib(["cat-file", "--batch"], root, stdin_path=tmp / "oids.txt")

    # (c), (d): the spine's whole file_inventory computation for one partition: a history day read
    # from git objects, and today read from the working tree. Dagster is imported before timing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dagster's beta warnings on import are not benchmark output
        importlib.import_module("symphony_assets.defs.inventory.assets")
    hist_day, now_day = head_day(root), datetime.now(UTC).date()
    (hist_df, hist_commit), hist_t = measure(
        lambda: spine_inventory(root, hist_day, hist_day + timedelta(days=1)), args.repeats
    )
    (live_df, _), live_t = measure(lambda: spine_inventory(root, now_day, now_day), args.repeats)
    hist_heap = heap_peak(lambda: spine_inventory(root, hist_day, hist_day + timedelta(days=1)))
    live_heap = heap_peak(lambda: spine_inventory(root, now_day, now_day))
    rss_after_spine = self_maxrss_kib()

    # (a) the seed, once (it is slow), with plain subprocesses; peak RSS from a sample of its greps.
    seed_counts, seed_t = measure(lambda: seed(root, paths), 1)
    step = max(1, len(paths) // max(1, args.rss_sample))
    grep_rss = [git_peak_rss_kib(seed_args(p), root) for p in paths[::step]]
    grep_peak = max((r for r in grep_rss if r is not None), default=None)

    truth, truth_s = timed(lambda: git_grep_truth(root, paths))
    mismatches = [
        (p, our_counts[p].references, truth[p]) for p in paths if our_counts[p].references != truth[p]
    ]
    seed_diff = sum(1 for p in paths if seed_counts[p] != truth[p])
    head = _git(root, "rev-parse", "HEAD").decode().strip()
    spine_refs = dict(zip(hist_df["path"], hist_df["references"]))
    spine_mismatches = [p for p in paths if spine_refs.get(p) != truth[p]] if hist_commit == head else None

    def row(name: str, n: int, t: Timing, memory: str) -> str:
        return (
            f"| {name} | {n} | {t.best:.3f} | {t.median:.3f} | {t.cpu:.3f} | "
            f"{seed_t.best / t.best:.0f}x / {seed_t.cpu / t.cpu:.0f}x | {memory} |"
        )

    print()
    print(
        f"wall best / median of {args.repeats} runs for (b)-(d), 1 run for (a); "
        "CPU = best, this process plus its git children"
    )
    print()
    print(
        "| approach | files | wall best (s) | wall median (s) | CPU (s) "
        "| speed-up vs seed (wall / CPU) | memory |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        row(
            "(a) seed: `git grep -lw <basename>` per file",
            len(paths),
            seed_t,
            f"peak RSS {fmt_mib(grep_peak)} per git grep (max of {len(grep_rss)} sampled), one at a time",
        )
    )
    print(
        row(
            "(b) ours: `ls-tree` + `cat-file --batch` + `count_references`",
            len(paths),
            ours_t,
            f"Python heap peak {ours_heap / 2**20:.1f} MiB; process max RSS {fmt_mib(rss_before)} -> "
            f"{fmt_mib(rss_after)}; git cat-file peak RSS {fmt_mib(cat_rss)}",
        )
    )
    print(
        row(
            f"(c) spine `compute_file_inventory`, history day {hist_day} (git objects)",
            len(hist_df),
            hist_t,
            f"Python heap peak {hist_heap / 2**20:.1f} MiB",
        )
    )
    print(
        row(
            f"(d) spine `compute_file_inventory`, today {now_day} (working tree)",
            len(live_df),
            live_t,
            f"Python heap peak {live_heap / 2**20:.1f} MiB; process max RSS after (c)+(d) "
            f"{fmt_mib(rss_after_spine)} (Dagster imported)",
        )
    )
    print()
    print(
        f"correctness: {len(paths) - len(mismatches)}/{len(paths)} files have `references` equal to the "
        f"number of other files `git grep -I -lwF <basename>` lists (checked in {truth_s:.1f}s); "
        f"the seed's regex `-lw` gives a different count on {seed_diff} files"
    )
    if spine_mismatches is None:
        print(f"spine check skipped: the history snapshot used {hist_commit}, not HEAD {head}")
    else:
        print(
            f"spine (c): {len(paths) - len(spine_mismatches)}/{len(paths)} rows have `references` equal "
            "to git grep's count"
        )
    print(
        f"files referenced at least once: {sum(1 for c in our_counts.values() if c.references)}; "
        f"sum of references {sum(c.references for c in our_counts.values())}; "
        f"sum of module_references {sum(c.module_references for c in our_counts.values())}"
    )
    if args.keep and not args.repo:
        print(f"repository kept at {root}")
    for p, got, want in mismatches[:20]:
        print(f"MISMATCH {p}: ours {got}, git grep {want}", file=sys.stderr)
    for p in (spine_mismatches or [])[:20]:
        print(f"SPINE MISMATCH {p}: spine {spine_refs.get(p)}, git grep {truth[p]}", file=sys.stderr)
    return 1 if mismatches or spine_mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
