"""Cold per-blob analysis on one core vs in the blob pool, side by side (issue 11: "use every core").

Usage: ``.venv/bin/python benchmarks/bench_pool.py [--repo PATH] [--files 2000] [--rounds 2]``

Without ``--repo`` it builds the real-shaped repository of ``bench_real.py`` (``_realrepo.py``: ~25% of
the Python files do not parse). Every Python file of the newest commit goes through each analyser with
the cache off, once with ``workers=1`` and once with the pool (``SYMPHONY_WORKERS`` or every core),
alternating; the best round of each counts. Results must be equal, or the script exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import given_or_built  # noqa: E402

from symphony_assets.analysis.complexity import DEFAULT_MAX_BYTES  # noqa: E402
from symphony_assets.config import Codebase  # noqa: E402
from symphony_assets.defs.duplicates.compare import Params, _signature_result  # noqa: E402
from symphony_assets.defs.ports.assets import ports_of  # noqa: E402
from symphony_assets.defs.security.assets import scan_blob  # noqa: E402
from symphony_assets.resources.cache import AnalysisCache, analyse_files, pool_workers  # noqa: E402
from symphony_assets.resources.git import take_snapshot  # noqa: E402
from symphony_assets.resources.python_facts import facts_fn  # noqa: E402

ANALYSERS: dict[str, Callable[[Any, bytes], Any]] = {
    "security_findings (bandit)": scan_blob,
    "duplicate_code (MinHash)": functools.partial(_signature_result, params=Params(0.8, 5, 30, 64)),
    "Python facts (imports, ports, code)": facts_fn(DEFAULT_MAX_BYTES),
    "port_map (Python)": ports_of,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="an existing repository (default: build one)")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    repo = given_or_built(args.repo, args.files, "bench-pool-")
    snap = take_snapshot(Codebase("bench", repo), dt.date(2030, 1, 1), today=dt.date(2030, 1, 1))
    entries = [e for e in snap.files if e.kind == "file" and e.path.endswith(".py")]
    workers = pool_workers()
    print(f"{repo}: {len(entries)} Python files; pool of {workers} workers ({os.cpu_count()} cores)")
    print("| analyser | one core (s) | pool (s) | speed-up |\n|---|---:|---:|---:|")
    failed = False
    for name, fn in ANALYSERS.items():
        best: dict[int, float] = {}
        results: dict[int, Any] = {}
        for _ in range(args.rounds):
            for n in (1, workers):
                start = time.perf_counter()
                results[n], _stats = analyse_files(
                    snap, entries, AnalysisCache(None), name, "b", fn, workers=n
                )
                best[n] = min(best.get(n, float("inf")), time.perf_counter() - start)
        if results[1] != results[workers]:
            print(f"{name}: pooled results differ from the serial ones", file=sys.stderr)
            failed = True
        print(f"| {name} | {best[1]:.1f} | {best[workers]:.1f} | {best[1] / best[workers]:.2f}x |")
    return 1 if failed else 0


if __name__ == "__main__":  # the pool's forkserver imports this module: run only when asked
    sys.exit(main())
