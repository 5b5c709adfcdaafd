"""Network ports a file binds, connects to, listens on or configures, and where two components collide.

Several services deployed on one machine each pick their ports in code or config; two of them binding
the same port only shows up at run time as ``Address already in use``. This module finds the port
sites statically so a collision is visible before deployment.

Per-file extraction depends only on the file's format (chosen from its path) and its bytes, so the
caller can cache results by blob id. Nothing here raises on bad input.

Resolution rules (what ``resolved`` means):

* A port written as a literal, or as an expression over module constants, class attributes, default
  arguments and single-assigned locals that folds to an integer, is ``resolved=True``.
* A port read from the environment with a default (``os.environ.get("P", 5555)``,
  ``${P:-5555}`` in config when ``P`` is not defined in the same file) keeps the default as ``port`` but
  is ``resolved=False``: the deployment may override it, so it never counts as a conflict.
* Anything else keeps ``port=None``, ``resolved=False`` and the source expression in ``raw``.
* A random port (``bind_to_random_port``, port ``0``, ZMQ ``tcp://*:*``, a compose entry with no
  published port) is ``port=0``, ``resolved=True``: known to be random, never a conflict.
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import gc
import json
import json.scanner
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import yaml

from symphony_assets.analysis import limits, pysource

__all__ = [
    "PortConflict",
    "PortSite",
    "SiteWithContext",
    "extract_ports",
    "file_format",
    "find_conflicts",
    "is_port_key",
]

#: ``skipped``: the file, or the rest of it, was not analysed; ``raw`` says which limit it hit.
Role = Literal["bind", "connect", "listen", "config", "unknown", "skipped"]
Via = Literal["ast", "fallback", "config", "skipped"]
FileFormat = Literal["python", "yaml", "json", "toml", "env"]

#: Longest ``raw`` text kept per site; enough to recognise the expression, bounded for storage.
RAW_LIMIT = 300
#: A published compose range like ``8000-8999:8000-8999`` expands to at most this many sites.
RANGE_LIMIT = 64
MAX_PORT = 65535
#: Config files larger than this are data, not configuration: recorded as skipped (``role="skipped"``).
MAX_CONFIG_BYTES = limits.MAX_CONFIG_BYTES


@dataclass(frozen=True)
class PortSite:
    """One place a port is used: a call in code, or a value in a config file."""

    line: int
    role: Role
    host: str | None
    port: int | None
    raw: str
    resolved: bool
    socket_type: str | None
    via: Via
    #: Enclosing ``Class.method`` for code, the key path (``services.web.ports[0]``) for config.
    context: str


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------


def file_format(path: str) -> FileFormat | None:
    """The format to read ``path`` as, or None when the file cannot hold ports we look for."""
    name = posixpath.basename(path).lower()
    _, ext = posixpath.splitext(name)
    if ext in (".py", ".pyw"):
        return "python"
    if ext in (".yml", ".yaml"):
        return "yaml"
    if ext == ".json":
        return "json"
    if ext == ".toml":
        return "toml"
    if name == ".env" or name.startswith(".env.") or ext == ".env":
        return "env"
    return None


def extract_ports(path: str, source: bytes) -> list[PortSite]:
    """Every port site in one file; ``path`` only chooses the format.

    A file over a size limit, or whose parse hits a limit of :mod:`~symphony_assets.analysis.limits`
    (nesting, node count, YAML alias expansion), gives a ``role="skipped"`` site saying why.
    """
    fmt = file_format(path)
    if fmt is None:
        return []
    if fmt == "python":
        too_large = limits.python_too_large(source)
        sites = [_skipped_site(too_large)] if too_large else _python_ports(source)
    else:
        too_large = limits.too_large_reason(len(source), MAX_CONFIG_BYTES, "config")
        if too_large:
            return [_skipped_site(too_large)]
        sites = _config_ports(fmt, source.decode("utf-8", "replace"))
    return [_storable(site) for site in sites]


def _storable(site: PortSite) -> PortSite:
    """The site with text every store accepts (a ``\\udc80`` escape in a string gives a lone surrogate)."""
    raw, context = limits.safe_text(site.raw), limits.safe_text(site.context)
    host = None if site.host is None else limits.safe_text(site.host)
    if (raw, context, host) == (site.raw, site.context, site.host):
        return site
    return replace(site, raw=raw, context=context, host=host)


# ---------------------------------------------------------------------------------------------------------
# Python: scopes and constant folding
# ---------------------------------------------------------------------------------------------------------

# Markers embedded in folded strings: an unknown part, and a part that the environment may override.
_UNK_OPEN, _UNK_CLOSE = "\x00", "\x01"
_SOFT_OPEN, _SOFT_CLOSE = "\x02", "\x03"
_MAX_DEPTH = 40


@dataclass(frozen=True)
class _Val:
    value: int | str
    #: True when the value is only a default the environment may override.
    soft: bool = False


@dataclass
class _Scope:
    kind: Literal["module", "class", "function"]
    name: str
    #: name -> every binding seen (expression or None for "bound to something unknown"), with the
    #: scope chain the expression must be evaluated in.
    defs: dict[str, list[tuple[ast.expr | None, tuple[_Scope, ...]]]] = field(default_factory=dict)
    #: For classes: attributes set in the body or as ``self.x = ...`` in methods.
    attrs: dict[str, list[tuple[ast.expr | None, tuple[_Scope, ...]]]] = field(default_factory=dict)
    #: Receiver text (``sock``, ``self.pub``) -> socket type (``PUB``, ``SOCK_DGRAM``).
    sockets: dict[str, str] = field(default_factory=dict)
    owner: _Scope | None = None


class _Folder:
    """Folds expressions to ints/strings over the scopes of one module, recording what it consumed."""

    def __init__(self, classes: dict[str, _Scope]) -> None:
        self.classes = classes
        self.consumed: set[int] = set()
        self._active: set[int] = set()

    def value(self, node: ast.expr, chain: tuple[_Scope, ...], depth: int = 0) -> _Val | None:
        if depth > _MAX_DEPTH or id(node) in self._active:
            return None
        self._active.add(id(node))
        try:
            return self._value(node, chain, depth + 1)
        finally:
            self._active.discard(id(node))

    def text(self, node: ast.expr, chain: tuple[_Scope, ...], depth: int = 0) -> str:
        """The expression as a string, unknown parts wrapped in markers so the rest stays usable."""
        val = self.value(node, chain, depth)
        if val is None or isinstance(val.value, bool):
            return _UNK_OPEN + _unparse(node) + _UNK_CLOSE
        return _wrap_soft(str(val.value), val.soft)

    def _value(self, node: ast.expr, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        if isinstance(node, ast.Constant):
            self.consumed.add(id(node))
            if isinstance(node.value, bool) or not isinstance(node.value, int | str):
                return None
            return _Val(node.value)
        if isinstance(node, ast.Name):
            return self._lookup(node.id, chain, depth)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, chain, depth)
        if isinstance(node, ast.BinOp):
            return self._binop(node, chain, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand, chain, depth)
            if inner is not None and isinstance(inner.value, int):
                return _Val(-inner.value, inner.soft)
            return None
        if isinstance(node, ast.JoinedStr):
            self.consumed.add(id(node))
            return self._fstring(node, chain, depth)
        if isinstance(node, ast.Call):
            return self._call(node, chain, depth)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2:
            # ``os.environ.get("PORT") or 5555``: the right side is a default the environment overrides.
            left, right = node.values
            if _env_lookup(left) is not None:
                default = self.value(right, chain, depth)
                return None if default is None else _Val(default.value, True)
        return None

    def _lookup(self, name: str, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        for scope in chain:
            if name in scope.defs:
                return self._agree(scope.defs[name], depth)
        return None

    def _agree(self, bindings: list[tuple[ast.expr | None, tuple[_Scope, ...]]], depth: int) -> _Val | None:
        """A name bound several times resolves only when every binding folds to the same value."""
        result: _Val | None = None
        for expr, chain in bindings:
            if expr is None:
                return None
            val = self.value(expr, chain, depth)
            if val is None or (result is not None and val.value != result.value):
                return None
            result = val if result is None else _Val(result.value, result.soft or val.soft)
        return result

    def _attribute(self, node: ast.Attribute, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        base = node.value
        if not isinstance(base, ast.Name):
            return None
        cls: _Scope | None = None
        if base.id in ("self", "cls"):
            for scope in chain:
                if scope.kind == "function" and scope.owner is not None:
                    cls = scope.owner
                    break
        else:
            cls = self.classes.get(base.id)
        if cls is None or node.attr not in cls.attrs:
            return None
        return self._agree(cls.attrs[node.attr], depth)

    def _binop(self, node: ast.BinOp, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        left = self.value(node.left, chain, depth)
        if isinstance(node.op, ast.Mod) and left is not None and isinstance(left.value, str):
            return self._percent(left, node.right, chain, depth)
        right = self.value(node.right, chain, depth)
        if left is None or right is None:
            if isinstance(node.op, ast.Add) and (_is_str(left) or _is_str(right)):
                # Keep the known half of ``"tcp://*:" + port`` so the host survives.
                lt = self.text(node.left, chain, depth)
                rt = self.text(node.right, chain, depth)
                return _Val(lt + rt)
            return None
        soft = left.soft or right.soft
        a, b = left.value, right.value
        if isinstance(a, int) and isinstance(b, int):
            folded = _int_op(node.op, a, b)
            return None if folded is None else _Val(folded, soft)
        if isinstance(a, str) and isinstance(b, str) and isinstance(node.op, ast.Add):
            return _Val(_wrap_soft(a, left.soft) + _wrap_soft(b, right.soft), soft)
        return None

    def _percent(self, left: _Val, right: ast.expr, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        template = str(left.value)
        items = right.elts if isinstance(right, ast.Tuple) else [right]
        parts = [self.value(item, chain, depth) for item in items]
        specs = list(_PERCENT_SPEC.finditer(template))
        if len([s for s in specs if s.group(0) != "%%"]) != len(items):
            return None
        out: list[str] = []
        pos = 0
        index = 0
        for spec in specs:
            out.append(template[pos : spec.start()])
            pos = spec.end()
            if spec.group(0) == "%%":
                out.append("%")
                continue
            part, item = parts[index], items[index]
            index += 1
            if part is None:
                out.append(_UNK_OPEN + _unparse(item) + _UNK_CLOSE)
                continue
            try:
                rendered = spec.group(0) % (part.value,)
            except (TypeError, ValueError):
                rendered = str(part.value)
            out.append(_wrap_soft(rendered, part.soft))
        out.append(template[pos:])
        return _Val("".join(out), left.soft or any(p is not None and p.soft for p in parts))

    def _fstring(self, node: ast.JoinedStr, chain: tuple[_Scope, ...], depth: int) -> _Val:
        out: list[str] = []
        soft = False
        for piece in node.values:
            if isinstance(piece, ast.Constant):
                self.consumed.add(id(piece))
                out.append(str(piece.value))
            elif isinstance(piece, ast.FormattedValue):
                val = self.value(piece.value, chain, depth)
                spec = _static_format_spec(piece.format_spec)
                if val is None or spec is None:
                    out.append(_UNK_OPEN + _unparse(piece.value) + _UNK_CLOSE)
                    continue
                try:
                    rendered = format(val.value, spec)
                except (TypeError, ValueError):
                    rendered = str(val.value)
                out.append(_wrap_soft(rendered, val.soft))
                soft = soft or val.soft
        return _Val("".join(out), soft)

    def _call(self, node: ast.Call, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        func = node.func
        name = _call_name(node)
        if name in ("int", "str") and isinstance(func, ast.Name) and len(node.args) == 1:
            inner = self.value(node.args[0], chain, depth)
            if inner is None:
                return None
            if name == "str":
                return _Val(str(inner.value), inner.soft)
            try:
                return _Val(int(inner.value), inner.soft)
            except ValueError:
                return None
        env_default = _env_lookup(node)
        if env_default is not None:
            default = env_default[1]
            if default is None:
                return None
            val = self.value(default, chain, depth)
            return None if val is None else _Val(val.value, True)
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "format"
            and isinstance(func.value, ast.Constant)
            and isinstance(func.value.value, str)
        ):
            self.consumed.add(id(func.value))
            return self._format(func.value.value, node, chain, depth)
        return None

    def _format(self, template: str, node: ast.Call, chain: tuple[_Scope, ...], depth: int) -> _Val | None:
        import string

        positional = list(node.args)
        named = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        out: list[str] = []
        soft = False
        auto = 0
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError:
            return None
        for literal, field_name, spec, _conv in parsed:
            out.append(literal)
            if field_name is None:
                continue
            key = field_name.split(".")[0].split("[")[0]
            expr: ast.expr | None
            if key == "":
                expr = positional[auto] if auto < len(positional) else None
                auto += 1
            elif key.isdigit():
                idx = int(key)
                expr = positional[idx] if idx < len(positional) else None
            else:
                expr = named.get(key)
            val = self.value(expr, chain, depth) if expr is not None and key == field_name else None
            if val is None:
                out.append(_UNK_OPEN + (_unparse(expr) if expr is not None else field_name) + _UNK_CLOSE)
                continue
            try:
                rendered = format(val.value, spec or "")
            except (TypeError, ValueError):
                rendered = str(val.value)
            out.append(_wrap_soft(rendered, val.soft))
            soft = soft or val.soft
        return _Val("".join(out), soft)


_PERCENT_SPEC = re.compile(r"%(?:%|[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa])")


def _int_op(op: ast.operator, a: int, b: int) -> int | None:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b if abs(a) < 1 << 32 and abs(b) < 1 << 32 else None
    if isinstance(op, ast.FloorDiv) and b != 0:
        return a // b
    if isinstance(op, ast.Mod) and b != 0:
        return a % b
    return None


def _is_str(val: _Val | None) -> bool:
    return val is not None and isinstance(val.value, str)


def _wrap_soft(text: str, soft: bool) -> str:
    if not soft or _SOFT_OPEN in text or _UNK_OPEN in text:
        return text
    return _SOFT_OPEN + text + _SOFT_CLOSE


def _static_format_spec(spec: ast.expr | None) -> str | None:
    if spec is None:
        return ""
    if isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values):
        return "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant))
    return None


def _unparse(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError, AttributeError):
        text = type(node).__name__
    return text[:RAW_LIMIT]


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return ""


def _env_lookup(node: ast.expr) -> tuple[str, ast.expr | None] | None:
    """``os.environ.get(K, d)``, ``os.getenv(K, d)``, ``environ.get(K)``: (key text, default)."""
    if not isinstance(node, ast.Call):
        return None
    dotted = _dotted(node.func)
    if not (dotted.endswith("environ.get") or dotted in ("os.getenv", "getenv")):
        return None
    if not node.args:
        return None
    default = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg == "default":
            default = kw.value
    return _unparse(node.args[0]), default


# ---------------------------------------------------------------------------------------------------------
# Python: collecting bindings
# ---------------------------------------------------------------------------------------------------------


class _Binder:
    """Builds the scope of every module/class/function: names, class attributes and socket types."""

    def __init__(self) -> None:
        self.scopes: dict[int, _Scope] = {}
        self.classes: dict[str, _Scope] = {}
        self.docstrings: set[int] = set()

    def bind_module(self, tree: ast.Module) -> _Scope:
        module = _Scope("module", "")
        self._docstring(tree.body)
        self._body(tree.body, module, (module,))
        return module

    def _docstring(self, body: list[ast.stmt]) -> None:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            self.docstrings.add(id(body[0].value))

    def _body(self, body: Iterable[ast.stmt], scope: _Scope, chain: tuple[_Scope, ...]) -> None:
        for stmt in body:
            self._stmt(stmt, scope, chain)

    def _add(self, scope: _Scope, name: str, expr: ast.expr | None, chain: tuple[_Scope, ...]) -> None:
        scope.defs.setdefault(name, []).append((expr, chain))

    def _stmt(self, stmt: ast.stmt, scope: _Scope, chain: tuple[_Scope, ...]) -> None:
        if isinstance(stmt, ast.ClassDef):
            self._add(scope, stmt.name, None, chain)
            cls = _Scope("class", stmt.name, owner=None)
            self.scopes[id(stmt)] = cls
            if scope.kind == "module":
                self.classes[stmt.name] = cls
            self._docstring(stmt.body)
            self._body(stmt.body, cls, (cls, *[s for s in chain if s.kind != "class"]))
            for name, bindings in cls.defs.items():
                cls.attrs[name] = bindings + cls.attrs.get(name, [])
            return
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self._add(scope, stmt.name, None, chain)
            func = _Scope("function", stmt.name, owner=scope if scope.kind == "class" else None)
            self.scopes[id(stmt)] = func
            outer = tuple(s for s in chain if s.kind != "class")
            fchain = (func, *outer)
            self._params(stmt.args, func, outer)
            self._docstring(stmt.body)
            self_name = None
            if func.owner is not None and stmt.args.args:
                self_name = stmt.args.args[0].arg
            self._fbody(stmt.body, func, fchain, self_name)
            return
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self._target(target, stmt.value, scope, chain)
            self._socket_assign(stmt.targets, stmt.value, scope)
        elif isinstance(stmt, ast.AnnAssign):
            self._target(stmt.target, stmt.value, scope, chain)
            if stmt.value is not None:
                self._socket_assign([stmt.target], stmt.value, scope)
        elif isinstance(stmt, ast.AugAssign):
            self._target(stmt.target, None, scope, chain)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                self._add(scope, (alias.asname or alias.name).split(".")[0], None, chain)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            self._target(stmt.target, None, scope, chain)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._target(item.optional_vars, None, scope, chain)
                    self._socket_assign([item.optional_vars], item.context_expr, scope)
        for child in _child_bodies(stmt):
            self._body(child, scope, chain)

    def _fbody(
        self, body: list[ast.stmt], func: _Scope, chain: tuple[_Scope, ...], self_name: str | None
    ) -> None:
        """A method body: also records ``self.x = ...`` as attributes of the owning class."""
        self._body(body, func, chain)
        if self_name is None or func.owner is None:
            return
        for node in _walk_same_scope(body):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == self_name
                    ):
                        func.owner.attrs.setdefault(target.attr, []).append((node.value, chain))
                        if node.value is not None:
                            stype = _socket_type(node.value)
                            if stype is not None:
                                func.owner.sockets["self." + target.attr] = stype

    def _params(self, args: ast.arguments, func: _Scope, outer: tuple[_Scope, ...]) -> None:
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        defaults.extend(args.defaults)
        for arg, default in zip(positional, defaults):
            self._add(func, arg.arg, default, outer)
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
            self._add(func, arg.arg, kw_default, outer)
        for star in (args.vararg, args.kwarg):
            if star is not None:
                self._add(func, star.arg, None, outer)

    def _target(
        self, target: ast.expr, value: ast.expr | None, scope: _Scope, chain: tuple[_Scope, ...]
    ) -> None:
        if isinstance(target, ast.Name):
            self._add(scope, target.id, value, chain)
        elif isinstance(target, ast.Tuple | ast.List):
            values: list[ast.expr] | None = None
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                values = list(value.elts)
            for i, elt in enumerate(target.elts):
                self._target(elt, values[i] if values is not None else None, scope, chain)
        elif isinstance(target, ast.Starred):
            self._target(target.value, None, scope, chain)

    def _socket_assign(self, targets: list[ast.expr], value: ast.expr, scope: _Scope) -> None:
        stype = _socket_type(value)
        if stype is None:
            return
        for target in targets:
            if isinstance(target, ast.Name | ast.Attribute):
                scope.sockets[_unparse(target)] = stype


def _child_bodies(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    """Statement lists nested in a compound statement that still belong to the same scope."""
    for name in ("body", "orelse", "finalbody"):
        body = getattr(stmt, name, None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            yield body
    for handler in getattr(stmt, "handlers", None) or []:
        if isinstance(handler, ast.ExceptHandler):
            yield handler.body
    for case in getattr(stmt, "cases", None) or []:
        if isinstance(case, ast.match_case):
            yield case.body


def _walk_same_scope(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        yield stmt
        for child in _child_bodies(stmt):
            yield from _walk_same_scope(child)


def _socket_type(value: ast.expr) -> str | None:
    """``ctx.socket(zmq.PUB)`` -> ``PUB``; ``socket.socket(AF_INET, SOCK_DGRAM)`` -> ``SOCK_DGRAM``."""
    if not isinstance(value, ast.Call) or _call_name(value) != "socket":
        return None
    dotted = _dotted(value.func)
    args = [*value.args, *(kw.value for kw in value.keywords if kw.arg in ("type", "socket_type"))]
    if dotted in ("socket.socket", "socket"):
        for arg in args:
            name = _dotted(arg).rsplit(".", 1)[-1]
            if name.startswith("SOCK_"):
                return name
        return "SOCK_STREAM"
    if args:
        name = _dotted(args[0]).rsplit(".", 1)[-1]
        if name.isupper() and name:
            return name
    return None


# ---------------------------------------------------------------------------------------------------------
# Python: finding the sites
# ---------------------------------------------------------------------------------------------------------

_BIND_CONNECT: dict[str, Role] = {"bind": "bind", "connect": "connect", "connect_ex": "connect"}
#: Server classes whose first argument is ``(host, port)``.
_SERVER_CLASSES = frozenset(
    {
        "HTTPServer",
        "ThreadingHTTPServer",
        "TCPServer",
        "UDPServer",
        "ThreadingTCPServer",
        "ThreadingUDPServer",
        "ForkingTCPServer",
        "ForkingUDPServer",
        "WSGIServer",
        "SimpleXMLRPCServer",
        "create_server",
    }
)
#: Calls that start a server listening, taking ``host``/``port`` keywords.
_LISTEN_CALLS = frozenset({"run", "run_app", "serve", "run_simple", "run_server", "start_server", "listen"})
_CONNECT_CALLS = frozenset(
    {
        "Redis",
        "StrictRedis",
        "MongoClient",
        "HTTPConnection",
        "HTTPSConnection",
        "create_connection",
        "open_connection",
        "connect",
    }
)
#: Receiver names that suggest a socket even when we did not see it created (``sock.bind(addr)``).
_SOCKETISH = re.compile(r"(?i)(sock|socket|pub|sub|push|pull|req|rep|router|dealer|pair|server|conn)\w*$")
#: ``scheme://host:port`` in any string; the port part may hold markers for unknown/overridable pieces.
_URL = re.compile(
    # The lookbehind makes a long run of letters cost one attempt, not one per position (quadratic).
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?:[^@/\s'\"]*@)?"
    r"(?P<host>\[[^\]\s]*\]|[^:/\s'\"?#]*)"
    r"(?::(?P<port>[^/\s'\"?#]*))?"
)
_HOSTPORT = re.compile(r"^(?P<host>\[[^\]]*\]|[^:/\s]*):(?P<port>[^:/\s]+)$")
_NO_PORT_SCHEMES = frozenset({"ipc", "inproc", "file", "unix"})


class _Extractor(ast.NodeVisitor):
    def __init__(self, via: Via, binder: _Binder, module: _Scope) -> None:
        self.via: Via = via
        self.binder = binder
        self.folder = _Folder(binder.classes)
        self.sites: list[PortSite] = []
        self.chain: tuple[_Scope, ...] = (module,)
        self.names: list[str] = []
        self.classes: list[_Scope] = []
        self.strings: list[tuple[ast.expr, tuple[_Scope, ...], str]] = []

    # -- traversal ----------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, (*node.bases, *node.decorator_list))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._scoped(node, (*node.decorator_list, *node.args.defaults))

    def _scoped(
        self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, outer: tuple[ast.expr, ...]
    ) -> None:
        """Visit what evaluates outside the block, then its body inside its own scope."""
        for expr in outer:
            self.visit(expr)
        scope = self.binder.scopes.get(id(node))
        if scope is None:
            return
        saved = self.chain
        self.chain = (scope, *[s for s in saved if s.kind != "class"])
        self.names.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.names.pop()
        self.chain = saved

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "://" in node.value and id(node) not in self.binder.docstrings:
            self.strings.append((node, self.chain, ".".join(self.names)))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if any(isinstance(v, ast.Constant) and "://" in str(v.value) for v in node.values):
            self.strings.append((node, self.chain, ".".join(self.names)))
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.visit(value.value)

    def visit_Call(self, node: ast.Call) -> None:
        self._call(node)
        self.generic_visit(node)

    # -- recognising calls --------------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> None:
        name = _call_name(node)
        dotted = _dotted(node.func)
        kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        if name == "bind_to_random_port" and isinstance(node.func, ast.Attribute):
            addr = node.args[0] if node.args else kwargs.get("addr")
            host = None
            if addr is not None:
                host = _render(_parse_endpoint(self.folder.text(addr, self.chain))[1])
            self._emit(node, "bind", host, 0, True, _unparse(node), self._socket(node.func.value))
            return
        if (
            name in _BIND_CONNECT
            and isinstance(node.func, ast.Attribute)
            and node.args
            and self._address(node, node.args[0], _BIND_CONNECT[name], node.func.value)
        ):
            return
        if name in _SERVER_CLASSES and node.args and isinstance(node.args[0], ast.Tuple | ast.List):
            self._tuple_address(node, node.args[0], "listen", None)
            return
        if name == "create_connection" and node.args and isinstance(node.args[0], ast.Tuple | ast.List):
            self._tuple_address(node, node.args[0], "connect", None)
            return
        if name == "make_server" and len(node.args) >= 2:
            self._host_port(node, node.args[0], node.args[1], "listen")
            return
        if name in ("start_server", "create_server") and len(node.args) >= 3:
            self._host_port(node, node.args[1], node.args[2], "listen")
            return
        if (
            name == "run"
            and dotted not in ("uvicorn.run", "subprocess.run")
            and len(node.args) >= 2
            and isinstance(node.func, ast.Attribute)
            and "port" not in kwargs
        ):
            # Flask-style ``app.run(host, port)``.
            self._host_port(node, node.args[0], node.args[1], "listen")
            return
        if "port" in kwargs:
            role: Role = "unknown"
            if name in _LISTEN_CALLS:
                role = "listen"
            elif name in _CONNECT_CALLS:
                role = "connect"
            self._host_port(node, kwargs.get("host"), kwargs["port"], role)

    def _address(self, node: ast.Call, addr: ast.expr, role: Role, receiver: ast.expr) -> bool:
        stype = self._socket(receiver)
        if isinstance(addr, ast.Tuple | ast.List):
            if len(addr.elts) >= 2:
                self._tuple_address(node, addr, role, stype)
                return True
            return False
        text = self.folder.text(addr, self.chain)
        scheme, host, port_text = _parse_endpoint(text)
        if scheme in _NO_PORT_SCHEMES:
            return True
        if port_text is None:
            known = stype is not None or bool(_SOCKETISH.search(_dotted(receiver) or ""))
            if not (known and (text.startswith(_UNK_OPEN) or scheme)):
                return False
            self._emit(node, role, _render(host), None, False, _unparse(addr), stype)
            return True
        port, resolved = _port_value(port_text, zmq_wildcard=scheme is not None)
        self._emit(node, role, _render(host), port, resolved, _unparse(addr), stype)
        return True

    def _tuple_address(
        self, node: ast.Call, addr: ast.Tuple | ast.List, role: Role, stype: str | None
    ) -> None:
        self._host_port(node, addr.elts[0], addr.elts[1], role, stype=stype, raw=_unparse(addr))

    def _host_port(
        self,
        node: ast.Call,
        host: ast.expr | None,
        port: ast.expr,
        role: Role,
        stype: str | None = None,
        raw: str | None = None,
    ) -> None:
        host_text = None if host is None else _render(self.folder.text(host, self.chain))
        val = self.folder.value(port, self.chain)
        number: int | None = None
        resolved = False
        if val is not None:
            number, resolved = _port_value(_wrap_soft(str(val.value), val.soft), zmq_wildcard=False)
        if raw is None:
            raw = f"port={_unparse(port)}" if host is None else f"({_unparse(host)}, {_unparse(port)})"
        self._emit(node, role, host_text, number, resolved, raw, stype)

    def _socket(self, receiver: ast.expr) -> str | None:
        if isinstance(receiver, ast.Call):
            return _socket_type(receiver)
        key = _unparse(receiver)
        for scope in self.chain:
            if key in scope.sockets:
                return scope.sockets[key]
            if scope.kind == "function" and scope.owner is not None:
                parts = key.split(".", 1)
                if len(parts) == 2 and ("self." + parts[1]) in scope.owner.sockets:
                    return scope.owner.sockets["self." + parts[1]]
        return None

    def _emit(
        self,
        node: ast.AST,
        role: Role,
        host: str | None,
        port: int | None,
        resolved: bool,
        raw: str,
        stype: str | None,
    ) -> None:
        self.sites.append(
            PortSite(
                line=getattr(node, "lineno", 0),
                role=role,
                host=host,
                port=port,
                raw=raw[:RAW_LIMIT],
                resolved=resolved,
                socket_type=stype,
                via=self.via,
                context=".".join(self.names),
            )
        )

    def finish(self) -> list[PortSite]:
        """Add URL mentions in strings that no recognised call already accounted for."""
        for node, chain, context in self.strings:
            if id(node) in self.folder.consumed:
                continue
            text = self.folder.text(node, chain)
            for match in _URL.finditer(text):
                if match.group("scheme").lower() in _NO_PORT_SCHEMES or match.group("port") is None:
                    continue
                port, resolved = _port_value(match.group("port"), zmq_wildcard=True)
                self.sites.append(
                    PortSite(
                        line=getattr(node, "lineno", 0),
                        role="unknown",
                        host=_render(match.group("host")),
                        port=port,
                        raw=_render(match.group(0)) or "",
                        resolved=resolved,
                        socket_type=None,
                        via=self.via,
                        context=context,
                    )
                )
        return sorted(self.sites, key=lambda s: (s.line, s.role, s.port if s.port is not None else -1))


def _parse_endpoint(text: str) -> tuple[str | None, str | None, str | None]:
    """(scheme, host, port text) of ``tcp://host:port`` or ``host:port``; parts None when absent."""
    match = _URL.match(text)
    if match:
        return match.group("scheme").lower(), match.group("host"), match.group("port")
    plain = _HOSTPORT.match(text)
    if plain:
        return None, plain.group("host"), plain.group("port")
    return None, None, None


def _port_value(text: str, zmq_wildcard: bool) -> tuple[int | None, bool]:
    """Port number and whether it is resolved, from text that may hold unknown/overridable markers."""
    if _UNK_OPEN in text:
        return None, False
    soft = _SOFT_OPEN in text
    plain = text.replace(_SOFT_OPEN, "").replace(_SOFT_CLOSE, "").strip()
    if zmq_wildcard and plain == "*":
        return 0, True
    if not plain.isdigit():
        return None, False
    number = int(plain)
    if number > MAX_PORT:
        return None, False
    return number, not soft or number == 0


def _render(text: str | None) -> str | None:
    """Marker-free display text: unknown parts shown as ``{expr}``."""
    if text is None:
        return None
    return (
        text.replace(_UNK_OPEN, "{")
        .replace(_UNK_CLOSE, "}")
        .replace(_SOFT_OPEN, "")
        .replace(_SOFT_CLOSE, "")[:RAW_LIMIT]
    )


def _python_ports(source: bytes) -> list[PortSite]:
    outcome = pysource.parse_python(source)
    if outcome.tree is not None:
        return _ports_from_tree(outcome.tree, "ast")
    recovered = pysource.recover_python(source, outcome)
    sites = _ports_from_tree(recovered.tree, "fallback")
    lines = pysource.decode_source(source).splitlines()
    for first, last in recovered.skipped:
        for line in range(first, min(last, len(lines)) + 1):
            sites.extend(_string_mentions(lines[line - 1], line, recovered.tree))
    return sorted(sites, key=lambda s: (s.line, s.role, s.port if s.port is not None else -1))


def _ports_from_tree(tree: ast.Module, via: Via) -> list[PortSite]:
    binder = _Binder()
    try:
        module = binder.bind_module(tree)
        extractor = _Extractor(via, binder, module)
        extractor.visit(tree)
        return extractor.finish()
    except RecursionError:
        return []


# ---------------------------------------------------------------------------------------------------------
# Python that does not parse: pysource.recover_python keeps every statement that parses; the lines it
# could not read still give the URLs with ports in their strings
# ---------------------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"""(["'])((?:\\.|(?!\1).)*)\1""")


def _string_mentions(text: str, line: int, tree: ast.Module) -> list[PortSite]:
    """URLs with ports in the quoted strings of a line nothing could parse."""
    sites: list[PortSite] = []
    context: str | None = None
    for quoted in _QUOTED.finditer(text):
        for match in _URL.finditer(quoted.group(2)):
            if match.group("scheme").lower() in _NO_PORT_SCHEMES or match.group("port") is None:
                continue
            port, resolved = _port_value(match.group("port"), zmq_wildcard=True)
            if context is None:
                context = pysource.qualname_at(tree, line)
            sites.append(
                PortSite(
                    line=line,
                    role="unknown",
                    host=match.group("host"),
                    port=port,
                    raw=match.group(0)[:RAW_LIMIT],
                    resolved=resolved,
                    socket_type=None,
                    via="fallback",
                    context=context,
                )
            )
    return sites


# ---------------------------------------------------------------------------------------------------------
# Config files
# ---------------------------------------------------------------------------------------------------------

_PORT_KEY_SNAKE = re.compile(r"(?i)(?:^|[_\-.])port(?:[_\-.]?(?:number|num|no))?$")
_PORT_KEY_CAMEL = re.compile(r"[a-z0-9]Port(?:Number)?$")
_ADDRESS_KEY = re.compile(r"(?i)(?:^|[_\-.])(?:addr|address|endpoint|bind|listen|host_port|hostport)$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VAR_REF = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_ARITH = re.compile(r"^\d+(?:\s*[+\-]\s*\d+)*$")
_ENV_LINE = re.compile(
    r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?P<sep>[:=])\s*(?P<value>.*)$"
)


def is_port_key(key: str) -> bool:
    """``port``, ``db_port``, ``PORT``, ``serverPort``, ``grpc-port``; not ``report``/``support``."""
    return bool(_PORT_KEY_SNAKE.search(key) or _PORT_KEY_CAMEL.search(key))


#: Where a JSON container sits: None for the root, else (its container's place, its index there).
#: Plain tuples, not parent pointers, so a parsed tree has no reference cycles and is freed at once.
_JsonPath = tuple["_JsonPath", int] | None


class _CNode:
    """A format-neutral config tree node: mapping, list or scalar, with its 1-based line.

    YAML aliases make the tree a graph: an alias is the anchored node itself, so an anchored subtree is
    built once however often it is referred to, and walks bound the re-visits (:data:`MAX_ALIAS_EXPANSION`).
    JSON nodes learn their line only when asked (``_locator``): a 5 MB report is parsed by the C parser,
    and only the few nodes that become sites pay for finding their offset.
    """

    __slots__ = ("_index", "_line", "_locator", "_parent", "items", "kind", "value")

    def __init__(
        self,
        kind: Literal["map", "list", "scalar"],
        line: int,
        value: int | float | str | bool | None = None,
        items: list[tuple[str, _CNode]] | None = None,
        locator: _JsonLocator | None = None,
        parent: _JsonPath = None,
        index: int = 0,
    ) -> None:
        self.kind = kind
        self._line = line
        self.value = value
        self.items: Sequence[tuple[str, _CNode]] = () if items is None else items
        self._locator = locator
        self._parent = parent
        self._index = index

    @property
    def line(self) -> int:
        if self._line < 0 and self._locator is not None:
            self._line = self._locator.line_of(self)
        return self._line

    def with_value(self, value: str) -> _CNode:
        """A scalar at this node's place (same line, found the same lazy way) holding ``value``."""
        return _CNode("scalar", self._line, value, None, self._locator, self._parent, self._index)


def _skipped_site(reason: str, via: Via = "skipped") -> PortSite:
    """The row that records a file (or the rest of one) left unanalysed at a limit, and why."""
    return PortSite(
        line=1,
        role="skipped",
        host=None,
        port=None,
        raw=reason[:RAW_LIMIT],
        resolved=False,
        socket_type=None,
        via=via,
        context="",
    )


def _config_ports(fmt: FileFormat, text: str) -> list[PortSite]:
    if fmt == "env":
        return _line_ports(text)
    try:
        roots = _load_config(fmt, text)
    except limits.LimitExceeded as exc:
        return [_skipped_site(exc.reason)]
    if roots is None:
        return _line_ports(text)
    sites: list[PortSite] = []
    walk = _Walk(limits.MAX_ALIAS_EXPANSION)
    skipped: str | None = None
    try:
        variables: dict[str, str] = {}
        seen: set[int] = set()
        for root in roots:
            _collect_vars(root, variables, seen, 0)
        for root in roots:
            compose = root.kind == "map" and any(k == "services" and v.kind == "map" for k, v in root.items)
            _walk_config(root, "", variables, compose, sites, walk, 0)
    except limits.LimitExceeded as exc:
        skipped = exc.reason
    except RecursionError:
        skipped = limits.depth_reason(limits.MAX_CONFIG_DEPTH)
    if skipped is None and walk.truncated:
        skipped = (
            f"limit: YAML aliases expand to more than {limits.MAX_ALIAS_EXPANSION:,} extra nodes;"
            " later uses of an alias were not followed"
        )
    sites.sort(key=lambda s: (s.line, s.context, s.port if s.port is not None else -1))
    if skipped is not None:
        sites.insert(0, _skipped_site(skipped))
    return sites


def _load_config(fmt: FileFormat, text: str) -> list[_CNode] | None:
    """Every document's root, or None when the text does not parse.

    Raises :class:`~symphony_assets.analysis.limits.LimitExceeded` when the file is too deep or holds
    too many nodes. JSON goes through the C JSON parser first (YAML for JSON-like files it rejects);
    YAML through libyaml's event stream, never a full node graph.
    """
    if fmt == "json":
        json_roots = _json_roots(text)
        if json_roots is not None:
            return json_roots
    if fmt in ("yaml", "json"):
        yaml_roots = _yaml_roots(text, yaml.CSafeLoader)
        if yaml_roots is None and len(text) <= limits.MAX_PURE_PARSE_CHARS:
            # PyYAML's own reader accepts a little more than libyaml (escaped surrogate pairs, as JSON
            # dumpers write them), and read these files before: give it the small ones libyaml refused.
            yaml_roots = _yaml_roots(text, yaml.SafeLoader)
        return yaml_roots
    if len(text) > limits.MAX_PURE_PARSE_CHARS:
        raise limits.LimitExceeded(
            f"too_large: {len(text):,} characters is over the {limits.MAX_PURE_PARSE_CHARS:,}"
            " limit for TOML files"
        )
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return None
    budget = limits.NodeBudget(limits.MAX_CONFIG_NODES, f"limit: more than {limits.MAX_CONFIG_NODES:,} nodes")
    return [_from_python(data, _LineFinder(text), 1, budget)]


# -- YAML: libyaml events, each alias is its anchored node (never a copy) ---------------------------------


def _yaml_roots(
    text: str, loader_class: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
) -> list[_CNode] | None:
    budget = limits.NodeBudget(limits.MAX_CONFIG_NODES, f"limit: more than {limits.MAX_CONFIG_NODES:,} nodes")
    roots: list[_CNode] = []
    try:
        loader = loader_class(text)  # PyYAML's own reader checks the characters here already
    except (yaml.YAMLError, ValueError):
        return None
    try:
        with _gc_paused():
            _yaml_events(loader, budget, roots)
    except (yaml.YAMLError, RecursionError, ValueError, _YamlRefused):
        return None
    finally:
        loader.dispose()
    return roots


class _YamlRefused(Exception):
    """Text PyYAML's composer refuses although libyaml parses it (an undefined or duplicate anchor)."""


def _yaml_events(
    loader: yaml.CSafeLoader | yaml.SafeLoader, budget: limits.NodeBudget, roots: list[_CNode]
) -> None:
    """Build ``_CNode`` trees from the event stream: what ``yaml.compose_all`` would, without its nodes."""
    anchors: dict[str, _CNode] = {}
    # Open containers with their item lists; for a mapping, the key read for the next value (None: none yet).
    stack: list[tuple[_CNode, list[tuple[str, _CNode]]]] = []
    pending: list[str | None] = []
    while True:
        event = loader.get_event()
        if event is None or isinstance(event, yaml.StreamEndEvent):
            return
        if isinstance(event, yaml.DocumentStartEvent):
            anchors = {}
            continue
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            stack.pop()
            pending.pop()
            continue
        node: _CNode
        key_text = ""
        items: list[tuple[str, _CNode]] | None = None
        if isinstance(event, yaml.AliasEvent):
            if event.anchor is None or event.anchor not in anchors:
                raise _YamlRefused("found undefined alias")
            node = anchors[event.anchor]
            if node.kind == "scalar":
                key_text = str(node.value)
        elif isinstance(event, yaml.ScalarEvent):
            budget.spend()
            node = _CNode("scalar", _mark_line(event), _yaml_scalar(loader, event))
            key_text = event.value
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            budget.spend()
            if len(stack) >= limits.MAX_CONFIG_DEPTH:
                raise limits.LimitExceeded(limits.depth_reason(len(stack) + 1))
            items = []
            kind: Literal["map", "list"] = "map" if isinstance(event, yaml.MappingStartEvent) else "list"
            node = _CNode(kind, _mark_line(event), None, items)
        else:
            continue
        anchor = None if isinstance(event, yaml.AliasEvent) else getattr(event, "anchor", None)
        if anchor is not None:
            if anchor in anchors:
                raise _YamlRefused("found duplicate anchor")
            anchors[anchor] = node
        if not stack:
            roots.append(node)
        elif stack[-1][0].kind == "list":
            stack[-1][1].append(("", node))
        elif pending[-1] is None:
            pending[-1] = key_text
        else:
            stack[-1][1].append((pending[-1], node))
            pending[-1] = None
        if items is not None:
            stack.append((node, items))
            pending.append(None)


def _mark_line(event: yaml.Event) -> int:
    return 1 if event.start_mark is None else event.start_mark.line + 1


def _yaml_scalar(loader: yaml.CSafeLoader | yaml.SafeLoader, event: yaml.ScalarEvent) -> int | str:
    """The scalar as PyYAML's composer saw it: a plain (or ``!!int``) digit string is an int."""
    value: str = event.value
    if not value.isdigit() or len(value) > _MAX_INT_DIGITS:
        return value
    tag = event.tag
    if tag is None or tag == "!":
        tag = str(loader.resolve(yaml.ScalarNode, value, event.implicit))  # type: ignore[no-untyped-call]
    return int(value) if tag.endswith(":int") else value


#: Longer digit strings stay text: ``int()`` refuses more than 4,300 digits, and no port has them.
_MAX_INT_DIGITS = 4000


# -- JSON: the C parser, lines found afterwards for the nodes that become sites ---------------------------


def _json_int(text: str) -> int | str:
    # As YAML reads JSON: only digit strings are ints (``-5`` stays text, as ``str(node.value)`` did).
    return int(text) if text.isdigit() and len(text) <= _MAX_INT_DIGITS else text


_JSON_CONSTANTS: dict[object, str] = {True: "true", False: "false"}


def _json_roots(text: str) -> list[_CNode] | None:
    budget = limits.NodeBudget(limits.MAX_CONFIG_NODES, f"limit: more than {limits.MAX_CONFIG_NODES:,} nodes")
    with _gc_paused():
        try:
            data = json.loads(
                text, object_pairs_hook=tuple, parse_int=_json_int, parse_float=str, parse_constant=str
            )
        except (ValueError, RecursionError):
            return None
        return [_from_json(data, _JsonLocator(text), budget, 0, None, -1)]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a big tree is built (it makes no cycles, and the collector,
    re-run every few hundred allocations over an ever larger heap, cost 80% of building a 5 MB report).
    Memory stays bounded by the node limit; the previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _from_json(
    data: object, locator: _JsonLocator, budget: limits.NodeBudget, depth: int, where: _JsonPath, index: int
) -> _CNode:
    """The ``_CNode`` tree of parsed JSON (objects as tuples of pairs); lines are found later, on demand."""
    if type(data) is not tuple and type(data) is not list:
        budget.spend()
        return _CNode("scalar", -1, _json_scalar(data), None, locator, where, index)
    if depth >= limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth + 1))
    budget.spend(1 + len(data))
    is_map = type(data) is tuple
    items: list[tuple[str, _CNode]] = []
    node = _CNode("map" if is_map else "list", -1, None, items, locator, where, index)
    here: _JsonPath = None if depth == 0 else (where, index)
    for position, entry in enumerate(data):
        key, value = entry if is_map else ("", entry)
        if type(value) is tuple or type(value) is list:
            child = _from_json(value, locator, budget, depth + 1, here, position)
        else:
            child = _CNode("scalar", -1, _json_scalar(value), None, locator, here, position)
        items.append((key, child))
    return node


def _json_scalar(value: object) -> int | str:
    """A JSON scalar as the YAML reader saw it: digit-only ints stay ints, the rest is text."""
    if type(value) is str or type(value) is int:
        return value
    return "null" if value is None else _JSON_CONSTANTS.get(value, str(value))


_JSON_WS = re.compile(r"[ \t\n\r]*")
#: Line breaks as YAML counts them (so JSON lines match what the YAML reader reported before).
_YAML_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


class _JsonLocator:
    """Offsets, then lines, of JSON nodes, found on demand by re-scanning only the containers on their path.

    Each container on the way is scanned once (its members skipped at C speed by the JSON scanner) and
    its members' offsets kept, so resolving every site of a file costs about one more parse.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        decoder = json.JSONDecoder(
            object_pairs_hook=tuple, parse_int=str, parse_float=str, parse_constant=str
        )
        self._scan: Callable[[str, int], tuple[object, int]] = json.scanner.make_scanner(
            decoder  # type: ignore[arg-type]
        )
        self._members: dict[int, list[int]] = {}
        self._breaks: list[int] | None = None

    def line_of(self, node: _CNode) -> int:
        try:
            offset = self._offset(node)
        except (StopIteration, IndexError, ValueError, RecursionError):
            return 1
        if self._breaks is None:
            self._breaks = [m.end() for m in _YAML_BREAK.finditer(self.text)]
        return bisect.bisect_right(self._breaks, offset) + 1

    def _offset(self, node: _CNode) -> int:
        if node._parent is None and node._index < 0:
            return _JSON_WS.match(self.text, 0).end()  # type: ignore[union-attr]
        return self._member_offset(node._parent, node._index)

    def _member_offset(self, container: _JsonPath, index: int) -> int:
        if container is None:
            start = _JSON_WS.match(self.text, 0).end()  # type: ignore[union-attr]
        else:
            start = self._member_offset(*container)
        members = self._members.get(start)
        if members is None:
            members = self._members[start] = self._member_offsets(start)
        return members[index]

    def _member_offsets(self, start: int) -> list[int]:
        """Offsets of the values inside the object or array that starts at ``start``."""
        text, scan = self.text, self._scan
        closing = "}" if text[start] == "{" else "]"
        out: list[int] = []
        pos = _JSON_WS.match(text, start + 1).end()  # type: ignore[union-attr]
        if text[pos] == closing:
            return out
        while True:
            if closing == "}":
                _, pos = scan(text, pos)  # the key
                pos = _JSON_WS.match(text, pos).end()  # type: ignore[union-attr]
                pos = _JSON_WS.match(text, pos + 1).end()  # type: ignore[union-attr]  # past ':'
            out.append(pos)
            _, pos = scan(text, pos)
            pos = _JSON_WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] != ",":
                return out
            pos = _JSON_WS.match(text, pos + 1).end()  # type: ignore[union-attr]


# -- TOML: tomllib, lines found by searching for the keys --------------------------------------------------


class _LineFinder:
    """Approximate lines for formats whose parser gives none: the next line naming the key.

    A key that is never found (written with escapes, ``"k\\u0041"``) scans to the end of the file, so
    the lines searched in all are bounded (:data:`_LINE_SEARCH_BUDGET`); past it keys get the line of
    their table. Without the bound a 440 KB TOML file of such keys took 190 s.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.cursor = 0
        self.budget = _LINE_SEARCH_BUDGET

    def find(self, key: str, fallback: int) -> int:
        if self.budget <= 0:
            return fallback
        needle = re.compile(r"(?:^|[\s\"'{,.\[])" + re.escape(key) + r"(?:[\"'\s]*[:=\]]|$)")
        end = min(len(self.lines), self.cursor + self.budget)
        for index in range(self.cursor, end):
            if needle.search(self.lines[index]):
                self.budget -= index - self.cursor + 1
                self.cursor = index
                return index + 1
        self.budget -= end - self.cursor
        return fallback


#: Lines :class:`_LineFinder` may search in one file, over all keys (a few per key in a normal file).
_LINE_SEARCH_BUDGET = 1_000_000


def _from_python(
    data: object, finder: _LineFinder, line: int, budget: limits.NodeBudget, depth: int = 0
) -> _CNode:
    budget.spend()
    if isinstance(data, dict | list) and depth >= limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth + 1))
    if isinstance(data, dict):
        items = []
        for key, value in data.items():
            key_line = finder.find(str(key), line)
            items.append((str(key), _from_python(value, finder, key_line, budget, depth + 1)))
        return _CNode("map", line, items=items)
    if isinstance(data, list):
        return _CNode(
            "list", line, items=[("", _from_python(v, finder, line, budget, depth + 1)) for v in data]
        )
    if isinstance(data, bool | int | float | str) or data is None:
        return _CNode("scalar", line, value=data)
    return _CNode("scalar", line, value=str(data))


def _collect_vars(node: _CNode, out: dict[str, str], seen: set[int], depth: int) -> None:
    """Variables a ``${VAR}`` in the same file may refer to: scalar keys and ``KEY=VALUE`` entries."""
    if id(node) in seen:
        return
    if depth > limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth))
    seen.add(id(node))
    for key, child in node.items:
        if child.kind == "scalar" and _VAR_NAME.match(key) and child.value is not None:
            out.setdefault(key, str(child.value))
        elif child.kind == "scalar" and isinstance(child.value, str) and node.kind == "list":
            name, sep, value = child.value.partition("=")
            if sep and _VAR_NAME.match(name.strip()):
                out.setdefault(name.strip(), value.strip())
        else:
            _collect_vars(child, out, seen, depth + 1)


def _config_port(raw: object, variables: dict[str, str]) -> tuple[int | None, bool]:
    """Port from a config value: an int, digits, or ``${VAR}``/``${VAR:-d}`` with ``+N``/``-N`` offsets."""
    if isinstance(raw, bool) or raw is None:
        return None, False
    if isinstance(raw, int):
        return (raw, True) if 0 <= raw <= MAX_PORT else (None, False)
    if not isinstance(raw, str):
        return None, False
    text, soft = _substitute(raw.strip(), variables)
    if text is None:
        return None, False
    text = text.strip()
    if text.startswith("$((") and text.endswith("))"):
        text = text[3:-2].strip()
    if not _ARITH.match(text):
        return None, False
    number = sum(int(term.replace(" ", "")) for term in re.findall(r"[+\-]?\s*\d+", text))
    if not 0 <= number <= MAX_PORT:
        return None, False
    return number, not soft or number == 0


def _substitute(text: str, variables: dict[str, str], depth: int = 0) -> tuple[str | None, bool]:
    """Expand ``${VAR}``, ``${VAR:-default}``, ``$VAR``; (None, _) when a variable is unknown."""
    soft = False
    unknown = False

    def repl(match: re.Match[str]) -> str:
        nonlocal soft, unknown
        name = match.group("name") or match.group("bare")
        if name in variables and depth < 8:
            inner, inner_soft = _substitute(variables[name], variables, depth + 1)
            if inner is None:
                unknown = True
                return ""
            soft = soft or inner_soft
            return inner
        default = match.group("default")
        if default is not None:
            soft = True
            return default
        unknown = True
        return ""

    result = _VAR_REF.sub(repl, text)
    return (None, soft) if unknown else (result, soft)


class _Walk:
    """What one config walk has visited, and how many re-visits through YAML aliases it may still make."""

    __slots__ = ("active", "expansions_left", "truncated", "visited")

    def __init__(self, expansions: int) -> None:
        self.visited: set[int] = set()
        #: The nodes on the path being walked: an alias to one of them is a cycle.
        self.active: set[int] = set()
        self.expansions_left = expansions
        self.truncated = False

    def enter(self, node: _CNode) -> bool:
        """Whether to walk ``node``: always the first time, again (an alias) only within the budget."""
        if id(node) not in self.visited:
            self.visited.add(id(node))
            return True
        cost = 1 + len(node.items)
        if cost > self.expansions_left:
            self.truncated = True
            return False
        self.expansions_left -= cost
        return True


def _walk_config(
    node: _CNode,
    path: str,
    variables: dict[str, str],
    compose: bool,
    sites: list[PortSite],
    walk: _Walk,
    depth: int,
) -> None:
    """Sites under ``node``; an aliased subtree is walked wherever it is used, within ``walk``'s budget."""
    if depth > limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth))
    if id(node) in walk.active or not walk.enter(node):
        return  # a recursive alias (the node is its own ancestor), or the alias budget is spent
    walk.active.add(id(node))
    try:
        _walk_children(node, path, variables, compose, sites, walk, depth)
    finally:
        walk.active.discard(id(node))


def _walk_children(
    node: _CNode,
    path: str,
    variables: dict[str, str],
    compose: bool,
    sites: list[PortSite],
    walk: _Walk,
    depth: int,
) -> None:
    if node.kind == "map":
        host = _sibling_host(node)
        for key, child in node.items:
            child_path = f"{path}.{key}" if path else key
            if compose and key == "ports" and child.kind == "list" and re.fullmatch(r"services\.[^.]+", path):
                _compose_ports(child, child_path, variables, sites)
                continue
            if child.kind == "map" and is_port_key(key) and all(not k for k, _ in child.items):
                # ``port: {{ .Values.port }}``: a template that YAML reads as a nested flow mapping.
                sites.append(_config_site(child.line, host, None, False, f"{key}: (template)", child_path))
            elif child.kind == "scalar":
                _config_scalar(key, child, child_path, host, variables, sites)
            else:
                _walk_config(child, child_path, variables, compose, sites, walk, depth + 1)
    elif node.kind == "list":
        for index, (_, child) in enumerate(node.items):
            child_path = f"{path}[{index}]"
            if child.kind == "scalar" and isinstance(child.value, str) and "=" in child.value:
                key, _, value = child.value.partition("=")
                scalar = child.with_value(value.strip())
                _config_scalar(key.strip(), scalar, child_path, None, variables, sites)
            elif child.kind == "scalar":
                _config_scalar("", child, child_path, None, variables, sites)
            else:
                _walk_config(child, child_path, variables, compose, sites, walk, depth + 1)


def _sibling_host(node: _CNode) -> str | None:
    for key, child in node.items:
        if key.lower() in ("host", "hostname", "bind_host", "listen_host") and child.kind == "scalar":
            return None if child.value is None else str(child.value)
    return None


def _config_scalar(
    key: str,
    node: _CNode,
    path: str,
    host: str | None,
    variables: dict[str, str],
    sites: list[PortSite],
) -> None:
    value = node.value
    if key and is_port_key(key):
        port, resolved = _config_port(value, variables)
        sites.append(_config_site(node.line, host, port, resolved, f"{key}: {value}", path))
        return
    if not isinstance(value, str):
        return
    if "://" not in value and "$" not in value and not (key and _ADDRESS_KEY.search(key)):
        return  # no URL, no variable, no address key: nothing below can match (most of a big report)
    expanded, _ = _substitute(value, variables)
    text = expanded if expanded is not None else value
    found = False
    for match in _URL.finditer(text):
        if match.group("scheme").lower() in _NO_PORT_SCHEMES or match.group("port") is None:
            continue
        found = True
        port, resolved = _config_port(match.group("port"), variables)
        sites.append(_config_site(node.line, match.group("host") or None, port, resolved, value, path))
    if not found and key and _ADDRESS_KEY.search(key):
        plain = _HOSTPORT.match(text.strip())
        if plain:
            port, resolved = _config_port(plain.group("port"), variables)
            sites.append(_config_site(node.line, plain.group("host") or None, port, resolved, value, path))


def _config_site(
    line: int,
    host: str | None,
    port: int | None,
    resolved: bool,
    raw: str,
    path: str,
    role: Role = "config",
    socket_type: str | None = None,
) -> PortSite:
    return PortSite(
        line=line,
        role=role,
        host=host,
        port=port,
        raw=raw[:RAW_LIMIT],
        resolved=resolved,
        socket_type=socket_type,
        via="config",
        context=path,
    )


_COMPOSE_PORT = re.compile(
    r"^(?:(?P<ip>\[[^\]]*\]|\d+\.\d+\.\d+\.\d+):)?(?:(?P<published>[^:]*):)?(?P<target>[^:/]+)"
    r"(?:/(?P<proto>\w+))?$"
)


def _compose_ports(node: _CNode, path: str, variables: dict[str, str], sites: list[PortSite]) -> None:
    """Published ports of a compose service: the host side binds a port on the machine."""
    for index, (_, entry) in enumerate(node.items):
        entry_path = f"{path}[{index}]"
        if entry.kind == "map":
            fields = {k: c.value for k, c in entry.items if c.kind == "scalar"}
            published = fields.get("published")
            ip = fields.get("host_ip")
            proto = str(fields.get("protocol") or "tcp")
            raw = ", ".join(f"{k}: {v}" for k, v in fields.items())
            _published(
                entry.line,
                None if ip is None else str(ip),
                published,
                proto,
                raw,
                entry_path,
                variables,
                sites,
            )
            continue
        if entry.kind != "scalar" or entry.value is None:
            continue
        text = str(entry.value)
        expanded, soft = _substitute(text, variables)
        match = _COMPOSE_PORT.match(expanded.strip()) if expanded is not None else None
        if match is None:
            sites.append(_config_site(entry.line, None, None, False, text, entry_path, role="listen"))
            continue
        proto = match.group("proto") or "tcp"
        before = len(sites)
        _published(
            entry.line, match.group("ip"), match.group("published"), proto, text, entry_path, {}, sites
        )
        if soft:
            # A published port from ``${VAR:-default}`` is only a default the deployment may override.
            sites[before:] = [replace(site, resolved=site.port == 0) for site in sites[before:]]


def _published(
    line: int,
    ip: str | None,
    published: object,
    proto: str,
    raw: str,
    path: str,
    variables: dict[str, str],
    sites: list[PortSite],
) -> None:
    if published is None or published == "":
        # Only a container port: Docker picks a random host port.
        sites.append(_config_site(line, ip, 0, True, raw, path, role="listen", socket_type=proto))
        return
    text = str(published)
    span = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if span:
        low, high = int(span.group(1)), int(span.group(2))
        for number in range(low, min(high, low + RANGE_LIMIT - 1, MAX_PORT) + 1):
            sites.append(_config_site(line, ip, number, True, raw, path, role="listen", socket_type=proto))
        return
    port, resolved = _config_port(published, variables)
    sites.append(_config_site(line, ip, port, resolved, raw, path, role="listen", socket_type=proto))


def _line_ports(text: str) -> list[PortSite]:
    """``KEY=VALUE`` files (.env), and the line-by-line fallback for configs that do not parse."""
    variables: dict[str, str] = {}
    entries: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            if "://" in line:
                entries.append((number, "", line.strip()))
            continue
        value = _strip_value(match.group("value"))
        key = match.group("key").strip("\"'")
        if match.group("sep") == "=" and _VAR_NAME.match(key):
            variables.setdefault(key, value)
        entries.append((number, key, value))
    sites: list[PortSite] = []
    for number, key, value in entries:
        _config_scalar(key, _CNode("scalar", number, value=value), key, None, variables, sites)
    return sites


def _strip_value(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    return value.split(" #", 1)[0].strip()


# ---------------------------------------------------------------------------------------------------------
# Conflicts
# ---------------------------------------------------------------------------------------------------------

_WILDCARD_HOSTS = frozenset({"", "*", "0.0.0.0", "::", "[::]", "0"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_BINDING_ROLES = frozenset({"bind", "listen"})


@dataclass(frozen=True)
class SiteWithContext:
    """A port site placed in the world: which machine, codebase, file and component holds it."""

    machine: str
    codebase: str
    file: str
    #: What owns the port: the file path, or an agent/service name when the caller knows one.
    component: str
    line: int
    role: str
    host: str | None
    port: int | None
    resolved: bool
    socket_type: str | None = None


@dataclass(frozen=True)
class PortConflict:
    machine: str
    port: int
    transport: str
    #: ``codebase:component`` of every component binding the port, sorted.
    components: tuple[str, ...]
    codebases: tuple[str, ...]
    #: Every binding site in the conflict, ``(codebase, file, line, host)``, sorted.
    sites: tuple[tuple[str, str, int, str | None], ...]

    @property
    def key(self) -> str:
        """Identity across days: the same machine, port and components is the same conflict."""
        return f"{self.machine}|{self.transport}|{self.port}|{','.join(self.components)}"


def _transport(socket_type: str | None) -> str:
    return "udp" if socket_type is not None and socket_type.lower() in ("sock_dgram", "udp") else "tcp"


def _host_class(host: str | None) -> str:
    """Normalised bind address: wildcard (``*``), loopback, or the literal address."""
    if host is None:
        return "*"
    text = host.strip().lower()
    if text in _WILDCARD_HOSTS or "{" in text:
        return "*"
    if text in _LOOPBACK:
        return "127.0.0.1"
    return text


def _overlap(a: str, b: str) -> bool:
    return a == "*" or b == "*" or a == b


def find_conflicts(sites: Iterable[SiteWithContext]) -> list[PortConflict]:
    """Ports bound (bind/listen) by two or more distinct components on the same machine.

    The same port on two machines is not a conflict, nor is a port a single component binds twice;
    random (0) and unresolved ports never conflict. Two specific, different host addresses (``10.0.0.1``
    and ``10.0.0.2``) can share a port; a wildcard or unknown host overlaps every address.
    """
    groups: dict[tuple[str, str, int], list[SiteWithContext]] = {}
    for site in sites:
        if site.role not in _BINDING_ROLES or not site.resolved or not site.port:
            continue
        groups.setdefault((site.machine, _transport(site.socket_type), site.port), []).append(site)
    conflicts: list[PortConflict] = []
    for (machine, transport, port), members in sorted(groups.items()):
        involved: list[SiteWithContext] = []
        for site in members:
            hc = _host_class(site.host)
            clash = any(
                (other.codebase, other.component) != (site.codebase, site.component)
                and _overlap(hc, _host_class(other.host))
                for other in members
            )
            if clash:
                involved.append(site)
        components = sorted({f"{s.codebase}:{s.component}" for s in involved})
        if len(components) < 2:
            continue
        conflicts.append(
            PortConflict(
                machine=machine,
                port=port,
                transport=transport,
                components=tuple(components),
                codebases=tuple(sorted({s.codebase for s in involved})),
                sites=tuple(sorted({(s.codebase, s.file, s.line, s.host) for s in involved}, key=_site_key)),
            )
        )
    return conflicts


def _site_key(item: tuple[str, str, int, str | None]) -> tuple[str, str, int, str]:
    return item[0], item[1], item[2], item[3] or ""
