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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import best_of_rounds, range_arguments, range_blobs, read_blobs, side_by_side  # noqa: E402

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

    def read(may_hold: Callable[[str], bool]) -> list[list[PortSite]]:
        config.may_hold_sites = may_hold  # type: ignore[assignment]
        try:
            return [extract_ports(path, content) for path, content in blobs]
        finally:
            config.may_hold_sites = check

    sides = {"full read": lambda: read(lambda text: True), "with the skip": lambda: read(check)}
    best, found = best_of_rounds(args.rounds, sides)
    skipped = sum(1 for _, content in blobs if not check(content.decode("utf-8", "replace")))
    return side_by_side(
        "port_map reading",
        args.rounds,
        best,
        found,
        [p for p, _ in blobs],
        f"{skipped} blobs cannot hold a site",
    )


if __name__ == "__main__":
    raise SystemExit(main())
