"""Exact maximum packing of disjoint healthy boxes: many patterns at once, or one.

Many patterns (`batch_counts`, what tpusim.planner.static uses): the compiled batch solver
(tpusim.planner.packing.native.solve_batch: greedy, search, local search, joint parity bound) settles
almost every pattern against the caller's upper bound; `finish_packing` settles the rest: the
LP bound, a search guided by the LP solution and pruned by its dual, the integer program last.

One pattern (`best_packing`: concrete assignments, small layers, the pure-Python fallback).
Steps, cheapest first; each either proves its answer or hands over to the next:
1. Upper bound: the best coloring bound (tpusim.planner.packing.bounds) over the cubes some healthy
   box covers, capped by `need`.
2. Tiling first: the healthy boxes of the best perfect-tiling class plus a small search around
   the failures; a packing of the bound's size is optimal.
3. Branch and bound (`_search`): boxes and cubes as bit sets; at each node drop the free cubes
   no remaining box covers, prune by count and coloring bounds and by a memo of failed states,
   and branch on the free cube with the fewest boxes (place one of them, or leave it unused).
   Node-limited; tried for targets bound, bound-1, ...
4. LP relaxation (HiGHS): floor(LP) is a bound; search again, guided by the LP solution.
5. Integer program (HiGHS), exact, when the guided search runs out of nodes.

Invariants (tested): the result equals a brute-force maximum on small pods; the boxes returned
are disjoint and healthy; the count never exceeds floor(healthy cubes / box cubes); every path
(search, LP, integer program, batch with any budgets, threads or chunking) gives the same count.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tpusim.planner.packing.bounds import colorings
from tpusim.planner.packing.boxes import Placements, box_sets

if TYPE_CHECKING:
    from tpusim.planner.packing.native import NativeBoxes

_NODE_COLORINGS = 3  # colorings checked at every search node (more: tighter but slower)
NATIVE_QUICK_BUDGET = 10_000  # compiled-search nodes of the first try at each target
NATIVE_LOCAL_BUDGET = 300  # nodes of each local-search step inside one window
NATIVE_LOCAL_WASTE = True  # prune local-search steps by the waste bounds too
NATIVE_NODE_BUDGET = 20_000  # nodes of the last try at a target before the LP / integer program
NATIVE_FINISH_BUDGET = 2_000_000  # nodes of the LP-guided search before the integer program (<~2 s;
# it proves what HiGHS's integer program proves in 0.6-5 s on v5p patterns in about 1 s)


def healthy_placements(pl: Placements, healthy: int) -> list[int]:
    """Indices of the placements whose cubes are all healthy (bit set in `healthy`)."""
    return [i for i, m in enumerate(pl.masks) if m & healthy == m]


def best_packing(pl: Placements, healthy: int, *, need: int | None = None,
                candidates: list[int] | None = None, node_budget: int = 100) -> list[int]:
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
    from tpusim.planner.packing.native import native_boxes

    if need is not None and native_boxes(pl.grid, pl.shape) is not None:
        # the caller's `need` is already an upper bound (tpusim.planner.static passes the
        # vectorised one); the compiled search has every coloring built in
        bound, tight = min(need, coverable.bit_count() // k), []
    else:
        root = [(c.bound(coverable), c) for c in cols]
        bound = min(b for b, _ in root)
        # inside the search: the trivial bound plus the colorings that are tight at the root
        tight = [c for b, c in root if b == bound and c is not cols[0]][:_NODE_COLORINGS]
        if need is not None:
            bound = min(bound, need)
    if bound <= 1:
        return [candidates[0]] if bound == 1 else []
    native = _native_packing(pl, candidates, coverable, bound)
    if native is not None:
        got, best = native
        if got is not None:
            return got
        # The compiled search ran out of nodes, and the LP bound did not settle the pattern
        # either (_native_packing checks it first): the integer program decides.
        return _milp_packing(pl, candidates, bound)
    # Fast path: keep the healthy boxes of the best tiling class and fill in around the failures.
    got = _tiling_first(pl, candidates, bound, node_budget)
    if got is not None:
        return got
    failed: dict[int, int] = {}
    alive = 0
    for i in candidates:
        alive |= 1 << i
    budget = node_budget + 2 * bound  # a straight dive to `bound` boxes takes bound nodes
    try:
        for t in range(bound, 1, -1):
            got = _search(masks, pl.cube_boxes, pl.conflict, alive, k, coverable, t, tight,
                          failed, budget)
            if got is not None:
                return got
        return [candidates[0]]
    except _BudgetExceeded:
        pass
    # Hard pattern: the LP relaxation bounds the packing; search for that many boxes again,
    # LP-guided: keep the boxes the relaxation takes whole, try the best-liked boxes first.
    lp_value, order, whole = _lp_relaxation(pl, candidates)
    t = min(bound, int(math.floor(lp_value + 1e-6)))
    if t <= 1:
        return [candidates[0]]
    fixed = whole[:t]
    used = 0
    for i in fixed:
        used |= masks[i]
    rest = [i for i in order if not masks[i] & used]
    for start, pool in ((fixed, rest), ([], order)):
        free = 0
        for i in pool:
            free |= masks[i]
        local = [masks[i] for i in pool]
        cube_boxes, conflict = box_sets([pl.cells[i] for i in pool], pl.n_cubes)
        try:
            got = _search(local, cube_boxes, conflict, (1 << len(pool)) - 1, k, free,
                          t - len(start), tight, {}, 8 * node_budget + 2 * t)
        except _BudgetExceeded:
            continue
        if got is not None:
            return list(start) + [pool[j] for j in got]
    return _milp_packing(pl, candidates, need)


def _native_packing(pl: Placements, candidates: list[int], coverable: int,
                    bound: int) -> tuple[list[int] | None, list[int]] | None:
    """The compiled search (tpusim.planner.packing.native): (maximum packing, it) when it settles the
    pattern, (None, best packing found) when it runs out of nodes, None when unavailable.

    For each target t = bound, bound-1, ...: a short full search (finds easy packings, proves
    easy impossibilities); then local search from the best packing so far (window by window,
    slabs of 2-4 cube layers along every axis: keep the boxes outside the window and ask for one
    more box inside it); the first time local search stalls below t, the LP bound (t drops to
    floor(LP) if that is lower); then the full search with a large budget. A packing of t boxes
    when t is an upper bound is optimal."""
    from tpusim.planner.packing.native import native_boxes

    nb = native_boxes(pl.grid, pl.shape)
    if nb is None:
        return None
    masks = pl.masks
    t, got = _quick_native(nb, candidates, coverable, bound, floor=1)
    if got:
        return got, got
    if t <= 1:
        return [candidates[0]], [candidates[0]]
    best = _tiling_greedy(pl, candidates)
    windows = nb.problem.windows
    first = True
    stuck = False  # a whole pass over the windows found no better packing: do not repeat it
    lp_cap = None  # floor of the LP bound, once computed
    while t > len(best):
        if not first:
            t, got = _quick_native(nb, candidates, coverable, t, floor=len(best))
            if got:
                return got, got
            if t <= len(best):
                break
        first = False
        improved = not stuck
        while improved and len(best) < t:
            improved = False
            for window in windows:
                fixed = [i for i in best if not masks[i] & window]
                used = 0
                for i in fixed:
                    used |= masks[i]
                rest = [i for i in candidates if not masks[i] & used]
                got = nb.exists(rest, coverable & ~used, len(best) + 1 - len(fixed),
                                NATIVE_LOCAL_BUDGET, waste=NATIVE_LOCAL_WASTE,
                                keep_proofs=True)
                if got:
                    best = fixed + got
                    improved = True
                    if len(best) >= t:
                        break
            stuck = not improved
        if len(best) >= t:
            break
        if lp_cap is None:
            # local search is stuck below t: the LP bound (about 10 ms) often shows that t is
            # out of reach, which saves the long search and the integer program
            lp_cap = int(math.floor(_lp_relaxation(pl, candidates)[0] + 1e-6))
            if lp_cap < t:
                t = lp_cap
                continue
        got = nb.exists(candidates, coverable, t, NATIVE_NODE_BUDGET, keep_proofs=True)
        if got is None:  # here floor(LP) >= t > len(best): only the integer program decides
            return None, best
        if got is False:
            t -= 1
            continue
        return got, got
    return best[:t], best


# Node budgets of the compiled batch search (tpusim.planner.packing.native.solve_batch); they only
# trade time between its steps and the Python finisher: every count is exact whatever they are.
BATCH_BUDGETS = {"joint_budget": 600, "first_budget": 1000, "local_budget": 300, "local_waste": True,
                 "mid_budget": 1000, "quick_budget": 3000}
BATCH_CHUNK_ROWS = 256  # patterns per compiled call when the batch is spread over threads


def batch_counts(pl: Placements, nb: NativeBoxes, ok: np.ndarray, coverable: np.ndarray,
                 bound: np.ndarray, *, lower: np.ndarray | None = None,
                 threads: int | None = None) -> np.ndarray:
    """Exact maximum packing per pattern (rows of ok / coverable, bound an upper bound per
    row): identical patterns once, in chunks spread over `threads` threads (default
    tpusim.planner.packing.native.thread_count(); the compiled search and HiGHS release the GIL): the
    compiled batch search first, finish_packing for the few it leaves open. The counts do not
    depend on the number of threads or on the chunking. `lower`: per row, a count some packing
    is known to reach (a proof that the bound cannot be beaten then settles the row)."""
    from tpusim.planner.packing.bits import unique_rows
    from tpusim.planner.packing.native import thread_count

    first, inverse = unique_rows(coverable)
    ok_u, cov_u, bound_u = ok[first], coverable[first], bound[first]
    low_u = None if lower is None else np.asarray(lower)[first]
    threads = thread_count() if threads is None else threads
    n = len(first)
    counts = np.zeros(n, dtype=np.int64)

    masks = pl.masks

    def run(lo: int, hi: int) -> None:
        res = nb.solve_batch(ok_u[lo:hi], cov_u[lo:hi], bound_u[lo:hi],
                             lower=None if low_u is None else low_u[lo:hi], **BATCH_BUDGETS)
        got = res.count
        for i in np.flatnonzero(got < 0).tolist():
            cands = np.flatnonzero(ok_u[lo + i]).tolist()
            cov = 0
            for j in cands:
                cov |= masks[j]
            got[i] = finish_packing(pl, cands, cov, int(res.upper[i]), res.best[i])
        counts[lo:hi] = got

    chunks = [(lo, min(n, lo + BATCH_CHUNK_ROWS)) for lo in range(0, n, BATCH_CHUNK_ROWS)]
    if threads > 1 and len(chunks) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda c: run(*c), chunks))
    else:
        for c in chunks:
            run(*c)
    return counts[inverse]


def finish_packing(pl: Placements, candidates: list[int], coverable: int, t: int,
                   best: list[int]) -> int:
    """Maximum packing size of a pattern the compiled batch search (native.solve_batch) left
    open: `t` is an upper bound it proved, `best` a packing it found. The LP bound may lower t;
    a long compiled search settles it or proves t impossible; the integer program decides the
    rest."""
    from tpusim.planner.packing.native import native_boxes

    if not candidates:
        return 0
    if len(best) >= t:
        return t
    nb = native_boxes(pl.grid, pl.shape)
    lp_value, order, whole, duals = _lp_relaxation(pl, candidates, duals=True)
    t = min(t, int(math.floor(lp_value + 1e-6)))
    if len(whole) >= t:  # the relaxation's own solution is a packing of t boxes
        return t
    while t > len(best):
        # LP-guided: the boxes the relaxation likes most are tried first at every branching,
        # and nodes whose free cubes weigh (by the LP dual) less than t are cut off
        got = nb.exists(candidates, coverable, t, NATIVE_FINISH_BUDGET, keep_proofs=True,
                        prefer=order, weights=duals)
        if got is None:
            return len(_milp_packing(pl, candidates, t))
        if got is False:
            t -= 1
            continue
        return t
    return len(best)


def _quick_native(nb, candidates: list[int], coverable: int, t: int, *,
                  floor: int) -> tuple[int, list | None]:
    """Lower `t` while the quick compiled search proves t boxes impossible (down to `floor`);
    returns (t, a packing of t boxes) or (t, None) when the budget ran out or t reached floor."""
    while t > floor:
        got = nb.exists(candidates, coverable, t, NATIVE_QUICK_BUDGET, keep_proofs=True)
        if got is False:
            t -= 1
            continue
        return t, (got or None)
    return t, None


def _best_tiling_class(pl: Placements, candidates: list[int]) -> tuple[list[int], int]:
    """The disjoint healthy boxes of the tiling class that keeps most of them, and the cubes
    they use (a bit set). A class is disjoint only when the box extents divide the pod axes,
    so boxes overlapping one already kept are skipped."""
    from tpusim.planner.packing.greedy import tiling_classes

    healthy = set(candidates)
    masks = pl.masks
    best: list[int] = []
    used = 0
    for members in tiling_classes(pl.grid, pl.shape):
        kept: list[int] = []
        taken = 0
        for i in members:
            if i in healthy and not masks[i] & taken:
                kept.append(i)
                taken |= masks[i]
        if len(kept) > len(best):
            best, used = kept, taken
    return best, used


def _tiling_greedy(pl: Placements, candidates: list[int]) -> list[int]:
    """Healthy boxes of the tiling class that keeps most of them, then every other healthy box
    that fits, in index order (a packing, not necessarily maximum)."""
    masks = pl.masks
    best, used = _best_tiling_class(pl, candidates)
    for i in candidates:
        if not masks[i] & used:
            best.append(i)
            used |= masks[i]
    return best


def _search(masks, cube_boxes, conflict, alive: int, k: int, free: int, t: int, tight: list,
            failed: dict[int, int], budget: int) -> list[int] | None:
    """Indices of `t` disjoint boxes inside `free` among the boxes in bit set `alive`, or None
    if there are none. `masks[j]`: cubes of box j; `cube_boxes[c]`: boxes containing cube c;
    `conflict[j]`: boxes sharing a cube with box j.

    At every node the free cubes no alive box covers are dropped, and the search branches on
    the free cube with the fewest alive boxes (place each of them, lowest index first, or leave
    the cube unused if the slack allows). `failed` memoises, per set of free cubes, the smallest
    target proven impossible. Raises _BudgetExceeded after `budget` nodes."""
    n_boxes = len(masks)
    chosen: list[int] = []
    nodes = [0]

    def go(alive: int, free: int, t: int) -> bool:
        if t == 0:
            return True
        nodes[0] += 1
        if nodes[0] > budget:
            raise _BudgetExceeded
        best_c = -1
        best_n = n_boxes + 1
        live = 0
        rest = free
        while rest:
            low = rest & -rest
            rest ^= low
            c = low.bit_length() - 1
            cnt = (alive & cube_boxes[c]).bit_count()
            if cnt:
                live |= low
                if cnt < best_n:
                    best_n, best_c = cnt, c
        slack = live.bit_count() - t * k
        if slack < 0 or failed.get(live, t + 1) <= t:
            return False
        for col in tight:
            if col.bound(live) < t:
                return False
        options = alive & cube_boxes[best_c]
        while options:
            low = options & -options
            j = low.bit_length() - 1
            options ^= low
            if go(alive & ~conflict[j], live & ~masks[j], t - 1):
                chosen.append(j)
                return True
        if slack > 0 and go(alive & ~cube_boxes[best_c], live & ~(1 << best_c), t):
            return True
        if failed.get(live, t + 1) > t:
            failed[live] = t
        return False

    # Recursion depth <= cubes in the pod (each level decides at least one cube).
    return chosen[::-1] if go(alive, free, t) else None


def _tiling_first(pl: Placements, candidates: list[int], t: int, node_budget: int) -> list[int] | None:
    """`t` boxes made of the healthy boxes of the tiling class with most of them plus a small
    search in the rest, or None if that search (budget-limited) finds none."""
    masks = pl.masks
    best, used = _best_tiling_class(pl, candidates)
    if len(best) >= t:
        return best[:t]
    pool = [i for i in candidates if not masks[i] & used]
    free = 0
    for i in pool:
        free |= masks[i]
    cube_boxes, conflict = box_sets([pl.cells[i] for i in pool], pl.n_cubes)
    try:
        got = _search([masks[i] for i in pool], cube_boxes, conflict, (1 << len(pool)) - 1,
                      pl.cubes_per_slice, free, t - len(best), [], {}, node_budget // 2 + 2 * t)
    except _BudgetExceeded:
        return None
    return None if got is None else best + [pool[j] for j in got]


def _lp_relaxation(pl: Placements, candidates: list[int], *, duals: bool = False):
    """The LP relaxation (each cube used at most once, boxes fractional >= 0): its value (an
    upper bound on the packing), the candidates sorted by LP weight (largest first), the
    candidates the LP takes whole (weight 1), and with duals=True a dual solution: a weight per
    cube, scaled so that every candidate's cubes weigh at least 1 (so the weight of any set of
    cubes bounds the boxes that fit in it)."""
    from scipy.optimize import linprog

    a = pl.matrix[candidates].T.astype(np.float64)
    res = linprog(-np.ones(len(candidates)), A_ub=a, b_ub=np.ones(a.shape[0]), bounds=(0, None),
                  method="highs-ds")
    if res.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        out = (float(len(candidates)), list(candidates), [])
        return out + (None,) if duals else out
    order = [candidates[i] for i in np.argsort(-res.x, kind="stable")]
    whole = [candidates[i] for i in np.flatnonzero(res.x > 1 - 1e-7)]
    if not duals:
        return float(-res.fun), order, whole
    y = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
    cover = a.T @ y  # weight of each candidate box
    low = float(cover.min()) if len(cover) else 1.0
    y = y / low if low > 0 else None
    return float(-res.fun), order, whole, y


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
