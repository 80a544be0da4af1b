"""Exact maximum packing of disjoint healthy boxes, many patterns at once or one: the strategy,
written once over either kernel.

The kernel (`kernel(grid, shape)`) is the compiled search (native.NativeBoxes) when it is
available and the problem fits its fixed-size bit sets, else its pure-Python twin
(twin.TwinBoxes); both answer `exists` and `solve_batch` with the same contracts. Node budgets
(`Budgets`: COMPILED or TWIN, by kernel) trade time between the steps, never the answers.

Many patterns (`batch_counts`): identical patterns once, in chunks spread over threads (the
compiled search and HiGHS release the GIL); the kernel's batch solver settles almost every
pattern against the caller's upper bound, and `finish_packing` settles the rest: the LP bound,
a search guided by the LP solution and pruned by its dual, the integer program last.

One pattern (`best_packing`: concrete assignments). Upper bound: the coloring and waste bounds
over the cubes some healthy box covers, capped by `need`. Then for each target t = bound,
bound-1, ...: a short full search (finds easy packings, proves easy impossibilities); local
search from the best packing so far (window by window, slabs of 2-4 cube layers along every
axis: keep the boxes outside the window and ask for one more box inside it); the first time
local search stalls below t, the LP bound (t drops to floor(LP) if that is lower); then a long
full search; the integer program (HiGHS) when that runs out of nodes. A packing of t boxes
when t is an upper bound is optimal.

Invariants (tested): counts and packing sizes equal a brute-force maximum on small pods and
HiGHS's integer program on the v4 and Ironwood tori, whatever the kernel, the budgets (down to
none), the threads or the chunking; the boxes returned are disjoint and healthy; the count
never exceeds floor(healthy cubes / box cubes).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from tpusim.errors import TpusimError
from tpusim.planner.packing.bits import unique_rows
from tpusim.planner.packing.bounds import bounds_matrix
from tpusim.planner.packing.boxes import Placements
from tpusim.planner.packing.greedy import tiling_greedy
from tpusim.planner.packing.native import NativeBoxes, native_boxes
from tpusim.planner.packing.problem import Budgets
from tpusim.planner.packing.twin import TwinBoxes, twin_boxes

# The compiled kernel's budgets; `finish`: the LP-guided search proves in about 1 s what the
# integer program takes 0.6-5 s for on v5p patterns.
COMPILED = Budgets(joint=600, first=1000, local=300, local_waste=True, mid=1000, quick=3000,
                   one_quick=10_000, one_local=300, one_node=20_000, finish=2_000_000)
# The twin's: about a thousand times slower per node; its batch solver searches with `quick`
# only (no joint bound, no local search).
TWIN = Budgets(joint=0, first=0, local=0, local_waste=False, mid=0, quick=200,
               one_quick=1000, one_local=30, one_node=2000, finish=2000)
CHUNK_ROWS = 256  # patterns per batch call when a batch is spread over threads


@lru_cache(maxsize=256)
def kernel(grid: tuple[int, ...], shape: tuple[int, ...]) -> NativeBoxes | TwinBoxes:
    """The compiled kernel of a problem when it can run, else the Python twin (cached)."""
    return native_boxes(grid, shape) or twin_boxes(grid, shape)


def budgets_of(kern: NativeBoxes | TwinBoxes) -> Budgets:
    """The default budgets of a kernel."""
    return COMPILED if kern.compiled else TWIN


def thread_count() -> int:
    """Threads for the compiled batch search: $TPUSIM_THREADS if set, else the CPUs this
    process may use (at most 8)."""
    env = os.environ.get("TPUSIM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise TpusimError(f"TPUSIM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def healthy_placements(pl: Placements, healthy: int) -> list[int]:
    """Indices of the placements whose cubes are all healthy (bit set in `healthy`)."""
    return [i for i, m in enumerate(pl.masks) if m & healthy == m]


def batch_counts(pl: Placements, ok: np.ndarray, coverable: np.ndarray, bound: np.ndarray, *,
                 lower: np.ndarray | None = None, threads: int | None = None,
                 budgets: Budgets | None = None, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Exact maximum packing per pattern (rows of ok / coverable, bound an upper bound per
    row): identical patterns once, in chunks of `chunk_rows` spread over `threads` threads
    (default thread_count() for the compiled kernel, 1 for the twin): the kernel's batch
    solver first, finish_packing for the few it leaves open. The counts do not depend on the
    threads, the chunking or the budgets. `lower`: per row, a count some packing is known to
    reach (a proof that the bound cannot be beaten then settles the row)."""
    kern = kernel(pl.grid, pl.shape)
    budgets = budgets or budgets_of(kern)
    first, inverse = unique_rows(coverable)
    ok_u, cov_u, bound_u = ok[first], coverable[first], bound[first]
    low_u = None if lower is None else np.asarray(lower)[first]
    if threads is None:
        threads = thread_count() if kern.compiled else 1
    n = len(first)
    counts = np.zeros(n, dtype=np.int64)
    masks = pl.masks

    def run(lo: int, hi: int) -> None:
        res = kern.solve_batch(ok_u[lo:hi], cov_u[lo:hi], bound_u[lo:hi],
                               lower=None if low_u is None else low_u[lo:hi], budgets=budgets)
        got = res.count
        for i in np.flatnonzero(got < 0).tolist():
            cands = np.flatnonzero(ok_u[lo + i]).tolist()
            cov = 0
            for j in cands:
                cov |= masks[j]
            got[i] = finish_packing(pl, cands, cov, int(res.upper[i]), res.best[i],
                                    budgets=budgets)
        counts[lo:hi] = got

    chunks = [(lo, min(n, lo + chunk_rows)) for lo in range(0, n, chunk_rows)]
    if threads > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda c: run(*c), chunks))
    else:
        for c in chunks:
            run(*c)
    return counts[inverse]


def finish_packing(pl: Placements, candidates: list[int], coverable: int, t: int,
                   best: list[int], *, budgets: Budgets | None = None) -> int:
    """Maximum packing size of a pattern a batch solver left open: `t` is an upper bound it
    proved, `best` a packing it found. The LP bound may lower t; a long LP-guided search
    settles it or proves t impossible; the integer program decides the rest."""
    if not candidates:
        return 0
    if len(best) >= t:
        return t
    kern = kernel(pl.grid, pl.shape)
    budgets = budgets or budgets_of(kern)
    lp_value, order, whole, duals = _lp_relaxation(pl, candidates, duals=True)
    t = min(t, int(math.floor(lp_value + 1e-6)))
    if len(whole) >= t:  # the relaxation's own solution is a packing of t boxes
        return t
    while t > len(best):
        # LP-guided: the boxes the relaxation likes most are tried first at every branching,
        # and nodes whose free cubes weigh (by the LP dual) less than t are cut off
        got = kern.exists(candidates, coverable, t, budgets.finish, keep_proofs=True,
                          prefer=order, weights=duals)
        if got is None:
            return len(_milp_packing(pl, candidates, t))
        if got is False:
            t -= 1
            continue
        return t
    return len(best)


def best_packing(pl: Placements, healthy: int, *, need: int | None = None,
                 budgets: Budgets | None = None) -> list[int]:
    """Placement indices of a maximum set of disjoint, all-healthy boxes (at most `need` boxes
    if given: then the search stops as soon as `need` are found); `healthy`: bit set of usable
    cubes. See the module docstring for the steps."""
    candidates = healthy_placements(pl, healthy)
    if not candidates:
        return []
    coverable = 0
    for i in candidates:
        coverable |= pl.masks[i]
    bound = coverable.bit_count() // pl.cubes_per_slice
    if need is not None:
        bound = min(bound, need)
    if bound > 1:
        row = np.array([coverable >> c & 1 for c in range(pl.n_cubes)], dtype=bool)
        bound = min(bound, int(bounds_matrix(pl.grid, pl.shape, row[None, :])[0]))
    if bound <= 1:
        return candidates[:bound]
    kern = kernel(pl.grid, pl.shape)
    got, _ = _search_packing(pl, kern, budgets or budgets_of(kern), candidates, coverable, bound)
    # out of nodes with t <= floor(LP) still above the best packing: the integer program decides
    return got if got is not None else _milp_packing(pl, candidates, bound)


def _search_packing(pl: Placements, kern: NativeBoxes | TwinBoxes, budgets: Budgets,
                    candidates: list[int], coverable: int,
                    bound: int) -> tuple[list[int] | None, list[int]]:
    """best_packing's searches (see the module docstring): (a maximum packing, it) when they
    settle the pattern, (None, the best packing found) when they run out of nodes."""
    masks = pl.masks
    t, got = _quick(kern, budgets, candidates, coverable, bound, floor=1)
    if got:
        return got, got
    if t <= 1:
        return [candidates[0]], [candidates[0]]
    best = tiling_greedy(pl, candidates)
    first = True
    stuck = False  # a whole pass over the windows found no better packing: do not repeat it
    lp_cap = None  # floor of the LP bound, once computed
    while t > len(best):
        if not first:
            t, got = _quick(kern, budgets, candidates, coverable, t, floor=len(best))
            if got:
                return got, got
            if t <= len(best):
                break
        first = False
        improved = not stuck
        while improved and len(best) < t:
            improved = False
            for window in kern.problem.windows:
                fixed = [i for i in best if not masks[i] & window]
                used = 0
                for i in fixed:
                    used |= masks[i]
                rest = [i for i in candidates if not masks[i] & used]
                got = kern.exists(rest, coverable & ~used, len(best) + 1 - len(fixed),
                                  budgets.one_local, waste=budgets.local_waste, keep_proofs=True)
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
        got = kern.exists(candidates, coverable, t, budgets.one_node, keep_proofs=True)
        if got is None:
            return None, best
        if got is False:
            t -= 1
            continue
        return got, got
    return best[:t], best


def _quick(kern: NativeBoxes | TwinBoxes, budgets: Budgets, candidates: list[int],
           coverable: int, t: int, *, floor: int) -> tuple[int, list | None]:
    """Lower `t` while the short search proves t boxes impossible (down to `floor`); returns
    (t, a packing of t boxes) or (t, None) when the budget ran out or t reached floor."""
    while t > floor:
        got = kern.exists(candidates, coverable, t, budgets.one_quick, keep_proofs=True)
        if got is False:
            t -= 1
            continue
        return t, (got or None)
    return t, None


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


def _milp_packing(pl: Placements, candidates: list[int], need: int | None) -> list[int]:
    """Exact last resort: an integer program (HiGHS through scipy) maximising the number of
    chosen placements with every cube used at most once (and at most `need` of them)."""
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
