"""The import graph of a codebase's own modules, and the cycles in it.

Three stages, so each can be cached or tested alone:

1. :func:`extract_imports` (:mod:`.extract`) reads one file's bytes. Its result (:mod:`.statements`)
   depends on nothing but the content, so callers cache it by git blob id
   (:meth:`FileImports.to_json` / :meth:`FileImports.from_json`). Files that ``ast`` rejects still give
   their imports through the recovering parser of ``pysource`` (``via="fallback"``).
2. :func:`build_module_index` (:mod:`.modules`) names modules after file paths and source roots, and
   :func:`resolve_imports` (:mod:`.resolve`) turns import statements into edges between the codebase's
   own modules.
3. :func:`find_cycles` (:mod:`.cycles`) finds strongly connected components, once over the imports that
   run when a module is imported and once over all imports (the cycles only the latter has are
   *latent*); the graph algorithms it uses are in :mod:`.graph`.

Pure functions over what the caller hands in: no I/O, no Dagster.
"""

from __future__ import annotations

from symphony_assets.analysis.imports.cycles import Cycle, CycleReport, find_cycles
from symphony_assets.analysis.imports.extract import ANALYSER_VERSION, extract_imports
from symphony_assets.analysis.imports.graph import strongly_connected_components
from symphony_assets.analysis.imports.modules import (
    DuplicateClaim,
    ModuleIndex,
    ModuleInfo,
    build_module_index,
)
from symphony_assets.analysis.imports.resolve import Edge, Unresolved, find_unresolved, resolve_imports
from symphony_assets.analysis.imports.statements import (
    IMPORT_TIME_KINDS,
    KINDS,
    LATENT_KINDS,
    FileImports,
    ImportStmt,
)

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
    "strongly_connected_components",
]
