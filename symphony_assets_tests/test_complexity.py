"""Per-function complexity via radon, and statuses for files it must not or cannot read."""

from __future__ import annotations

import json
import time

from symphony_assets.analysis.complexity import (
    STATUS_ERROR,
    STATUS_OK,
    STATUS_PARSE_ERROR,
    STATUS_TOO_LARGE,
    ComplexityReport,
    FunctionComplexity,
    function_complexity,
)

SOURCE = """\
def simple():
    return 1


def branchy(x, items):
    if x > 1:
        return 1
    elif x < 0 and items:
        return 2
    for item in items:
        if item:
            continue
    while x:
        x -= 1
    return 3


class Service:
    def run(self, a):
        def helper(b):
            return b if b else 0
        return helper(a)

    class Inner:
        async def go(self):
            try:
                pass
            except ValueError:
                pass
"""


def _tangled(branches: int) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(branches))
    return f"def tangled(x):\n{body}    return -1\n"


def test_functions_methods_closures_and_ranks() -> None:
    report = function_complexity(SOURCE.encode())
    assert report.status == STATUS_OK
    rows = {f.name: (f.kind, f.line, f.end_line, f.complexity, f.rank) for f in report.functions}
    assert rows["simple"] == ("function", 1, 2, 1, "A")
    # if, elif, and, for, if, while: 6 decisions + 1
    assert rows["branchy"] == ("function", 5, 15, 7, "B")
    assert rows["Service.run"][:2] == ("method", 19)
    assert rows["Service.run.helper"][0] == "function"
    assert rows["Service.run.helper"][3] == 2  # the conditional expression
    assert rows["Service.Inner.go"][0] == "method"
    assert rows["Service.Inner.go"][3] == 2  # the except handler
    assert rows["Service"][0] == "class"
    assert rows["Service"][2] >= 28  # the class spans its inner class
    assert report.max_complexity == 7


def test_ranks_follow_radon_thresholds() -> None:
    ranks = {}
    for branches in (4, 9, 19, 29, 39, 45):
        report = function_complexity(_tangled(branches).encode())
        (fn,) = report.functions
        assert fn.complexity == branches + 1
        ranks[fn.complexity] = fn.rank
    assert ranks == {5: "A", 10: "B", 20: "C", 30: "D", 40: "E", 46: "F"}


def test_files_that_do_not_parse_get_a_status() -> None:
    py2 = function_complexity(b"def f():\n    print 'hi'\n")
    assert py2.status == STATUS_PARSE_ERROR
    assert "line 2" in py2.message
    assert py2.functions == ()
    merge = function_complexity(b"def f():\n<<<<<<< HEAD\n    return 1\n=======\n    return 2\n>>>>>>> b\n")
    assert merge.status == STATUS_PARSE_ERROR
    assert function_complexity(bytes(range(256))).status == STATUS_PARSE_ERROR


def test_huge_files_are_skipped_quickly() -> None:
    huge = b'BLOB = "' + b"x" * 3_000_000 + b'"\n' + _tangled(3).encode()
    started = time.perf_counter()
    report = function_complexity(huge)
    assert time.perf_counter() - started < 0.5
    assert report.status == STATUS_TOO_LARGE
    assert "3000" in report.message
    # A raised limit analyses the same file.
    analysed = function_complexity(huge, max_bytes=4_000_000)
    assert analysed.status == STATUS_OK
    assert [f.name for f in analysed.functions] == ["tangled"]


def test_pathological_nesting_is_a_status_not_a_crash() -> None:
    deep = "y = (" + " if c else ".join("x" for _ in range(3000)) + ")\n"
    report = function_complexity(deep.encode())
    assert report.status in (STATUS_ERROR, STATUS_PARSE_ERROR)
    assert report.message


def test_report_round_trips_through_json() -> None:
    report = function_complexity(SOURCE.encode())
    assert ComplexityReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


# ------------------------------------------------------------------------------- per-block reuse

TRICKY = """\
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    def only_for_types(x):
        return x if x else None

try:
    import json
except ImportError:
    json = None


@decorate(
    lambda v: v or 1,
)
@other
def decorated(a, b):
    return [x for x in a if x and b]


@dataclass
class Outer:
    field: int = 0

    @property
    def value(self):
        if self.field:
            return 1
        return 2

    class Middle:
        class Inner:
            def deep(self, y):
                while y:
                    y -= 1
                return y or None


async def fetch(session):
    async for item in session:
        if item:
            yield item


def one_liner(x): return 1 if x else 2
x = [one_liner(i) for i in range(3) if i]
"""


def _real_sources() -> list[tuple[str, bytes]]:
    """Real files with decorators, nested classes, closures and module-level code: radon's own
    package, a few standard-library modules, and this project's analysis modules."""
    import ast as ast_module
    import dataclasses
    import inspect
    import pathlib
    import typing

    import radon

    import symphony_assets.analysis as analysis

    paths = sorted(pathlib.Path(radon.__file__).parent.rglob("*.py"))
    paths += sorted(pathlib.Path(analysis.__file__).parent.glob("*.py"))
    paths += [pathlib.Path(m.__file__ or "") for m in (ast_module, dataclasses, inspect, typing)]
    return [(str(p), p.read_bytes()) for p in paths]


def test_block_memo_gives_the_whole_file_result_on_real_files() -> None:
    memo: dict[str, tuple[FunctionComplexity, ...]] = {}
    sources = [("tricky", TRICKY.encode()), *_real_sources()]
    assert len(sources) > 20
    for name, source in sources:
        whole = function_complexity(source)
        assert function_complexity(source, blocks=memo) == whole, name
        # The same definitions further down and with CRLF line ends: reused, shifted, still identical.
        moved = b"# header\n\n'''doc\nstring'''\n" + source
        assert function_complexity(moved, blocks=memo) == function_complexity(moved), name
        crlf = source.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert function_complexity(crlf, blocks=memo) == function_complexity(crlf), name
    assert memo  # the memo was used


def test_block_memo_rescores_only_the_changed_definition() -> None:
    memo: dict[str, tuple[FunctionComplexity, ...]] = {}
    first = function_complexity(TRICKY.encode(), blocks=memo)
    blocks_before = len(memo)
    assert blocks_before == 4  # decorated, Outer, fetch, one_liner; only_for_types is under an `if`
    edited = TRICKY.replace("import os\n", "import os\nimport sys\nimport re\n").replace(
        "        return x if x else None", "        return x if x and x > 1 else None"
    )
    edited = edited.replace("                return y or None", "                return y or x or None")
    second = function_complexity(edited.encode(), blocks=memo)
    assert len(memo) == blocks_before + 1  # only Outer (its nested Inner.deep changed) was re-scored
    assert second == function_complexity(edited.encode())
    assert second != first
    deep = {f.name: f for f in second.functions}["Outer.Middle.Inner.deep"]
    assert deep.complexity == 4 and deep.line == 36
    only = {f.name: f for f in second.functions}["only_for_types"]
    assert only.complexity == 3 and only.line == 7


def test_block_memo_keeps_parse_failures_and_limits() -> None:
    memo: dict[str, tuple[FunctionComplexity, ...]] = {}
    py2 = b"def main():\n    print 'hi'\n"
    assert function_complexity(py2, blocks=memo) == function_complexity(py2)
    assert function_complexity(py2, blocks=memo).status == STATUS_PARSE_ERROR
    big = TRICKY.encode() * 3
    assert function_complexity(big, max_bytes=100, blocks=memo).status == STATUS_TOO_LARGE
    deep = ("x = " + "(" * 300 + "1" + ")" * 300 + "\n").encode()
    assert function_complexity(deep, blocks=memo) == function_complexity(deep)
    assert not memo
