"""Import cycles: strongly connected components once over the imports that run when a module is
imported and once over all imports (the cycles only the latter has are *latent*), each with one
shortest loop and a cut that breaks it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from symphony_assets.analysis.imports.graph import (
    Graph,
    cut_set,
    shortest_loop,
    strongly_connected_components,
    subgraph,
)
from symphony_assets.analysis.imports.resolve import Edge
from symphony_assets.analysis.imports.statements import IMPORT_TIME_KINDS


@dataclass(frozen=True)
class Cycle:
    cycle_id: str
    #: True when the component exists only through function-level, TYPE_CHECKING or ``__main__`` imports.
    latent: bool
    modules: tuple[str, ...]
    #: One shortest loop, as edges: ``loop[i].imported == loop[i + 1].importer``, back to the start.
    loop: tuple[Edge, ...]
    #: Imports whose removal breaks this component (verified; not guaranteed the smallest such set,
    #: and for a big latent component only minimised within a work budget: ``_LATENT_CUT_WORK``).
    cut: tuple[Edge, ...]

    @property
    def size(self) -> int:
        return len(self.modules)

    @property
    def loop_text(self) -> str:
        """``a:12 -> b:3 -> a``: each module with the line of its import of the next one."""
        if not self.loop:
            return ""
        steps = [f"{e.importer}:{e.line}" for e in self.loop]
        return " -> ".join([*steps, self.loop[0].importer])


@dataclass(frozen=True)
class CycleReport:
    cycles: tuple[Cycle, ...] = field(default_factory=tuple)

    @property
    def real(self) -> tuple[Cycle, ...]:
        return tuple(c for c in self.cycles if not c.latent)

    @property
    def latent(self) -> tuple[Cycle, ...]:
        return tuple(c for c in self.cycles if c.latent)


#: Work allowed for minimising the cut of a latent component: node visits of the put-back pass, one
#: per edge of the component but at least :data:`_LATENT_CUT_FLOOR`. Minimising is quadratic in the
#: worst case, and a latent component of thousands of modules (random function-level imports tie a
#: big codebase together) gets a cut of over a thousand imports however well it is minimised: nobody
#: works through that list, so it is not worth most of the cycle analysis' time. Small latent
#: components (up to a few hundred imports) stay fully minimised, and real cycles always are.
_LATENT_CUT_WORK = 1
_LATENT_CUT_FLOOR = 20_000


def find_cycles(edges: Iterable[Edge]) -> CycleReport:
    """Import cycles: components over import-time edges, then latent ones that all edges add.

    For each, one shortest loop (a latent loop goes through at least one latent import) and a cut set
    (verified to break the component; minimal for real cycles, minimised within a work budget for
    latent ones, see :data:`_LATENT_CUT_WORK`). Work per component is near-linear plus a few BFS
    passes; no enumeration of all cycles.
    """
    by_pair: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        if e.importer != e.imported:
            by_pair.setdefault((e.importer, e.imported), []).append(e)

    import_time = {pair for pair, found in by_pair.items() if any(e.kind in IMPORT_TIME_KINDS for e in found)}

    def is_import_time(u: str, v: str) -> bool:
        return (u, v) in import_time

    live: Graph = {}
    full: Graph = {}
    for u, v in by_pair:
        full.setdefault(u, set()).add(v)
        full.setdefault(v, set())
        if (u, v) in import_time:
            live.setdefault(u, set()).add(v)
            live.setdefault(v, set())

    weights = {pair: len(found) for pair, found in by_pair.items()}

    cycles: list[Cycle] = []
    real_sets: list[frozenset[str]] = []  # in discovery order: index = owner id below
    for component in strongly_connected_components(sorted(live), live):
        if len(component) < 2:
            continue
        members = frozenset(component)
        real_sets.append(members)
        sub = subgraph(live, members)
        starts = sorted(
            ((u, v) for u in sub for v in sub[u]),
            key=lambda uv: (-(len(sub[uv[0]]) + len(sub[uv[1]])), uv),
        )
        loop = shortest_loop(sub, starts)
        cut = cut_set(sub, None, weights)
        cycles.append(_make_cycle(False, members, loop, cut, by_pair))

    owner = {m: i for i, members in enumerate(real_sets) for m in members}
    real_lookup = set(real_sets)
    for component in strongly_connected_components(sorted(full), full):
        members = frozenset(component)
        if len(members) < 2 or members in real_lookup:
            continue
        sub = subgraph(full, members)
        latent_edges = sorted((u, v) for u in sub for v in sub[u] if not is_import_time(u, v))
        loop = shortest_loop(sub, latent_edges)

        # Collapse the real components inside so that cutting only latent imports can succeed.
        def rep(m: str) -> str:
            return f"\0{owner[m]}" if m in owner else m

        # A condensed edge can be cut only when every import it stands for is latent.
        condensed: Graph = {}
        cuttable: set[tuple[str, str]] = set()
        blocked: set[tuple[str, str]] = set()
        condensed_weights: dict[tuple[str, str], int] = {}
        for u in sub:
            cu = rep(u)
            condensed.setdefault(cu, set())
            for v in sub[u]:
                cv = rep(v)
                if cu == cv:
                    continue
                condensed[cu].add(cv)
                condensed.setdefault(cv, set())
                condensed_weights[(cu, cv)] = condensed_weights.get((cu, cv), 0) + weights[(u, v)]
                (blocked if is_import_time(u, v) else cuttable).add((cu, cv))
        cuttable -= blocked
        limit = max(_LATENT_CUT_FLOOR, _LATENT_CUT_WORK * sum(len(s) for s in condensed.values()))
        cut_condensed = set(cut_set(condensed, cuttable, condensed_weights, limit))
        cut_pairs = sorted((u, v) for u in sub for v in sub[u] if (rep(u), rep(v)) in cut_condensed)
        cycles.append(_make_cycle(True, members, loop, cut_pairs, by_pair))

    cycles.sort(key=lambda c: (c.latent, -c.size, c.modules))
    return CycleReport(cycles=tuple(cycles))


def _make_cycle(
    latent: bool,
    members: frozenset[str],
    loop: Sequence[str],
    cut: Sequence[tuple[str, str]],
    by_pair: Mapping[tuple[str, str], Sequence[Edge]],
) -> Cycle:
    """Attach concrete imports: per loop step the first import-time one; per cut pair all that matter."""

    def order(e: Edge) -> tuple[bool, str, int]:
        return (e.kind not in IMPORT_TIME_KINDS, e.importer_path, e.line)

    modules = tuple(sorted(members))
    loop_edges = tuple(min(by_pair[(loop[i], loop[i + 1])], key=order) for i in range(len(loop) - 1))
    cut_edges: list[Edge] = []
    for u, v in cut:
        pair = sorted(by_pair[(u, v)], key=order)
        # A real cycle breaks once the import-time imports go; a latent one needs every import gone.
        cut_edges.extend(pair if latent else [e for e in pair if e.kind in IMPORT_TIME_KINDS])
    digest = hashlib.sha1("\n".join(modules).encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    return Cycle(
        cycle_id=("latent-" if latent else "cycle-") + digest,
        latent=latent,
        modules=modules,
        loop=loop_edges,
        cut=tuple(cut_edges),
    )
