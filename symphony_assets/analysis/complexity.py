"""Cyclomatic complexity per function (radon); the asset multiplies it by churn for hotspots.

Results depend only on the file's bytes, so callers cache them by git blob id; every result
type converts to and from plain JSON values (``to_dict``/``from_dict``) for that cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

from radon.complexity import cc_rank
from radon.visitors import Class, ComplexityVisitor, Function

from symphony_assets.analysis.pysource import ParseOutcome, decode_source, parse_python

#: Bump when the output for the same bytes changes, so cached results are recomputed.
ANALYSER_VERSION = "1"

#: radon has stalled for minutes on single files holding huge literals; files above this are skipped.
DEFAULT_MAX_BYTES = 1_000_000

STATUS_OK = "ok"
STATUS_PARSE_ERROR = "parse_error"
STATUS_TOO_LARGE = "too_large"
STATUS_ERROR = "error"

#: Per-block results (lines relative to the block's first line) by a hash of the block's text; see
#: :func:`function_complexity`. The caller owns it, e.g. one dict for a whole backfill.
BlockMemo = MutableMapping[str, tuple["FunctionComplexity", ...]]

_BLOCK_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: The line breaks the tokenizer counts (``str.splitlines`` also splits on form feeds and others).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class FunctionComplexity:
    name: str  # dotted qualname: ``Class.method``, ``outer.inner``
    kind: str  # function | method | class
    line: int
    end_line: int
    complexity: int
    rank: str  # radon's A (simple) .. F (very complex)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "line": self.line,
            "end_line": self.end_line,
            "complexity": self.complexity,
            "rank": self.rank,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FunctionComplexity:
        return cls(
            name=str(d["name"]),
            kind=str(d["kind"]),
            line=int(d["line"]),
            end_line=int(d["end_line"]),
            complexity=int(d["complexity"]),
            rank=str(d["rank"]),
        )


@dataclass(frozen=True)
class ComplexityReport:
    """One file's functions, or why there are none (a skipped file is not a simple file)."""

    status: str
    message: str = ""
    functions: tuple[FunctionComplexity, ...] = field(default_factory=tuple)

    @functools.cached_property
    def real_functions(self) -> tuple[FunctionComplexity, ...]:
        """Functions and methods; kept, because a backfill asks for a report's totals every day."""
        return tuple(f for f in self.functions if f.kind != "class")

    @functools.cached_property
    def max_complexity(self) -> int:
        return max((f.complexity for f in self.real_functions), default=0)

    @functools.cached_property
    def total_complexity(self) -> int:
        """Sum over functions and methods; classes are left out because radon's class score repeats them."""
        return sum(f.complexity for f in self.real_functions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "functions": [f.to_dict() for f in self.functions],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ComplexityReport:
        return cls(
            status=str(d["status"]),
            message=str(d.get("message", "")),
            functions=tuple(FunctionComplexity.from_dict(f) for f in d.get("functions", ())),
        )


def function_complexity(
    source: bytes,
    max_bytes: int = DEFAULT_MAX_BYTES,
    outcome: ParseOutcome | None = None,
    blocks: BlockMemo | None = None,
) -> ComplexityReport:
    """Complexity of every function, method and class in one Python file.

    ``outcome`` lets a caller that already parsed the file (for other analyses) skip a second parse.

    ``blocks`` reuses work below the file: radon scores each top-level ``def``/``class`` from its
    own subtree only, so its result is a function of the block's text, shifted to where the block
    starts. A new version of a file usually changes one function; with a memo shared across
    versions (a backfill) only the changed blocks go through radon. The report is the same as
    without the memo.

    Never raises for bad input: oversized files, files that do not parse (Python 2, merge markers)
    and pathological nesting come back as a status with a message.
    """
    if len(source) > max_bytes:
        return ComplexityReport(
            STATUS_TOO_LARGE, f"{len(source)} bytes is over the {max_bytes}-byte limit; not analysed"
        )
    outcome = outcome or parse_python(source)
    if outcome.tree is None:
        where = f" (line {outcome.error_line})" if outcome.error_line else ""
        return ComplexityReport(STATUS_PARSE_ERROR, f"{outcome.error or 'does not parse'}{where}")
    try:
        if blocks is None:
            found = _radon(outcome.tree)
        else:
            found = _by_block(source, outcome.tree, blocks)
    except RecursionError:
        return ComplexityReport(STATUS_ERROR, "expression nested too deeply for the complexity visitor")
    found.sort(key=lambda f: (f.line, f.name))
    return ComplexityReport(STATUS_OK, "", tuple(found))


def _radon(tree: ast.Module) -> list[FunctionComplexity]:
    visitor = ComplexityVisitor.from_ast(tree)
    found: list[FunctionComplexity] = []
    for fn in visitor.functions:
        _add_function(found, fn, prefix="", is_method=False)
    for cls in visitor.classes:
        _add_class(found, cls, prefix="")
    return found


def _by_block(source: bytes, tree: ast.Module, blocks: BlockMemo) -> list[FunctionComplexity]:
    """:func:`_radon` statement by statement, top-level definitions through the memo.

    radon's module visitor only concatenates what each top-level statement yields, and a
    definition's result depends on its subtree alone; the subtree is fixed by the block's text
    (whole lines from its first decorator to its last line, at indentation 0, where the tokenizer
    holds no state). Other statements (imports, ``if TYPE_CHECKING:`` blocks) are few and cheap.
    """
    lines = _LINE_BREAK.split(decode_source(source))
    found: list[FunctionComplexity] = []
    rest: list[ast.stmt] = []
    for stmt in tree.body:
        end = stmt.end_lineno
        if not isinstance(stmt, _BLOCK_TYPES) or end is None or stmt.col_offset != 0:
            rest.append(stmt)
            continue
        first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
        text = "\n".join(lines[first - 1 : end])
        key = f"{ANALYSER_VERSION}:{hashlib.sha1(text.encode('utf-8', 'surrogatepass')).hexdigest()}"
        relative = blocks.get(key)
        if relative is None:
            shifted = _radon(ast.Module(body=[stmt], type_ignores=[]))
            relative = blocks[key] = tuple(_shift(f, 1 - first) for f in shifted)
        found.extend(_shift(f, first - 1) for f in relative)
    if rest:
        found.extend(_radon(ast.Module(body=rest, type_ignores=[])))
    return found


def _shift(f: FunctionComplexity, by: int) -> FunctionComplexity:
    return replace(f, line=f.line + by, end_line=f.end_line + by)


def _add_function(out: list[FunctionComplexity], fn: Function, prefix: str, is_method: bool) -> None:
    name = f"{prefix}{fn.name}"
    out.append(
        FunctionComplexity(
            name=name,
            kind="method" if is_method else "function",
            line=int(fn.lineno),
            end_line=int(fn.endline or fn.lineno),
            complexity=int(fn.complexity),
            rank=str(cc_rank(fn.complexity)),
        )
    )
    for inner in fn.closures:
        _add_function(out, inner, prefix=f"{name}.", is_method=False)


def _add_class(out: list[FunctionComplexity], cls: Class, prefix: str) -> None:
    name = f"{prefix}{cls.name}"
    end_line = max(
        [int(cls.endline or cls.lineno)]
        + [int(m.endline or m.lineno) for m in cls.methods]
        + [int(c.endline or c.lineno) for c in cls.inner_classes]
    )
    out.append(
        FunctionComplexity(
            name=name,
            kind="class",
            line=int(cls.lineno),
            end_line=end_line,
            complexity=int(cls.complexity),
            rank=str(cc_rank(cls.complexity)),
        )
    )
    for method in cls.methods:
        _add_function(out, method, prefix=f"{name}.", is_method=True)
    for inner in cls.inner_classes:
        _add_class(out, inner, prefix=f"{name}.")
