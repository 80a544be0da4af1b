"""Slab bound for 2x2x2 (and 2x2) boxes (tpusim.planner.packing.slabs): never below the exact maximum
packing (brute force on small tori, HiGHS's integer program on the v4 and Ironwood cube tori),
its vectorised and scalar forms agree, and its pieces match brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracles import brute_max, cycle_max, slab_bound

from tpusim.planner.packing import count_max_boxes, native, slabs, twin
from tpusim.planner.packing import solve as packing
from tpusim.planner.packing.bits import mask_of
from tpusim.planner.packing.boxes import box_placements


def _coverable(pl, healthy: np.ndarray) -> np.ndarray:
    ok = ((~healthy).astype(np.float32) @ pl.matrix.T.astype(np.float32)) < 0.5
    return (ok.astype(np.float32) @ pl.matrix.astype(np.float32)) > 0.5


@pytest.mark.parametrize("grid", [(2, 2, 4), (3, 3, 2), (4, 4), (3, 5), (2, 4, 3)])
def test_slab_bound_never_below_brute_force(grid):
    shape = (2,) * len(grid)
    assert slabs.applies(grid, shape)
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(3)
    healthy = np.concatenate([rng.random((40, n)) < q for q in (0.6, 0.8, 0.95)])
    healthy[0] = True
    cov = _coverable(pl, healthy)
    bound = slabs.slab_bounds_matrix(grid, cov)[0]
    for row, c, b in zip(healthy, cov, bound, strict=True):
        assert b >= brute_max(grid, shape, mask_of(np.flatnonzero(row)))
        assert b == slab_bound(grid, c)


@pytest.mark.parametrize("grid", [(4, 4, 4), (4, 6, 6)])
def test_slab_bound_never_below_integer_program(grid):
    """TPU v4 (4x4x4 cubes) and Ironwood (4x6x6 cubes), 2x2x2 boxes, at cube availability 0.92
    (Ironwood's at 99.5% hosts): the bound is >= the MILP optimum, and equals it on most
    patterns (the point of the bound: the coloring and waste bounds are about 2 above)."""
    shape = (2, 2, 2)
    pl = box_placements(grid, shape)
    rng = np.random.default_rng(11)
    healthy = rng.random((25, math.prod(grid))) < 0.92
    bound = slabs.slab_bounds_matrix(grid, _coverable(pl, healthy))[0]
    tight = 0
    for row, b in zip(healthy, bound, strict=True):
        mask = mask_of(np.flatnonzero(row))
        ref = len(packing._milp_packing(pl, packing.healthy_placements(pl, mask), None))
        assert b >= ref
        tight += b == ref
    assert tight >= 15
    assert (count_max_boxes(pl.grid, pl.shape, healthy) <= bound).all()


@pytest.mark.parametrize("grid", [(2, 2, 4), (3, 3, 2), (4, 4), (3, 5), (2, 4, 3), (4, 4, 4)])
def test_slab_lower_bound_never_above_brute_force(grid):
    """The slab lower bound (disjoint two-layer slabs, each packed exactly) is a packing that
    exists: never above the maximum, and it equals it on most patterns here."""
    shape = (2,) * len(grid)
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(5)
    healthy = np.concatenate([rng.random((30, n)) < q for q in (0.7, 0.9)])
    upper, lower = slabs.slab_bounds_matrix(grid, _coverable(pl, healthy))
    exact = np.array([brute_max(grid, shape, mask_of(np.flatnonzero(row))) for row in healthy]) \
        if n <= 36 else count_max_boxes(pl.grid, pl.shape, healthy)
    assert (lower <= exact).all() and (exact <= upper).all()
    assert (lower == exact).mean() > 0.5


def test_batch_with_a_known_lower_bound_gives_the_same_counts():
    """Passing the slab lower bound to the batch solver (it then stops proving at that count)
    changes no count: Ironwood 2x2x2 boxes, 200 patterns, against the batch without it."""
    grid, shape = (4, 6, 6), (2, 2, 2)
    pl = box_placements(grid, shape)
    healthy = np.random.default_rng(8).random((200, 144)) < 0.9229
    ok = ((~healthy).astype(np.float32) @ pl.matrix.T.astype(np.float32)) < 0.5
    cov = _coverable(pl, healthy)
    keep = ok.any(axis=1)
    ok, cov = ok[keep], cov[keep]
    upper, lower = slabs.slab_bounds_matrix(grid, cov)
    with_lower = packing.batch_counts(pl, ok, cov, upper, lower=lower)
    without = packing.batch_counts(pl, ok, cov, upper)
    assert (with_lower == without).all()
    assert (lower <= with_lower).all()


def test_cycle_max_matches_brute_force():
    """The cycle DP (compiled, and the numpy twin) against enumeration, on realistic rows
    (A_s <= min(B_s, B_s+1)) and arbitrary ones; the compiled one declines values >= 63."""
    rng = np.random.default_rng(2)
    for n in (2, 3, 4, 6):
        a = rng.integers(0, 4, size=(30, n))
        b = a + np.roll(a, 1, axis=1) - rng.integers(0, 3, size=(30, n))
        b = np.maximum(b, 0)
        real = np.minimum(b, np.roll(b, -1, axis=1)) - rng.integers(0, 2, size=(30, n))
        a = np.concatenate([a, np.maximum(real, 0), rng.integers(0, 5, size=(30, n))])
        b = np.concatenate([b, b, rng.integers(0, 5, size=(30, n))])
        ref = [cycle_max(a[r].tolist(), b[r].tolist()) for r in range(len(a))]
        np.testing.assert_array_equal(twin.cycle_max(a, b), ref)
        if native.available():
            np.testing.assert_array_equal(native.cycle_max(a, b), ref)
    assert native.cycle_max(np.full((1, 3), 63), np.full((1, 3), 63)) is None


def test_ring_dominoes_match_brute_force():
    for n in (2, 3, 5, 6):
        for mask in range(1 << n):
            assert slabs.ring_dominoes(n, mask) == brute_max((n,), (2,), mask)


@pytest.mark.parametrize("dims", [(6, 6), (4, 6), (3, 5)])
def test_layer_packings_equal_brute_force(dims):
    """Layer packings (each distinct layer once, through the batch solver) equal brute force."""
    rng = np.random.default_rng(8)
    n = math.prod(dims)
    rows = np.concatenate([rng.random((20, n)) < q for q in (0.7, 0.9, 0.97)])
    rows = np.concatenate([rows, rows[:5]])  # repeated layers
    got = slabs.layer_packings(dims, rows)
    for row, g in zip(rows, got, strict=True):
        assert g == brute_max(dims, (2, 2), mask_of(np.flatnonzero(row)))
