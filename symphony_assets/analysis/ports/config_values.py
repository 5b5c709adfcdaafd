"""Config values: which keys name ports, the variables a file defines, ``${VAR}`` substitution, and
the site one value gives."""

from __future__ import annotations

import re

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports.config_tree import ConfigNode
from symphony_assets.analysis.ports.sites import MAX_PORT, RAW_LIMIT, PortSite, Role

_PORT_KEY_SNAKE = re.compile(r"(?i)(?:^|[_\-.])port(?:[_\-.]?(?:number|num|no))?$")
_PORT_KEY_CAMEL = re.compile(r"[a-z0-9]Port(?:Number)?$")
ADDRESS_KEY = re.compile(r"(?i)(?:^|[_\-.])(?:addr|address|endpoint|bind|listen|host_port|hostport)$")
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VAR_REF = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_ARITH = re.compile(r"^\d+(?:\s*[+\-]\s*\d+)*$")


def is_port_key(key: str) -> bool:
    """``port``, ``db_port``, ``PORT``, ``serverPort``, ``grpc-port``; not ``report``/``support``."""
    return bool(_PORT_KEY_SNAKE.search(key) or _PORT_KEY_CAMEL.search(key))


def collect_vars(node: ConfigNode, out: dict[str, str], seen: set[int], depth: int) -> None:
    """Variables a ``${VAR}`` in the same file may refer to: scalar keys and ``KEY=VALUE`` entries."""
    if id(node) in seen:
        return
    if depth > limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth))
    seen.add(id(node))
    for key, child in node.items:
        if child.kind == "scalar" and VAR_NAME.match(key) and child.value is not None:
            out.setdefault(key, str(child.value))
        elif child.kind == "scalar" and isinstance(child.value, str) and node.kind == "list":
            name, sep, value = child.value.partition("=")
            if sep and VAR_NAME.match(name.strip()):
                out.setdefault(name.strip(), value.strip())
        else:
            collect_vars(child, out, seen, depth + 1)


def config_port(raw: object, variables: dict[str, str]) -> tuple[int | None, bool]:
    """Port from a config value: an int, digits, or ``${VAR}``/``${VAR:-d}`` with ``+N``/``-N`` offsets."""
    if isinstance(raw, bool) or raw is None:
        return None, False
    if isinstance(raw, int):
        return (raw, True) if 0 <= raw <= MAX_PORT else (None, False)
    if not isinstance(raw, str):
        return None, False
    text, soft = substitute(raw.strip(), variables)
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


def substitute(text: str, variables: dict[str, str], depth: int = 0) -> tuple[str | None, bool]:
    """Expand ``${VAR}``, ``${VAR:-default}``, ``$VAR``; (None, _) when a variable is unknown."""
    soft = False
    unknown = False

    def repl(match: re.Match[str]) -> str:
        nonlocal soft, unknown
        name = match.group("name") or match.group("bare")
        if name in variables and depth < 8:
            inner, inner_soft = substitute(variables[name], variables, depth + 1)
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


def config_site(
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
