"""Menu graph invariants, checked in Python on edges loaded in bulk: no cycle, bounded depth.

Depth counts links: a chain burger -> fries -> ketchup has depth 2. With every menu at most
`max_depth` deep, a nested read at the default depth shows whole menus without cutting.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)


class GraphViolation(Exception, Generic[N]):
    """A write would break an invariant; `path` is the chain of nodes that shows it."""

    def __init__(self, kind: str, path: Sequence[N]) -> None:
        super().__init__(kind)
        self.kind = kind  # "cycle" or "depth"
        self.path = list(path)


def adjacency(edges: Iterable[tuple[N, N]]) -> dict[N, list[N]]:
    children: defaultdict[N, list[N]] = defaultdict(list)
    for parent, child in edges:
        children[parent].append(child)
    return dict(children)


def reversed_adjacency(edges: Iterable[tuple[N, N]]) -> dict[N, list[N]]:
    return adjacency((child, parent) for parent, child in edges)


def find_path(children: Mapping[N, Sequence[N]], start: N, goal: N) -> list[N] | None:
    """A shortest path start -> ... -> goal (breadth first), or None."""
    came_from: dict[N, N | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (previous := came_from[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for nxt in children.get(node, ()):
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return None


def longest_path(children: Mapping[N, Sequence[N]], start: N) -> list[N]:
    """The longest chain of links from `start` (iterative: stored graphs may be deep).

    Meant for acyclic graphs; an edge back onto the current path is skipped, so it ends
    even on data that was written around the checks.
    """
    best: dict[N, tuple[int, N | None]] = {}
    on_path = {start}
    stack = [(start, iter(children.get(start, ())))]
    while stack:
        node, pending = stack[-1]
        for nxt in pending:
            if nxt not in best and nxt not in on_path:
                on_path.add(nxt)
                stack.append((nxt, iter(children.get(nxt, ()))))
                break
        else:
            stack.pop()
            on_path.discard(node)
            length, follow = 0, None
            for nxt in children.get(node, ()):
                if nxt in best and best[nxt][0] + 1 > length:
                    length, follow = best[nxt][0] + 1, nxt
            best[node] = (length, follow)
    path = [start]
    while (follow := best[path[-1]][1]) is not None:
        path.append(follow)
    return path


def check_link(edges: Iterable[tuple[N, N]], parent: N, child: N, *, max_depth: int) -> None:
    """Raise GraphViolation if adding parent -> child to an acyclic graph breaks an invariant."""
    edges = list(edges)
    if parent == child:
        raise GraphViolation("cycle", [parent, child])
    children = adjacency(edges)
    back = find_path(children, child, parent)
    if back is not None:
        raise GraphViolation("cycle", [parent, *back])
    above = longest_path(reversed_adjacency(edges), parent)[::-1]
    below = longest_path(children, child)
    if len(above) + len(below) - 1 > max_depth:
        raise GraphViolation("depth", above + below)


def check_graph(nodes: Iterable[N], edges: Iterable[tuple[N, N]], *, max_depth: int) -> None:
    """Raise GraphViolation unless the whole graph is acyclic and at most max_depth deep."""
    edges = list(edges)
    children = adjacency(edges)
    parents = reversed_adjacency(edges)
    indegree = dict.fromkeys(nodes, 0)
    for _, child in edges:
        indegree[child] += 1
    order: list[N] = []
    ready = deque(node for node, degree in indegree.items() if degree == 0)
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in children.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) < len(indegree):
        raise GraphViolation("cycle", _a_cycle(parents, {n for n, d in indegree.items() if d}))
    # Longest path ending at each node, in topological order.
    depth: dict[N, tuple[int, N | None]] = {}
    for node in order:
        depth[node] = max(
            ((depth[p][0] + 1, p) for p in parents.get(node, ())),
            default=(0, None),
            key=lambda pair: pair[0],
        )
    deepest = max(order, key=lambda n: depth[n][0], default=None)
    if deepest is not None and depth[deepest][0] > max_depth:
        path = [deepest]
        while (previous := depth[path[-1]][1]) is not None:
            path.append(previous)
        raise GraphViolation("depth", path[::-1])


def _a_cycle(parents: Mapping[N, Sequence[N]], stuck: set[N]) -> list[N]:
    """A cycle among the nodes a topological sort could not order.

    Each of them has a parent among them, so walking up parents must come back round.
    """
    node = next(iter(stuck))
    seen: dict[N, int] = {}
    walk: list[N] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = next(p for p in parents[node] if p in stuck)
    cycle = walk[seen[node] :] + [node]
    return cycle[::-1]
