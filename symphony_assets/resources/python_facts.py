"""Python files' facts through the blob cache: one pass per blob for every code asset.

``import_graph``, ``port_map``, ``dependency_usage``, ``security_findings`` and the code multi-asset
each ask for their part of :func:`~symphony_assets.analysis.facts.python_facts`. Whichever of them
meets a blob first parses it once and stores every part under that part's analyser key; the others
then reuse it. The keys are the ones each asset used before this pass was shared, so results cached
earlier stay valid.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from symphony_assets.analysis import complexity, findings, security, todos
from symphony_assets.analysis import facts as python
from symphony_assets.analysis.imports import extract as imports_extract
from symphony_assets.analysis.ports import extract as ports_extract
from symphony_assets.config import Codebase
from symphony_assets.resources.cache import AnalysisCache, CacheStats, Facet, analyse_facets
from symphony_assets.resources.git import FileEntry, Snapshot

CODE_ANALYSER = "code_structure:python"
IMPORTS_ANALYSER = "import_graph"
PORTS_ANALYSER = "port_map.python"


def max_complexity_bytes(codebase: Codebase) -> int:
    """``code.max_complexity_bytes``: files larger than this are not scored (part of the code facet's key)."""
    value = codebase.option("code", "max_complexity_bytes")
    return int(value) if value else complexity.DEFAULT_MAX_BYTES


def facets(max_bytes: int) -> dict[str, Facet]:
    """The cached parts of a Python blob's facts, by part."""
    code_version = f"{todos.ANALYSER_VERSION}.{complexity.ANALYSER_VERSION}.{findings.ANALYSER_VERSION}"
    return {
        python.CODE: Facet(python.CODE, CODE_ANALYSER, f"{code_version}:{max_bytes}"),
        python.IMPORTS: Facet(python.IMPORTS, IMPORTS_ANALYSER, imports_extract.ANALYSER_VERSION),
        python.PORTS: Facet(python.PORTS, PORTS_ANALYSER, ports_extract.ANALYSER_VERSION),
        python.SECURITY: Facet(python.SECURITY, security.PYTHON_ANALYSER, security.analyser_version()),
    }


def _facts_of(
    entry: FileEntry, content: bytes, max_bytes: int, blocks: complexity.BlockMemo | None
) -> dict[str, Any]:
    return python.python_facts(content, max_bytes, blocks, entry.path)


def facts_fn(max_bytes: int, blocks: complexity.BlockMemo | None = None) -> Callable[[FileEntry, bytes], Any]:
    """The per-blob function: a partial of a module-level one, so the blob pool can ship it to workers."""
    return functools.partial(_facts_of, max_bytes=max_bytes, blocks=blocks)


def python_facts_results(
    snapshot: Snapshot,
    entries: Sequence[FileEntry],
    cache: AnalysisCache,
    part: str,
    blocks: complexity.BlockMemo | None = None,
) -> tuple[dict[str, Any], CacheStats]:
    """One part of the facts of each file in ``entries`` (Python files), by path.

    ``blocks``: a run's memo of radon results per definition (see
    :func:`~symphony_assets.analysis.complexity.function_complexity`).
    """
    max_bytes = max_complexity_bytes(snapshot.codebase)
    by_part = facets(max_bytes)
    fn = facts_fn(max_bytes, blocks)
    return analyse_facets(snapshot, entries, cache, list(by_part.values()), by_part[part], fn)
