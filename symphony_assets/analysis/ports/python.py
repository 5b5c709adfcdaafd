"""Python: the port sites of a parsed module.

Socket ``bind``/``connect`` calls, server constructors taking ``(host, port)``, calls that listen or
connect with ``host``/``port`` keywords, and URLs with ports in strings no recognised call accounted for.
"""

from __future__ import annotations

import ast
import re

from symphony_assets.analysis.ports.binder import (
    Binder,
    Scope,
    call_name,
    dotted_name,
    socket_type_of,
    unparse,
)
from symphony_assets.analysis.ports.endpoints import (
    NO_PORT_SCHEMES,
    UNK_OPEN,
    URL,
    parse_endpoint,
    port_value,
    render,
    wrap_soft,
)
from symphony_assets.analysis.ports.folding import Folder
from symphony_assets.analysis.ports.sites import RAW_LIMIT, PortSite, Role, Via

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


class _Extractor(ast.NodeVisitor):
    def __init__(self, via: Via, binder: Binder, module: Scope) -> None:
        self.via: Via = via
        self.binder = binder
        self.folder = Folder(binder.classes)
        self.sites: list[PortSite] = []
        self.chain: tuple[Scope, ...] = (module,)
        self.names: list[str] = []
        self.classes: list[Scope] = []
        self.strings: list[tuple[ast.expr, tuple[Scope, ...], str]] = []

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
        name = call_name(node)
        dotted = dotted_name(node.func)
        kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        if name == "bind_to_random_port" and isinstance(node.func, ast.Attribute):
            addr = node.args[0] if node.args else kwargs.get("addr")
            host = None
            if addr is not None:
                host = render(parse_endpoint(self.folder.text(addr, self.chain))[1])
            self._emit(node, "bind", host, 0, True, unparse(node), self._socket(node.func.value))
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
        scheme, host, port_text = parse_endpoint(text)
        if scheme in NO_PORT_SCHEMES:
            return True
        if port_text is None:
            known = stype is not None or bool(_SOCKETISH.search(dotted_name(receiver) or ""))
            if not (known and (text.startswith(UNK_OPEN) or scheme)):
                return False
            self._emit(node, role, render(host), None, False, unparse(addr), stype)
            return True
        port, resolved = port_value(port_text, zmq_wildcard=scheme is not None)
        self._emit(node, role, render(host), port, resolved, unparse(addr), stype)
        return True

    def _tuple_address(
        self, node: ast.Call, addr: ast.Tuple | ast.List, role: Role, stype: str | None
    ) -> None:
        self._host_port(node, addr.elts[0], addr.elts[1], role, stype=stype, raw=unparse(addr))

    def _host_port(
        self,
        node: ast.Call,
        host: ast.expr | None,
        port: ast.expr,
        role: Role,
        stype: str | None = None,
        raw: str | None = None,
    ) -> None:
        host_text = None if host is None else render(self.folder.text(host, self.chain))
        val = self.folder.value(port, self.chain)
        number: int | None = None
        resolved = False
        if val is not None:
            number, resolved = port_value(wrap_soft(str(val.value), val.soft), zmq_wildcard=False)
        if raw is None:
            raw = f"port={unparse(port)}" if host is None else f"({unparse(host)}, {unparse(port)})"
        self._emit(node, role, host_text, number, resolved, raw, stype)

    def _socket(self, receiver: ast.expr) -> str | None:
        if isinstance(receiver, ast.Call):
            return socket_type_of(receiver)
        key = unparse(receiver)
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
            for match in URL.finditer(text):
                if match.group("scheme").lower() in NO_PORT_SCHEMES or match.group("port") is None:
                    continue
                port, resolved = port_value(match.group("port"), zmq_wildcard=True)
                self.sites.append(
                    PortSite(
                        line=getattr(node, "lineno", 0),
                        role="unknown",
                        host=render(match.group("host")),
                        port=port,
                        raw=render(match.group(0)) or "",
                        resolved=resolved,
                        socket_type=None,
                        via=self.via,
                        context=context,
                    )
                )
        return sorted(self.sites, key=lambda s: (s.line, s.role, s.port if s.port is not None else -1))


def ports_from_tree(tree: ast.Module, via: Via) -> list[PortSite]:
    binder = Binder()
    try:
        module = binder.bind_module(tree)
        extractor = _Extractor(via, binder, module)
        extractor.visit(tree)
        return extractor.finish()
    except RecursionError:
        return []
