"""Import statements turned into edges between a codebase's own modules, and the imports of its own
names that no file provides."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from symphony_assets.analysis.imports.modules import ModuleIndex, ModuleInfo
from symphony_assets.analysis.imports.statements import FileImports, ImportStmt


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
