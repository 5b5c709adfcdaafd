"""One Python file's facts from one parse: what every code asset needs from a blob.

:func:`python_facts` parses a blob once (and, when ``ast`` rejects it, recovers it once) and hands
that tree to every extractor: the imports of ``import_graph``, the port sites of ``port_map``, and
the markers, per-function complexity, exception handlers, GPU sites and parse status of the code
multi-asset (``todo_list``, ``code_complexity``, ``code_findings``), and bandit's findings of
``security_findings``. Each part is cached under its own analyser key, so an asset reads only its
part, and the first asset to meet a blob fills all of them
(:func:`symphony_assets.resources.python_facts.python_facts_results`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from symphony_assets.analysis import complexity, security
from symphony_assets.analysis.complexity import ComplexityReport, function_complexity
from symphony_assets.analysis.findings import BroadExcept, GpuSite, broad_excepts, gpu_sites
from symphony_assets.analysis.imports.extract import extract_imports
from symphony_assets.analysis.ports.extract import python_ports
from symphony_assets.analysis.pysource import ParseOutcome, Recovered, parse_python, recover_python
from symphony_assets.analysis.todos import TodoItem, extract_todos

#: The parts of :func:`python_facts`' result (``security`` only for a path bandit reads).
CODE, IMPORTS, PORTS, SECURITY = "code", "imports", "ports", "security"


@dataclass(frozen=True)
class FileFacts:
    """Everything the three assets need from one file's bytes (the cached result, decoded)."""

    todos: tuple[TodoItem, ...] = ()
    complexity: ComplexityReport | None = None
    parse: Mapping[str, Any] | None = None
    broad_excepts: tuple[BroadExcept, ...] = ()
    gpu_sites: tuple[GpuSite, ...] = ()

    @classmethod
    def from_result(cls, raw: Mapping[str, Any]) -> FileFacts:
        cx = raw.get("complexity")
        return cls(
            todos=tuple(TodoItem.from_dict(t) for t in raw.get("todos", ())),
            complexity=ComplexityReport.from_dict(cx) if cx is not None else None,
            parse=raw.get("parse"),
            broad_excepts=tuple(BroadExcept.from_dict(b) for b in raw.get("broad_excepts", ())),
            gpu_sites=tuple(GpuSite.from_dict(g) for g in raw.get("gpu_sites", ())),
        )


def python_facts(
    content: bytes, max_bytes: int, blocks: complexity.BlockMemo | None = None, path: str | None = None
) -> dict[str, Any]:
    """Every part for one Python blob, from one parse (and at most one recovery).

    Equal, part by part, to the extractors run alone (a test checks it): ``code`` is
    :func:`analyse_python`, ``imports`` :func:`~symphony_assets.analysis.imports.extract.extract_imports`,
    ``ports`` :func:`~symphony_assets.analysis.ports.extract.python_ports`, and, when ``path`` is given
    and names a Python file, ``security`` :func:`~symphony_assets.analysis.security.scan_file` (bandit
    reads the file name: module names, skips).
    """
    outcome = parse_python(content)
    recovered = recover_python(content, outcome)
    facts = {
        IMPORTS: extract_imports(content, outcome, recovered).to_dict(),
        PORTS: [asdict(site) for site in python_ports(content, outcome, recovered)],
        # Radon and the scans only read the tree, but nothing after them needs it untouched.
        CODE: analyse_python(content, max_bytes, blocks, outcome, recovered),
    }
    if path is not None and security.is_python(path):
        # Last: bandit links every node of the tree to its parent and sibling.
        facts[SECURITY] = security.scan_file(path, content, outcome).to_dict()
    return facts


def analyse_python(
    content: bytes,
    max_bytes: int,
    blocks: complexity.BlockMemo | None = None,
    outcome: ParseOutcome | None = None,
    recovered: Recovered | None = None,
) -> dict[str, Any]:
    """The code multi-asset's part for a Python file.

    ``blocks`` (radon results per top-level definition, see
    :func:`~symphony_assets.analysis.complexity.function_complexity`) lets a new version of a file
    re-score only the definitions that changed; the result is the same with or without it.
    """
    outcome = outcome or parse_python(content)
    parse = (
        None
        if outcome.ok
        else {"error": outcome.error, "line": outcome.error_line, "python2": outcome.python2}
    )
    # A file that does not parse is recovered once, for both finding scans.
    read = recovered or recover_python(content, outcome)
    return {
        "todos": [t.to_dict() for t in extract_todos(".py", content, tree=outcome.tree)],
        "complexity": function_complexity(content, max_bytes, outcome, blocks).to_dict(),
        "parse": parse,
        "broad_excepts": [b.to_dict() for b in broad_excepts(content, read)],
        "gpu_sites": [g.to_dict() for g in gpu_sites(content, read)],
    }


def todo_result(content: bytes, suffix: str) -> dict[str, Any]:
    """The cached per-blob result for a file that is not Python: its work markers only."""
    return {"todos": [t.to_dict() for t in extract_todos(suffix, content)]}
