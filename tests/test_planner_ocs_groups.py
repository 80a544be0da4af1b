"""The planner on pods whose OCSes cannot join every cube: an OCS joins only the cubes on its
ports, (ocs_ports - ocs_spare_ports) / 2 of them, so a custom pod with more cubes has several
OCS groups (cube c in group c // that, `tpusim.topology.ocs.port`) and an OCS slice is formed
within one group. Checked against brute-force enumeration of failure patterns and against the
closed form written out; catalog pods (one group) keep the one-binomial model. Also the healthy
pmf of pods too large for C(n, h) in a float."""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import product

import numpy as np
import pytest
from scipy.stats import binom

from tpusim.errors import TpusimError
from tpusim.hardware import find_pod, load_pod
from tpusim.planner import healthy_pmf
from tpusim.planner.assign import assignment, place_slices
from tpusim.planner.availability import expected_ocs_slices, ocs_slice_pmf
from tpusim.planner.table import plan

DATA = "tests/data"


def _two_group_v4():
    """The v4 pod (64 cubes) with 72-port OCSes: (72 - 8) / 2 = 32 cubes per group, 2 groups."""
    return replace(find_pod(chips=4096, generation="v4"), ocs_ports=72)


def test_group_sizes():
    assert find_pod(chips=4096, generation="v4").ocs_group_cubes == (64,)
    assert _two_group_v4().ocs_group_cubes == (32, 32)
    assert replace(find_pod(chips=4096, generation="v4"), ocs_ports=100).ocs_group_cubes == (46, 18)
    assert load_pod(f"{DATA}/pod-hostcube-65536.toml").ocs_group_cubes == (4096,) * 4


@pytest.mark.parametrize(("sizes", "k"), [((3, 3), 2), ((4, 2), 2), ((3, 2, 2), 1), ((5,), 2)])
def test_slice_pmf_matches_brute_force(sizes, k):
    p = 0.7
    brute = np.zeros(sum(s // k for s in sizes) + 1)
    for pattern in product((0, 1), repeat=sum(sizes)):  # 1 = healthy
        weight = math.prod(p if up else 1 - p for up in pattern)
        cuts = np.cumsum((0, *sizes))
        slices = sum(sum(pattern[a:b]) // k for a, b in zip(cuts[:-1], cuts[1:], strict=True))
        brute[slices] += weight
    got = ocs_slice_pmf([healthy_pmf(m, p) for m in sizes], k)
    assert got == pytest.approx(brute, abs=1e-12)


def test_one_group_is_the_one_binomial_model():
    pmf = healthy_pmf(64, 0.92)
    for k in (1, 3, 16, 48, 64):
        s = ocs_slice_pmf([pmf], k)
        for m in (1, 2):
            assert math.fsum(s[m:]) == pytest.approx(math.fsum(pmf[m * k:]), abs=1e-14)
        assert float(s @ np.arange(len(s))) == pytest.approx(expected_ocs_slices(pmf, k), rel=1e-13)


def test_plan_on_two_groups_follows_the_closed_form():
    """One 32-cube slice needs all 32 cubes of a group healthy: P = 1 - (1 - p^32)^2, goodput
    E[S] x 32 / 64 = p^32; 48 and 64 cubes exceed a group: never with OCS (the static torus
    keeps its own model, so it may beat OCS here)."""
    result = plan(_two_group_v4(), 0.995, samples=20)
    p = result.cube_availability
    rows = {r.slice_cubes: r for r in result.rows}
    assert rows[32].p_schedulable_ocs == pytest.approx(1 - (1 - p ** 32) ** 2, rel=1e-12)
    assert rows[32].goodput_ocs == pytest.approx(p ** 32, rel=1e-12)
    assert rows[48].p_schedulable_ocs == rows[64].p_schedulable_ocs == 0.0
    assert rows[64].p_schedulable_static == pytest.approx(p ** 64, rel=1e-12)
    # 16 cubes: each group forms floor(H_g / 16) slices
    two = ocs_slice_pmf([healthy_pmf(32, p)] * 2, 16)
    assert rows[16].goodput_ocs == pytest.approx(float(two @ np.arange(5)) * 16 / 64, rel=1e-12)
    assert result.model["ocs_group_cubes"] == [32, 32]
    single = plan(find_pod(chips=4096, generation="v4"), 0.995, samples=20)
    assert single.model["ocs_group_cubes"] == [64]
    assert {r.slice_cubes: r.p_schedulable_ocs for r in single.rows}[48] > 0.99


def test_assignment_keeps_each_slice_and_its_spare_in_one_group():
    pod = _two_group_v4()
    healthy = np.ones(64, dtype=bool)
    healthy[[0, 40]] = False
    slices = place_slices(pod, healthy.reshape(pod.cube_grid), (2, 2, 4), 2, ocs=True)
    assert [sorted(s.ravel().tolist()) for s in slices] == [list(range(1, 17)),
                                                             [*range(32, 40), *range(41, 49)]]
    # a third 16-cube slice would need 16 more healthy cubes in one group: 15 and 15 are left
    assert place_slices(pod, healthy.reshape(pod.cube_grid), (2, 2, 4), 3, ocs=True) is None
    out = assignment(pod, [0, 40], (2, 2, 4), 2, then_fail=1)
    assert out["reform"]["spare_cube"] == 17  # the lowest free cube of the failed slice's group
    with pytest.raises(TpusimError, match="none was possible"):  # 31 healthy cubes per group
        assignment(pod, [0, 40], (2, 4, 4), 1, then_fail=1)


def test_plan_refuses_a_pod_beyond_the_static_packer():
    with pytest.raises(TpusimError, match="above the limit of 256.*check_limits=False"):
        plan(load_pod(f"{DATA}/pod-hostcube-65536.toml"), 0.995)


@pytest.mark.parametrize("n", [1001, 4096, 16384])
def test_healthy_pmf_of_large_pods(n):
    """Beyond about 1030 cubes C(n, h) overflows a float; the pmf is computed in logs."""
    pmf = healthy_pmf(n, 0.99)
    assert math.fsum(pmf) == pytest.approx(1.0, abs=1e-12)
    assert pmf == pytest.approx(binom.pmf(np.arange(n + 1), n, 0.99), abs=1e-12)
    assert healthy_pmf(n, 1.0)[-1] == 1.0
    assert healthy_pmf(n, 0.0)[0] == 1.0


def test_topology_of_a_slice_beyond_one_group_names_the_group():
    """`tpusim topology` of a several-group pod failed on the first cross-group neighbour pair
    ('cubes 0 and 32 sit on different OCS groups'); it now names the group size and the fix."""
    from tpusim.topology.summary import topology_summary

    pod = _two_group_v4()  # (72 - 8) / 2 = 32 cubes per group
    with pytest.raises(TpusimError, match=r"64 cubes, more than one OCS group .*32 cubes.*at most 32"):
        topology_summary(pod)
    assert topology_summary(pod, "8x16x16").cubes == 32
