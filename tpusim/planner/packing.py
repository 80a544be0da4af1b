"""Exact maximum packing of disjoint healthy boxes for one failure pattern.

Search: cubes are decided in id order. At the lowest undecided cube c, either one healthy
placement whose lowest cube is c is placed (all its cubes are >= c and still free), or c is left
unused. A target count t is feasible iff this search finds t boxes; the answer is the largest
feasible t, tried downwards from the bound floor(coverable cubes / box cubes), where a cube is
coverable if some healthy placement contains it. A memo records, per set of free cubes, the
smallest target proven infeasible. This is exact: every packing is reachable (order its boxes by
lowest cube).

Invariants (tested): the result equals a brute-force maximum independent set over placements on
small pods; the boxes returned are disjoint, healthy, and as many as the count; the count never
exceeds floor(healthy cubes / box cubes).
"""

from __future__ import annotations

import math

from tpusim.planner.bounds import colorings
from tpusim.planner.boxes import Placements

_NODE_COLORINGS = 3  # colorings checked at every search node (more: tighter but slower)


def healthy_placements(pl: Placements, healthy: int) -> list[int]:
    """Indices of the placements whose cubes are all healthy (bit set in `healthy`)."""
    return [i for i, m in enumerate(pl.masks) if m & healthy == m]


def max_packing(pl: Placements, healthy: int, *, need: int | None = None,
                candidates: list[int] | None = None, node_budget: int = 40) -> list[int]:
    """Placement indices of a maximum set of disjoint, all-healthy boxes (at most `need` boxes
    if given: then the search stops as soon as `need` are found).

    `healthy`: bit mask of usable cubes; `candidates`: the healthy placement indices if already
    known (saves a pass). When the search needs more than `node_budget` nodes the pattern is
    solved exactly by an integer program instead (scipy's HiGHS), which is faster on hard cases.
    """
    if candidates is None:
        candidates = healthy_placements(pl, healthy)
    if not candidates:
        return []
    k = pl.cubes_per_slice
    masks = pl.masks
    coverable = 0
    for i in candidates:
        coverable |= masks[i]
    cols = colorings(pl.grid, pl.shape)
    root = [(c.bound(coverable), c) for c in cols]
    bound = min(b for b, _ in root)
    # inside the search: the trivial bound plus the colorings that are tight at the root
    tight = [c for b, c in root if b == bound and c is not cols[0]][:_NODE_COLORINGS]
    if need is not None:
        bound = min(bound, need)
    if bound <= 1:
        return [candidates[0]] if bound == 1 else []
    failed: dict[int, int] = {}
    chosen: list[int] = []
    cells = pl.cells
    n = pl.n_cubes

    nodes = [0]
    budget = [node_budget + 2 * bound]  # a straight dive to `bound` boxes takes bound nodes

    def feasible(alive: list[int], t: int) -> bool:
        # alive: placements inside the free cubes; free = the cubes they cover
        if t == 0:
            return True
        nodes[0] += 1
        if nodes[0] > budget[0]:
            raise _BudgetExceeded
        free = 0
        for i in alive:
            free |= masks[i]
        slack = free.bit_count() - t * k
        if slack < 0 or failed.get(free, t + 1) <= t:
            return False
        for col in tight:
            if col.bound(free) < t:
                return False
        # branch on the free cube covered by the fewest placements (most constrained)
        counts = [0] * n
        for i in alive:
            for c in cells[i]:
                counts[c] += 1
        best = min((counts[c], c) for c in _bits(free))[1]
        bit = 1 << best
        for i in alive:
            m = masks[i]
            if m & bit:
                rest = free ^ m
                if feasible([j for j in alive if masks[j] & rest == masks[j]], t - 1):
                    chosen.append(i)
                    return True
        if slack > 0 and feasible([j for j in alive if not masks[j] & bit], t):
            return True
        if failed.get(free, t + 1) > t:
            failed[free] = t
        return False

    # Recursion depth <= cubes in the pod (each level decides at least one cube).
    try:
        for t in range(bound, 1, -1):
            chosen.clear()
            if feasible(candidates, t):
                return chosen[::-1]
        return [candidates[0]]
    except _BudgetExceeded:
        pass
    # Hard pattern: the LP relaxation bounds the packing; search for that many boxes again.
    lp_value, order, whole = _lp_relaxation(pl, candidates)
    t = min(bound, int(math.floor(lp_value + 1e-6)))
    if t <= 1:
        return [candidates[0]]
    # LP-guided: keep the boxes the relaxation takes whole, search the rest, best-liked first
    fixed = whole[:t]
    used = 0
    for i in fixed:
        used |= masks[i]
    rest = [i for i in order if not masks[i] & used]
    budget[0] = 8 * node_budget + 2 * t
    for start, pool in ((fixed, rest), ([], order)):
        nodes[0] = 0
        chosen.clear()
        try:
            if feasible(pool, t - len(start)):
                return list(start) + chosen[::-1]
        except _BudgetExceeded:
            pass
    return _milp_packing(pl, candidates, need)


def _lp_relaxation(pl: Placements, candidates: list[int]) -> tuple[float, list[int], list[int]]:
    """The LP relaxation (each cube used at most once, boxes fractional in [0, 1]): its value
    (an upper bound on the packing), the candidates sorted by LP weight (largest first), and
    the candidates the LP takes whole (weight 1)."""
    import numpy as np
    from scipy.optimize import linprog

    a = pl.matrix[candidates].T.astype(np.float64)
    res = linprog(-np.ones(len(candidates)), A_ub=a, b_ub=np.ones(a.shape[0]), bounds=(0, 1),
                  method="highs-ds")
    if res.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        return float(len(candidates)), list(candidates), []
    order = [candidates[i] for i in np.argsort(-res.x, kind="stable")]
    whole = [candidates[i] for i in np.flatnonzero(res.x > 1 - 1e-7)]
    return float(-res.fun), order, whole


class _BudgetExceeded(Exception):
    pass


def _milp_packing(pl: Placements, candidates: list[int], need: int | None) -> list[int]:
    """Exact fallback for hard patterns: an integer program (HiGHS through scipy) maximising the
    number of chosen placements with every cube used at most once."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix

    a = csr_matrix(pl.matrix[candidates].T.astype(np.float64))
    c = -np.ones(len(candidates))
    cons = [LinearConstraint(a, 0, 1)]
    if need is not None:
        cons.append(LinearConstraint(np.ones((1, len(candidates))), 0, need))
    res = milp(c, constraints=cons, integrality=np.ones(len(candidates)), bounds=Bounds(0, 1))
    if res.x is None:  # pragma: no cover - HiGHS always solves this bounded binary program
        raise RuntimeError(f"integer program failed: {res.message}")
    return [candidates[i] for i in np.flatnonzero(res.x > 0.5)]


def _bits(mask: int):
    """Indices of the set bits of `mask`, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
