"""The accuracy table of docs/ACCURACY.md: our findings against the tools users trust.

Usage:
    .venv/bin/python benchmarks/accuracy.py            # the table, as markdown, on stdout

Runs the comparisons of ``symphony_assets_tests/oracles.py`` (the oracle tests run the same code on a
smaller corpus) on third-party packages installed in this virtualenv, and the broken-copy comparison
on a larger set of real files (every one broken several ways), with tree-sitter's error recovery
(what the fallback used before the recovering parser) as a second row for the ``except`` handlers.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symphony_assets.analysis.pysource import blank_merge_markers, iter_nodes, node_line, ts_tree
from symphony_assets_tests import oracles

BROKEN_PACKAGES = (
    "requests",
    "click",
    "jinja2",
    "yaml",
    "dagster/_core/execution",
    "pandas/core/groupby",
)


def tree_sitter_handlers(files: list[Path], seed: int) -> oracles.Comparison:
    """The same broken copies through tree-sitter's ``except_clause`` nodes (the old fallback)."""
    rng = random.Random(seed)
    result = oracles.Comparison("except handlers in broken files, tree-sitter (before)")
    for path in files:
        source = path.read_text("utf-8", "replace")
        for kind, broken in oracles.break_source(source, rng).items():
            key = (str(path), kind)
            truth = {i for i, line in enumerate(broken.split("\n"), 1) if oracles.EXCEPT_LINE.match(line)}
            tree = ts_tree(blank_merge_markers(broken.encode()))
            found = {node_line(n) for n in iter_nodes(tree, ("except_clause",))}
            result.ours |= {(*key, n) for n in found}
            result.oracle |= {(*key, n) for n in truth}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    started = time.perf_counter()
    files = oracles.package_files()
    rows: list[oracles.Comparison] = []
    rows.extend(oracles.compare_imports())
    rows.append(oracles.compare_todos(files))
    rows.append(oracles.compare_excepts(files))
    rows.append(oracles.compare_complexity(files))
    rows.append(oracles.compare_requirements())
    site = oracles.site_packages()
    broken_files = sorted(
        p for name in BROKEN_PACKAGES for p in (site / name).rglob("*.py") if b"except" in p.read_bytes()
    )
    corpus = oracles.compare_broken(broken_files, args.seed)
    rows.extend(
        [corpus.handlers, tree_sitter_handlers(broken_files, args.seed), corpus.imports, corpus.todos]
    )
    print(f"Packages: {', '.join(oracles.PACKAGES)} (imports also {', '.join(oracles.IMPORT_PACKAGES)}).")
    print(
        f"Broken copies: {corpus.files} files that fail ast.parse, made from {len(broken_files)} files"
        f" of {', '.join(BROKEN_PACKAGES)}.\n"
    )
    print("| check | ours | oracle | precision | recall |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row.row())
    print("\nDocumented differences applied (keys moved):\n")
    for row in rows:
        for why, moved in row.differences.items():
            print(f"- {row.check}: {why}: {moved}")
    print(f"\n({time.perf_counter() - started:.0f} s; python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
