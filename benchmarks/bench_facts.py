"""Benchmark: one facts pass per Python blob against each extractor parsing the blob on its own (issue 11).

Usage::

    .venv/bin/python benchmarks/bench_facts.py [--repo PATH] [--files 2000] [--rounds 3]

Takes every ``.py`` file of the repository's working tree (default: builds the real-shaped repository of
``_realrepo.py``, ~25% of its Python files do not parse) and measures, in alternating rounds in this one
process so both sides see the same machine:

- separate: what ``import_graph``, ``port_map`` and the code multi-asset did before, each parsing (and,
  for a file ``ast`` rejects, recovering) the blob on its own: ``extract_imports``, ``python_ports``,
  ``analyse_python``;
- one pass: :func:`symphony_assets.analysis.facts.python_facts`, one parse and at most one recovery.

CPU time (``time.process_time``) is the comparison; the best round of each side counts. Every file's
three parts must be equal on both sides (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import equal_or_listed, given_or_built  # noqa: E402

from symphony_assets.analysis.complexity import DEFAULT_MAX_BYTES  # noqa: E402
from symphony_assets.analysis.facts import CODE, IMPORTS, PORTS, analyse_python, python_facts  # noqa: E402
from symphony_assets.analysis.imports.extract import extract_imports  # noqa: E402
from symphony_assets.analysis.ports.extract import python_ports  # noqa: E402
from symphony_assets.analysis.pysource import parse_python  # noqa: E402


def separate(content: bytes) -> dict[str, object]:
    return {
        IMPORTS: extract_imports(content).to_dict(),
        PORTS: [asdict(s) for s in python_ports(content)],
        CODE: analyse_python(content, DEFAULT_MAX_BYTES),
    }


def one_pass(content: bytes) -> dict[str, object]:
    return python_facts(content, DEFAULT_MAX_BYTES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="an existing repository (default: build one)")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repo = given_or_built(args.repo, args.files, "bench-facts-")
    files = sorted(p for p in repo.rglob("*.py") if ".git" not in p.parts and p.is_file())
    sources = [p.read_bytes() for p in files]
    broken = sum(parse_python(s).tree is None for s in sources)
    print(f"{repo}: {len(sources)} Python files, {broken} of them do not parse ({broken / len(sources):.0%})")
    best = {"separate": float("inf"), "one pass": float("inf")}
    for _ in range(args.rounds):
        for name, fn in (("separate", separate), ("one pass", one_pass)):
            start = time.process_time()
            for source in sources:
                fn(source)
            best[name] = min(best[name], time.process_time() - start)
    different = [str(p) for p, s in zip(files, sources, strict=True) if separate(s) != one_pass(s)]
    print(f"| extraction | best CPU of {args.rounds} rounds (s) |\n|---|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} |")
    ratio = best["separate"] / best["one pass"]
    print(f"one pass is {ratio:.2f}x faster; results equal on every file: {not different}")
    return equal_or_listed(different)


if __name__ == "__main__":
    raise SystemExit(main())
