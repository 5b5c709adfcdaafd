"""Docker Compose ``ports:`` entries: the published (host) side binds a port on the machine."""

from __future__ import annotations

import re
from dataclasses import replace

from symphony_assets.analysis.ports.config_tree import ConfigNode
from symphony_assets.analysis.ports.config_values import config_port, config_site, substitute
from symphony_assets.analysis.ports.sites import MAX_PORT, PortSite

#: A published compose range like ``8000-8999:8000-8999`` expands to at most this many sites.
RANGE_LIMIT = 64


_COMPOSE_PORT = re.compile(
    r"^(?:(?P<ip>\[[^\]]*\]|\d+\.\d+\.\d+\.\d+):)?(?:(?P<published>[^:]*):)?(?P<target>[^:/]+)"
    r"(?:/(?P<proto>\w+))?$"
)


def compose_ports(node: ConfigNode, path: str, variables: dict[str, str], sites: list[PortSite]) -> None:
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
        expanded, soft = substitute(text, variables)
        match = _COMPOSE_PORT.match(expanded.strip()) if expanded is not None else None
        if match is None:
            sites.append(config_site(entry.line, None, None, False, text, entry_path, role="listen"))
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
        sites.append(config_site(line, ip, 0, True, raw, path, role="listen", socket_type=proto))
        return
    text = str(published)
    span = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if span:
        low, high = int(span.group(1)), int(span.group(2))
        for number in range(low, min(high, low + RANGE_LIMIT - 1, MAX_PORT) + 1):
            sites.append(config_site(line, ip, number, True, raw, path, role="listen", socket_type=proto))
        return
    port, resolved = config_port(published, variables)
    sites.append(config_site(line, ip, port, resolved, raw, path, role="listen", socket_type=proto))
