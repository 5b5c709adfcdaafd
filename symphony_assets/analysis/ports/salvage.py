"""Python that does not parse: :func:`~symphony_assets.analysis.pysource.recover_python` keeps every
statement that parses; the lines it could not read still give the URLs with ports in their strings."""

from __future__ import annotations

import ast
import re

from symphony_assets.analysis import pysource
from symphony_assets.analysis.ports.endpoints import NO_PORT_SCHEMES, URL, port_value
from symphony_assets.analysis.ports.python import ports_from_tree
from symphony_assets.analysis.ports.sites import RAW_LIMIT, PortSite

_QUOTED = re.compile(r"""(["'])((?:\\.|(?!\1).)*)\1""")


def salvage_ports(
    source: bytes, outcome: pysource.ParseOutcome, recovered: pysource.Recovered | None = None
) -> list[PortSite]:
    """Port sites of a file ``ast`` rejected (``outcome`` says why): ``via="fallback"`` throughout."""
    recovered = recovered or pysource.recover_python(source, outcome)
    sites = ports_from_tree(recovered.tree, "fallback")
    lines = pysource.decode_source(source).splitlines()
    for first, last in recovered.skipped:
        for line in range(first, min(last, len(lines)) + 1):
            sites.extend(_string_mentions(lines[line - 1], line, recovered.tree))
    return sorted(sites, key=lambda s: (s.line, s.role, s.port if s.port is not None else -1))


def _string_mentions(text: str, line: int, tree: ast.Module) -> list[PortSite]:
    """URLs with ports in the quoted strings of a line nothing could parse."""
    sites: list[PortSite] = []
    context: str | None = None
    for quoted in _QUOTED.finditer(text):
        for match in URL.finditer(quoted.group(2)):
            if match.group("scheme").lower() in NO_PORT_SCHEMES or match.group("port") is None:
                continue
            port, resolved = port_value(match.group("port"), zmq_wildcard=True)
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
