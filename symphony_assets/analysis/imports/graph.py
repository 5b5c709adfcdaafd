"""Graph algorithms over module names: strongly connected components, shortest loops, and small sets
of edges whose removal leaves a graph acyclic. Nothing here knows about imports."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

Graph = dict[str, set[str]]


def strongly_connected_components(
    nodes: Iterable[str], graph: Mapping[str, AbstractSet[str]]
) -> list[list[str]]:
    """Tarjan's algorithm without recursion, so a 10,000-module chain is fine."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index_of:
            continue
        work: list[tuple[str, Any]] = [(start, iter(sorted(graph.get(start, ()))))]
        index_of[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index_of:
                    index_of[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index_of[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def subgraph(graph: Mapping[str, AbstractSet[str]], members: AbstractSet[str]) -> Graph:
    return {n: {m for m in graph.get(n, ()) if m in members} for n in members}


def _topological_order(graph: Mapping[str, Collection[str]]) -> dict[str, int] | None:
    """Kahn's algorithm: node -> position, or None when the graph has a cycle."""
    indegree = dict.fromkeys(graph, 0)
    for succs in graph.values():
        for s in succs:
            indegree[s] = indegree.get(s, 0) + 1
    ready = sorted((n for n, d in indegree.items() if d == 0), reverse=True)
    order: dict[str, int] = {}
    while ready:
        node = ready.pop()
        order[node] = len(order)
        for s in graph.get(node, ()):
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    return order if len(order) == len(indegree) else None


def _try_add_edge(
    succ: dict[str, dict[str, None]],
    pred: dict[str, dict[str, None]],
    order: dict[str, int],
    u: str,
    v: str,
    limit: int | None = None,
) -> tuple[bool, int]:
    """Add u -> v to a DAG unless it closes a cycle, keeping ``order`` topological (Pearce-Kelly).

    Only the nodes between v and u in the current order are searched, which keeps the many
    put-back attempts of :func:`cut_set` cheap on large components. Returns whether the edge went
    in and how many nodes were visited; past ``limit`` visits it gives up, changing nothing.
    Adjacency is kept in insertion-ordered dicts, so the visits, and with them what a limited
    put-back pass achieves, do not depend on string hashing (they are the same in every process).
    """
    lower, upper = order[v], order[u]
    if lower > upper:
        succ[u][v] = None
        pred[v][u] = None
        return True, 0
    forward: list[str] = []
    seen = {v}
    stack = [v]
    while stack:
        node = stack.pop()
        if node == u:
            return False, len(forward)
        forward.append(node)
        if limit is not None and len(forward) > limit:
            return False, len(forward)
        for s in succ[node]:
            if s not in seen and order[s] <= upper:
                seen.add(s)
                stack.append(s)
    backward: list[str] = []
    seen = {u}
    stack = [u]
    while stack:
        node = stack.pop()
        backward.append(node)
        if limit is not None and len(forward) + len(backward) > limit:
            return False, len(forward) + len(backward)
        for p in pred[node]:
            if p not in seen and order[p] >= lower:
                seen.add(p)
                stack.append(p)
    backward.sort(key=order.__getitem__)
    forward.sort(key=order.__getitem__)
    slots = sorted(order[n] for n in backward + forward)
    for node, slot in zip(backward + forward, slots):
        order[node] = slot
    succ[u][v] = None
    pred[v][u] = None
    return True, len(forward) + len(backward)


def _els_order(graph: Mapping[str, AbstractSet[str]]) -> dict[str, int]:
    """Eades-Lin-Smyth ordering: edges pointing backwards in it form a small feedback arc set."""
    succ = {n: set(s) for n, s in graph.items()}
    pred: dict[str, set[str]] = {n: set() for n in graph}
    for n, ss in graph.items():
        for s in ss:
            pred[s].add(n)
    alive = set(graph)
    left: list[str] = []
    right: list[str] = []
    sinks = deque(sorted(n for n in graph if not succ[n]))
    sources = deque(sorted(n for n in graph if not pred[n]))
    heap = [(len(pred[n]) - len(succ[n]), n) for n in sorted(graph)]
    heapq.heapify(heap)

    def remove(node: str) -> None:
        alive.discard(node)
        for s in succ.pop(node):
            pred[s].discard(node)
            heapq.heappush(heap, (len(pred[s]) - len(succ[s]), s))
            if not pred[s]:
                sources.append(s)
        for p in pred.pop(node):
            succ[p].discard(node)
            heapq.heappush(heap, (len(pred[p]) - len(succ[p]), p))
            if not succ[p]:
                sinks.append(p)

    while alive:
        while sinks or sources:
            while sinks:
                node = sinks.popleft()
                if node in alive and not succ[node]:
                    right.append(node)
                    remove(node)
            while sources:
                node = sources.popleft()
                if node in alive and not pred[node]:
                    left.append(node)
                    remove(node)
        while heap and alive:
            score, node = heapq.heappop(heap)
            if node in alive and score == len(pred[node]) - len(succ[node]):
                left.append(node)
                remove(node)
                break
    order = left + list(reversed(right))
    return {n: i for i, n in enumerate(order)}


def _constrained_order(
    graph: Mapping[str, AbstractSet[str]], allowed: AbstractSet[tuple[str, str]]
) -> dict[str, int] | None:
    """Node -> position with every edge outside ``allowed`` pointing forwards; None if impossible.

    Kahn's algorithm over those edges, taking among the nodes it may place next the one with the
    fewest remaining incoming edges of any kind relative to outgoing ones (ELS's score), so that few
    allowed edges end up pointing backwards.
    """
    succ = {n: set(s) for n, s in graph.items()}
    pred: dict[str, set[str]] = {n: set() for n in graph}
    hard_in = dict.fromkeys(graph, 0)
    for n, ss in graph.items():
        for s in ss:
            pred[s].add(n)
            if (n, s) not in allowed:
                hard_in[s] += 1

    def key(node: str) -> tuple[bool, int, str]:
        return (bool(pred[node]), len(pred[node]) - len(succ[node]), node)

    heap = [key(n) for n in graph if hard_in[n] == 0]
    heapq.heapify(heap)
    order: dict[str, int] = {}
    while heap:
        entry = heapq.heappop(heap)
        node = entry[2]
        if node in order or entry != key(node):
            continue
        order[node] = len(order)
        for s in succ.pop(node):
            pred[s].discard(node)
            if (node, s) not in allowed:
                hard_in[s] -= 1
            if hard_in[s] == 0:
                heapq.heappush(heap, key(s))
        for p in pred.pop(node):
            succ[p].discard(node)
            if hard_in[p] == 0:
                heapq.heappush(heap, key(p))
        succ[node] = set()
        pred[node] = set()
    return order if len(order) == len(graph) else None


def cut_set(
    graph: Mapping[str, AbstractSet[str]],
    cuttable: AbstractSet[tuple[str, str]] | None,
    weights: Mapping[tuple[str, str], int],
    work_limit: int | None = None,
) -> list[tuple[str, str]]:
    """A minimal set of cuttable edges (all when ``cuttable`` is None) that leaves ``graph`` acyclic.

    Starts from the backward edges of an Eades-Lin-Smyth order (all cuttable edges when those are not
    enough), then puts back every edge that does not close a cycle again, heaviest first. With
    ``work_limit`` the put-back pass stops after that many node visits in all: the cut still breaks
    every cycle, it is just not minimal any more.
    """
    pos = _els_order(graph)
    edges = [(u, v) for u, succs in graph.items() for v in succs]
    allowed = set(edges) if cuttable is None else set(edges) & set(cuttable)
    cut = {(u, v) for u, v in allowed if pos[u] >= pos[v]}
    nodes = sorted(graph)
    succ = {n: dict.fromkeys(v for v in sorted(graph[n]) if (n, v) not in cut) for n in nodes}
    order = _topological_order(succ)
    if order is None:
        # The ELS order runs some edges that may not be cut backwards: order again, greedily as ELS
        # does, but never against such an edge. (Cutting every allowed edge and putting most back,
        # as before, is far slower on a big latent component.)
        constrained = _constrained_order(graph, allowed)
        if constrained is None:
            raise ValueError("the edges that may not be cut form a cycle on their own")
        cut = {(u, v) for u, v in allowed if constrained[u] >= constrained[v]}
        succ = {n: dict.fromkeys(v for v in sorted(graph[n]) if (n, v) not in cut) for n in nodes}
        order = _topological_order(succ)
        if order is None:  # cannot happen: every edge left runs forwards in ``constrained``
            raise ValueError("no acyclic order for the edges that may not be cut")
    pred: dict[str, dict[str, None]] = {n: {} for n in nodes}
    for n, ss in succ.items():
        for s in ss:
            pred[s][n] = None
    # Put back first the pairs most costly to cut (several import statements), then in name order.
    left = work_limit
    for u, v in sorted(cut, key=lambda uv: (-weights.get(uv, 1), uv)):
        if left is not None and left <= 0:
            break
        added, visits = _try_add_edge(succ, pred, order, u, v, left)
        if added:
            cut.discard((u, v))
        if left is not None:
            left -= max(visits, 1)
    return sorted(cut)


def _shortest_path(
    graph: Mapping[str, Sequence[str]], source: str, target: str, max_nodes: int | None = None
) -> list[str] | None:
    """Nodes from ``source`` to ``target`` by BFS (both ends included), successors in list order.

    None when there is no path, or none with fewer than ``max_nodes`` nodes (the search stops there).
    """
    parent: dict[str, str | None] = {source: None}
    frontier = [source]
    nodes = 2  # on a path to a successor of the frontier
    while frontier and (max_nodes is None or nodes < max_nodes):
        following: list[str] = []
        for node in frontier:
            for s in graph.get(node, ()):
                if s == target:
                    path = [node]
                    back = parent[node]
                    while back is not None:
                        path.append(back)
                        back = parent[back]
                    return [*reversed(path), target]
                if s not in parent:
                    parent[s] = node
                    following.append(s)
        frontier = following
        nodes += 1
    return None


#: How many start points the shortest-loop search tries in one component (exact below this size).
_LOOP_STARTS = 48


def shortest_loop(graph: Mapping[str, AbstractSet[str]], first_edges: Sequence[tuple[str, str]]) -> list[str]:
    """Shortest loop that starts with one of ``first_edges``: ``[a, b, ..., a]``."""
    ordered = {n: sorted(s) for n, s in graph.items()}
    best: list[str] | None = None
    for u, v in first_edges[:_LOOP_STARTS]:
        if u == v:
            return [u, u]
        # Only a loop shorter than the best so far matters: [u, *path] needs len(path) < len(best) - 1.
        path = _shortest_path(ordered, v, u, None if best is None else len(best) - 1)
        if path is not None and (best is None or len(path) + 1 < len(best)):
            best = [u, *path]
            if len(best) == 3:
                break
    return best or []
