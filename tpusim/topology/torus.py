"""The torus as arithmetic: chip coordinates, ICI links (with wraparound and twist), diameter,
bisection.

Chips are numbered in C order over the shape: chip id = np.ravel_multi_index(coord, shape).
Links are numpy arrays (src, dst, axis, is_wrap); one row per physical link.

Invariants (tested):
- with wraparound on every axis of length >= 2, every chip has degree 2 x (axes of length >= 2);
  an axis of length 2 with wraparound has two parallel links between the same pair of chips;
- without wraparound an axis of length n has n-1 links per line;
- twisting changes where wrap links land, never how many links there are.

Twisted tori (Camara et al., "Twisted torus topologies for enhanced interconnection networks",
IEEE TPDS 2010; offered by TPU v4, Jouppi et al. 2023): in a k x k x 2k torus, the wrap links of
each k-long axis are shifted by k along the 2k-long axis; in a k x 2k x 2k torus, the wrap links
of the k-long axis are shifted by k along both 2k-long axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Links:
    """ICI links of a torus or mesh, one row per physical (bidirectional) link."""

    src: np.ndarray  # chip id
    dst: np.ndarray  # chip id
    axis: np.ndarray  # axis index of the link
    is_wrap: np.ndarray  # bool: the link closes a ring (wraparound)

    def __len__(self) -> int:
        return int(self.src.size)


def twist_offsets(shape: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    """For each axis whose wrap links are twisted, the offset added to the other axes.

    Empty for shapes that are neither k x k x 2k nor k x 2k x 2k.
    >>> twist_offsets((4, 4, 8))
    {0: (0, 0, 4), 1: (0, 0, 4)}
    """
    if len(shape) != 3:
        return {}
    lo = min(shape)
    long_axes = [i for i, n in enumerate(shape) if n == 2 * lo]
    short_axes = [i for i, n in enumerate(shape) if n == lo]
    if len(short_axes) == 2 and len(long_axes) == 1:  # k x k x 2k
        offset = tuple(lo if i == long_axes[0] else 0 for i in range(3))
        return dict.fromkeys(short_axes, offset)
    if len(short_axes) == 1 and len(long_axes) == 2:  # k x 2k x 2k
        offset = tuple(lo if i in long_axes else 0 for i in range(3))
        return {short_axes[0]: offset}
    return {}


def torus_links(shape: tuple[int, ...], wrap: tuple[bool, ...], *, twisted: bool = False) -> Links:
    """All ICI links of a `shape` torus with wraparound per axis `wrap` (twisted if asked)."""
    coords = np.indices(shape).reshape(len(shape), -1)  # (D, N)
    twists = twist_offsets(shape) if twisted else {}
    src_parts, dst_parts, axis_parts, wrap_parts = [], [], [], []
    for a, n in enumerate(shape):
        if n == 1:
            continue
        keep = np.ones(coords.shape[1], bool) if wrap[a] else coords[a] < n - 1
        src_c = coords[:, keep]
        dst_c = src_c.copy()
        dst_c[a] = (src_c[a] + 1) % n
        is_wrap = src_c[a] == n - 1
        if a in twists:
            offset = np.array(twists[a])[:, None]
            shifted = (dst_c + offset) % np.array(shape)[:, None]
            dst_c = np.where(is_wrap[None, :], shifted, dst_c)
        src_parts.append(np.ravel_multi_index(tuple(src_c), shape))
        dst_parts.append(np.ravel_multi_index(tuple(dst_c), shape))
        axis_parts.append(np.full(src_c.shape[1], a))
        wrap_parts.append(is_wrap)
    if not src_parts:
        empty = np.zeros(0, int)
        return Links(empty, empty, empty, np.zeros(0, bool))
    return Links(
        np.concatenate(src_parts),
        np.concatenate(dst_parts),
        np.concatenate(axis_parts),
        np.concatenate(wrap_parts),
    )


def degrees(shape: tuple[int, ...], links: Links) -> np.ndarray:
    """Links per chip (parallel links counted separately)."""
    n = math.prod(shape)
    return np.bincount(links.src, minlength=n) + np.bincount(links.dst, minlength=n)


def plane_cut_links(shape: tuple[int, ...], links: Links) -> dict[int, int]:
    """For each axis of length >= 2, the links crossing the plane that halves it
    (chips with coordinate < n//2 on one side)."""
    coords = np.indices(shape).reshape(len(shape), -1)
    cuts = {}
    for a, n in enumerate(shape):
        if n < 2:
            continue
        side = coords[a] < n // 2
        cuts[a] = int(np.count_nonzero(side[links.src] != side[links.dst]))
    return cuts


def bisection_links(shape: tuple[int, ...], links: Links) -> int:
    """Links cut by the smallest plane bisection (0 for a single chip).

    For an untwisted torus this is min over axes of (N / n) x (2 if the axis wraps else 1), the
    cut across the longest axis; tests check it against a brute-force minimum balanced cut on
    small tori, twisted included.
    """
    cuts = plane_cut_links(shape, links)
    return min(cuts.values()) if cuts else 0


def bisection_links_untwisted(shape: tuple[int, ...], wrap: tuple[bool, ...]) -> int:
    """Closed form for an untwisted torus: min over axes of (N / n) x (2 if wrap else 1)."""
    n_chips = math.prod(shape)
    cuts = [n_chips // n * (2 if w else 1) for n, w in zip(shape, wrap, strict=True) if n >= 2]
    return min(cuts) if cuts else 0


def diameter_untwisted(shape: tuple[int, ...], wrap: tuple[bool, ...]) -> int:
    """Hops between the farthest chips: sum over axes of n//2 (ring) or n-1 (line)."""
    return sum(n // 2 if w else n - 1 for n, w in zip(shape, wrap, strict=True))


def eccentricity(shape: tuple[int, ...], links: Links, source: int = 0) -> int:
    """Largest hop count from `source` to any chip (breadth-first search on the link arrays)."""
    n = math.prod(shape)
    adjacency = [[] for _ in range(n)]
    for u, v in zip(links.src.tolist(), links.dst.tolist(), strict=True):
        adjacency[u].append(v)
        adjacency[v].append(u)
    dist = np.full(n, -1)
    dist[source] = 0
    frontier = [source]
    while frontier:
        nxt = []
        for u in frontier:
            for v in adjacency[u]:
                if dist[v] < 0:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return int(dist.max())


def diameter(shape: tuple[int, ...], wrap: tuple[bool, ...], *, twisted: bool = False) -> int:
    """Diameter in hops: closed form untwisted; breadth-first search for twisted tori
    (which are vertex-transitive, so one source suffices)."""
    if not twisted or not twist_offsets(shape):
        return diameter_untwisted(shape, wrap)
    return eccentricity(shape, torus_links(shape, wrap, twisted=True))
