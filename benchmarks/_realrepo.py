"""A git repository shaped like our users' code (issue 11), for ``bench_real.py``.

Built on the generators of ``bench_history.py`` (modules, Python 2 files, churn), plus what real
codebases have and the synthetic benchmarks lacked:

- about a quarter of the Python files do not parse: Python 2 ``print`` statements, unclosed brackets,
  git merge markers left behind, tabs mixed with spaces;
- large generated reports: JSON and YAML files of 200 KB - 2 MB, rewritten on most working days;
- requirements files that disagree (two machines, a dev file, ``setup.py``), bumped now and then;
- names with odd bytes (non-UTF-8, spaces, a tab, a leading dash), binary files;
- agents that bind ZMQ ports, and a startup configuration that lists them (a few ports shared);
- days of commits with churn of tens of files a day: edits, new modules, files broken by a bad merge
  and fixed again, renames of files and of whole packages, deletions.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_history import (
    NOUNS,
    VERBS,
    WORDS,
    RepoState,
    _git,
    initial_files,
    mutate,
    python_module,
    write_tree,
)

#: Share of the Python files made unparseable in the first commit.
BROKEN_SHARE = 0.25
#: Large report files: (path, kind, size in bytes).
REPORTS: tuple[tuple[str, str, int], ...] = (
    ("reports/pylint_report.json", "json", 1_500_000),
    ("reports/coverage.json", "json", 800_000),
    ("reports/metrics_history.json", "json", 2_000_000),
    ("reports/bandit.json", "json", 250_000),
    ("reports/test_results.yaml", "yaml", 400_000),
    ("reports/agent_status.yaml", "yaml", 220_000),
)
N_AGENTS = 40


# ------------------------------------------------------------------------------------------- breakage


def break_python(rng: random.Random, text: str, tag: int) -> str:
    """``text`` made unparseable in one of the ways seen in real repositories."""
    lines = text.split("\n")
    kind = rng.randrange(4)
    body = [i for i, ln in enumerate(lines) if ln.startswith("    ") and not ln.startswith("     ")]
    if kind == 0 and body:  # a Python 2 print statement inside a function
        at = rng.choice(body)
        lines.insert(at, f'    print "debug {tag}:", {rng.choice(NOUNS)}')
    elif kind == 1:  # an unclosed bracket at the end of the file
        lines += [f"SETTINGS_{tag} = dict(", f'    name="{rng.choice(WORDS)}",', f"    level={tag % 9},", ""]
    elif kind == 2 and len(lines) > 12:  # a merge conflict committed as is
        at = rng.randrange(4, len(lines) - 6)
        ours = lines[at : at + 3]
        theirs = [ln.replace("out", "result") for ln in ours]
        lines[at : at + 3] = ["<<<<<<< HEAD", *ours, "=======", *theirs, f">>>>>>> feature/{tag}"]
    else:  # one line indented with a tab among lines indented with spaces
        pairs = [i for i in body if i > 0 and lines[i - 1].startswith("    ")]
        if not pairs:
            return text + f'\nprint "legacy {tag}"\n'
        at = rng.choice(pairs)
        lines[at] = "\t" + lines[at][4:]
    return "\n".join(lines)


def parses(text: str | bytes) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


# ------------------------------------------------------------------------------------------- reports


def json_report(rng: random.Random, size: int, day: int) -> str:
    """A lint/coverage-like report, pretty-printed, about ``size`` bytes."""
    items: list[dict[str, Any]] = []
    used = 0
    while used < size:
        package = f"{rng.choice(WORDS)}_{rng.randrange(80)}"
        item = {
            "path": f"src/app/{package}/{rng.choice(VERBS)}_{rng.randrange(2000)}.py",
            "line": rng.randrange(1, 400),
            "column": rng.randrange(0, 80),
            "symbol": rng.choice(["unused-import", "line-too-long", "broad-except", "invalid-name"]),
            "message": f"{rng.choice(VERBS)} {rng.choice(NOUNS)} {rng.randrange(10**6)}",
            "score": round(rng.random() * 10, 3),
            "day": day,
        }
        items.append(item)
        used += 220
    return json.dumps({"generated": day, "items": items}, indent=2) + "\n"


def yaml_report(rng: random.Random, size: int, day: int) -> str:
    """A test-results/status-like YAML report, about ``size`` bytes."""
    out = [f"generated: {day}", "results:"]
    used = 0
    while used < size:
        name = f"test_{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{rng.randrange(10**5)}"
        block = (
            f"  - name: {name}\n    status: {rng.choice(['passed', 'passed', 'failed', 'skipped'])}\n"
            f"    duration: {rng.random() * 3:.3f}\n    host: machine-{rng.randrange(2)}\n"
            f"    tags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}]"
        )
        out.append(block)
        used += len(block) + 1
    return "\n".join(out) + "\n"


def report(rng: random.Random, kind: str, size: int, day: int) -> str:
    return json_report(rng, size, day) if kind == "json" else yaml_report(rng, size, day)


# ------------------------------------------------------------------------------ requirements, agents

PINS = {
    "numpy": ["1.24.0", "1.26.4", "2.0.1"],
    "pyzmq": ["25.1.2", "26.0.3"],
    "torch": ["2.1.0", "2.3.1"],
    "requests": ["2.31.0", "2.32.3"],
    "pyyaml": ["6.0", "6.0.1"],
    "pandas": ["2.1.4", "2.2.2"],
}


def requirements(rng: random.Random) -> dict[str, str]:
    """Four declarations of the dependencies that disagree with one another."""

    def pick() -> dict[str, str]:
        return {name: rng.choice(versions) for name, versions in PINS.items()}

    a, b, dev = pick(), pick(), pick()
    return {
        "requirements.txt": "".join(f"{n}=={v}\n" for n, v in a.items()),
        "machine_b/requirements.txt": "".join(f"{n}>={v}\n" for n, v in b.items()) + "flask\n",
        "requirements-dev.txt": "-r requirements.txt\npytest==8.2.0\n" + f"numpy=={dev['numpy']}\n",
        "setup.py": (
            "from setuptools import setup\n\nsetup(\n    name='agents',\n    install_requires=[\n"
            + "".join(f"        '{n}~={v}',\n" for n, v in b.items())
            + "    ],\n)\n"
        ),
    }


def agent_module(rng: random.Random, index: int, port: int) -> str:
    base = python_module(rng, 20_000 + index)
    return base + (
        "\n\nimport zmq\n\n"
        f"PORT = {port}\n\n\n"
        "def serve():\n"
        "    context = zmq.Context()\n"
        "    socket = context.socket(zmq.REP)\n"
        '    socket.bind("tcp://*:%d" % PORT)\n'
        "    while True:\n"
        "        message = socket.recv()\n"
        "        socket.send(message)\n"
    )


def agents_config(ports: dict[str, int]) -> str:
    lines = ["agents:"]
    for name, port in sorted(ports.items()):
        lines += [f"  - name: {name}", f"    script_path: agents/{name}.py", f"    port: {port}",
                  "    host: 0.0.0.0"]  # fmt: skip
    lines += ["  - name: ghost_agent", "    script_path: agents/ghost_agent.py", "    port: 5999"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- the repo


def odd_names(rng: random.Random) -> dict[str, bytes]:
    """Files whose names carry odd bytes, and binary files."""
    latin1 = "# -*- coding: latin-1 -*-\n# caf\xe9 cr\xe8me\nNAME = 'caf\xe9'\n".encode("latin-1")
    return {
        os.fsdecode(b"src/app/caf\xe9_latin1.py"): latin1,  # a name that is not UTF-8
        "src/app/naïve_module.py": python_module(rng, 30_001).encode(),
        "docs/notes with spaces.md": b"# Notes\n\nSee src/app/util.py\n",
        "src/app/tab\tin name.py": b"X = 1\n",
        "data/-leading-dash.txt": b"x\n",
        "assets/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(4000)),
        "data/model.pkl": b"\x80\x04\x95" + bytes(rng.randrange(256) for _ in range(20_000)),
    }


class RealRepo:
    """The evolving content: Python and text in ``state`` (``bench_history``'s), bytes in ``raw``."""

    def __init__(self, rng: random.Random, n_files: int) -> None:
        self.rng = rng
        self.state: RepoState = initial_files(rng, n_files)
        self.raw: dict[str, bytes] = odd_names(rng)
        self.counter = [0]
        self.ports = {
            f"{rng.choice(WORDS)}_{i}_agent": 5550 + rng.randrange(N_AGENTS - 4) for i in range(N_AGENTS)
        }
        for i, (name, port) in enumerate(sorted(self.ports.items())):
            self.state.files[f"agents/{name}.py"] = agent_module(rng, i, port)
        self.state.files["config/agents.yaml"] = agents_config(self.ports)
        self.state.files.update(requirements(rng))
        for path, kind, size in REPORTS:
            self.state.files[path] = report(rng, kind, size, 0)
        py = sorted(p for p in self.state.files if p.endswith(".py"))
        for path in rng.sample(py, k=int(len(py) * BROKEN_SHARE)):
            self.state.files[path] = break_python(rng, self.state.files[path], self.next())

    def next(self) -> int:
        self.counter[0] += 1
        return self.counter[0]

    def files(self) -> dict[str, str | bytes]:
        return {**self.state.files, **self.raw}

    def work_day(self, day_index: int) -> None:
        """One commit's worth of churn."""
        rng, files = self.rng, self.state.files
        mutate(rng, self.state, max(1, int(len(files) * rng.uniform(0.008, 0.02))), self.counter)
        py = sorted(p for p in files if p.endswith(".py"))
        for _ in range(rng.randrange(3)):  # a bad merge breaks a file; someone fixes another
            path = rng.choice(py)
            files[path] = break_python(rng, files[path], self.next())
        for _ in range(rng.randrange(3)):
            path = rng.choice(py)
            if not parses(files[path]):
                files[path] = python_module(rng, self.next())
        for path, kind, size in rng.sample(REPORTS, k=rng.randrange(3)):  # reports regenerated
            files[path] = report(rng, kind, int(size * rng.uniform(0.9, 1.1)), day_index)
        if rng.random() < 0.1:  # a dependency bumped on one machine
            files.update({k: v for k, v in requirements(rng).items() if rng.random() < 0.5})
        if rng.random() < 0.08:  # housekeeping: a few files deleted
            for path in rng.sample(py, k=min(len(py), rng.randrange(3, 10))):
                files.pop(path, None)

    def rename_package(self) -> None:
        """A whole package moves (``git mv src/app/x src/app/x_v2``)."""
        packages = sorted(
            {p.rsplit("/", 1)[0] for p in self.state.files if p.startswith("src/app/") and p.count("/") == 3}
        )
        if not packages:
            return
        old = self.rng.choice(packages)
        new = f"{old}_v{self.next()}"
        for path in [p for p in self.state.files if p.startswith(old + "/")]:
            self.state.files[new + path[len(old) :]] = self.state.files.pop(path)


def build_real_repo(root: Path, n_files: int, days: int, end: dt.date, seed: int) -> dict[str, Any]:
    """Commit the history (one initial import the day before the first day, then ``days`` days of
    work ending on ``end``); returns a description of its shape."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "dev@example.com")
    _git(root, "config", "user.name", "Dev")
    _git(root, "config", "core.quotepath", "off")
    repo = RealRepo(rng, n_files)
    start = end - dt.timedelta(days=days - 1)
    previous: dict[str, str | bytes] = {}
    commits = 0
    changed: list[int] = []
    renames = {max(1, days // 3), max(2, 3 * days // 4)}

    def commit(when: dt.datetime, message: str) -> int:
        nonlocal previous, commits
        now = repo.files()
        n = sum(1 for p, t in now.items() if previous.get(p) != t) + len(set(previous) - set(now))
        write_tree(root, now, previous)
        previous = now
        stamp = when.isoformat()
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", message, env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        commits += 1
        return n

    commit(dt.datetime.combine(start - dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC), "initial import")
    for d in range(days):
        day = start + dt.timedelta(days=d)
        if rng.random() < 0.12:  # a quiet day: no commit
            changed.append(0)
            continue
        before = dict(repo.files())
        n_commits = rng.randint(1, 4)
        for c in range(n_commits):
            repo.work_day(d + 1)
            if d in renames and c == 0:
                repo.rename_package()
            commit(dt.datetime.combine(day, dt.time(9 + 2 * c), tzinfo=dt.UTC), f"work on {day} #{c}")
        now = repo.files()
        changed.append(sum(1 for p, t in now.items() if before.get(p) != t) + len(set(before) - set(now)))
    final = repo.files()
    py = [p for p in final if p.endswith(".py")]
    broken = sum(1 for p in py if not parses(final[p]))
    return {
        "commits": commits,
        "files": len(final),
        "python_files": len(py),
        "python_unparseable": broken,
        "bytes": sum(len(t.encode() if isinstance(t, str) else t) for t in final.values()),
        "largest_reports_kb": sorted(
            (len(final[p]) // 1024 for p, _, _ in REPORTS if p in final), reverse=True
        ),
        "days": days,
        "days_with_commits": sum(1 for n in changed if n),
        "files_changed_per_active_day": round(sum(changed) / max(1, sum(1 for n in changed if n))),
        "first_day": str(start),
        "last_day": str(end),
    }


def given_or_built(repo: Path | None, n_files: int, prefix: str) -> Path:
    """``repo`` when given, else a fresh two-day real-shaped repository of ``n_files`` Python files in a
    temporary folder (seed 11, last day 2026-10-31): what the one-snapshot benchmarks measure."""
    if repo is not None:
        return repo
    built = Path(tempfile.mkdtemp(prefix=prefix)) / "repo"
    build_real_repo(built, n_files, 2, dt.date(2026, 10, 31), seed=11)
    return built


def last_commit_day(repo: Path) -> dt.date:
    out = subprocess.run(
        ["git", "log", "-1", "--format=%cI"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    return dt.datetime.fromisoformat(out).astimezone(dt.UTC).date()


def range_arguments(doc: str, prefix: str) -> tuple[argparse.Namespace, Path, list[dt.date]]:
    """The options every range benchmark takes (``--repo``, ``--files``, ``--days``, ``--rounds``), the
    repository (built with ``--days`` days of churn when none is given) and its last ``--days`` days."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="an existing repository (default: build one)")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    repo = args.repo
    if repo is None:
        repo = Path(tempfile.mkdtemp(prefix=prefix)) / "repo"
        build_real_repo(repo, args.files, args.days, dt.date(2026, 10, 31), seed=11)
    end = last_commit_day(repo)
    return args, repo, [end - dt.timedelta(days=args.days - 1 - i) for i in range(args.days)]


def best_of_rounds(
    rounds: int, sides: dict[str, Callable[[], list[Any]]]
) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """Each side run ``rounds`` times, alternating so both see the same machine: its best CPU time
    (``time.process_time``) and its last results."""
    best = dict.fromkeys(sides, float("inf"))
    found: dict[str, list[Any]] = {}
    for _ in range(rounds):
        for name, run in sides.items():
            start = time.process_time()
            found[name] = run()
            best[name] = min(best[name], time.process_time() - start)
    return best, found


def side_by_side(
    title: str, rounds: int, best: dict[str, float], found: dict[str, list[Any]], keys: list[str], note: str
) -> int:
    """Print the two sides' best CPU and their ratio, then compare their results key by key (the
    first side is the baseline); the exit status of :func:`equal_or_listed`."""
    (before, after) = list(best)
    different = [k for k, a, b in zip(keys, found[before], found[after], strict=True) if a != b]
    print(f"| {title} | best CPU of {rounds} rounds (s) |\n|---|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"{best[before] / best[after]:.2f}x less CPU; {note}; results equal on every blob: {not different}")
    return equal_or_listed(different)


def equal_or_listed(different: list[str]) -> int:
    """The benchmark's exit status: 0 when both sides gave equal results, else 1 with the first ones."""
    if different:
        print("different:", *different[:10], sep="\n  ")
        return 1
    return 0


def _git_output(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True).stdout


def range_blobs(
    repo: Path, days: list[dt.date], suffixes: tuple[str, ...]
) -> tuple[list[str], list[tuple[str, str]]]:
    """The first day's blob ids, and every (path, blob id) of the range in prefetch order, for the paths
    ending in one of ``suffixes``."""
    versions: dict[str, list[str]] = {}
    first: list[str] = []
    for index, day in enumerate(days):
        commit = (
            _git_output(repo, "rev-list", "-1", f"--before={day}T23:59:59+00:00", "HEAD").decode().strip()
        )
        if not commit:
            continue
        for record in _git_output(repo, "ls-tree", "-r", "-z", commit).split(b"\0"):
            if not record:
                continue
            meta, path_bytes = record.split(b"\t", 1)
            path = path_bytes.decode("utf-8", "surrogateescape")
            if meta.split()[1] != b"blob" or not path.endswith(suffixes):
                continue
            blob = meta.split()[2].decode()
            seen = versions.setdefault(path, [])
            if blob not in seen:
                seen.append(blob)
            if index == 0:
                first.append(blob)
    ordered = [(path, blob) for path in sorted(versions) for blob in versions[path]]
    return first, ordered


def read_blobs(repo: Path, ids: list[str]) -> dict[str, bytes]:
    out = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=repo, input="".join(f"{i}\n" for i in ids).encode(),
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    blobs, at = {}, 0
    while at < len(out):
        header_end = out.index(b"\n", at)
        blob_id, _, size = out[at:header_end].split()
        start = header_end + 1
        blobs[blob_id.decode()] = out[start : start + int(size)]
        at = start + int(size) + 1
    return blobs
