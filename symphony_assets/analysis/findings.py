"""Code findings: broad exception handlers, places that touch a GPU, and backup/legacy files.

``broad_excepts`` and ``gpu_sites`` depend only on a file's bytes (callers cache them by git blob
id); they read the file with ``ast``, and files that do not parse (Python 2, merge markers, an early
unclosed bracket) through :func:`~symphony_assets.analysis.pysource.recover_python`, which keeps every
statement that parses, marking each result's ``via``. ``backup_kind`` looks at the path only.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from symphony_assets.analysis import limits
from symphony_assets.analysis.pysource import (
    ParseOutcome,
    Recovered,
    blank_merge_markers,
    decode_source,
    parse_python,
    recover_python,
)

__all__ = [
    "VIA_AST",
    "VIA_RECOVERED",
    "BroadExcept",
    "GpuSite",
    "backup_kind",
    "blank_merge_markers",
    "broad_excepts",
    "gpu_sites",
    "is_reason",
]

#: Bump when the output for the same bytes changes, so cached results are recomputed.
ANALYSER_VERSION = "2"

VIA_AST = "ast"
#: Found in a file that does not parse, through the recovering parser.
VIA_RECOVERED = "recovered"

_BROAD = ("BaseException", "Exception")  # ordered: the broader name wins when a tuple holds both
_SNIPPET_MAX = 160

#: Comment bodies that only silence a linter: they are not a reason.
_SUPPRESSION = re.compile(
    r"^\s*(?:noqa(?::?\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(?:\[[^\]]*\])?"
    r"|pragma:\s*no\s*cover|pylint:\s*disable=[\w,-]+|nosec)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BroadExcept:
    line: int
    kind: str  # bare | Exception | BaseException
    #: A comment on the ``except`` line (or between it and the first body line) says why.
    has_reason: bool
    via: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "has_reason": self.has_reason, "via": self.via}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BroadExcept:
        return cls(int(d["line"]), str(d["kind"]), bool(d["has_reason"]), str(d["via"]))


@dataclass(frozen=True)
class GpuSite:
    line: int
    #: cuda_call | to_cuda | torch_cuda | torch_device | device_kwarg | cupy_import | cupy
    kind: str
    snippet: str
    via: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "snippet": self.snippet, "via": self.via}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GpuSite:
        return cls(int(d["line"]), str(d["kind"]), str(d["snippet"]), str(d["via"]))


def is_reason(comment_text: str) -> bool:
    """Whether a comment explains something; a bare ``noqa``/``type: ignore`` only silences a tool.

    ``# noqa: BLE001 - the worker must survive any plugin error`` is a reason; ``# noqa: BLE001``
    alone is not.
    """
    text = comment_text.strip().lstrip("#").strip()
    return bool(text) and _SUPPRESSION.match(text) is None


# ------------------------------------------------------------------------------------- broad excepts


def broad_excepts(source: bytes, outcome: ParseOutcome | Recovered | None = None) -> list[BroadExcept]:
    """``except:``, ``except Exception``/``BaseException`` (also in tuples); does a comment explain it.

    ``outcome`` lets a caller that already parsed (or recovered) the file skip doing it again.
    """
    if b"except" not in source or limits.python_too_large(source):
        return []  # a file over the limit is not parsed (the code assets record it as too_large)
    tree, via = _tree(source, outcome)
    handlers = []
    for node in _except_handlers(tree.body):
        kind = _broad_kind_ast(node.type)
        if kind is not None:
            first_body = node.body[0].lineno if node.body else node.lineno
            handlers.append((node.lineno, first_body, kind))
    if not handlers:
        return []
    lines = decode_source(source).splitlines(keepends=True)
    found = []
    for line, first_body, kind in sorted(handlers):
        has_reason = any(is_reason(text) for text in _comments_in(lines, line, first_body))
        found.append(BroadExcept(line, kind, has_reason, via))
    return found


def _tree(source: bytes, outcome: ParseOutcome | Recovered | None) -> tuple[ast.Module, str]:
    """The file's tree and how it was read: ``ast``, or the recovering parser when it does not parse."""
    if isinstance(outcome, Recovered):
        return outcome.tree, VIA_RECOVERED if outcome.recovered else VIA_AST
    outcome = outcome or parse_python(source)
    if outcome.tree is not None:
        return outcome.tree, VIA_AST
    return recover_python(source, outcome).tree, VIA_RECOVERED


def _except_handlers(body: list[ast.stmt]) -> Iterator[ast.ExceptHandler]:
    """Every handler under these statements, descending through statement lists only.

    Expressions never hold statements, so this finds what ``ast.walk`` finds while skipping the
    expression nodes that make up most of a tree (``ast.walk`` cost more than the parse).
    """
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ExceptHandler):
            yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(children)


def _comments_in(lines: list[str], first: int, last: int) -> list[str]:
    """Comments on lines ``first..last`` (1-based), by tokenizing just those lines.

    Tokenizing the whole file for a handful of handlers cost more than everything else here; the
    header and first body line of a handler start a statement, so they tokenize on their own. A
    bracket left open at the end raises only after the comments before it came out.
    """
    found: list[str] = []
    chunk = io.StringIO("".join(lines[first - 1 : last]))
    try:
        for tok in tokenize.generate_tokens(chunk.readline):
            if tok.type == tokenize.COMMENT:
                found.append(tok.string)
    except (tokenize.TokenError, SyntaxError):
        pass  # the comments seen before the snippet ended are all we need
    return found


def _broad_kind_ast(expr: ast.expr | None) -> str | None:
    if expr is None:
        return "bare"
    names = [_dotted(e) for e in (expr.elts if isinstance(expr, ast.Tuple) else [expr])]
    return _broadest(names)


def _broadest(names: Iterable[str | None]) -> str | None:
    last = {name.rsplit(".", 1)[-1] for name in names if name and name.split(".")[0] in ("builtins", name)}
    return next((b for b in _BROAD if b in last), None)


# ----------------------------------------------------------------------------------------- GPU sites


def gpu_sites(source: bytes, outcome: ParseOutcome | Recovered | None = None) -> list[GpuSite]:
    """Code that puts work on a CUDA GPU (torch or CuPy), so GPU use can be inventoried per codebase.

    Every form we report spells ``cuda`` or ``cupy`` somewhere in the file, so files without either
    word are answered without parsing (most files of most codebases).
    """
    if (b"cuda" not in source and b"cupy" not in source) or limits.python_too_large(source):
        return []
    tree, via = _tree(source, outcome)
    lines = decode_source(source).splitlines()
    visitor = _GpuVisitor()
    visitor.visit(tree)
    seen: set[tuple[int, str]] = set()
    found = []
    for line, kind in visitor.hits:
        if (line, kind) in seen:
            continue
        seen.add((line, kind))
        found.append(GpuSite(line, kind, _snippet(lines, line), via))
    found.sort(key=lambda s: (s.line, s.kind))
    return _storable(found)


def _storable(sites: list[GpuSite]) -> list[GpuSite]:
    """Snippets every store accepts (a NUL in the source line fails a Postgres write)."""
    return [replace(s, snippet=limits.safe_text(s.snippet)) for s in sites]


def _snippet(lines: list[str], line: int) -> str:
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return text if len(text) <= _SNIPPET_MAX else text[: _SNIPPET_MAX - 3] + "..."


def _is_cuda_str(value: object) -> bool:
    return isinstance(value, str) and (value == "cuda" or value.startswith("cuda:"))


class _GpuVisitor(ast.NodeVisitor):
    """Two facts need the whole file: module aliases (``import torch as th``) and device variables.

    Assignments are collected in a first pass so ``.to(device)`` counts wherever ``device`` was
    bound to a CUDA device in the file, before or after (functions run later than they are read).
    """

    def __init__(self) -> None:
        self.hits: list[tuple[int, str]] = []
        self.torch_names: set[str] = {"torch"}
        self.cupy_names: set[str] = {"cupy"}
        self.cuda_vars: set[str] = set()

    def visit_Module(self, node: ast.Module) -> None:
        self._prepare(node)
        self.generic_visit(node)

    def _prepare(self, tree: ast.Module) -> None:
        assignments: list[tuple[list[ast.expr], ast.expr]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "torch":
                        self.torch_names.add(alias.asname or "torch")
                    if alias.name == "cupy" or alias.name.startswith("cupy."):
                        self.cupy_names.add(alias.asname or "cupy")
            if isinstance(node, ast.arguments):
                positional = [*node.posonlyargs, *node.args]
                pairs = list(zip(positional[len(positional) - len(node.defaults) :], node.defaults))
                pairs += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None]
                self.cuda_vars.update(
                    a.arg for a, d in pairs if isinstance(d, ast.Constant) and _is_cuda_str(d.value)
                )
            if isinstance(node, ast.Assign):
                assignments.append((list(node.targets), node.value))
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                assignments.append(([node.target], node.value))
        # Device variables may be defined from other device variables: iterate to a fixed point.
        changed = True
        while changed:
            changed = False
            for targets, value in assignments:
                if not self._cuda_expr(value):
                    continue
                for target in targets:
                    name = _dotted(target)
                    if name and name not in self.cuda_vars:
                        self.cuda_vars.add(name)
                        changed = True

    def _cuda_expr(self, expr: ast.expr) -> bool:
        """A CUDA device: ``"cuda"``, ``torch.device("cuda:0")``, a conditional holding one, a device var."""
        if isinstance(expr, ast.Constant):
            return _is_cuda_str(expr.value)
        if isinstance(expr, ast.IfExp):
            return self._cuda_expr(expr.body) or self._cuda_expr(expr.orelse)
        if isinstance(expr, ast.Call) and self._is_torch_device(expr):
            return bool(expr.args) and self._cuda_expr(expr.args[0])
        name = _dotted(expr)
        return name is not None and name in self.cuda_vars

    def _is_torch_device(self, call: ast.Call) -> bool:
        name = _dotted(call.func)
        return name is not None and any(name == f"{t}.device" for t in self.torch_names)

    def visit_Import(self, node: ast.Import) -> None:
        if any(a.name == "cupy" or a.name.startswith("cupy.") for a in node.names):
            self.hits.append((node.lineno, "cupy_import"))
        if any(a.name == "torch.cuda" or a.name.startswith("torch.cuda.") for a in node.names):
            self.hits.append((node.lineno, "torch_cuda"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "cupy" or module.startswith("cupy."):
            self.hits.append((node.lineno, "cupy_import"))
        elif (
            module == "torch.cuda"
            or module.startswith("torch.cuda.")
            or (module == "torch" and any(a.name == "cuda" for a in node.names))
        ):
            self.hits.append((node.lineno, "torch_cuda"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name):
            if node.value.id in self.torch_names and node.attr == "cuda":
                self.hits.append((node.lineno, "torch_cuda"))
            elif node.value.id in self.cupy_names:
                self.hits.append((node.lineno, "cupy"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr == "cuda" and not (
                isinstance(func.value, ast.Name) and func.value.id in self.torch_names
            ):
                self.hits.append((node.lineno, "cuda_call"))
            elif func.attr == "to" and any(self._cuda_expr(a) for a in node.args[:1]):
                self.hits.append((node.lineno, "to_cuda"))
        if self._is_torch_device(node) and node.args and self._cuda_expr(node.args[0]):
            self.hits.append((node.lineno, "torch_device"))
        for kw in node.keywords:
            if kw.arg == "device" and self._cuda_expr(kw.value):
                self.hits.append((kw.value.lineno, "device_kwarg"))
        self.generic_visit(node)


def _dotted(expr: ast.expr | None) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        base = _dotted(expr.value)
        return f"{base}.{expr.attr}" if base else None
    return None


# -------------------------------------------------------------------------------------- backup files

_BACKUP_DIRS = frozenset({"backup", "backups", "bak", "old", "legacy", "archive", "archived", "deprecated"})
_EPOCH_COPY = re.compile(r"[._-](?:backup|bak|orig|old|save|copy)[._-]?\d{8,}$|[._-]\d{10}$", re.IGNORECASE)
_OLD_COPY = re.compile(
    r"(?:[._-](?:old|copy|orig|prev|previous)\d*|\s\(copy(?:\s\d+)?\)|[._-]v\d+[._-]old)$", re.IGNORECASE
)


def backup_kind(path: str) -> str | None:
    """Why a path looks like a backup or legacy copy, or None; looks only at the path (cheap).

    Kinds: ``trash_folder``, ``backup_folder``, ``epoch_copy``, ``bak``, ``orig``, ``deprecated``,
    ``swap``, ``old_copy``, ``backup_name``.
    """
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        return None
    *folders, name = parts
    lowered = name.lower()
    if any(f.lower().startswith(("_trash_", ".trash")) or f.lower() in ("_trash", "trash") for f in folders):
        return "trash_folder"
    if any(f.lower() in _BACKUP_DIRS for f in folders):
        return "backup_folder"
    if _EPOCH_COPY.search(name):
        return "epoch_copy"
    if lowered.endswith((".bak", "~")) or re.search(r"\.bak\d*$", lowered):
        return "bak"
    if lowered.endswith((".orig", ".rej")):
        return "orig"
    if lowered.endswith(".deprecated"):
        return "deprecated"
    if lowered.endswith((".swp", ".swo")):
        return "swap"
    stem, dot, _ = name.rpartition(".")
    if _OLD_COPY.search(name) or (dot and stem and _OLD_COPY.search(stem)):
        return "old_copy"
    if "backup" in lowered:
        return "backup_name"
    return None
