"""Python: the scopes of one module (names, class attributes, socket types) that folding evaluates in."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from symphony_assets.analysis.ports.sites import RAW_LIMIT


@dataclass
class Scope:
    kind: Literal["module", "class", "function"]
    name: str
    #: name -> every binding seen (expression or None for "bound to something unknown"), with the
    #: scope chain the expression must be evaluated in.
    defs: dict[str, list[tuple[ast.expr | None, tuple[Scope, ...]]]] = field(default_factory=dict)
    #: For classes: attributes set in the body or as ``self.x = ...`` in methods.
    attrs: dict[str, list[tuple[ast.expr | None, tuple[Scope, ...]]]] = field(default_factory=dict)
    #: Receiver text (``sock``, ``self.pub``) -> socket type (``PUB``, ``SOCK_DGRAM``).
    sockets: dict[str, str] = field(default_factory=dict)
    owner: Scope | None = None


def unparse(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError, AttributeError):
        text = type(node).__name__
    return text[:RAW_LIMIT]


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def dotted_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return dotted_name(node.value) + "." + node.attr
    return ""


class Binder:
    """Builds the scope of every module/class/function: names, class attributes and socket types."""

    def __init__(self) -> None:
        self.scopes: dict[int, Scope] = {}
        self.classes: dict[str, Scope] = {}
        self.docstrings: set[int] = set()

    def bind_module(self, tree: ast.Module) -> Scope:
        module = Scope("module", "")
        self._docstring(tree.body)
        self._body(tree.body, module, (module,))
        return module

    def _docstring(self, body: list[ast.stmt]) -> None:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            self.docstrings.add(id(body[0].value))

    def _body(self, body: Iterable[ast.stmt], scope: Scope, chain: tuple[Scope, ...]) -> None:
        for stmt in body:
            self._stmt(stmt, scope, chain)

    def _add(self, scope: Scope, name: str, expr: ast.expr | None, chain: tuple[Scope, ...]) -> None:
        scope.defs.setdefault(name, []).append((expr, chain))

    def _stmt(self, stmt: ast.stmt, scope: Scope, chain: tuple[Scope, ...]) -> None:
        if isinstance(stmt, ast.ClassDef):
            self._add(scope, stmt.name, None, chain)
            cls = Scope("class", stmt.name, owner=None)
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
            func = Scope("function", stmt.name, owner=scope if scope.kind == "class" else None)
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
        self, body: list[ast.stmt], func: Scope, chain: tuple[Scope, ...], self_name: str | None
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
                            stype = socket_type_of(node.value)
                            if stype is not None:
                                func.owner.sockets["self." + target.attr] = stype

    def _params(self, args: ast.arguments, func: Scope, outer: tuple[Scope, ...]) -> None:
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
        self, target: ast.expr, value: ast.expr | None, scope: Scope, chain: tuple[Scope, ...]
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

    def _socket_assign(self, targets: list[ast.expr], value: ast.expr, scope: Scope) -> None:
        stype = socket_type_of(value)
        if stype is None:
            return
        for target in targets:
            if isinstance(target, ast.Name | ast.Attribute):
                scope.sockets[unparse(target)] = stype


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


def socket_type_of(value: ast.expr) -> str | None:
    """``ctx.socket(zmq.PUB)`` -> ``PUB``; ``socket.socket(AF_INET, SOCK_DGRAM)`` -> ``SOCK_DGRAM``."""
    if not isinstance(value, ast.Call) or call_name(value) != "socket":
        return None
    dotted = dotted_name(value.func)
    args = [*value.args, *(kw.value for kw in value.keywords if kw.arg in ("type", "socket_type"))]
    if dotted in ("socket.socket", "socket"):
        for arg in args:
            name = dotted_name(arg).rsplit(".", 1)[-1]
            if name.startswith("SOCK_"):
                return name
        return "SOCK_STREAM"
    if args:
        name = dotted_name(args[0]).rsplit(".", 1)[-1]
        if name.isupper() and name:
            return name
    return None
