"""The free healthy cubes of one pod, by OCS group, with O(log n) lowest-id queries.

An OCS joins only the cubes of its group (`tpusim.topology.ocs`: cube c is in group
c // cubes_per_ocs), so the cubes of a multi-cube OCS slice, and the spares that replace them,
come from one group. Each group keeps a min-heap of cube ids with lazy deletion (an id is
valid while it is in `ids`); a heap is rebuilt when stale entries outnumber the valid ones.

Invariants (tested): `lowest(g)` is min(ids in group g) or None; `take_lowest(g, k)` returns
the k lowest ids of group g in ascending order and removes them; counts match `ids`.
"""

from __future__ import annotations

import heapq


class FreeCubes:
    __slots__ = ("count", "heaps", "ids", "per_group")

    def __init__(self, n: int, per_group: int, *, full: bool = True) -> None:
        self.per_group = per_group  # cubes per OCS group (n with a single group)
        groups = -(-n // per_group) if n else 1
        if full:
            self.ids = set(range(n))
            self.heaps: list[list[int]] = [list(range(g * per_group, min(n, (g + 1) * per_group)))
                                           for g in range(groups)]
        else:
            self.ids = set()
            self.heaps = [[] for _ in range(groups)]
        self.count = [len(h) for h in self.heaps]

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, cube: int) -> bool:
        return cube in self.ids

    def group(self, cube: int) -> int:
        return cube // self.per_group

    def add(self, cube: int) -> None:
        if cube in self.ids:
            return
        self.ids.add(cube)
        g = cube // self.per_group
        self.count[g] += 1
        heap = self.heaps[g]
        heapq.heappush(heap, cube)
        if len(heap) > 2 * self.count[g] + 64:
            self.heaps[g] = sorted({c for c in heap if c in self.ids})  # sorted = a heap

    def discard(self, cube: int) -> None:
        if cube in self.ids:
            self.ids.remove(cube)
            self.count[cube // self.per_group] -= 1

    def lowest(self, g: int) -> int | None:
        """The lowest free cube id of group `g` (None if it has none)."""
        heap = self.heaps[g]
        ids = self.ids
        while heap:
            cube = heap[0]
            if cube in ids:
                return cube
            heapq.heappop(heap)
        return None

    def lowest_any(self) -> int | None:
        """The lowest free cube id of the pod."""
        best = None
        for g in range(len(self.heaps)):
            if self.count[g]:
                cube = self.lowest(g)
                if best is None or cube < best:
                    best = cube
        return best

    def take_lowest(self, g: int, k: int) -> list[int]:
        """Remove and return the `k` lowest free ids of group `g` (ascending); the caller has
        checked count[g] >= k."""
        out: list[int] = []
        heap = self.heaps[g]
        ids = self.ids
        while len(out) < k:
            cube = heapq.heappop(heap)
            if cube in ids:
                ids.remove(cube)
                out.append(cube)
        self.count[g] -= k
        return out
