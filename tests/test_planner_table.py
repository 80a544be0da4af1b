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
