"""Per-function complexity via radon, statuses for files it must not or cannot read, and hotspots."""

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
    hotspots,
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


def test_hotspots_multiply_complexity_by_churn() -> None:
    reports = {
        "a.py": function_complexity(SOURCE.encode()),
        "b.py": function_complexity(_tangled(19).encode()),
        "c.py": function_complexity(b"def f():\n    return 1\n"),
        "d.py": function_complexity(b"def f(:\n"),
    }
    total_a = sum(f.complexity for f in reports["a.py"].functions if f.kind != "class")
    spots = hotspots(reports, {"a.py": 12, "b.py": 2, "c.py": 30, "gone.py": 99})
    assert [h.path for h in spots] == ["a.py", "b.py", "c.py", "d.py"]
    by_path = {h.path: h for h in spots}
    assert by_path["a.py"].score == total_a * 12
    assert by_path["b.py"].score == 20 * 2
    assert by_path["c.py"].score == 30
    assert (by_path["d.py"].score, by_path["d.py"].churn, by_path["d.py"].functions) == (0, 0, 0)
    assert by_path["b.py"].max_complexity == 20
    # Plain function lists work too.
    plain = hotspots({"x.py": [FunctionComplexity("f", "function", 1, 2, 4, "A")]}, {"x.py": 3})
    assert plain[0].score == 12
