"""The import graph of a codebase's own modules, and the cycles in it.

Three stages, so each can be cached or tested alone:

1. :func:`extract_imports` reads one file's bytes. Its result depends on nothing but the content,
   so callers cache it by git blob id (:meth:`FileImports.to_json` / :meth:`FileImports.from_json`).
   Files that ``ast`` rejects still give their imports through the recovering parser of ``pysource``
   (``via="fallback"``).
2. :func:`build_module_index` names modules after file paths and source roots, and
   :func:`resolve_imports` turns import statements into edges between the codebase's own modules.
3. :func:`find_cycles` finds strongly connected components, once over the imports that run when a
   module is imported and once over all imports (the cycles only the latter has are *latent*).

Pure functions over what the caller hands in: no I/O, no Dagster.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import hashlib
import heapq
import json
import sys
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Final

from symphony_assets.analysis import limits
from symphony_assets.analysis.pysource import parse_python, recover_python

__all__ = [
    "ANALYSER_VERSION",
    "IMPORT_TIME_KINDS",
    "KINDS",
    "LATENT_KINDS",
    "Cycle",
    "CycleReport",
    "DuplicateClaim",
    "Edge",
    "FileImports",
    "ImportStmt",
    "ModuleIndex",
    "ModuleInfo",
    "Unresolved",
    "build_module_index",
    "extract_imports",
    "find_cycles",
    "find_unresolved",
    "resolve_imports",
]

#: Kinds of import that run while the importing module itself is being imported.
IMPORT_TIME_KINDS: Final = frozenset({"module", "try", "conditional"})
#: Kinds that run later or never at run time: inside a function, for the type checker only, or only
#: when the file is run as a script (``if __name__ == "__main__":``).
LATENT_KINDS: Final = frozenset({"function", "type_checking", "main"})
KINDS: Final = IMPORT_TIME_KINDS | LATENT_KINDS

_JSON_VERSION = 2
#: Bump when extraction changes what it returns for the same bytes (part of the blob-cache key).
ANALYSER_VERSION = "2"
#: Kinds that cannot be overridden by a construct nested inside them.
_STICKY = frozenset({"function", "type_checking", "main"})


@dataclass(frozen=True)
class ImportStmt:
    """One imported module of one import statement (``import a, b`` gives two)."""

    #: The module as written, without leading dots (``""`` for ``from . import x``).
    module: str
    #: Names after ``from ... import`` (``("*",)`` for a star import); ``()`` for ``import x``.
    names: tuple[str, ...]
    #: Number of leading dots; 0 for an absolute import.
    level: int
    line: int
    #: One of :data:`KINDS`.
    kind: str
    #: ``"ast"`` or ``"fallback"`` (the recovering parser, because ``ast.parse`` failed).
    via: str


@dataclass(frozen=True)
class FileImports:
    imports: tuple[ImportStmt, ...]
    parse_error: str | None = None
    parse_error_line: int | None = None
    python2: bool = False
    #: Names the module binds at module level (defs, classes, assignments, imports), so that
    #: ``from pkg import name`` can tell an attribute of ``pkg`` from a submodule that does not exist.
    #: None when the module's namespace is open: a star import, a module ``__getattr__``, writes
    #: through ``globals()``/``sys.modules``/``exec``, or lines that could not be read.
    bindings: tuple[str, ...] | None = None

    @property
    def via(self) -> str:
        return "ast" if self.parse_error is None else "fallback"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for the per-blob cache; :meth:`from_dict` gives back an equal object."""
        return {
            "v": _JSON_VERSION,
            "imports": [[s.module, list(s.names), s.level, s.line, s.kind, s.via] for s in self.imports],
            "error": self.parse_error,
            "error_line": self.parse_error_line,
            "python2": self.python2,
            "bindings": list(self.bindings) if self.bindings is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> FileImports:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Any) -> FileImports:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` for anything else (e.g. an old version)."""
        if not isinstance(data, dict) or data.get("v") != _JSON_VERSION:
            raise ValueError("not a FileImports payload of this version")
        try:
            return cls._from_payload(data)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed FileImports payload: {exc}") from exc

    @classmethod
    def _from_payload(cls, data: dict[str, Any]) -> FileImports:
        imports = tuple(
            ImportStmt(
                module=str(module),
                names=tuple(str(n) for n in names),
                level=int(level),
                line=int(line),
                kind=str(kind),
                via=str(via),
            )
            for module, names, level, line, kind, via in data["imports"]
        )
        error_line = data.get("error_line")
        bindings = data.get("bindings")
        return cls(
            imports=imports,
            parse_error=data.get("error"),
            parse_error_line=int(error_line) if error_line is not None else None,
            python2=bool(data.get("python2", False)),
            bindings=tuple(str(b) for b in bindings) if bindings is not None else None,
        )


# --------------------------------------------------------------------------------------------------
# Extraction


def extract_imports(source: bytes) -> FileImports:
    """Import statements of one file with where they run; never raises.

    A file that ``ast`` rejects is read through :func:`~symphony_assets.analysis.pysource.recover_python`
    (``via="fallback"``): every statement that parses still counts, wherever the error is.
    """
    outcome = parse_python(source)
    if limits.python_too_large(source):  # not parsed at all: parse_error says why
        return FileImports(imports=(), parse_error=outcome.error)
    if outcome.tree is not None:
        return FileImports(
            imports=tuple(_ast_imports(outcome.tree, _keyword_lines(source))),
            bindings=_bindings(outcome.tree),
        )
    recovered = recover_python(source, outcome)
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


# --------------------------------------------------------------------------------------------------
# Module index


@dataclass(frozen=True)
class ModuleInfo:
    name: str
    path: str
    root: str
    is_package: bool
    #: False when a path part is not an identifier (``my-scripts/run.py``): nothing can import it.
    importable: bool


@dataclass(frozen=True)
class DuplicateClaim:
    """Several files claim one module name; ``winner`` is the one Python would load."""

    module: str
    paths: tuple[str, ...]
    winner: str


@dataclass(frozen=True)
class ModuleIndex:
    roots: tuple[str, ...]
    #: Module name -> the file Python would load for it.
    modules: Mapping[str, ModuleInfo]
    #: File path -> the module that file is (also for files that lose a duplicate claim).
    by_path: Mapping[str, ModuleInfo]
    #: Folders without ``__init__.py`` that hold modules (PEP 420 namespace packages).
    namespace_packages: frozenset[str]
    #: First components of every module and package under a source root.
    top_level: frozenset[str]
    duplicates: tuple[DuplicateClaim, ...] = ()
    #: Modules that exist without Python source: stubs (``.pyi``), Cython (``.pyx``) and compiled
    #: extensions (``.so``, ``.pyd``). An import of one is not a missing import, and not an edge.
    other_modules: frozenset[str] = frozenset()

    def module_for_path(self, path: str) -> str | None:
        info = self.by_path.get(path)
        return info.name if info is not None else None

    def has_module(self, name: str) -> bool:
        info = self.modules.get(name)
        return info is not None and info.importable

    def is_package(self, name: str) -> bool:
        info = self.modules.get(name)
        return name in self.namespace_packages or (info is not None and info.is_package)


def _norm_root(root: str) -> str:
    return root.replace("\\", "/").strip("/").removeprefix("./").strip("/")


def build_module_index(paths: Iterable[str], source_roots: Sequence[str] = ()) -> ModuleIndex:
    """Module names for the ``.py`` files among ``paths`` (repo-relative, ``/``-separated).

    Each file is named relative to the longest source root that holds it. The repository root is
    always a root (lowest priority), so every file gets a name; ``src`` is added when it exists and no
    roots are configured. The order of roots is the search order used to pick a duplicate's winner.
    """
    all_paths = sorted({p.replace("\\", "/").removeprefix("./") for p in paths})
    roots = [r for r in dict.fromkeys(_norm_root(r) for r in source_roots) if r]
    if not source_roots and any(p.startswith("src/") for p in all_paths):
        roots.append("src")
    roots.append("")
    by_length = sorted(roots, key=len, reverse=True)
    rank = {r: i for i, r in enumerate(roots)}

    claims: dict[str, list[ModuleInfo]] = {}
    by_path: dict[str, ModuleInfo] = {}
    namespaces: set[str] = set()
    package_dirs: set[tuple[str, str]] = set()
    top: set[str] = set()
    others: set[str] = set()
    for path in all_paths:
        if not path.endswith(".py"):
            other = _other_module(path, by_length)
            if other is not None:
                others.add(other)
            continue
        root = next(r for r in by_length if r == "" or path.startswith(r + "/"))
        rel = path[len(root) + 1 :] if root else path
        parts = rel[: -len(".py")].split("/")
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
            if not parts:
                continue  # an __init__.py directly in a source root names no module
            package_dirs.add((root, "/".join(parts)))
        name = ".".join(parts)
        importable = all(p.isidentifier() for p in parts)
        info = ModuleInfo(name=name, path=path, root=root, is_package=is_package, importable=importable)
        by_path[path] = info
        claims.setdefault(name, []).append(info)
        if importable:
            top.add(parts[0])
            for i in range(1, len(parts)):
                namespaces.add(f"{root}\0" + "/".join(parts[:i]))

    namespace_packages = set()
    for entry in namespaces:
        root, folder = entry.split("\0", 1)
        if (root, folder) not in package_dirs:
            namespace_packages.add(folder.replace("/", "."))

    modules: dict[str, ModuleInfo] = {}
    duplicates = []
    for name, infos in claims.items():
        # Python searches roots in order; within one folder a package wins over a same-named module.
        ordered = sorted(infos, key=lambda i: (rank[i.root], not i.is_package, i.path))
        modules[name] = ordered[0]
        if len(infos) > 1:
            paths = tuple(sorted(i.path for i in infos))
            duplicates.append(DuplicateClaim(module=name, paths=paths, winner=ordered[0].path))
    namespace_packages -= {n for n, info in modules.items() if info.is_package}
    return ModuleIndex(
        roots=tuple(roots),
        modules=modules,
        by_path=by_path,
        namespace_packages=frozenset(namespace_packages),
        top_level=frozenset(top),
        duplicates=tuple(sorted(duplicates, key=lambda d: d.module)),
        other_modules=frozenset(others - set(modules)),
    )


_OTHER_SUFFIXES = (".pyi", ".pyx", ".so", ".pyd")


def _other_module(path: str, roots_by_length: Sequence[str]) -> str | None:
    """The module a stub, Cython or compiled-extension file provides, or None for any other file.

    ``pkg/fast.cpython-311-x86_64-linux-gnu.so`` is ``pkg.fast``.
    """
    if not path.endswith(_OTHER_SUFFIXES):
        return None
    root = next(r for r in roots_by_length if r == "" or path.startswith(r + "/"))
    rel = path[len(root) + 1 :] if root else path
    folder, _, name = rel.rpartition("/")
    stem = name.split(".", 1)[0]
    parts = [*(folder.split("/") if folder else []), stem]
    if stem == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


# --------------------------------------------------------------------------------------------------
# Resolution


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``importer_path:line``."""

    importer: str
    imported: str
    importer_path: str
    imported_path: str
    line: int
    kind: str
    via: str


@dataclass(frozen=True)
class Unresolved:
    """An import of one of the codebase's own names that no file provides: Python raises at that line.

    Never an edge (nothing is imported), so never part of a cycle.
    """

    importer: str
    importer_path: str
    line: int
    kind: str
    via: str
    #: The absolute module name Python looks for (``pkg.core.resiliency.circuit_breaker``).
    looked_for: str
    #: The longest prefix of ``looked_for`` that exists (a module or package), ``""`` when none does.
    nearest: str


def _existing_prefix(index: ModuleIndex, name: str) -> str | None:
    """The longest prefix of ``name`` (itself included) that is a module with a file."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if index.has_module(candidate):
            return candidate
    return None


def _exists(index: ModuleIndex, name: str) -> bool:
    """A module with a file, a namespace package (a folder of modules without ``__init__.py``), or a
    module without Python source (:attr:`ModuleIndex.other_modules`)."""
    return index.has_module(name) or name in index.namespace_packages or name in index.other_modules


def _nearest(index: ModuleIndex, name: str) -> str:
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:end])
        if _exists(index, candidate):
            return candidate
    return ""


def _targets(
    index: ModuleIndex,
    stmt: ImportStmt,
    importer: ModuleInfo,
    bindings: Mapping[str, tuple[str, ...] | None],
) -> tuple[list[str], list[tuple[str, str]]]:
    """Modules the statement imports (with a file), and the names it looks for in vain with their
    nearest existing package."""
    if stmt.level:
        base_parts = importer.name.split(".") if importer.is_package else importer.name.split(".")[:-1]
        up = stmt.level - 1
        if up > len(base_parts) or (up == len(base_parts) and not stmt.module):
            return [], []  # beyond the top-level package: Python raises ImportError
        base_parts = base_parts[: len(base_parts) - up] if up else base_parts
        base = ".".join([*base_parts, stmt.module] if stmt.module else base_parts)
    else:
        base = stmt.module
        if not base:
            return [], []
    if not base:
        return [], []
    if not _exists(index, base):
        return [], [(base, _nearest(index, base))]
    if not stmt.names:
        found = _existing_prefix(index, base)
        return ([found] if found else []), []
    # ``from a.b import c``: the submodule a.b.c when there is one, else a name defined in a.b, unless
    # a.b is a package whose namespace is known and binds no ``c``: then Python looks for a.b.c.
    targets: list[str] = []
    missing: list[tuple[str, str]] = []
    bound = bindings.get(base) if index.is_package(base) else None
    for name in stmt.names:
        if name != "*" and index.has_module(f"{base}.{name}"):
            targets.append(f"{base}.{name}")
        elif (
            name != "*"
            and not _exists(index, f"{base}.{name}")
            and index.is_package(base)
            and _binds_nothing(index, base, name, bound)
        ):
            missing.append((f"{base}.{name}", base))
        else:
            found = _existing_prefix(index, base)
            if found:
                targets.append(found)
    return targets, missing


def _binds_nothing(index: ModuleIndex, base: str, name: str, bound: tuple[str, ...] | None) -> bool:
    """Whether package ``base`` certainly has no attribute ``name`` (so ``name`` must be a submodule)."""
    if base in index.namespace_packages:
        return True  # a namespace package has no code of its own: only submodules are attributes
    return bound is not None and name not in bound


def _resolve(
    index: ModuleIndex,
    imports_by_path: Mapping[str, FileImports],
    external_names: AbstractSet[str],
) -> tuple[list[Edge], list[Unresolved]]:
    stdlib = sys.stdlib_module_names
    bindings: dict[str, tuple[str, ...] | None] = {}
    for path, found in imports_by_path.items():
        info = index.by_path.get(path)
        if info is not None and info.is_package and index.modules.get(info.name) == info:
            bindings[info.name] = found.bindings
    edges: list[Edge] = []
    unresolved: list[Unresolved] = []
    seen: set[tuple[str, str, int, str]] = set()
    for path in sorted(imports_by_path):
        importer = index.by_path.get(path)
        if importer is None:
            continue
        for stmt in imports_by_path[path].imports:
            if stmt.level == 0:
                head = stmt.module.split(".", 1)[0]
                if head in stdlib or head in external_names or head not in index.top_level:
                    continue
            targets, missing = _targets(index, stmt, importer, bindings)
            for looked_for, nearest in missing:
                key = (importer.name, "\0" + looked_for, stmt.line, path)
                if key not in seen:
                    seen.add(key)
                    unresolved.append(
                        Unresolved(importer.name, path, stmt.line, stmt.kind, stmt.via, looked_for, nearest)
                    )
            for target in targets:
                if target == importer.name:
                    continue
                key = (importer.name, target, stmt.line, path)
                if key in seen:
                    continue
                seen.add(key)
                edges.append(
                    Edge(
                        importer=importer.name,
                        imported=target,
                        importer_path=path,
                        imported_path=index.modules[target].path,
                        line=stmt.line,
                        kind=stmt.kind,
                        via=stmt.via,
                    )
                )
    return edges, unresolved


def resolve_imports(
    index: ModuleIndex,
    imports_by_path: Mapping[str, FileImports],
    external_names: AbstractSet[str] = frozenset(),
) -> list[Edge]:
    """Edges between the codebase's own modules, one per import statement and imported module.

    An absolute import resolves only when its first component is a top-level module under a source
    root and is neither a standard-library nor an installed third-party name: a repo folder
    ``common/logging/`` is not what ``import logging`` loads. Self-imports are dropped. An import of
    a module that does not exist is no edge (see :func:`find_unresolved`).
    """
    return _resolve(index, imports_by_path, external_names)[0]


def find_unresolved(
    index: ModuleIndex,
    imports_by_path: Mapping[str, FileImports],
    external_names: AbstractSet[str] = frozenset(),
) -> list[Unresolved]:
    """Imports of the codebase's own names that no file provides (see :class:`Unresolved`).

    Only names under the codebase's own top-level packages (and relative imports) are judged; a
    top-level name the codebase does not have is taken for a third-party package.
    """
    return _resolve(index, imports_by_path, external_names)[1]


# --------------------------------------------------------------------------------------------------
# Cycles


@dataclass(frozen=True)
class Cycle:
    cycle_id: str
    #: True when the component exists only through function-level, TYPE_CHECKING or ``__main__`` imports.
    latent: bool
    modules: tuple[str, ...]
    #: One shortest loop, as edges: ``loop[i].imported == loop[i + 1].importer``, back to the start.
    loop: tuple[Edge, ...]
    #: Imports whose removal breaks this component (verified; not guaranteed the smallest such set,
    #: and for a big latent component only minimised within a work budget: ``_LATENT_CUT_WORK``).
    cut: tuple[Edge, ...]

    @property
    def size(self) -> int:
        return len(self.modules)

    @property
    def loop_text(self) -> str:
        """``a:12 -> b:3 -> a``: each module with the line of its import of the next one."""
        if not self.loop:
            return ""
        steps = [f"{e.importer}:{e.line}" for e in self.loop]
        return " -> ".join([*steps, self.loop[0].importer])


@dataclass(frozen=True)
class CycleReport:
    cycles: tuple[Cycle, ...] = field(default_factory=tuple)

    @property
    def real(self) -> tuple[Cycle, ...]:
        return tuple(c for c in self.cycles if not c.latent)

    @property
    def latent(self) -> tuple[Cycle, ...]:
        return tuple(c for c in self.cycles if c.latent)


Graph = dict[str, set[str]]


def strongly_connected_components(
    nodes: Iterable[str], graph: Mapping[str, AbstractSet[str]]
) -> list[list[str]]:
    """Tarjan's algorithm without recursion, so a 10,000-module chain is fine."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index_of:
            continue
        work: list[tuple[str, Any]] = [(start, iter(sorted(graph.get(start, ()))))]
        index_of[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index_of:
                    index_of[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index_of[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _subgraph(graph: Mapping[str, AbstractSet[str]], members: AbstractSet[str]) -> Graph:
    return {n: {m for m in graph.get(n, ()) if m in members} for n in members}


def _topological_order(graph: Mapping[str, Collection[str]]) -> dict[str, int] | None:
    """Kahn's algorithm: node -> position, or None when the graph has a cycle."""
    indegree = dict.fromkeys(graph, 0)
    for succs in graph.values():
        for s in succs:
            indegree[s] = indegree.get(s, 0) + 1
    ready = sorted((n for n, d in indegree.items() if d == 0), reverse=True)
    order: dict[str, int] = {}
    while ready:
        node = ready.pop()
        order[node] = len(order)
        for s in graph.get(node, ()):
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    return order if len(order) == len(indegree) else None


def _try_add_edge(
    succ: dict[str, dict[str, None]],
    pred: dict[str, dict[str, None]],
    order: dict[str, int],
    u: str,
    v: str,
    limit: int | None = None,
) -> tuple[bool, int]:
    """Add u -> v to a DAG unless it closes a cycle, keeping ``order`` topological (Pearce-Kelly).

    Only the nodes between v and u in the current order are searched, which keeps the many
    put-back attempts of :func:`_cut_set` cheap on large components. Returns whether the edge went
    in and how many nodes were visited; past ``limit`` visits it gives up, changing nothing.
    Adjacency is kept in insertion-ordered dicts, so the visits, and with them what a limited
    put-back pass achieves, do not depend on string hashing (they are the same in every process).
    """
    lower, upper = order[v], order[u]
    if lower > upper:
        succ[u][v] = None
        pred[v][u] = None
        return True, 0
    forward: list[str] = []
    seen = {v}
    stack = [v]
    while stack:
        node = stack.pop()
        if node == u:
            return False, len(forward)
        forward.append(node)
        if limit is not None and len(forward) > limit:
            return False, len(forward)
        for s in succ[node]:
            if s not in seen and order[s] <= upper:
                seen.add(s)
                stack.append(s)
    backward: list[str] = []
    seen = {u}
    stack = [u]
    while stack:
        node = stack.pop()
        backward.append(node)
        if limit is not None and len(forward) + len(backward) > limit:
            return False, len(forward) + len(backward)
        for p in pred[node]:
            if p not in seen and order[p] >= lower:
                seen.add(p)
                stack.append(p)
    backward.sort(key=order.__getitem__)
    forward.sort(key=order.__getitem__)
    slots = sorted(order[n] for n in backward + forward)
    for node, slot in zip(backward + forward, slots):
        order[node] = slot
    succ[u][v] = None
    pred[v][u] = None
    return True, len(forward) + len(backward)


def _els_order(graph: Mapping[str, AbstractSet[str]]) -> dict[str, int]:
    """Eades-Lin-Smyth ordering: edges pointing backwards in it form a small feedback arc set."""
    succ = {n: set(s) for n, s in graph.items()}
    pred: dict[str, set[str]] = {n: set() for n in graph}
    for n, ss in graph.items():
        for s in ss:
            pred[s].add(n)
    alive = set(graph)
    left: list[str] = []
    right: list[str] = []
    sinks = deque(sorted(n for n in graph if not succ[n]))
    sources = deque(sorted(n for n in graph if not pred[n]))
    heap = [(len(pred[n]) - len(succ[n]), n) for n in sorted(graph)]
    heapq.heapify(heap)

    def remove(node: str) -> None:
        alive.discard(node)
        for s in succ.pop(node):
            pred[s].discard(node)
            heapq.heappush(heap, (len(pred[s]) - len(succ[s]), s))
            if not pred[s]:
                sources.append(s)
        for p in pred.pop(node):
            succ[p].discard(node)
            heapq.heappush(heap, (len(pred[p]) - len(succ[p]), p))
            if not succ[p]:
                sinks.append(p)

    while alive:
        while sinks or sources:
            while sinks:
                node = sinks.popleft()
                if node in alive and not succ[node]:
                    right.append(node)
                    remove(node)
            while sources:
                node = sources.popleft()
                if node in alive and not pred[node]:
                    left.append(node)
                    remove(node)
        while heap and alive:
            score, node = heapq.heappop(heap)
            if node in alive and score == len(pred[node]) - len(succ[node]):
                left.append(node)
                remove(node)
                break
    order = left + list(reversed(right))
    return {n: i for i, n in enumerate(order)}


def _constrained_order(
    graph: Mapping[str, AbstractSet[str]], allowed: AbstractSet[tuple[str, str]]
) -> dict[str, int] | None:
    """Node -> position with every edge outside ``allowed`` pointing forwards; None if impossible.

    Kahn's algorithm over those edges, taking among the nodes it may place next the one with the
    fewest remaining incoming edges of any kind relative to outgoing ones (ELS's score), so that few
    allowed edges end up pointing backwards.
    """
    succ = {n: set(s) for n, s in graph.items()}
    pred: dict[str, set[str]] = {n: set() for n in graph}
    hard_in = dict.fromkeys(graph, 0)
    for n, ss in graph.items():
        for s in ss:
            pred[s].add(n)
            if (n, s) not in allowed:
                hard_in[s] += 1

    def key(node: str) -> tuple[bool, int, str]:
        return (bool(pred[node]), len(pred[node]) - len(succ[node]), node)

    heap = [key(n) for n in graph if hard_in[n] == 0]
    heapq.heapify(heap)
    order: dict[str, int] = {}
    while heap:
        entry = heapq.heappop(heap)
        node = entry[2]
        if node in order or entry != key(node):
            continue
        order[node] = len(order)
        for s in succ.pop(node):
            pred[s].discard(node)
            if (node, s) not in allowed:
                hard_in[s] -= 1
            if hard_in[s] == 0:
                heapq.heappush(heap, key(s))
        for p in pred.pop(node):
            succ[p].discard(node)
            if hard_in[p] == 0:
                heapq.heappush(heap, key(p))
        succ[node] = set()
        pred[node] = set()
    return order if len(order) == len(graph) else None


def _cut_set(
    graph: Mapping[str, AbstractSet[str]],
    cuttable: AbstractSet[tuple[str, str]] | None,
    weights: Mapping[tuple[str, str], int],
    work_limit: int | None = None,
) -> list[tuple[str, str]]:
    """A minimal set of cuttable edges (all when ``cuttable`` is None) that leaves ``graph`` acyclic.

    Starts from the backward edges of an Eades-Lin-Smyth order (all cuttable edges when those are not
    enough), then puts back every edge that does not close a cycle again, heaviest first. With
    ``work_limit`` the put-back pass stops after that many node visits in all: the cut still breaks
    every cycle, it is just not minimal any more.
    """
    pos = _els_order(graph)
    edges = [(u, v) for u, succs in graph.items() for v in succs]
    allowed = set(edges) if cuttable is None else set(edges) & set(cuttable)
    cut = {(u, v) for u, v in allowed if pos[u] >= pos[v]}
    nodes = sorted(graph)
    succ = {n: dict.fromkeys(v for v in sorted(graph[n]) if (n, v) not in cut) for n in nodes}
    order = _topological_order(succ)
    if order is None:
        # The ELS order runs some edges that may not be cut backwards: order again, greedily as ELS
        # does, but never against such an edge. (Cutting every allowed edge and putting most back,
        # as before, is far slower on a big latent component.)
        constrained = _constrained_order(graph, allowed)
        if constrained is None:
            raise ValueError("the edges that may not be cut form a cycle on their own")
        cut = {(u, v) for u, v in allowed if constrained[u] >= constrained[v]}
        succ = {n: dict.fromkeys(v for v in sorted(graph[n]) if (n, v) not in cut) for n in nodes}
        order = _topological_order(succ)
        if order is None:  # cannot happen: every edge left runs forwards in ``constrained``
            raise ValueError("no acyclic order for the edges that may not be cut")
    pred: dict[str, dict[str, None]] = {n: {} for n in nodes}
    for n, ss in succ.items():
        for s in ss:
            pred[s][n] = None
    # Put back first the pairs most costly to cut (several import statements), then in name order.
    left = work_limit
    for u, v in sorted(cut, key=lambda uv: (-weights.get(uv, 1), uv)):
        if left is not None and left <= 0:
            break
        added, visits = _try_add_edge(succ, pred, order, u, v, left)
        if added:
            cut.discard((u, v))
        if left is not None:
            left -= max(visits, 1)
    return sorted(cut)


def _shortest_path(
    graph: Mapping[str, Sequence[str]], source: str, target: str, max_nodes: int | None = None
) -> list[str] | None:
    """Nodes from ``source`` to ``target`` by BFS (both ends included), successors in list order.

    None when there is no path, or none with fewer than ``max_nodes`` nodes (the search stops there).
    """
    parent: dict[str, str | None] = {source: None}
    frontier = [source]
    nodes = 2  # on a path to a successor of the frontier
    while frontier and (max_nodes is None or nodes < max_nodes):
        following: list[str] = []
        for node in frontier:
            for s in graph.get(node, ()):
                if s == target:
                    path = [node]
                    back = parent[node]
                    while back is not None:
                        path.append(back)
                        back = parent[back]
                    return [*reversed(path), target]
                if s not in parent:
                    parent[s] = node
                    following.append(s)
        frontier = following
        nodes += 1
    return None


#: How many start points the shortest-loop search tries in one component (exact below this size).
_LOOP_STARTS = 48


def _shortest_loop(
    graph: Mapping[str, AbstractSet[str]], first_edges: Sequence[tuple[str, str]]
) -> list[str]:
    """Shortest loop that starts with one of ``first_edges``: ``[a, b, ..., a]``."""
    ordered = {n: sorted(s) for n, s in graph.items()}
    best: list[str] | None = None
    for u, v in first_edges[:_LOOP_STARTS]:
        if u == v:
            return [u, u]
        # Only a loop shorter than the best so far matters: [u, *path] needs len(path) < len(best) - 1.
        path = _shortest_path(ordered, v, u, None if best is None else len(best) - 1)
        if path is not None and (best is None or len(path) + 1 < len(best)):
            best = [u, *path]
            if len(best) == 3:
                break
    return best or []


#: Work allowed for minimising the cut of a latent component: node visits of the put-back pass, one
#: per edge of the component but at least :data:`_LATENT_CUT_FLOOR`. Minimising is quadratic in the
#: worst case, and a latent component of thousands of modules (random function-level imports tie a
#: big codebase together) gets a cut of over a thousand imports however well it is minimised: nobody
#: works through that list, so it is not worth most of the cycle analysis' time. Small latent
#: components (up to a few hundred imports) stay fully minimised, and real cycles always are.
_LATENT_CUT_WORK = 1
_LATENT_CUT_FLOOR = 20_000


def find_cycles(edges: Iterable[Edge]) -> CycleReport:
    """Import cycles: components over import-time edges, then latent ones that all edges add.

    For each, one shortest loop (a latent loop goes through at least one latent import) and a cut set
    (verified to break the component; minimal for real cycles, minimised within a work budget for
    latent ones, see :data:`_LATENT_CUT_WORK`). Work per component is near-linear plus a few BFS
    passes; no enumeration of all cycles.
    """
    by_pair: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        if e.importer != e.imported:
            by_pair.setdefault((e.importer, e.imported), []).append(e)

    import_time = {pair for pair, found in by_pair.items() if any(e.kind in IMPORT_TIME_KINDS for e in found)}

    def is_import_time(u: str, v: str) -> bool:
        return (u, v) in import_time

    live: Graph = {}
    full: Graph = {}
    for u, v in by_pair:
        full.setdefault(u, set()).add(v)
        full.setdefault(v, set())
        if (u, v) in import_time:
            live.setdefault(u, set()).add(v)
            live.setdefault(v, set())

    weights = {pair: len(found) for pair, found in by_pair.items()}

    cycles: list[Cycle] = []
    real_sets: list[frozenset[str]] = []  # in discovery order: index = owner id below
    for component in strongly_connected_components(sorted(live), live):
        if len(component) < 2:
            continue
        members = frozenset(component)
        real_sets.append(members)
        sub = _subgraph(live, members)
        starts = sorted(
            ((u, v) for u in sub for v in sub[u]),
            key=lambda uv: (-(len(sub[uv[0]]) + len(sub[uv[1]])), uv),
        )
        loop = _shortest_loop(sub, starts)
        cut = _cut_set(sub, None, weights)
        cycles.append(_make_cycle(False, members, loop, cut, by_pair))

    owner = {m: i for i, members in enumerate(real_sets) for m in members}
    real_lookup = set(real_sets)
    for component in strongly_connected_components(sorted(full), full):
        members = frozenset(component)
        if len(members) < 2 or members in real_lookup:
            continue
        sub = _subgraph(full, members)
        latent_edges = sorted((u, v) for u in sub for v in sub[u] if not is_import_time(u, v))
        loop = _shortest_loop(sub, latent_edges)

        # Collapse the real components inside so that cutting only latent imports can succeed.
        def rep(m: str) -> str:
            return f"\0{owner[m]}" if m in owner else m

        # A condensed edge can be cut only when every import it stands for is latent.
        condensed: Graph = {}
        cuttable: set[tuple[str, str]] = set()
        blocked: set[tuple[str, str]] = set()
        condensed_weights: dict[tuple[str, str], int] = {}
        for u in sub:
            cu = rep(u)
            condensed.setdefault(cu, set())
            for v in sub[u]:
                cv = rep(v)
                if cu == cv:
                    continue
                condensed[cu].add(cv)
                condensed.setdefault(cv, set())
                condensed_weights[(cu, cv)] = condensed_weights.get((cu, cv), 0) + weights[(u, v)]
                (blocked if is_import_time(u, v) else cuttable).add((cu, cv))
        cuttable -= blocked
        limit = max(_LATENT_CUT_FLOOR, _LATENT_CUT_WORK * sum(len(s) for s in condensed.values()))
        cut_condensed = set(_cut_set(condensed, cuttable, condensed_weights, limit))
        cut_pairs = sorted((u, v) for u in sub for v in sub[u] if (rep(u), rep(v)) in cut_condensed)
        cycles.append(_make_cycle(True, members, loop, cut_pairs, by_pair))

    cycles.sort(key=lambda c: (c.latent, -c.size, c.modules))
    return CycleReport(cycles=tuple(cycles))


def _make_cycle(
    latent: bool,
    members: frozenset[str],
    loop: Sequence[str],
    cut: Sequence[tuple[str, str]],
    by_pair: Mapping[tuple[str, str], Sequence[Edge]],
) -> Cycle:
    """Attach concrete imports: per loop step the first import-time one; per cut pair all that matter."""

    def order(e: Edge) -> tuple[bool, str, int]:
        return (e.kind not in IMPORT_TIME_KINDS, e.importer_path, e.line)

    modules = tuple(sorted(members))
    loop_edges = tuple(min(by_pair[(loop[i], loop[i + 1])], key=order) for i in range(len(loop) - 1))
    cut_edges: list[Edge] = []
    for u, v in cut:
        pair = sorted(by_pair[(u, v)], key=order)
        # A real cycle breaks once the import-time imports go; a latent one needs every import gone.
        cut_edges.extend(pair if latent else [e for e in pair if e.kind in IMPORT_TIME_KINDS])
    digest = hashlib.sha1("\n".join(modules).encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    return Cycle(
        cycle_id=("latent-" if latent else "cycle-") + digest,
        latent=latent,
        modules=modules,
        loop=loop_edges,
        cut=tuple(cut_edges),
    )
