"""One Python file's code-structure facts, parsed whole or one top-level chunk at a time.

:func:`analyse_python` is the cached per-blob result shared by ``todo_list``, ``code_complexity``
and ``code_findings``: one parse feeds the marker scan, radon and the finding scans. With a per-run
:data:`ChunkMemo` an edited file is parsed per top-level stretch, so a new version of a file costs
little more than its edit (see :func:`_by_chunk`); the result is the same either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from symphony_assets.analysis import complexity
from symphony_assets.analysis.complexity import ComplexityReport, function_complexity
from symphony_assets.analysis.findings import BroadExcept, GpuSite, broad_excepts, gpu_sites
from symphony_assets.analysis.pysource import parse_python, recover_python
from symphony_assets.analysis.todos import TodoItem, extract_todos, statement_spans


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


@dataclass(frozen=True)
class ChunkFacts:
    """What a stretch of top-level statements yields, lines counted from the stretch's first line."""

    functions: tuple[complexity.FunctionComplexity, ...]
    broad_excepts: tuple[BroadExcept, ...]
    statements: tuple[tuple[int, int], ...]  # (first, last) line of each top-level statement


#: Per-run memo of :class:`ChunkFacts` by a hash of the chunk's text; None: the chunk does not stand
#: alone (it does not parse, or radon gave up), so the file takes the whole-file path.
ChunkMemo = dict[str, ChunkFacts | None]

_CHUNK_STARTS = ("def ", "async def ", "class ", "@")
_OTHER_LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def analyse_python(
    content: bytes,
    max_bytes: int,
    blocks: complexity.BlockMemo | None = None,
    chunks: ChunkMemo | None = None,
) -> dict[str, Any]:
    """The cached per-blob result for a Python file: one parse shared by every analysis.

    ``blocks`` (radon results per top-level definition, see
    :func:`~symphony_assets.analysis.complexity.function_complexity`) lets a new version of a file
    re-score only the definitions that changed, and ``chunks`` lets it parse only the top-level
    stretches that changed (:func:`_by_chunk`); the result is the same with or without them.
    """
    if chunks is not None:
        result = _by_chunk(content, max_bytes, blocks, chunks)
        if result is not None:
            return result
    outcome = parse_python(content)
    parse = (
        None
        if outcome.ok
        else {"error": outcome.error, "line": outcome.error_line, "python2": outcome.python2}
    )
    # A file that does not parse is recovered once, for both finding scans.
    read = outcome if outcome.ok else recover_python(content, outcome)
    return {
        "todos": [t.to_dict() for t in extract_todos(".py", content, tree=outcome.tree)],
        "complexity": function_complexity(content, max_bytes, outcome, blocks).to_dict(),
        "parse": parse,
        "broad_excepts": [b.to_dict() for b in broad_excepts(content, read)],
        "gpu_sites": [g.to_dict() for g in gpu_sites(content, read)],
    }


def _by_chunk(
    content: bytes, max_bytes: int, blocks: complexity.BlockMemo | None, chunks: ChunkMemo
) -> dict[str, Any] | None:
    """:func:`analyse_python`'s result from the file cut into chunks, each parsed once per run.

    Cuts fall before a top-level ``def``/``class``/decorator line that follows a blank line. When
    every chunk parses on its own, each chunk ends with the tokenizer in its starting state (no
    open string, bracket or continuation, indentation 0), so the file's top-level statements are
    the chunks' statements, shifted: radon (per statement), the handler scan (per statement, its
    comments inside the statement) and the statement lines for markers are the whole-file ones.
    Anything else returns None for the whole-file path: a chunk that does not parse (a def inside
    a string, Python 2), GPU words (that scan needs the whole file), a non-UTF-8 or BOM or
    encoding-cookie file, carriage returns, ``__future__`` imports, an oversized file.
    """
    if (
        len(content) > max_bytes
        or b"cuda" in content
        or b"cupy" in content
        or b"\r" in content
        or b"__future__" in content
        or b"coding" in content[:400]
        or content.startswith(b"\xef\xbb\xbf")
    ):
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(sep in text for sep in _OTHER_LINE_BREAKS):
        return None  # ``str.splitlines`` (used for comments and snippets) would count lines differently
    lines = text.split("\n")
    cuts = [0]
    cuts += [
        i for i in range(1, len(lines)) if lines[i].startswith(_CHUNK_STARTS) and not lines[i - 1].strip()
    ]
    cuts.append(len(lines))
    functions: list[complexity.FunctionComplexity] = []
    excepts: list[BroadExcept] = []
    statements: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        chunk = "\n".join(lines[a:b]) + ("\n" if b < len(lines) else "")
        key = hashlib.sha1(chunk.encode("utf-8", "surrogatepass")).hexdigest()
        if key in chunks:
            facts = chunks[key]
        else:
            facts = chunks[key] = _chunk_facts(chunk.encode("utf-8", "surrogatepass"), blocks)
        if facts is None:
            return None
        functions += [
            dataclasses.replace(f, line=f.line + a, end_line=f.end_line + a) for f in facts.functions
        ]
        excepts += [dataclasses.replace(e, line=e.line + a) for e in facts.broad_excepts]
        statements += [(first + a, last + a) for first, last in facts.statements]
    functions.sort(key=lambda f: (f.line, f.name))
    return {
        "todos": [t.to_dict() for t in extract_todos(".py", content, statements=statements)],
        "complexity": ComplexityReport(complexity.STATUS_OK, "", tuple(functions)).to_dict(),
        "parse": None,
        "broad_excepts": [e.to_dict() for e in excepts],
        "gpu_sites": [],
    }


def _chunk_facts(chunk: bytes, blocks: complexity.BlockMemo | None) -> ChunkFacts | None:
    outcome = parse_python(chunk)
    if outcome.tree is None:
        return None
    report = function_complexity(chunk, len(chunk) + 1, outcome, blocks)
    if report.status != complexity.STATUS_OK:
        return None
    return ChunkFacts(
        report.functions, tuple(broad_excepts(chunk, outcome)), tuple(statement_spans(outcome.tree))
    )


def todo_result(content: bytes, suffix: str) -> dict[str, Any]:
    """The cached per-blob result for a file that is not Python: its work markers only."""
    return {"todos": [t.to_dict() for t in extract_todos(suffix, content)]}
