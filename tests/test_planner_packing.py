"""Static-torus packing against brute force on small cube tori (issue 3: "tests check every
method against brute force on small pods"). Exact equality is required: the packing is exact."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from oracles import CASES, brute_max, brute_placements

from tpusim.planner.packing import solve
from tpusim.planner.packing.bits import mask_of
from tpusim.planner.packing.bounds import bounds_matrix
from tpusim.planner.packing.boxes import box_placements
from tpusim.planner.packing.solve import best_packing, healthy_placements


@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_placements_match_brute_force(grid, shape):
    pl = box_placements(grid, shape)
    assert {frozenset(g.ravel().tolist()) for g in pl.grids} == brute_placements(grid, shape)
    assert len(set(pl.masks)) == len(pl.masks)
    for g, m in zip(pl.grids, pl.masks, strict=True):
        assert g.shape == shape and len(set(g.ravel().tolist())) == math.prod(shape)
        assert mask_of(g.ravel()) == m


@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_max_packing_equals_brute_force(grid, shape):
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(7)
    for p in (0.6, 0.85, 1.0):
        for _ in range(25):
            healthy = mask_of(np.flatnonzero(rng.random(n) < p))
            got = best_packing(pl, healthy)
            assert len(got) == brute_max(grid, shape, healthy)
            # disjoint and healthy
            used = 0
            for i in got:
                assert pl.masks[i] & healthy == pl.masks[i]
                assert not used & pl.masks[i]
                used |= pl.masks[i]


@pytest.mark.parametrize("budget", [0, 1, 5])
def test_lp_and_integer_program_paths_are_exact(budget):
    """Searches of `budget` nodes at most: the LP bound and the integer program decide."""
    grid, shape = (4, 4, 4), (1, 2, 2)
    pl = box_placements(grid, shape)
    small = dataclasses.replace(solve.budgets_of(solve.kernel(grid, shape)), one_quick=budget,
                                one_local=budget, one_node=budget)
    rng = np.random.default_rng(11)
    for _ in range(8):
        healthy = mask_of(np.flatnonzero(rng.random(64) < 0.9))
        ref = len(best_packing(pl, healthy))
        got = best_packing(pl, healthy, budgets=small)
        assert len(got) == ref
        used = 0
        for i in got:
            assert not used & pl.masks[i]
            used |= pl.masks[i]


@pytest.mark.parametrize(("grid", "shape"), CASES[:6])
def test_bounds_never_below_the_packing(grid, shape):
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(3)
    patterns = rng.random((60, n)) < 0.8
    ok = ((~patterns).astype(np.float32) @ pl.matrix.T.astype(np.float32)) < 0.5
    coverable = (ok.astype(np.float32) @ pl.matrix.astype(np.float32)) > 0.5
    bounds = bounds_matrix(grid, shape, coverable)
    for row, b in zip(patterns, bounds, strict=True):
        healthy = mask_of(np.flatnonzero(row))
        assert b >= brute_max(grid, shape, healthy)
        assert len(healthy_placements(pl, healthy)) >= (1 if b >= 1 else 0)


def test_need_stops_early():
    pl = box_placements((4, 4, 4), (1, 1, 2))
    assert len(best_packing(pl, (1 << 64) - 1, need=3)) == 3
    assert len(best_packing(pl, (1 << 64) - 1)) == 32


def test_bit_set_conversions_round_trip():
    """Bit sets <-> bool rows <-> uint64 words, across word boundaries."""
    from tpusim.planner.packing.bits import bool_words, mask_of_bools, n_words, to_words, word_array

    rng = np.random.default_rng(4)
    for width in (1, 63, 64, 65, 144, 256):
        rows = rng.random((20, width)) < 0.5
        words = n_words(width)
        masks = [mask_of_bools(r) for r in rows]
        assert masks == [mask_of(np.flatnonzero(r)) for r in rows]
        packed = bool_words(rows, words)
        np.testing.assert_array_equal(packed, word_array(masks, words))
        for m, row in zip(masks, packed, strict=True):
            assert row.tolist() == to_words(m, words)
            assert sum(int(w) << (64 * i) for i, w in enumerate(row.tolist())) == m


@pytest.mark.parametrize(("grid", "shape"), [*CASES, ((4, 6, 6), (1, 2, 2))])
def test_problem_describes_the_placements(grid, shape):
    """The search-order problem: a permutation of the placements sorted by lowest cube; its
    cube, conflict and class sets agree with the boxes; every greedy order lists every box once
    with its tiling class first."""
    from tpusim.planner.packing.greedy import tiling_classes
    from tpusim.planner.packing.problem import problem

    pl = box_placements(grid, shape)
    pr = problem(grid, shape)
    n = len(pl.masks)
    np.testing.assert_array_equal(pr.to_search[pr.from_search], np.arange(n))
    assert list(pr.masks) == [pl.masks[i] for i in pr.from_search]
    assert [min(pl.cells[i]) for i in pr.from_search] == sorted(min(c) for c in pl.cells)
    for c in range(pl.n_cubes):
        assert pr.cube_boxes[c] == sum(1 << s for s in range(n) if pr.masks[s] >> c & 1)
    for s in range(n):
        assert pr.conflict[s] == sum(1 << j for j in range(n) if pr.masks[s] & pr.masks[j])
    for cls, need in zip(pr.classes, pr.need, strict=True):
        assert need >= 1 and min((m & cls).bit_count() for m in pr.masks) == need
    classes = tiling_classes(grid, shape)
    assert len(pr.orders) == len(classes)
    for order, members in zip(pr.orders, classes, strict=True):
        assert sorted(order.tolist()) == list(range(n))
        assert order[:len(members)].tolist() == pr.to_search[list(members)].tolist()
