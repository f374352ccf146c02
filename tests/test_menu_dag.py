"""The graph invariants in isolation, checked against brute force on random graphs."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userdir.menu.invariants import GraphViolation, check_graph, check_link, longest_path

Edges = list[tuple[int, int]]


def has_cycle(nodes: range, edges: Edges) -> bool:
    reach = {(a, b) for a, b in edges}
    for k, i, j in itertools.product(nodes, repeat=3):  # Floyd-Warshall transitive closure
        if (i, k) in reach and (k, j) in reach:
            reach.add((i, j))
    return any((n, n) in reach for n in nodes)


def depth(nodes: range, edges: Edges) -> int:
    """Links on the longest chain, by plain recursion: only for acyclic graphs."""

    def below(node: int) -> int:
        return max((1 + below(b) for a, b in edges if a == node), default=0)

    return max((below(n) for n in nodes), default=0)


def assert_path(kind: str, path: list[int], edges: Edges) -> None:
    assert all(pair in set(edges) for pair in itertools.pairwise(path))
    if kind == "cycle":
        assert path[0] == path[-1]


graphs = st.integers(1, 7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=14, unique=True),
    )
)


@settings(max_examples=150, deadline=None)
@given(graphs, st.integers(1, 4))
def test_check_graph_matches_brute_force(graph: tuple[int, Edges], max_depth: int) -> None:
    n, edges = graph
    nodes = range(n)
    try:
        check_graph(nodes, edges, max_depth=max_depth)
    except GraphViolation as exc:
        assert_path(exc.kind, exc.path, edges)
        if exc.kind == "cycle":
            assert has_cycle(nodes, edges)
        else:
            assert not has_cycle(nodes, edges) and len(exc.path) - 1 > max_depth
    else:
        assert not has_cycle(nodes, edges) and depth(nodes, edges) <= max_depth


@settings(max_examples=150, deadline=None)
@given(graphs, st.integers(1, 4), st.data())
def test_check_link_keeps_a_valid_graph_valid(
    graph: tuple[int, Edges], max_depth: int, data: st.DataObject
) -> None:
    n, edges = graph
    nodes = range(n)
    valid: Edges = []
    for edge in edges:  # keep the edges a valid graph accepts, in order
        try:
            check_graph(nodes, [*valid, edge], max_depth=max_depth)
        except GraphViolation:
            continue
        valid.append(edge)
    parent = data.draw(st.integers(0, n - 1))
    child = data.draw(st.integers(0, n - 1))
    if (parent, child) in valid:
        return
    after = [*valid, (parent, child)]
    try:
        check_link(valid, parent, child, max_depth=max_depth)
    except GraphViolation as exc:
        assert_path(exc.kind, exc.path, after)
        with pytest.raises(GraphViolation):
            check_graph(nodes, after, max_depth=max_depth)
    else:
        check_graph(nodes, after, max_depth=max_depth)


def test_longest_path_on_a_deep_chain_needs_no_recursion() -> None:
    children = {n: [n + 1] for n in range(20_000)}
    assert len(longest_path(children, 0)) == 20_001
