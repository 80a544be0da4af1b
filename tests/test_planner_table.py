"""plan(): --target and --slices rules on the whole table."""

from __future__ import annotations

import pytest

from tpusim.errors import TpusimError
from tpusim.hardware import find_pod
from tpusim.planner.table import plan


def test_target_static_uses_the_lower_bound():
    result = plan(find_pod(4096), 0.995, target=0.99, samples=200, seed=0)
    static = result.target["largest_slice_chips_static"]
    row = next(r for r in result.rows if r.slice_chips == static)
    assert row.p_schedulable_static_lo >= 0.99
    # a Monte Carlo estimate of 1.000 whose interval reaches below the target does not count
    assert plan(find_pod(4096), 0.995, target=1.0, samples=200, seed=0).target[
        "largest_slice_chips_static"] is None


def test_several_slices_keep_only_sizes_that_fit():
    rows = plan(find_pod(4096), 0.995, n_slices=2, samples=50, seed=0).rows
    assert rows and all(2 * r.slice_cubes <= 64 for r in rows)
    assert max(r.slice_chips for r in rows) == 2048
    with pytest.raises(TpusimError, match="ask for fewer `slices`"):
        plan(find_pod(4096), 0.995, slice_shape="12x16x16", n_slices=2)


def test_slices_that_fill_the_pod_keep_the_static_goodput():
    """--slices m of a box with m x box cubes = the pod: P(static) = every cube healthy (the box
    tiles the v4 cube torus), while goodput counts boxes on every pattern exactly as for one
    slice (it does not depend on --slices), so it is not the OCS goodput."""
    one = plan(find_pod(4096), 0.99, slice_shape="8x16x16", samples=50, seed=0).rows[0]
    two = plan(find_pod(4096), 0.99, slice_shape="8x16x16", n_slices=2, samples=50, seed=0).rows[0]
    assert two.p_schedulable_static == pytest.approx(0.99 ** (16 * 64), rel=1e-9)
    assert two.goodput_static == one.goodput_static
    assert two.goodput_static < 0.5 * two.goodput_ocs


def test_slices_that_cannot_tile_the_pod_are_never_schedulable_static():
    """35 boxes of 1x2x2 cubes cannot tile v5p's 4x5x7 cube torus (at most 34 fit, 5 and 7 are
    odd), so P(static) is 0 even when all 140 cubes are healthy; 1x1x2 boxes tile it."""
    pod = find_pod(8960)
    no = plan(pod, 0.9999, slice_shape="4x8x8", n_slices=35, samples=20, seed=0).rows[0]
    assert no.p_schedulable_static == 0.0 < no.p_schedulable_ocs
    yes = plan(pod, 0.9999, slice_shape="4x4x8", n_slices=70, samples=20, seed=0).rows[0]
    assert yes.p_schedulable_static == pytest.approx(yes.p_schedulable_ocs, rel=1e-12)


def test_probabilities_never_exceed_one_with_failure_domains():
    rows = plan(find_pod(4096), 0.99, p_chip=0.999, domain_cubes=4, p_domain=0.999,
                samples=20, seed=0).rows
    assert all(0.0 <= r.p_schedulable_static <= 1.0 and 0.0 <= r.p_schedulable_ocs <= 1.0
               for r in rows)


def test_assignment_without_slice_fits_every_slice_and_the_spare():
    """Without --slice the assignment takes the largest size of which --slices fit in the
    healthy cubes, leaving a spare when --then-fail asks for a re-form."""
    two = plan(find_pod(4096), 0.99, n_slices=2, faulty_cubes=[5], samples=5, seed=0).assignment
    assert two["slice_cube_shape"] == [2, 2, 4] and len(two["ocs"]) == 2  # 2 x 32 > 63 healthy
    again = plan(find_pod(4096), 0.99, then_fail=3, samples=5, seed=0).assignment
    assert again["slice_cube_shape"] == [3, 4, 4] and again["reform"]["spare_cube"] == 48
    with pytest.raises(TpusimError, match="with a spare cube for `then_fail`"):
        plan(find_pod(4096), 0.99, n_slices=64, then_fail=3, samples=5, seed=0)
