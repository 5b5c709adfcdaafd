"""Benchmark: ``port_map``'s reading of a range's configuration blobs, every file read and walked
against the text check that skips the files which cannot hold a port site (``config_hints``).

Usage::

    .venv/bin/python benchmarks/bench_port_configs.py [--repo PATH] [--files 2000] [--days 61] [--rounds 2]

Takes (or builds: ``_realrepo.py``) a real-shaped repository and gathers every distinct ``.yaml``,
``.yml`` and ``.json`` blob of its last ``--days`` days (startup configurations and the 0.2-2 MB reports
regenerated most working days). In alternating rounds in this one process:

- full read: :func:`symphony_assets.analysis.ports.extract.extract_ports` with the text check off;
- with the skip: the same function as it is.

CPU time (``time.process_time``), best round of each side. The sites (and limit rows) must be equal for
every blob (exit 1 otherwise).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import equal_or_listed, range_arguments, range_blobs, read_blobs  # noqa: E402

from symphony_assets.analysis.ports import config  # noqa: E402
from symphony_assets.analysis.ports.extract import extract_ports  # noqa: E402
from symphony_assets.analysis.ports.sites import PortSite  # noqa: E402


def main() -> int:
    args, repo, days = range_arguments(__doc__, "bench-port-configs-")
    _, ordered = range_blobs(repo, days, (".yaml", ".yml", ".json"))
    contents = read_blobs(repo, sorted({blob for _, blob in ordered}))
    blobs = [(path, contents[blob]) for path, blob in ordered]
    print(f"{repo}: {len(blobs)} configuration blob versions over {args.days} days, "
          f"{sum(len(c) for _, c in blobs) / 1e6:.0f} MB")  # fmt: skip
    check = config.may_hold_sites
    sides = {"full read": lambda text: True, "with the skip": check}
    best = dict.fromkeys(sides, float("inf"))
    found: dict[str, list[list[PortSite]]] = {}
    for _ in range(args.rounds):
        for name, may_hold in sides.items():
            config.may_hold_sites = may_hold  # type: ignore[assignment]
            start = time.process_time()
            found[name] = [extract_ports(path, content) for path, content in blobs]
            best[name] = min(best[name], time.process_time() - start)
    config.may_hold_sites = check
    skipped = sum(1 for _, content in blobs if not check(content.decode("utf-8", "replace")))
    different = [
        p for (p, _), a, b in zip(blobs, found["full read"], found["with the skip"], strict=True) if a != b
    ]
    print(f"| port_map reading | best CPU of {args.rounds} rounds (s) |\n|---|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"{best['full read'] / best['with the skip']:.2f}x less CPU; {skipped} blobs cannot hold a site; "
          f"sites equal on every blob: {not different}")  # fmt: skip
    return equal_or_listed(different)


if __name__ == "__main__":
    raise SystemExit(main())
