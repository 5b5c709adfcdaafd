"""Where two components bind the same port on one machine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
