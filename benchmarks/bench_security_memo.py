"""Benchmark: bandit over a range's Python blob versions, whole module against statement by statement with
the memo of statements met before (issue 11's "analysis by diff").

Usage::

    .venv/bin/python benchmarks/bench_security_memo.py [--repo PATH] [--files 2000] [--days 61] [--rounds 2]

Takes (or builds: ``_realrepo.py``) a real-shaped repository and gathers every distinct Python blob of
its last ``--days`` days, in the order a range run's prefetch sends them to the blob pool: by path, each
path's versions in the order the days meet them. Only the blobs ``ast`` accepts go to bandit. In
alternating rounds in this one process, with the memo emptied before each round:

- whole module: bandit's own ``BanditNodeVisitor.process`` (what ``security_findings`` ran before);
- by statement, bandit's visitor: :func:`symphony_assets.analysis.security._bandit` with bandit's own
  ``BanditNodeVisitor``, each top-level statement met before (same bytes, same import state) taken from
  the memo;
- by statement (what ``security_findings`` runs): the same with the lean visitor, which skips the nodes
  no test reads.

Every side is timed twice: over the first day's blobs alone (a cold snapshot: nothing to reuse, so
this shows what the statement walk costs) and over every version of the range. CPU time
(``time.process_time``), best round of each side. Every blob's findings must be equal on every side
(exit 1 otherwise).
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import equal_or_listed, range_arguments, range_blobs, read_blobs  # noqa: E402

from symphony_assets.analysis import security  # noqa: E402
from symphony_assets.analysis.pysource import decode_source  # noqa: E402
from symphony_assets_tests.oracles import bandit_whole_module, finding_order  # noqa: E402

Blob = tuple[str, bytes]  # path, content


def whole_module(path: str, content: bytes) -> list[security.SecurityFinding]:
    ast.parse(content)  # scan_file parses first either way; bandit's process parses again
    return bandit_whole_module(path, content)


def by_statement(path: str, content: bytes, lean: bool = True) -> list[security.SecurityFinding]:
    tree = ast.parse(content)
    return sorted(
        security._bandit(path, content, tree, decode_source(content).splitlines(), lean), key=finding_order
    )


def by_statement_bandit_visitor(path: str, content: bytes) -> list[security.SecurityFinding]:
    return by_statement(path, content, lean=False)


def timed(fn: Callable[[str, bytes], object], blobs: list[Blob]) -> tuple[float, list[object]]:
    security._STATEMENT_MEMO.clear()
    start = time.process_time()
    out = [fn(path, content) for path, content in blobs]
    return time.process_time() - start, out


def main() -> int:
    args, repo, days = range_arguments(__doc__, "bench-security-memo-")
    first_ids, ordered = range_blobs(repo, days, (".py",))
    contents = read_blobs(repo, sorted({blob for _, blob in ordered}))

    def parses(content: bytes) -> bool:
        try:
            ast.parse(content)
        except (SyntaxError, ValueError):
            return False
        return True

    every = [(path, contents[blob]) for path, blob in ordered if parses(contents[blob])]
    first_set = set(first_ids)
    cold = [(path, contents[blob]) for path, blob in ordered if blob in first_set and parses(contents[blob])]
    print(f"{repo}: {args.days} days, {len(ordered):,} Python blob versions ({len(every):,} parse); "
          f"first day {len(first_ids):,} ({len(cold):,} parse)")  # fmt: skip
    sides = {
        "whole module": whole_module,
        "by statement, bandit's visitor": by_statement_bandit_visitor,
        "by statement": by_statement,
    }
    best = {(name, part): float("inf") for name in sides for part in ("first day", "range")}
    found: dict[str, list[object]] = {}
    for _ in range(args.rounds):
        for name, fn in sides.items():
            seconds, _out = timed(fn, cold)
            best[name, "first day"] = min(best[name, "first day"], seconds)
            seconds, found[name] = timed(fn, every)
            best[name, "range"] = min(best[name, "range"], seconds)
    different = [
        path
        for index, (path, _) in enumerate(every)
        if any(found[name][index] != found["whole module"][index] for name in sides)
    ]
    print(f"| bandit over | blobs | whole module, best CPU of {args.rounds} (s) "
          "| by statement, bandit's visitor (s) | by statement, lean visitor (s) | whole / lean "
          "| bandit's visitor / lean |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for part, blobs in (("first day", cold), ("range", every)):
        whole = best["whole module", part]
        plain, lean = best["by statement, bandit's visitor", part], best["by statement", part]
        print(f"| {part} | {len(blobs):,} | {whole:.2f} | {plain:.2f} | {lean:.2f} | {whole / lean:.2f}x "
              f"| {plain / lean:.2f}x |")  # fmt: skip
    print(f"findings equal on every blob: {not different}")
    return equal_or_listed(different)


if __name__ == "__main__":
    raise SystemExit(main())
