"""Import statements out of one file's bytes, with where they run; never raises.

Files that ``ast`` rejects still give their imports through the recovering parser of ``pysource``
(``via="fallback"``).
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
from collections.abc import Iterator, Sequence

from symphony_assets.analysis import limits
from symphony_assets.analysis.imports.statements import FileImports, ImportStmt
from symphony_assets.analysis.pysource import ParseOutcome, Recovered, parse_python, recover_python

#: Bump when extraction changes what it returns for the same bytes (part of the blob-cache key).
ANALYSER_VERSION = "2"
#: Kinds that cannot be overridden by a construct nested inside them.
_STICKY = frozenset({"function", "type_checking", "main"})


def extract_imports(
    source: bytes, outcome: ParseOutcome | None = None, recovered: Recovered | None = None
) -> FileImports:
    """Import statements of one file with where they run; never raises.

    A file that ``ast`` rejects is read through :func:`~symphony_assets.analysis.pysource.recover_python`
    (``via="fallback"``): every statement that parses still counts, wherever the error is. ``outcome``
    and ``recovered``, when given, are this file's parse, shared with the other per-blob facts.
    """
    outcome = outcome or parse_python(source)
    if limits.python_too_large(source):  # not parsed at all: parse_error says why
        return FileImports(imports=(), parse_error=outcome.error)
    if outcome.tree is not None:
        return FileImports(
            imports=tuple(_ast_imports(outcome.tree, _keyword_lines(source))),
            bindings=_bindings(outcome.tree),
        )
    recovered = recovered or recover_python(source, outcome)
    imports = tuple(dataclasses.replace(s, via="fallback") for s in _ast_imports(recovered.tree))
    return FileImports(
        imports=imports,
        parse_error=outcome.error,
        parse_error_line=outcome.error_line,
        python2=outcome.python2,
        # Lines that could not be read may bind anything: the namespace is open.
        bindings=_bindings(recovered.tree) if not recovered.skipped else None,
    )


#: Calls that can bind module attributes no statement names.
_DYNAMIC_BINDERS = ("globals", "setattr", "exec", "vars", "locals", "__import__", "import_module")


def _bindings(tree: ast.Module) -> tuple[str, ...] | None:
    """Names bound at module level, or None when the namespace is open (see :attr:`FileImports.bindings`).

    Walks the module's statements (into ``if``/``try``/``for``/``with`` blocks, which bind in the
    module's namespace, not into functions or classes).
    """
    names: set[str] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if stmt.name == "__getattr__":
                return None
            names.add(stmt.name)
            continue
        if isinstance(stmt, ast.Import):
            names.update((a.asname or a.name).split(".", 1)[0] for a in stmt.names)
            continue
        if isinstance(stmt, ast.ImportFrom):
            if any(a.name == "*" for a in stmt.names):
                return None
            names.update(a.asname or a.name for a in stmt.names)
            continue
        nested = [getattr(stmt, f, None) for f in ("body", "orelse", "finalbody", "handlers", "cases")]
        for block in nested:
            if isinstance(block, list):
                stack.extend(b for b in block if isinstance(b, ast.stmt))
                for item in block:  # except handlers and match cases hold statements one level down
                    if isinstance(item, ast.ExceptHandler | ast.match_case):
                        stack.extend(item.body)
                        if isinstance(item, ast.ExceptHandler) and item.name:
                            names.add(item.name)
        for node in _header_nodes(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if called in _DYNAMIC_BINDERS:
                    return None
            elif isinstance(node, ast.Attribute) and node.attr == "modules":
                return None  # sys.modules[...] = ...: anything can appear
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".", 1)[0])
    if names & _OPEN_NAMESPACE:
        return None  # ``__getattr__ = lazy.attach(...)``, ``__path__ = extend_path(...)``
    return tuple(sorted(names))


#: Module names whose binding opens the namespace: a lazy attribute hook, or a package path that
#: other folders extend (their submodules are not in this folder).
_OPEN_NAMESPACE = frozenset({"__getattr__", "__path__"})


def _header_nodes(stmt: ast.stmt) -> Iterator[ast.AST]:
    """Every node of a statement outside its nested statement blocks."""
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        yield node
        for name, value in ast.iter_fields(node):
            if name in ("body", "orelse", "finalbody", "handlers", "cases") and node is stmt:
                continue
            if isinstance(value, ast.AST):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.AST))


def _nested(kind: str, inner: str) -> str:
    """The kind of code inside a construct of kind ``inner`` that sits in code of ``kind``."""
    return kind if kind in _STICKY else inner


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _if_kinds(kind: str, test: ast.expr) -> tuple[str, str]:
    """Kinds of the body and of the ``else`` branch of an ``if`` inside code of ``kind``."""
    if _is_type_checking(test):
        return _nested(kind, "type_checking"), _nested(kind, "conditional")
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _is_type_checking(test.operand):
        return _nested(kind, "conditional"), _nested(kind, "type_checking")
    if _is_main_guard(test):
        return _nested(kind, "main"), _nested(kind, "conditional")
    return _nested(kind, "conditional"), _nested(kind, "conditional")


def _keyword_lines(source: bytes) -> list[int] | None:
    """Ascending lines that hold the bytes ``import`` (in code or not): every import statement has one.

    None where bytes and ``ast`` lines might not line up: a carriage return (a line break for
    Python) or an encoding cookie (an encoding that is not ASCII-compatible would hide the keyword).
    """
    second = source.find(b"\n", source.find(b"\n") + 1)
    if b"\r" in source or b"coding" in source[: second if second >= 0 else len(source)]:
        return None
    lines: list[int] = []
    line = 1
    previous = 0
    at = source.find(b"import")
    while at >= 0:
        line += source.count(b"\n", previous, at)
        previous = at
        if not lines or lines[-1] != line:
            lines.append(line)
        at = source.find(b"import", at + len(b"import"))
    return lines


def _ast_imports(tree: ast.Module, keyword_lines: Sequence[int] | None = None) -> list[ImportStmt]:
    """Walk statements only (imports are statements), iteratively, tracking the kind of each block.

    With ``keyword_lines`` (see :func:`_keyword_lines`) a compound statement whose lines hold no
    ``import`` is not entered: most of a file's statements are in function bodies without imports,
    and walking them was a fifth of the cost of extraction. The result is the same.
    """

    def may_hold_import(stmt: ast.stmt) -> bool:
        if keyword_lines is None or stmt.end_lineno is None:
            return True
        i = bisect.bisect_left(keyword_lines, stmt.lineno)
        return i < len(keyword_lines) and keyword_lines[i] <= stmt.end_lineno

    found: list[ImportStmt] = []
    stack: list[tuple[list[ast.stmt], str]] = [(tree.body, "module")]
    while stack:
        body, kind = stack.pop()
        for stmt in body:
            if not isinstance(stmt, ast.Import | ast.ImportFrom) and not may_hold_import(stmt):
                continue
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    found.append(ImportStmt(alias.name, (), 0, stmt.lineno, kind, "ast"))
            elif isinstance(stmt, ast.ImportFrom):
                names = tuple(a.name for a in stmt.names)
                found.append(ImportStmt(stmt.module or "", names, stmt.level or 0, stmt.lineno, kind, "ast"))
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                stack.append((stmt.body, "function"))
            elif isinstance(stmt, ast.ClassDef):
                stack.append((stmt.body, kind))
            elif isinstance(stmt, ast.If):
                body_kind, else_kind = _if_kinds(kind, stmt.test)
                stack.append((stmt.body, body_kind))
                stack.append((stmt.orelse, else_kind))
            elif isinstance(stmt, ast.Try | ast.TryStar):
                inner = _nested(kind, "try")
                stack.append((stmt.body, inner))
                stack.append((stmt.orelse, inner))
                stack.append((stmt.finalbody, inner))
                for handler in stmt.handlers:
                    stack.append((handler.body, inner))
            elif isinstance(stmt, ast.Match):
                for case in stmt.cases:
                    stack.append((case.body, _nested(kind, "conditional")))
            elif isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
                stack.append((stmt.body, kind))
                stack.append((stmt.orelse, kind))
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                stack.append((stmt.body, kind))
    found.sort(key=lambda s: s.line)
    return found
