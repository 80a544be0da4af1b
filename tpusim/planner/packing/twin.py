"""The pure-Python twin of the compiled kernel (tpusim.planner.packing.native).

Kept on purpose, as the tested reference of the C code and as the engine's kernel wherever the
compiled one cannot run: no C compiler (or TPUSIM_NO_NATIVE=1), or a problem larger than the
compiled fixed-size bit sets (more than 256 cubes or 1024 placements). Everything above the
kernels (tpusim.planner.packing.solve) is written once over either; answers are the same, only
slower (about a thousand times per search node).

`TwinBoxes` offers what `NativeBoxes` offers, with the same contracts:
- `exists`: the same branch-and-bound as _search.c on Python ints: the same branching cube
  (fewest alive boxes, then lowest id), the same option order (rank, then search index) and the
  same "leave the cube unused" branch, so when both finish they return the same packing, in the
  same order. It prunes by the live cubes, the coloring classes, the LP dual and a memo of its
  own call only (not by the waste families or the joint parity bound, which cut only subtrees
  without a packing), so it may need more nodes; `waste` and `keep_proofs` are accepted and
  have no effect.
- `solve_batch`: the batch solver's contract with less work: the greedy packings over the
  tiling orders (vectorised; the same greedy as _batch.c's), then the full search at t, t - 1,
  ... (`quick` nodes each); no local search, no joint bound. A row whose search runs out of
  nodes is left to the caller with its upper bound and no packing.
- `cycle_max`: the slab bound's cycle DP (_cycle.c), vectorised with numpy.

Invariants (tested): exists returns exactly what the compiled exists returns whenever both
finish; batch counts, finished packings and cycle maxima equal the compiled ones and brute
force.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tpusim.planner.packing.bits import n_words, word_array
from tpusim.planner.packing.boxes import Placements, box_placements
from tpusim.planner.packing.greedy import tiling_orders
from tpusim.planner.packing.problem import BatchResult, Budgets, Packings, Problem, problem


@dataclass(frozen=True)
class TwinBoxes:
    """One packing problem for the Python search."""

    problem: Problem
    compiled = False  # (class attribute) the kernel is Python: no threads, its own budgets

    def exists(self, healthy_boxes: list[int], free: int, t: int, budget: int, *,
               waste: bool = True, keep_proofs: bool = False,
               prefer: list[int] | None = None, weights: np.ndarray | None = None):
        """t disjoint boxes among `healthy_boxes` (placement indices) inside cubes `free`:
        their indices, False if there are none, None if the node budget ran out (see
        NativeBoxes.exists)."""
        pr = self.problem
        alive = 0
        for j in pr.to_search[np.asarray(healthy_boxes, dtype=np.int64)].tolist():
            alive |= 1 << j
        rank = None
        if prefer is not None:
            rank = [len(pr.masks)] * len(pr.masks)
            for r, j in enumerate(pr.to_search[np.asarray(prefer, dtype=np.int64)].tolist()):
                rank[j] = r
        weight = None if weights is None else [float(w) for w in weights]
        got = _search(pr, alive, free, t, budget, rank, weight)
        if got is None or got is False:
            return got
        return pr.from_search[np.asarray(got, dtype=np.int64)].tolist()

    def solve_batch(self, ok: np.ndarray, coverable: np.ndarray, upper: np.ndarray, *,
                    lower: np.ndarray | None = None, budgets: Budgets) -> BatchResult:
        """Maximum packings of many patterns (see the module docstring and _batch.c)."""
        pr = self.problem
        pl = box_placements(pr.grid, pr.shape)
        ok = np.asarray(ok, dtype=bool)
        upper = np.asarray(upper, dtype=np.int64)
        greedy = greedy_counts(pl, ok) if len(ok) else np.zeros(0, dtype=np.int64)
        low = np.zeros(len(ok), dtype=np.int64) if lower is None else np.asarray(lower)
        count = np.full(len(ok), -1, dtype=np.int64)
        up = upper.copy()
        for p in range(len(ok)):
            t = int(upper[p])
            cands = np.flatnonzero(ok[p]).tolist()
            free = 0
            for i in cands:
                free |= pl.masks[i]
            while True:
                if greedy[p] >= t or low[p] >= t:
                    count[p] = t
                    break
                got = self.exists(cands, free, t, budgets.quick)
                if got is None:
                    break
                if got:
                    count[p] = t
                    break
                t -= 1
            up[p] = t
        best = np.full((len(ok), 1), -1, dtype=np.int32)
        return BatchResult(count, up, Packings(best, pr.from_search))


@lru_cache(maxsize=256)
def twin_boxes(grid: tuple[int, ...], shape: tuple[int, ...]) -> TwinBoxes:
    """The Python kernel of one packing problem (cached)."""
    return TwinBoxes(problem(grid, shape))


def _search(pr: Problem, alive: int, free: int, t: int, budget: int, rank: list[int] | None,
            weight: list[float] | None) -> list[int] | bool | None:
    """`go` of _search.c on Python ints: the boxes (search indices, the last placed first),
    False, or None when more than `budget` nodes are needed."""
    k = pr.k
    masks, cube_boxes, conflict = pr.masks, pr.cube_boxes, pr.conflict
    tests = list(zip(pr.classes, pr.need, strict=True))
    failed: dict[int, int] = {}  # live cubes -> smallest target proved impossible
    chosen: list[int] = []
    nodes = 0

    def go(alive: int, free: int, t: int) -> int:
        nonlocal nodes
        if t == 0:
            return 1
        nodes += 1
        if nodes > budget:
            return -1
        best_c, best_n, live = -1, 1 << 30, 0
        rest = free
        while rest:
            low = rest & -rest
            rest ^= low
            c = low.bit_length() - 1
            n = (alive & cube_boxes[c]).bit_count()
            if n:
                live |= low
                if n < best_n:
                    best_n, best_c = n, c
        slack = live.bit_count() - t * k
        if slack < 0 or failed.get(live, t + 1) <= t:
            return 0
        if weight is not None and sum(weight[c] for c in _bits(live)) < t - 1e-7:
            failed[live] = t
            return 0
        for cls, need in tests:
            if (live & cls).bit_count() // need < t:
                return 0
        options = list(_bits(alive & cube_boxes[best_c]))
        if rank is not None:
            options.sort(key=rank.__getitem__)
        for j in options:
            r = go(alive & ~conflict[j], live & ~masks[j], t - 1)
            if r == 1:
                chosen.append(j)
            if r != 0:
                return r
        if slack > 0:
            r = go(alive & ~cube_boxes[best_c], live & ~(1 << best_c), t)
            if r != 0:
                return r
        if failed.get(live, t + 1) > t:
            failed[live] = t
        return 0

    # Recursion depth <= cubes in the pod (each level decides at least one cube).
    r = go(alive, free, t)
    return chosen if r == 1 else (False if r == 0 else None)


def _bits(mask: int):
    """Indices of the set bits of `mask`, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def greedy_counts(pl: Placements, ok: np.ndarray) -> np.ndarray:
    """Best greedy packing size over the tiling orders (_batch.c's greedy_pack), for each
    pattern (rows of `ok`, the patterns x placements matrix of healthy placements).

    Vectorised over patterns: one contiguous uint64 array of used cubes per 64-cube word, and
    for each placement only the words its cubes touch are tested and updated."""
    words = word_array(pl.masks, n_words(pl.n_cubes))
    s = ok.shape[0]
    ok_t = np.ascontiguousarray(np.asarray(ok, dtype=bool).T)  # placements x patterns
    touched = [[(w, np.uint64(words[j, w])) for w in np.flatnonzero(words[j]).tolist()]
               for j in range(len(words))]
    best = np.zeros(s, dtype=np.int64)
    zero = np.uint64(0)
    fits = np.empty(s, dtype=bool)
    clear = np.empty(s, dtype=bool)
    scratch = np.empty(s, dtype=np.uint64)
    for order in tiling_orders(pl.grid, pl.shape):
        used = [np.zeros(s, dtype=np.uint64) for _ in range(words.shape[1])]
        count = np.zeros(s, dtype=np.int64)
        for j in order.tolist():
            np.copyto(fits, ok_t[j])
            for w, m in touched[j]:
                np.bitwise_and(used[w], m, out=scratch)
                np.equal(scratch, zero, out=clear)
                fits &= clear
            for w, m in touched[j]:
                np.bitwise_or(used[w], m, out=used[w], where=fits)
            count += fits
        np.maximum(best, count, out=best)
    return best


def cycle_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise max sum_s x_s with 0 <= x_s <= a[s], x_{s-1} + x_s <= b[s] (indices mod n), by
    dynamic programming over (x_0, x_s) for all rows at once; a, b: (rows x n) ints. On a
    2-long cycle the two starts are the same boxes: min(a[0], b[0], b[1])."""
    rows, n = a.shape
    if n == 2:
        return np.minimum(a[:, 0], b.min(axis=1))
    top = int(a.max(initial=0)) + 1
    x = np.arange(top)
    neg = np.int64(-(1 << 40))
    # dp[r, x0, xs]: best sum of x_0..x_s with those end values, or neg if infeasible
    first_ok = (x[None, :] <= a[:, :1]) & (x[None, :] <= b[:, 1:2])  # x_0 + x_1 <= b_1 later
    dp = np.full((rows, top, top), neg)
    idx = np.arange(top)
    dp[:, idx, idx] = np.where(first_ok, x[None, :], neg)
    for s in range(1, n):
        # new[r, x0, xs] = max_prev dp[r, x0, prev] + xs, prev + xs <= b[s], xs <= a[s]
        feas = ((x[:, None] + x[None, :])[None, :, :] <= b[:, s, None, None]) \
            & (x[None, None, :] <= a[:, s, None, None])  # r, prev, xs
        cand = np.where(feas[:, None, :, :], dp[:, :, :, None], neg)  # r, x0, prev, xs
        best = cand.max(axis=2)
        dp = np.where(best > neg // 2, best + x[None, None, :], neg)
    close = (x[:, None] + x[None, :])[None, :, :] <= b[:, 0, None, None]  # x0 + x_{n-1} <= b_0
    return np.where(close, dp, neg).max(axis=(1, 2)).clip(min=0)
