"""Python: constant folding of port and address expressions to ints and strings.

Over module constants, class attributes, default arguments and single-assigned locals (the scopes of
:mod:`.binder`); a value read from the environment with a default folds to that default, marked as one
the deployment may override.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from symphony_assets.analysis.ports.binder import Scope, call_name, dotted_name, unparse
from symphony_assets.analysis.ports.endpoints import UNK_CLOSE, UNK_OPEN, wrap_soft

_MAX_DEPTH = 40


@dataclass(frozen=True)
class _Val:
    value: int | str
    #: True when the value is only a default the environment may override.
    soft: bool = False


class Folder:
    """Folds expressions to ints/strings over the scopes of one module, recording what it consumed."""

    def __init__(self, classes: dict[str, Scope]) -> None:
        self.classes = classes
        self.consumed: set[int] = set()
        self._active: set[int] = set()

    def value(self, node: ast.expr, chain: tuple[Scope, ...], depth: int = 0) -> _Val | None:
        if depth > _MAX_DEPTH or id(node) in self._active:
            return None
        self._active.add(id(node))
        try:
            return self._value(node, chain, depth + 1)
        finally:
            self._active.discard(id(node))

    def text(self, node: ast.expr, chain: tuple[Scope, ...], depth: int = 0) -> str:
        """The expression as a string, unknown parts wrapped in markers so the rest stays usable."""
        val = self.value(node, chain, depth)
        if val is None or isinstance(val.value, bool):
            return UNK_OPEN + unparse(node) + UNK_CLOSE
        return wrap_soft(str(val.value), val.soft)

    def _value(self, node: ast.expr, chain: tuple[Scope, ...], depth: int) -> _Val | None:
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

    def _lookup(self, name: str, chain: tuple[Scope, ...], depth: int) -> _Val | None:
        for scope in chain:
            if name in scope.defs:
                return self._agree(scope.defs[name], depth)
        return None

    def _agree(self, bindings: list[tuple[ast.expr | None, tuple[Scope, ...]]], depth: int) -> _Val | None:
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

    def _attribute(self, node: ast.Attribute, chain: tuple[Scope, ...], depth: int) -> _Val | None:
        base = node.value
        if not isinstance(base, ast.Name):
            return None
        cls: Scope | None = None
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

    def _binop(self, node: ast.BinOp, chain: tuple[Scope, ...], depth: int) -> _Val | None:
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
            return _Val(wrap_soft(a, left.soft) + wrap_soft(b, right.soft), soft)
        return None

    def _percent(self, left: _Val, right: ast.expr, chain: tuple[Scope, ...], depth: int) -> _Val | None:
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
                out.append(UNK_OPEN + unparse(item) + UNK_CLOSE)
                continue
            try:
                rendered = spec.group(0) % (part.value,)
            except (TypeError, ValueError):
                rendered = str(part.value)
            out.append(wrap_soft(rendered, part.soft))
        out.append(template[pos:])
        return _Val("".join(out), left.soft or any(p is not None and p.soft for p in parts))

    def _fstring(self, node: ast.JoinedStr, chain: tuple[Scope, ...], depth: int) -> _Val:
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
                    out.append(UNK_OPEN + unparse(piece.value) + UNK_CLOSE)
                    continue
                try:
                    rendered = format(val.value, spec)
                except (TypeError, ValueError):
                    rendered = str(val.value)
                out.append(wrap_soft(rendered, val.soft))
                soft = soft or val.soft
        return _Val("".join(out), soft)

    def _call(self, node: ast.Call, chain: tuple[Scope, ...], depth: int) -> _Val | None:
        func = node.func
        name = call_name(node)
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

    def _format(self, template: str, node: ast.Call, chain: tuple[Scope, ...], depth: int) -> _Val | None:
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
                out.append(UNK_OPEN + (unparse(expr) if expr is not None else field_name) + UNK_CLOSE)
                continue
            try:
                rendered = format(val.value, spec or "")
            except (TypeError, ValueError):
                rendered = str(val.value)
            out.append(wrap_soft(rendered, val.soft))
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


def _static_format_spec(spec: ast.expr | None) -> str | None:
    if spec is None:
        return ""
    if isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values):
        return "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant))
    return None


def _env_lookup(node: ast.expr) -> tuple[str, ast.expr | None] | None:
    """``os.environ.get(K, d)``, ``os.getenv(K, d)``, ``environ.get(K)``: (key text, default)."""
    if not isinstance(node, ast.Call):
        return None
    dotted = dotted_name(node.func)
    if not (dotted.endswith("environ.get") or dotted in ("os.getenv", "getenv")):
        return None
    if not node.args:
        return None
    default = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg == "default":
            default = kw.value
    return unparse(node.args[0]), default
