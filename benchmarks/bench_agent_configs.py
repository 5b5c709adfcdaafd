"""Benchmark: ``agent_registry``'s reading of a range's configuration blobs, every YAML file loaded against
the libyaml event pass that skips the files which cannot declare an agent.

Usage::

    .venv/bin/python benchmarks/bench_agent_configs.py [--repo PATH] [--files 2000] [--days 61] [--rounds 2]

Takes (or builds: ``_realrepo.py``) a real-shaped repository and gathers every distinct ``.yaml``,
``.yml`` and ``.json`` blob of its last ``--days`` days (startup configurations and the 0.2-2 MB reports
regenerated most working days). In alternating rounds in this one process:

- full load: :func:`symphony_assets.analysis.agents._declarations` for every file (what the asset did);
- with the skip: :func:`symphony_assets.analysis.agents.declarations`, which first asks
  ``_may_declare`` whether a YAML file can hold a declaration at all.

CPU time (``time.process_time``), best round of each side. The declarations must be equal for every
blob (exit 1 otherwise).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import best_of_rounds, range_arguments, range_blobs, read_blobs, side_by_side  # noqa: E402

from symphony_assets.analysis import agents  # noqa: E402


def full_load(path: str, content: bytes) -> list[agents.Declaration]:
    if len(content) > agents.MAX_CONFIG_BYTES:
        return []
    return agents._declarations(path, content.decode("utf-8", "replace"), set(), set(agents.DEFAULT_MAP_KEYS))


def main() -> int:
    args, repo, days = range_arguments(__doc__, "bench-agent-configs-")
    _, ordered = range_blobs(repo, days, (".yaml", ".yml", ".json"))
    contents = read_blobs(repo, sorted({blob for _, blob in ordered}))
    blobs = [(path, contents[blob]) for path, blob in ordered]
    yaml_mb = sum(len(c) for p, c in blobs if not p.endswith(".json")) / 1e6
    print(f"{repo}: {len(blobs)} configuration blob versions over {args.days} days, "
          f"{sum(len(c) for _, c in blobs) / 1e6:.0f} MB ({yaml_mb:.0f} MB of YAML)")  # fmt: skip
    sides = {
        "full load": lambda: [full_load(path, content) for path, content in blobs],
        "with the skip": lambda: [agents.declarations(path, content) for path, content in blobs],
    }
    best, found = best_of_rounds(args.rounds, sides)
    declared = sum(1 for d in found["full load"] if d)
    return side_by_side(
        "agent_registry reading",
        args.rounds,
        best,
        found,
        [p for p, _ in blobs],
        f"{declared} blobs declare agents",
    )


if __name__ == "__main__":
    raise SystemExit(main())
