"""The pure-Python twin of the compiled kernel (tpusim.planner.packing.twin): the engine with
no C compiler, and the tested reference of the C code. Its searches return exactly the
compiled search's packings; the whole engine run on it gives the compiled counts and boxes,
and brute force on small tori. Oracles: brute force (tests/oracles.py), HiGHS's integer
program, and the compiled kernel where it exists (these tests then compare the two)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import run_cli
from oracles import CASES, brute_max

from tpusim.planner.packing import count_max_boxes, max_packing, native, solve, twin
from tpusim.planner.packing.bits import mask_of
from tpusim.planner.packing.boxes import box_placements, covered_cubes, healthy_boxes

needs_native = pytest.mark.skipif(not native.available(), reason="no C compiler: nothing to compare")


@pytest.fixture
def python_kernel(monkeypatch):
    """The engine with the Python twin as its kernel, as on a machine without a compiler."""
    monkeypatch.setattr(solve, "kernel", twin.twin_boxes)


def _patterns(grid, rows, seed, p=(0.7, 0.9)):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random((rows, math.prod(grid))) < q for q in p])


@needs_native
@pytest.mark.parametrize(("grid", "shape"), [*CASES, ((4, 4, 4), (1, 2, 2)), ((4, 6, 6), (2, 2, 4))])
def test_twin_exists_returns_the_compiled_packing(grid, shape):
    """Same answer, same boxes in the same order, for t around the maximum, with the plain,
    the LP-preferred and the LP-weighted search (the twin does not prune by waste families,
    so it visits more nodes; ample budgets let both finish)."""
    pl = box_placements(grid, shape)
    nb, tw = native.native_boxes(grid, shape), twin.twin_boxes(grid, shape)
    small = math.prod(grid) <= 18
    healthy = _patterns(grid, 6 if small else 3, 31)
    ok = healthy_boxes(pl, healthy)
    cov = covered_cubes(pl, ok)
    for r in np.flatnonzero(ok.any(axis=1)).tolist():
        cands = np.flatnonzero(ok[r]).tolist()
        free = mask_of(np.flatnonzero(cov[r]))
        lp_value, order, _, duals = solve._lp_relaxation(pl, cands, duals=True)
        top = int(math.floor(lp_value + 1e-6))
        targets = range(1, top + 2) if small else range(max(1, top - 2), top + 1)
        for t in targets:
            for kw in ({}, {"prefer": order}, {"prefer": order[::-1], "weights": duals}):
                want = nb.exists(cands, free, t, 10**7, **kw)
                got = tw.exists(cands, free, t, 10**7, **kw)
                assert want is not None and got is not None, (r, t)
                assert got == want, (r, t, kw.keys())


@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_twin_solve_batch_keeps_the_contract(grid, shape):
    """Settled rows are the brute-force maxima; open rows keep their upper bound >= the
    maximum; with no search at all only greedy packings settle rows."""
    pl = box_placements(grid, shape)
    healthy = _patterns(grid, 15, 3, p=(0.55, 0.8, 1.0))
    ok = healthy_boxes(pl, healthy)
    keep = ok.any(axis=1)
    healthy, ok = healthy[keep], ok[keep]
    cov = covered_cubes(pl, ok)
    exact = np.array([brute_max(grid, shape, mask_of(np.flatnonzero(h))) for h in healthy])
    upper = cov.sum(axis=1) // pl.cubes_per_slice
    tw = twin.twin_boxes(grid, shape)
    for quick in (0, solve.TWIN.quick):
        res = tw.solve_batch(ok, cov, upper, budgets=replace(solve.TWIN, quick=quick))
        settled = res.count >= 0
        np.testing.assert_array_equal(res.count[settled], exact[settled])
        assert np.all(res.upper[~settled] >= exact[~settled])
        assert all(res.best[i] == [] for i in range(len(exact)))
        if quick:
            assert settled.all()


@pytest.mark.parametrize(("grid", "shape"), CASES)
def test_python_kernel_equals_brute_force(grid, shape, python_kernel):
    """count_max_boxes and max_packing on the Python kernel: brute-force maxima, boxes
    disjoint and healthy."""
    healthy = _patterns(grid, 10, 5, p=(0.6, 0.85, 1.0))
    exact = np.array([brute_max(grid, shape, mask_of(np.flatnonzero(h))) for h in healthy])
    np.testing.assert_array_equal(count_max_boxes(grid, shape, healthy), exact)
    for h, e in zip(healthy[::2], exact[::2], strict=True):
        boxes = max_packing(grid, shape, h)
        cubes = np.concatenate([b.ravel() for b in boxes]) if boxes else np.zeros(0, dtype=int)
        assert len(boxes) == e
        assert len(set(cubes.tolist())) == len(cubes) and h[cubes].all()


@needs_native
@pytest.mark.parametrize(("grid", "shape", "rows"), [((4, 4, 4), (1, 2, 2), 60),
                                                     ((4, 4, 4), (2, 2, 2), 60),
                                                     ((4, 6, 6), (2, 2, 2), 12)])
def test_python_kernel_gives_the_compiled_counts_and_boxes(grid, shape, rows, monkeypatch):
    """v4 and Ironwood at cube availability 0.92: the same counts, and max_packing the same
    boxes in the same order, on the Python kernel as on the compiled one."""
    healthy = _patterns(grid, rows, 7, p=(0.92,))
    want = count_max_boxes(grid, shape, healthy)
    boxes = [max_packing(grid, shape, h, need=n) for h in healthy[:4] for n in (2, 5)]
    monkeypatch.setattr(solve, "kernel", twin.twin_boxes)
    np.testing.assert_array_equal(count_max_boxes(grid, shape, healthy), want)
    got = [max_packing(grid, shape, h, need=n) for h in healthy[:4] for n in (2, 5)]
    assert [[b.tolist() for b in p] for p in got] == [[b.tolist() for b in p] for p in boxes]


def test_problem_too_large_for_the_compiled_bit_sets_uses_the_twin():
    """More than 256 cubes: the kernel is the twin, and its counts equal HiGHS's integer
    program."""
    grid, shape = (4, 4, 18), (1, 1, 2)
    assert isinstance(solve.kernel(grid, shape), twin.TwinBoxes)
    pl = box_placements(grid, shape)
    healthy = _patterns(grid, 2, 9, p=(0.95,))
    got = count_max_boxes(grid, shape, healthy)
    for h, g in zip(healthy, got, strict=True):
        cands = solve.healthy_placements(pl, mask_of(np.flatnonzero(h)))
        assert g == len(solve._milp_packing(pl, cands, None))


@needs_native
def test_plan_without_a_compiler_equals_plan_with_one(monkeypatch):
    """`tpusim plan` with TPUSIM_NO_NATIVE=1 (the engine runs on the Python twin) prints the
    same JSON as with the compiled kernel: the static estimates and the concrete boxes."""
    runs = {}
    for native_flag in ("0", "1"):
        monkeypatch.setenv("TPUSIM_NO_NATIVE", native_flag)
        for name, args in (("table", ["--samples", "40"]),
                           ("assign", ["--slice", "4x4x8", "--slices", "20",
                                       "--faulty-cubes", "0,5,9,13,22,27,33,40,51,60"])):
            r = run_cli("plan", "--chips", "4096", "--availability", "0.995", "--json", *args)
            assert r.returncode == 0, r.stderr
            runs[native_flag, name] = json.loads(r.stdout)
    assert runs["1", "table"] == runs["0", "table"]
    assert runs["1", "assign"] == runs["0", "assign"]
    assert runs["1", "assign"]["assignment"]["static"] is not None
