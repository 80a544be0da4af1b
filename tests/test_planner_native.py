"""The compiled packing kernel (its build and its struct layout), one pattern's packing under
any budget, and the waste bounds: every path gives the brute-force maximum on small pods (or
HiGHS's integer program on v4), and the bounds never cut below it."""

from __future__ import annotations

import dataclasses
import math
import shutil

import numpy as np
import pytest
from oracles import CASES, brute_max

import tpusim.planner.packing.native as native
import tpusim.planner.packing.solve as packing
from tpusim.planner.packing.bits import mask_of
from tpusim.planner.packing.bounds import bounds_matrix, waste_bound_matrix
from tpusim.planner.packing.boxes import box_placements
from tpusim.planner.packing.solve import best_packing


def _check(pl, healthy, got, expected):
    assert len(got) == expected
    used = 0
    for i in got:
        assert pl.masks[i] & healthy == pl.masks[i]
        assert not used & pl.masks[i]
        used |= pl.masks[i]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_native_search_is_built_where_a_compiler_exists():
    assert native.available()
    assert native.native_boxes((4, 4, 4), (1, 2, 2)) is not None


@pytest.mark.parametrize(("grid", "shape"), CASES[:6])
def test_native_out_of_nodes_falls_back_exactly(grid, shape):
    """Node budgets of one: every pattern goes through the LP / integer-program confirmation."""
    one = dataclasses.replace(packing.COMPILED, one_quick=1, one_local=1, one_node=1)
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(9)
    for _ in range(15):
        healthy = mask_of(np.flatnonzero(rng.random(n) < 0.8))
        _check(pl, healthy, best_packing(pl, healthy, budgets=one), brute_max(grid, shape, healthy))


def test_native_agrees_with_integer_program_on_v4():
    """4x4x4 cube torus (TPU v4), 1x2x2 boxes: the compiled search against HiGHS's MILP."""
    pl = box_placements((4, 4, 4), (1, 2, 2))
    rng = np.random.default_rng(21)
    for _ in range(20):
        healthy = mask_of(np.flatnonzero(rng.random(64) < 0.9))
        cands = packing.healthy_placements(pl, healthy)
        ref = len(packing._milp_packing(pl, cands, None))
        _check(pl, healthy, best_packing(pl, healthy), ref)


@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_waste_bound_never_below_the_packing(grid, shape):
    pl = box_placements(grid, shape)
    n = math.prod(grid)
    rng = np.random.default_rng(13)
    patterns = rng.random((40, n)) < 0.8
    ok = ((~patterns).astype(np.float32) @ pl.matrix.T.astype(np.float32)) < 0.5
    coverable = (ok.astype(np.float32) @ pl.matrix.astype(np.float32)) > 0.5
    for row, b in zip(patterns, waste_bound_matrix(grid, shape, coverable), strict=True):
        assert b >= brute_max(grid, shape, mask_of(np.flatnonzero(row)))


def test_waste_bound_is_tight_where_colorings_are_not():
    """Three failed cubes in three different planes of every axis (4x4x4, 1x2x2 boxes): 61
    healthy cubes allow floor(61/4) = 15 boxes by counting, but every plane meets a box in an
    even number of cubes, so each odd plane keeps a cube unused: (61 - 3) // 4 = 14 boxes, and
    14 is the exact maximum (integer program)."""
    grid, shape = (4, 4, 4), (1, 2, 2)
    failed = [np.ravel_multi_index(c, grid) for c in ((0, 2, 1), (1, 0, 1), (3, 2, 2))]
    row = np.ones(64, dtype=bool)
    row[failed] = False
    pl = box_placements(grid, shape)
    assert int(waste_bound_matrix(grid, shape, row[None, :])[0]) == 14
    assert int(bounds_matrix(grid, shape, row[None, :])[0]) == 14
    healthy = mask_of(np.flatnonzero(row))
    cands = packing.healthy_placements(pl, healthy)
    assert len(packing._milp_packing(pl, cands, None)) == 14
    assert len(best_packing(pl, healthy)) == 14


def _max_waste(fams, cov: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cov), dtype=np.int64)
    for onehot, g, sign in fams:
        sub = onehot if sign is None else onehot * sign[:, None]
        vals = np.rint(cov.astype(np.float32) @ sub).astype(np.int64)
        out = np.maximum(out, (vals % g if g else np.abs(vals)).sum(axis=1))
    return out


@pytest.mark.parametrize(("grid", "shape"), [*CASES, ((4, 4, 4), (1, 2, 2)),
                                             ((4, 4, 4), (2, 2, 2)), ((4, 6, 6), (1, 2, 2)),
                                             ((4, 6, 6), (2, 2, 2)), ((4, 6, 6), (2, 4, 4))])
def test_pruned_waste_families_force_the_same_waste(grid, shape):
    """Dropping dominated waste families (bounds._dominates) leaves the largest forced waste,
    hence every bound and every search decision, unchanged: checked against all families on
    random free-cube sets from sparse to dense (a proof sketch is in _dominates)."""
    from tpusim.planner.packing.bounds import waste_families

    every = waste_families(grid, shape, prune=False)
    kept = waste_families(grid, shape)
    assert len(kept) <= len(every)
    rng = np.random.default_rng(5)
    cov = np.concatenate([rng.random((300, math.prod(grid))) < q for q in (0.3, 0.6, 0.9, 0.97)])
    np.testing.assert_array_equal(_max_waste(kept, cov), _max_waste(every, cov))


@pytest.mark.skipif(not native.available(), reason="no C compiler: no compiled search")
def test_ctypes_structs_match_the_compiled_layout():
    """Every call struct has the same size, field names, offsets and sizes in ctypes as in the
    C compiler's layout (tp_layout); a struct with two same-typed fields swapped, a field
    dropped or a field retyped is reported (the library refuses to load then)."""
    import ctypes

    lib = native._library().cdll
    assert native.layout_errors(lib) == []

    def variant(fields):
        return type("Variant", (ctypes.Structure,), {"_fields_": fields})

    batch = list(native._Batch._fields_)
    i, j = (n for n, (name, _) in enumerate(batch) if name in ("first_budget", "mid_budget"))
    swapped = batch.copy()
    swapped[i], swapped[j] = swapped[j], swapped[i]
    exists = list(native._Exists._fields_)
    retyped = [(n, ctypes.c_int64 if n == "t" else c) for n, c in exists]
    for name, fields in (("tp_batch_t", swapped), ("tp_exists_t", exists[:-1]),
                         ("tp_exists_t", retyped)):
        errors = native.layout_errors(lib, {name: variant(fields)})
        assert len(errors) == 1 and errors[0].startswith(name)
    assert native.layout_errors(lib, {"tp_nothing_t": native._Cycle}) == [
        "tp_nothing_t is unknown to the library"]
