"""Module names for a codebase's files: which file Python loads for a name, under which source root."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


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
