"""A networkx view of a slice's chips and ICI links, built on demand for checks, routing and
drawing. The torus itself is arithmetic (topology.torus); this only wraps its link arrays.

Nodes are chip coordinates (tuples). Edges (a MultiGraph, so the two links of a length-2 ring
stay two) carry `axis`, `kind` ("copper" inside a cube or on a static torus, "optical" across
cube faces through an OCS) and `bandwidth_bytes_per_s` (one direction).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from tpusim.topology.torus import torus_links


def link_kinds(shape: tuple[int, ...], links, cube_shape: tuple[int, ...] | None) -> np.ndarray:
    """'optical' for links that leave a cube through a face (wraparound included), else 'copper'."""
    if cube_shape is None:
        return np.full(len(links), "copper", dtype=object)
    coords = np.indices(shape).reshape(len(shape), -1)
    src_pos = coords[links.axis, links.src]
    side = np.array(cube_shape)[links.axis]
    crosses_face = (src_pos + 1) % side == 0
    return np.where(crosses_face, "optical", "copper").astype(object)


def torus_graph(
    shape: tuple[int, ...],
    wrap: tuple[bool, ...],
    *,
    twisted: bool = False,
    link_bytes_per_s: float = 1.0,
    cube_shape: tuple[int, ...] | None = None,
    optical: bool = False,
) -> nx.MultiGraph:
    """The chips of a `shape` torus as a networkx MultiGraph (see module docstring).

    `optical` marks cube-crossing links as optical (OCS pods); otherwise all links are copper.
    """
    links = torus_links(shape, wrap, twisted=twisted)
    kinds = link_kinds(shape, links, cube_shape if optical else None)
    graph = nx.MultiGraph()
    coords = [tuple(int(x) for x in c) for c in np.ndindex(shape)]
    graph.add_nodes_from(coords)
    for u, v, a, k in zip(links.src, links.dst, links.axis, kinds, strict=True):
        graph.add_edge(coords[u], coords[v], axis=int(a), kind=str(k),
                       bandwidth_bytes_per_s=link_bytes_per_s)
    return graph


def min_bisection_brute_force(graph: nx.MultiGraph) -> int:
    """Exact minimum number of edges cut by a balanced split of the nodes (small graphs only:
    it enumerates every half containing node 0, C(n-1, n/2-1) subsets)."""
    from itertools import combinations

    nodes = list(graph.nodes)
    n = len(nodes)
    index = {node: i for i, node in enumerate(nodes)}
    edges = np.array([(index[u], index[v]) for u, v in graph.edges()], dtype=int)
    half = n // 2
    best = None
    rows = []
    for rest in combinations(range(1, n), half - 1):
        rows.append((0, *rest))
        if len(rows) == 4096:
            best = _best_cut(rows, n, edges, best)
            rows = []
    if rows:
        best = _best_cut(rows, n, edges, best)
    return int(best)


def _best_cut(rows, n, edges, best):
    members = np.zeros((len(rows), n), bool)
    members[np.repeat(np.arange(len(rows)), len(rows[0])), np.array(rows).ravel()] = True
    cut = np.count_nonzero(members[:, edges[:, 0]] != members[:, edges[:, 1]], axis=1).min()
    return cut if best is None else min(best, cut)
