"""The compiled batch packing (NativeBoxes.solve_batch, solve.batch_counts, solve.finish_packing),
the joint parity bound (NativeBoxes.joint_bounds), the tiling bound (static.tiles,
static.tiling_bound) and the helpers (unique_rows, thread_count, exists with LP weights).

Oracles, none of them the code under test: brute force (tests/oracles.py)
on small tori; on the Ironwood 4x6x6 cube torus an exact count from a packing we check ourselves
plus the LP bound of scipy's HiGHS (or, when the LP is not tight, HiGHS's integer program).
Counts must be equal exactly: the packing is exact whatever the node budgets, threads or chunks.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from oracles import CASES, brute_max, joint_bound

import tpusim.planner.packing.native as native
import tpusim.planner.packing.solve as packing
from tpusim.errors import TpusimError
from tpusim.planner.packing import count_max_boxes
from tpusim.planner.packing.bits import mask_of, unique_rows
from tpusim.planner.packing.bounds import bounds_matrix, waste_families
from tpusim.planner.packing.boxes import box_placements
from tpusim.planner.packing.greedy import tiling_greedy
from tpusim.planner.packing.twin import cycle_max as twin_cycle_max
from tpusim.planner.static import sample_healthy, tiles, tiling_bound

IRONWOOD = (4, 6, 6)  # Ironwood pod in cubes (144 cubes)
P_IRONWOOD = 0.9229  # cube availability used by the planner benchmarks for Ironwood

needs_native = pytest.mark.skipif(not native.available(), reason="no C compiler: no compiled search")

# Budget sets for solve_batch / batch_counts: "small" leaves some rows open, "one" (every search
# one node, no joint bound) and "zero" (no search at all) send most rows to the finisher.
SMALL = replace(packing.COMPILED, joint=2, first=3, local=2, local_waste=False, mid=5, quick=10)
ONE = replace(packing.COMPILED, joint=0, first=1, local=1, mid=1, quick=1)
ZERO = replace(ONE, first=0, local=0, mid=0, quick=0)
JOINT_ONLY = replace(ZERO, joint=100_000)  # no search: only greedy and the joint bound
# Ironwood: enough nodes for most rows, not for all (the open rows go to finish_packing)
IRONWOOD_SMALL = replace(packing.COMPILED, joint=50, first=20, local=30, mid=100, quick=300)


def _ok_coverable(pl, healthy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(patterns x placements) all-healthy placements, (patterns x cubes) cubes they cover."""
    healthy = np.asarray(healthy, dtype=bool)
    m = pl.matrix.astype(np.int32)
    ok = ((~healthy).astype(np.int32) @ m.T) == 0
    cov = (ok.astype(np.int32) @ m) > 0
    return ok, cov


def _packing_size(pl, healthy_row: np.ndarray, boxes) -> int:
    """Checks that `boxes` (placement indices) are distinct, disjoint and all-healthy."""
    boxes = list(boxes)
    assert len(set(boxes)) == len(boxes)
    used = np.zeros(pl.n_cubes, dtype=bool)
    for i in boxes:
        cells = pl.matrix[i]
        assert np.all(healthy_row[cells]), f"box {i} uses a failed cube"
        assert not np.any(used & cells), f"box {i} overlaps another box"
        used |= cells
    return len(boxes)


@cache
def _small_patterns(grid, shape, seed: int = 3):
    """Random patterns on a small torus (every one with at least one healthy box), their exact
    maxima (brute force), and a valid but loose upper bound (coloring/waste bound + 0..2)."""
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(seed)
    healthy = np.concatenate([rng.random((24, n)) < p for p in (0.55, 0.75, 0.9)]
                             + [np.ones((1, n), dtype=bool)])
    ok, cov = _ok_coverable(pl, healthy)
    keep = ok.any(axis=1)
    healthy, ok, cov = healthy[keep], ok[keep], cov[keep]
    exact = np.array([brute_max(grid, shape, mask_of(np.flatnonzero(h))) for h in healthy])
    upper = bounds_matrix(grid, shape, cov) + rng.integers(0, 3, len(cov))
    assert np.all(upper >= exact)
    return pl, healthy, ok, cov, exact, upper


def _verified_exact(pl, nb, healthy_row, ok_row, cov_row) -> int:
    """Exact maximum on a large torus: floor(LP) when the compiled search finds (and we check) a
    packing of that size, else HiGHS's integer program (its packing checked too)."""
    cands = np.flatnonzero(ok_row).tolist()
    if not cands:
        return 0
    lp_value = packing._lp_relaxation(pl, cands)[0]
    u = int(math.floor(lp_value + 1e-6))
    got = nb.exists(cands, mask_of(np.flatnonzero(cov_row)), u, 200_000)
    if got:
        assert _packing_size(pl, healthy_row, got) == u
        return u
    ref = packing._milp_packing(pl, cands, None)
    return _packing_size(pl, healthy_row, ref)


def _check_batch(pl, healthy, res, exact, upper) -> None:
    """solve_batch's contract per row: exact count, or -1 with len(best) <= exact <= upper."""
    assert len(res.count) == len(exact) == len(res.best)
    for i in range(len(exact)):
        size = _packing_size(pl, healthy[i], res.best[i])
        assert res.upper[i] <= upper[i]
        assert size <= exact[i] <= res.upper[i], (i, size, exact[i], res.upper[i])
        if res.count[i] >= 0:
            assert res.count[i] == exact[i], (i, res.count[i], exact[i])
            assert size == exact[i]


# ---- solve_batch and batch_counts against brute force on small tori ----

@needs_native
@pytest.mark.parametrize("budgets", ["default", "small", "one", "zero", "joint"])
@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_solve_batch_equals_brute_force(grid, shape, budgets):
    """Counts that solve_batch settles are the brute-force maxima; its packings are disjoint
    and healthy; rows it leaves open keep len(best) <= exact <= upper. With zero budgets no
    search runs, so every row the greedy packing does not settle is open; "joint" adds only
    the joint parity bound, whose lowered upper bounds must stay >= the maximum."""
    pl, healthy, ok, cov, exact, upper = _small_patterns(grid, shape)
    nb = native.native_boxes(grid, shape)
    b = {"default": packing.COMPILED, "small": SMALL, "one": ONE, "zero": ZERO,
         "joint": JOINT_ONLY}[budgets]
    res = nb.solve_batch(ok, cov, upper, budgets=b)
    _check_batch(pl, healthy, res, exact, upper)
    if budgets == "zero":
        # without any search a row is settled only by a greedy packing meeting the bound
        settled = res.count >= 0
        np.testing.assert_array_equal(res.count[settled], upper[settled])
        assert np.all(res.upper[~settled] == upper[~settled])
        if np.any(exact < upper):
            assert np.any(~settled)


@needs_native
@pytest.mark.parametrize("budgets", ["default", "one", "zero"])
@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_batch_counts_equals_brute_force(grid, shape, budgets):
    """batch_counts is exact whatever the budgets: with budgets of one node or none, rows go to
    finish_packing (LP bound, LP-weighted search, integer program), and the counts stay the
    brute-force maxima. Rows are fed twice (duplicates are solved once, answered for both)."""
    pl, healthy, ok, cov, exact, upper = _small_patterns(grid, shape)
    b = {"default": packing.COMPILED, "one": ONE, "zero": ZERO}[budgets]
    twice = np.concatenate([np.arange(len(ok)), np.arange(len(ok))[::-1]])
    got = packing.batch_counts(pl, ok[twice], cov[twice], upper[twice], threads=2, budgets=b,
                               chunk_rows=16)
    np.testing.assert_array_equal(got, exact[twice])


@needs_native
@pytest.mark.parametrize(("grid", "shape"), CASES[:6])
@pytest.mark.parametrize("finish_budget", [None, 1])
def test_finish_packing_equals_brute_force(grid, shape, finish_budget):
    """finish_packing from a loose upper bound and an empty or greedy packing; with a one-node
    LP-weighted search (finish_budget=1) the integer program decides."""
    b = packing.COMPILED if finish_budget is None else replace(packing.COMPILED, finish=finish_budget)
    pl, healthy, ok, _, exact, upper = _small_patterns(grid, shape)
    for i in range(len(exact)):
        cands = np.flatnonzero(ok[i]).tolist()
        cov = 0
        for j in cands:
            cov |= pl.masks[j]
        best = [] if i % 2 else tiling_greedy(pl, cands)
        assert _packing_size(pl, healthy[i], best) <= exact[i]
        assert packing.finish_packing(pl, cands, cov, int(upper[i]), best, budgets=b) == exact[i], i


@needs_native
def test_batch_counts_row_without_healthy_box_under_zero_budgets():
    """A pattern with no healthy box and a positive (valid) upper bound: its maximum is 0. With
    zero budgets solve_batch leaves it open and finish_packing gets no candidates (it used to
    run the LP on them and fail in scipy; fixed in b6c11bb)."""
    grid, shape = (2, 2, 4), (1, 2, 2)
    pl = box_placements(grid, shape)
    healthy = np.zeros((2, 16), dtype=bool)
    healthy[1] = True
    ok, cov = _ok_coverable(pl, healthy)
    got = packing.batch_counts(pl, ok, cov, np.array([2, 4]), threads=1, budgets=ZERO)
    np.testing.assert_array_equal(got, [0, 4])


@needs_native
def test_batch_counts_of_no_rows():
    grid, shape = (2, 2, 4), (1, 2, 2)
    pl = box_placements(grid, shape)
    got = packing.batch_counts(pl, np.zeros((0, len(pl)), dtype=bool),
                               np.zeros((0, 16), dtype=bool), np.zeros(0, dtype=np.int64))
    assert got.shape == (0,)


# ---- Ironwood: threads, chunks, budgets; exact against LP + checked packing / MILP ----

@cache
def _ironwood(shape, samples: int, seed: int):
    pl = box_placements(IRONWOOD, shape)
    healthy = sample_healthy(math.prod(IRONWOOD), P_IRONWOOD, samples, seed)
    ok, cov = _ok_coverable(pl, healthy)
    return pl, healthy, ok, cov, bounds_matrix(IRONWOOD, shape, cov)


@needs_native
@pytest.mark.parametrize(("shape", "seed"), [((1, 2, 2), 1), ((2, 2, 2), 0)])
def test_batch_counts_on_ironwood_independent_of_threads_chunks_budgets(shape, seed):
    """300 Ironwood patterns: identical counts for threads 1 and 2, chunks of 256 and 1 rows, and
    budgets that leave rows open; they equal count_max_boxes (which adds the slab bound for 2x2x2) and
    a verified exact count on the rows the small budgets leave open plus 8 others."""
    pl, healthy, ok, cov, upper = _ironwood(shape, 300, seed)
    nb = native.native_boxes(IRONWOOD, shape)
    base = packing.batch_counts(pl, ok, cov, upper, threads=1)
    np.testing.assert_array_equal(packing.batch_counts(pl, ok, cov, upper, threads=2, chunk_rows=1),
                                  base)
    np.testing.assert_array_equal(packing.batch_counts(pl, ok, cov, upper, threads=2), base)
    np.testing.assert_array_equal(count_max_boxes(pl.grid, pl.shape, healthy), base)

    res = nb.solve_batch(ok, cov, upper, budgets=IRONWOOD_SMALL)
    open_rows = np.flatnonzero(res.count < 0)
    assert 0 < len(open_rows) < len(upper)  # the budgets must leave some rows, not all
    np.testing.assert_array_equal(
        packing.batch_counts(pl, ok, cov, upper, threads=2, budgets=IRONWOOD_SMALL), base)
    sub = np.arange(40)
    np.testing.assert_array_equal(
        packing.batch_counts(pl, ok[sub], cov[sub], upper[sub], threads=1, budgets=ONE), base[sub])

    rng = np.random.default_rng(seed)
    check = np.union1d(open_rows, rng.choice(len(upper), 8, replace=False))
    for r in check.tolist():
        exact = _verified_exact(pl, nb, healthy[r], ok[r], cov[r])
        assert base[r] == exact, (r, base[r], exact)
        size = _packing_size(pl, healthy[r], res.best[r])
        assert size <= exact <= res.upper[r] <= upper[r]
        if res.count[r] >= 0:
            assert res.count[r] == exact


# ---- joint parity bound ----

@needs_native
@pytest.mark.parametrize(("grid", "shape"), [c for c in CASES if math.prod(c[0]) <= 16])
def test_joint_bounds_equal_definition_and_brute_force(grid, shape):
    """With an ample budget the compiled joint bound is exactly its definition (enumeration of
    unused-cube sets), on failure patterns and on arbitrary free-cube sets (the bound holds for
    any set of free cubes: boxes are balanced); it never cuts below the brute-force maximum and
    never exceeds `upper`. A smaller budget can only loosen it."""
    _, _, _, cov, exact, upper = _small_patterns(grid, shape)
    n, k = math.prod(grid), math.prod(shape)
    rng = np.random.default_rng(23)
    free = np.concatenate([rng.random((20, n)) < p for p in (0.5, 0.7, 0.9)])
    cov = np.concatenate([cov, free])
    exact = np.concatenate([exact, [brute_max(grid, shape, mask_of(np.flatnonzero(f))) for f in free]])
    upper = np.concatenate([upper, free.sum(axis=1) // k])
    nb = native.native_boxes(grid, shape)
    got = nb.joint_bounds(cov, upper, budget=10_000_000)
    np.testing.assert_array_equal(got, joint_bound(grid, shape, waste_families(grid, shape), cov, upper))
    assert np.all(got >= exact)
    assert np.all(got <= upper)
    loose = nb.joint_bounds(cov, upper, budget=1)
    assert np.all((loose >= got) & (loose <= upper))


@needs_native
def test_joint_bound_tighter_than_bounds_matrix_on_ironwood():
    """400 Ironwood patterns, 1x2x2 boxes at p_cube 0.9229: the joint bound is never below the
    exact maximum, never above bounds_matrix, and strictly below bounds_matrix on at least one
    pattern (it must add something over the families taken one at a time; about 3% expected).
    Exactness on the strict rows is checked independently (LP bound + checked packing, or MILP);
    solve_batch's own joint step (no search) lowers some of their bounds, never below it."""
    shape = (1, 2, 2)
    pl, healthy, ok, cov, upper = _ironwood(shape, 400, 0)
    nb = native.native_boxes(IRONWOOD, shape)
    joint = nb.joint_bounds(cov, upper)
    assert np.all(joint <= upper)
    assert np.all(joint >= count_max_boxes(pl.grid, pl.shape, healthy))
    strict = np.flatnonzero(joint < upper)
    assert len(strict) >= 1
    # solve_batch with its joint step and no search lowers some of those bounds, never too far
    res = nb.solve_batch(ok[strict], cov[strict], upper[strict], budgets=JOINT_ONLY)
    assert np.any(res.upper < upper[strict])
    for i, r in enumerate(strict.tolist()):
        exact = _verified_exact(pl, nb, healthy[r], ok[r], cov[r])
        assert joint[r] >= exact, r
        assert exact <= res.upper[i] <= upper[r]
        assert _packing_size(pl, healthy[r], res.best[i]) <= exact


@needs_native
def test_joint_bound_never_below_integer_program_on_ironwood_2x2x2():
    shape = (2, 2, 2)
    pl, healthy, ok, cov, upper = _ironwood(shape, 40, 5)
    nb = native.native_boxes(IRONWOOD, shape)
    joint = nb.joint_bounds(cov, upper)
    assert np.all(joint <= upper)
    for r in range(len(upper)):
        cands = np.flatnonzero(ok[r]).tolist()
        exact = _packing_size(pl, healthy[r], packing._milp_packing(pl, cands, None))
        assert joint[r] >= exact, r


# ---- tiles, tiling_bound, count_max_boxes with cap / upper ----

def test_tiles_known_cases():
    assert tiles((2, 2, 2), (2, 2, 4)) == 2
    assert tiles((1, 2, 2), (2, 2, 2)) == 2
    assert tiles((2, 2, 2), (3, 6, 6)) == 0
    # orientation: only the turned box divides the big one (2 cubes into 2 cubes: one box)
    assert tiles((1, 1, 2), (2, 1, 1)) == 1
    assert tiles((1, 1, 2), (4, 1, 1)) == 2
    assert tiles((1, 2, 2), (2, 1, 4)) == 2
    assert tiles((1, 2, 4), (2, 4, 2)) == 2
    assert tiles((1, 1, 3), (2, 2, 2)) == 0
    assert tiles((2, 2, 2), (2, 2, 2)) == 1
    assert tiles((1, 2, 2), (4, 4, 4)) == 16


def test_tiling_bound_combines_known_shapes():
    known = {(1, 1, 2): np.array([9, 8, 3]), (1, 2, 2): np.array([4, 4, 1]),
             (1, 1, 3): np.array([5, 5, 5])}
    np.testing.assert_array_equal(tiling_bound((2, 2, 2), known), [2, 2, 0])
    assert tiling_bound((1, 1, 2), {(1, 1, 2): np.array([3])}) is None  # m = 1 says nothing
    assert tiling_bound((2, 2, 2), {(1, 1, 3): np.array([3])}) is None


@pytest.mark.parametrize(("grid", "big", "smalls"), [
    ((2, 2, 4), (2, 2, 2), [(1, 1, 2), (1, 2, 2)]),
    ((4, 4, 1), (2, 2, 1), [(1, 2, 1)]),
    ((2, 2, 4), (1, 2, 2), [(1, 1, 2)]),
])
def test_tiling_bound_never_below_brute_force(grid, big, smalls):
    """floor(exact small count / m) bounds the big count (brute force on random patterns), and
    count_max_boxes given it as `upper` gives the same counts as without."""
    n = math.prod(grid)
    rng = np.random.default_rng(11)
    healthy = np.concatenate([rng.random((25, n)) < p for p in (0.6, 0.85, 1.0)])
    masks = [mask_of(np.flatnonzero(h)) for h in healthy]
    known = {s: np.array([brute_max(grid, s, m) for m in masks]) for s in smalls}
    bound = tiling_bound(big, known)
    exact = np.array([brute_max(grid, big, m) for m in masks])
    assert np.all(bound >= exact)
    pl = box_placements(grid, big)
    np.testing.assert_array_equal(count_max_boxes(pl.grid, pl.shape, healthy, upper=bound), exact)
    np.testing.assert_array_equal(count_max_boxes(pl.grid, pl.shape, healthy, cap=1), np.minimum(exact, 1))


def test_tiling_bound_and_max_boxes_upper_on_ironwood():
    """2x2x2 <= floor(1x2x2 / 2) on 150 Ironwood patterns; count_max_boxes unchanged by that `upper`;
    `cap` clips the exact counts."""
    healthy = sample_healthy(math.prod(IRONWOOD), P_IRONWOOD, 150, 7)
    pl1 = box_placements(IRONWOOD, (1, 2, 2))
    pl2 = box_placements(IRONWOOD, (2, 2, 2))
    c1 = count_max_boxes(pl1.grid, pl1.shape, healthy)
    c2 = count_max_boxes(pl2.grid, pl2.shape, healthy)
    bound = tiling_bound((2, 2, 2), {(1, 2, 2): c1})
    assert np.all(bound >= c2)
    np.testing.assert_array_equal(count_max_boxes(pl2.grid, pl2.shape, healthy, upper=bound), c2)
    np.testing.assert_array_equal(count_max_boxes(pl2.grid, pl2.shape, healthy, cap=14), np.minimum(c2, 14))


# ---- unique_rows, cycle_max, thread_count ----

@pytest.mark.parametrize("width", [1, 5, 63, 64, 65, 144, 200])
def test_unique_rows_like_np_unique(width):
    """Same grouping and first occurrences as np.unique(axis=0); rows that differ in one bit
    only (anywhere, also past the first 64-bit word) are distinct."""
    rng = np.random.default_rng(width)
    base = rng.random((30, width)) < 0.5
    flipped = base[rng.integers(0, 30, 30)].copy()
    flipped[np.arange(30), rng.integers(0, width, 30)] ^= True  # one bit changed per row
    if width > 64:
        late = base[:10].copy()
        late[np.arange(10), rng.integers(64, width, 10)] ^= True  # differs only past word 0
        flipped = np.concatenate([flipped, late])
    pool = np.concatenate([base, flipped])
    rows = pool[rng.integers(0, len(pool), 500)]
    first, inverse = unique_rows(rows)
    _, ref_first, ref_inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    ref_inverse = np.asarray(ref_inverse).reshape(-1)
    assert sorted(first.tolist()) == sorted(ref_first.tolist())  # first occurrences
    np.testing.assert_array_equal(rows[first][inverse], rows)
    # same grouping: two rows share a group exactly when np.unique says so
    pairs = {(int(a), int(b)) for a, b in zip(inverse, ref_inverse, strict=True)}
    assert len(pairs) == len(first) == len(ref_first)
    empty_first, empty_inverse = unique_rows(np.zeros((0, width), dtype=bool))
    assert len(empty_first) == len(empty_inverse) == 0


@needs_native
@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_compiled_cycle_max_equals_its_twin(n):
    rng = np.random.default_rng(40 + n)
    b = rng.integers(0, 7, (300, n))
    # realistic rows (A_s <= min(B_s, B_s+1)) and arbitrary ones
    a_real = np.minimum(b, np.roll(b, -1, axis=1)) - rng.integers(0, 2, (300, n))
    a = np.concatenate([np.maximum(a_real, 0), rng.integers(0, 7, (300, n))])
    b = np.concatenate([b, rng.integers(0, 7, (300, n))])
    np.testing.assert_array_equal(native.cycle_max(a, b), twin_cycle_max(a, b))
    assert native.cycle_max(np.full((1, n), 63), np.full((1, n), 63)) is None


def test_thread_count_env(monkeypatch):
    monkeypatch.delenv("TPUSIM_THREADS", raising=False)
    assert 1 <= packing.thread_count() <= 8
    monkeypatch.setenv("TPUSIM_THREADS", "3")
    assert packing.thread_count() == 3
    for bad in ("0", "-2", "abc", "1.5"):
        monkeypatch.setenv("TPUSIM_THREADS", bad)
        with pytest.raises(TpusimError, match="TPUSIM_THREADS"):
            packing.thread_count()


# ---- exists with LP weights / prefer ----

def _exists_cases():
    return [*CASES, ((4, 4, 4), (1, 2, 2))]


@needs_native
@pytest.mark.parametrize(("grid", "shape"), _exists_cases())
def test_exists_with_lp_weights_same_answers(grid, shape):
    """For t around the maximum, exists with LP-dual weights and an LP preference order answers
    exactly as without (feasible iff t <= exact; packings checked), also when its proofs are
    kept across patterns (as finish_packing does). The duals weigh every box >= 1 and sum to
    the LP value."""
    pl = box_placements(grid, shape)
    nb = native.native_boxes(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(17)
    big = n > 20
    healthy = np.concatenate([rng.random((8 if big else 15, n)) < p for p in (0.7, 0.9)])
    ok, cov = _ok_coverable(pl, healthy)
    for r in np.flatnonzero(ok.any(axis=1)).tolist():
        cands = np.flatnonzero(ok[r]).tolist()
        free = mask_of(np.flatnonzero(cov[r]))
        if big:
            exact = _verified_exact(pl, nb, healthy[r], ok[r], cov[r])
        else:
            exact = brute_max(grid, shape, mask_of(np.flatnonzero(healthy[r])))
        lp_value, order, _, duals = packing._lp_relaxation(pl, cands, duals=True)
        assert np.all(duals >= 0)
        assert np.all(pl.matrix[cands].astype(np.float64) @ duals >= 1 - 1e-7)
        assert abs(duals.sum() - lp_value) < 1e-6 * max(1.0, lp_value)
        assert math.floor(lp_value + 1e-6) >= exact
        for t in range(max(1, exact - 1), exact + 3):
            plain = nb.exists(cands, free, t, 2_000_000)
            weighted = nb.exists(cands, free, t, 2_000_000, prefer=order, weights=duals)
            kept = nb.exists(cands, free, t, 2_000_000, keep_proofs=True, prefer=order,
                             weights=duals)
            partial = nb.exists(cands, free, t, 2_000_000, prefer=order[len(order) // 2:])
            for got in (plain, weighted, kept, partial):
                assert got is not None, (r, t)
                assert bool(got) == (t <= exact), (r, t, exact)
                if got:
                    assert _packing_size(pl, healthy[r], got) == t
