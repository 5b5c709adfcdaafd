"""Import graph: ours (extract + index + resolve + cycles) against grimp on the same snapshot.

Usage:
    .venv/bin/python benchmarks/bench_imports.py                 # generated 2,000+ file package tree
    .venv/bin/python benchmarks/bench_imports.py --modules 4000  # bigger
    .venv/bin/python benchmarks/bench_imports.py --root /path/to/parent --package name  # a real tree

Prints the best and median of ``--repeat`` runs for both, their ratio, and the difference between the
two edge sets (module -> module, all import kinds, since grimp keeps TYPE_CHECKING and function-level
imports by default). It also times ``ast.parse`` alone over the same files: the floor for any exact
extraction in CPython, against grimp's whole build. It then times ours again after making 10% of the
files unparseable, which grimp cannot build a graph from at all.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symphony_assets.analysis.imports.cycles import find_cycles
from symphony_assets.analysis.imports.extract import extract_imports
from symphony_assets.analysis.imports.modules import build_module_index
from symphony_assets.analysis.imports.resolve import Edge, resolve_imports
from symphony_assets.analysis.imports.statements import FileImports

FILLER = '''

class Handler{n}:
    """Handles one kind of request; kept realistic in size for the parser."""

    retries = {n}

    def __init__(self, name: str, options: dict | None = None) -> None:
        self.name = name
        self.options = dict(options or {{}})
        self.seen: list[str] = []

    def handle(self, payload: dict) -> dict:
        # normalise the payload before dispatch
        result = {{}}
        for key, value in sorted(payload.items()):
            if isinstance(value, str) and value.strip():
                result[key] = value.strip().lower()
            elif isinstance(value, (int, float)):
                result[key] = value * self.retries
            else:
                result[key] = repr(value)
        self.seen.append(self.name)
        return result


def compute_{n}(values: list[int]) -> int:
    total = 0
    for i, v in enumerate(values):
        if i % 3 == 0:
            total += v
        elif i % 3 == 1:
            total -= v // 2
        else:
            total ^= v
    return total
'''


def generate(root: Path, modules: int, seed: int = 7) -> tuple[str, int]:
    """A package tree ``benchpkg`` with ``modules`` modules in 2 levels of subpackages, some cycles."""
    rng = random.Random(seed)
    per_leaf = 10
    leaves = max(1, modules // per_leaf)
    per_top = 10
    names: list[tuple[int, int, int]] = []
    for leaf in range(leaves):
        for m in range(per_leaf):
            names.append((leaf // per_top, leaf % per_top, m))
    pkg = root / "benchpkg"
    files = 0

    def write(rel: Path, text: str) -> None:
        nonlocal files
        rel.parent.mkdir(parents=True, exist_ok=True)
        rel.write_text(text, encoding="utf-8")
        files += 1

    write(pkg / "__init__.py", '"""Benchmark package."""\nVERSION = "1"\n')
    tops = sorted({s for s, _, _ in names})
    for s in tops:
        write(pkg / f"s{s}" / "__init__.py", f"from benchpkg.s{s}.t0 import m0\nNAME = 's{s}'\n")
        for t in range(per_top):
            if any(n[0] == s and n[1] == t for n in names):
                write(pkg / f"s{s}" / f"t{t}" / "__init__.py", "")
    order = {n: i for i, n in enumerate(names)}
    for name in names:
        s, t, m = name
        lines = ["import os", "import json", "import logging", "from typing import TYPE_CHECKING"]
        # Mostly "downward" imports (to later modules); about 2% point back and close cycles.
        later = [n for n in rng.sample(names, 12) if order[n] > order[name]]
        earlier = [n for n in rng.sample(names, 3) if order[n] < order[name]]
        targets = later[:5] + (earlier[:1] if rng.random() < 0.02 else [])
        for ts, tt, tm in targets:
            style = rng.randrange(7)
            if style == 0:
                lines.append(f"from benchpkg.s{ts}.t{tt} import m{tm}")
            elif style == 1:
                lines.append(f"import benchpkg.s{ts}.t{tt}.m{tm}")
            elif style == 2 and (ts, tt) == (s, t):
                lines.append(f"from . import m{tm}")
            elif style == 3 and ts == s:
                lines.append(f"from ..t{tt} import m{tm}")
            elif style == 4:
                lines.append(f"from benchpkg.s{ts}.t{tt}.m{tm} import compute_{tm}")
            elif style == 5 and ts == s:
                lines.append(f"from ..t{tt}.m{tm} import Handler{tm}")
            else:
                lines.append(f"from benchpkg.s{ts}.t{tt} import m{tm} as alias_{tm}")
        if rng.random() < 0.3:
            lines.append(f"from benchpkg.s{s} import NAME")
        lines.append("if TYPE_CHECKING:")
        ts, tt, tm = rng.choice(names)
        lines.append(f"    from benchpkg.s{ts}.t{tt}.m{tm} import Handler{tm}")
        ts, tt, tm = rng.choice(names)
        lines.append(f"def lazy_{m}():\n    from benchpkg.s{ts}.t{tt} import m{tm}\n    return m{tm}")
        write(pkg / f"s{s}" / f"t{t}" / f"m{m}.py", "\n".join(lines) + "\n" + FILLER.format(n=m))
    return "benchpkg", files


@dataclass
class Run:
    """One timed pass: wall and CPU seconds per phase (CPU time is less disturbed by a busy machine)."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall[name] = time.perf_counter() - wall
        self.cpu[name] = time.process_time() - cpu


def ours(root: Path, package: str, cache: dict[str, str] | None = None) -> tuple[Run, list[Edge], int, int]:
    """The whole pipeline over ``root/package``, named relative to ``root``.

    With ``cache`` (path -> JSON), extraction is replaced by decoding cached results, as the asset
    does for blobs it has seen before.
    """
    run = Run()
    with run.phase("read"):
        paths = []
        for folder, _dirs, names in os.walk(root / package):
            for name in names:
                paths.append(Path(folder, name).relative_to(root).as_posix())
        sources = {p: (root / p).read_bytes() for p in paths if p.endswith(".py")}
    with run.phase("extract"):
        if cache is None:
            imports = {p: extract_imports(data) for p, data in sources.items()}
        else:
            imports = {p: FileImports.from_json(cache[p]) for p in sources}
    with run.phase("index+resolve"):
        index = build_module_index(paths)
        edges = resolve_imports(index, imports)
    with run.phase("cycles"):
        report = find_cycles(edges)
    failures = sum(1 for f in imports.values() if f.parse_error)
    return run, edges, len(report.real), failures


def grimp_run(package: str) -> tuple[Run, set[tuple[str, str]]]:
    import grimp

    run = Run()
    with run.phase("build_graph"):
        graph = grimp.build_graph(package, cache_dir=None)
    edges = {(m, other) for m in graph.modules for other in graph.find_modules_directly_imported_by(m)}
    return run, edges


def _fmt(run: Run) -> str:
    return ", ".join(f"{k} {run.wall[k]:.3f}/{run.cpu[k]:.3f}" for k in run.wall)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--root", type=Path, help="folder that holds an existing package")
    parser.add_argument("--package", help="the package under --root to graph")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        if args.root:
            if not args.package:
                parser.error("--root needs --package")
            root, package = args.root.resolve(), args.package
            files = sum(1 for _ in (root / package).rglob("*.py"))
        else:
            root = Path(tmp) / "snapshot"
            package, files = generate(root, args.modules)
        sys.path.insert(0, str(root))
        size = sum(p.stat().st_size for p in (root / package).rglob("*.py"))
        print(f"snapshot: {files} .py files, {size / 1e6:.1f} MB under {root / package}")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")

        # Interleave the two so both see the same (possibly busy) machine.
        our_runs: list[Run] = []
        grimp_runs: list[Run] = []
        for _ in range(args.repeat):
            run, edges, real_cycles, failures = ours(root, package)
            our_runs.append(run)
            g_run, theirs = grimp_run(package)
            grimp_runs.append(g_run)
        cache = {p: f.to_json() for p, f in _extract_all(root, package).items()}
        warm_runs = [ours(root, package, cache)[0] for _ in range(args.repeat)]
        parse_floor = _parse_only(root, package, args.repeat)

        def best(runs: list[Run], kind: str) -> float:
            return min(sum((r.wall if kind == "wall" else r.cpu).values()) for r in runs)

        def med(runs: list[Run]) -> float:
            return statistics.median(sum(r.wall.values()) for r in runs)

        ours_set = {(e.importer, e.imported) for e in edges}
        if failures:
            print(f"note: {failures} files failed ast.parse and went through the fallback")
        fastest = min(our_runs, key=lambda r: sum(r.wall.values()))
        print(f"ours phases, wall/cpu s (fastest run): {_fmt(fastest)}")
        fastest_warm = min(warm_runs, key=lambda r: sum(r.wall.values()))
        print(f"ours warm phases, wall/cpu s (fastest run): {_fmt(fastest_warm)}")
        print(
            f"CPython's parser alone (ast.parse of every file, no extraction): cpu {parse_floor:.3f} s, "
            f"{parse_floor / best(grimp_runs, 'cpu'):.2f}x grimp's whole build"
        )
        for label, runs in (("ours cold", our_runs), ("ours warm", warm_runs), ("grimp", grimp_runs)):
            print(
                f"{label:9}: wall best {best(runs, 'wall'):.3f} s, median {med(runs):.3f} s; "
                f"cpu best {best(runs, 'cpu'):.3f} s"
            )
        for label, runs in (("cold", our_runs), ("warm", warm_runs)):
            print(
                f"ratio ours {label}/grimp: wall {best(runs, 'wall') / best(grimp_runs, 'wall'):.2f}x, "
                f"cpu {best(runs, 'cpu') / best(grimp_runs, 'cpu'):.2f}x"
            )
        print(
            f"edges: ours {len(ours_set)} ({len(edges)} import rows, {real_cycles} import-time cycles), "
            f"grimp {len(theirs)}"
        )
        only_ours = sorted(ours_set - theirs)
        only_grimp = sorted(theirs - ours_set)
        print(f"edges only in ours: {len(only_ours)}; only in grimp: {len(only_grimp)}")
        for a, b in only_ours[:10]:
            print(f"  ours only : {a} -> {b}")
        for a, b in only_grimp[:10]:
            print(f"  grimp only: {a} -> {b}")

        if not args.root:
            rng = random.Random(3)
            py = sorted(p for p in root.rglob("m*.py"))
            for path in rng.sample(py, len(py) // 10):
                path.write_text(path.read_text(encoding="utf-8") + "\nprint 'legacy'\n", encoding="utf-8")
            broken = [ours(root, package) for _ in range(args.repeat)]
            b_edges, failures = broken[-1][1], broken[-1][3]
            same = {(e.importer, e.imported) for e in b_edges} == ours_set
            print(
                f"ours with {failures} unparseable files (recovering parser): "
                f"wall best {best([r[0] for r in broken], 'wall'):.3f} s, same edges as before: {same}"
            )
            try:
                grimp_run(package)
                print("grimp on the broken snapshot: built a graph")
            except Exception as exc:  # grimp raises its own error types; report any of them
                print(f"grimp on the broken snapshot: {type(exc).__name__}: {str(exc)[:80]}")
    return 0


def _parse_only(root: Path, package: str, repeat: int) -> float:
    """Best CPU time of ``ast.parse`` over every file: the floor for any exact extraction in CPython."""
    sources = [p.read_bytes() for p in (root / package).rglob("*.py")]
    times = []
    for _ in range(repeat):
        started = time.process_time()
        for source in sources:
            ast.parse(source)
        times.append(time.process_time() - started)
    return min(times)


def _extract_all(root: Path, package: str) -> dict[str, FileImports]:
    return {
        p.relative_to(root).as_posix(): extract_imports(p.read_bytes())
        for p in (root / package).rglob("*.py")
    }


if __name__ == "__main__":
    raise SystemExit(main())
