"""Closed forms of the availability planner against published figures and brute force.

Sources: the TPU v4 paper's availability model (Jouppi et al., ISCA 2023): p_cube =
p_host^16 = 0.8515 / 0.9229 / 0.9841 at 99.0 / 99.5 / 99.9% host availability (tolerance 5e-5,
the 4 digits quoted); with OCS P(at least 48 of 64 cubes healthy) = 0.989 at 99.0% (tolerance
5e-4, 3 digits); the full pod needs all 64 cubes. Ironwood (Google Cloud blog 2026,
"Cluster-level reliability for trillion-parameter models on TPUs", a weak source read through
summaries): 130 of 144 cubes healthy with 95% confidence needs p_cube ~ 0.935 (tolerance 0.003).
The published values, sources and tolerances are rows of tpusim/validation/published.py (read by
`tpusim validate` too); the tests check them with the command's own comparison.
"""

from __future__ import annotations

import math
from itertools import product

import pytest

from tpusim.errors import TpusimError
from tpusim.planner import (
    cube_availability,
    cube_availability_for_target,
    healthy_pmf,
    ocs_goodput,
    p_at_least_k_healthy,
    p_at_least_k_healthy_correlated,
    spares_for_target,
)
from tpusim.planner.availability import healthy_pmf_correlated
from tpusim.validation import check, figure


@pytest.mark.parametrize(("p_host", "published"), [(0.990, 0.8515), (0.995, 0.9229), (0.999, 0.9841)])
def test_cube_availability_matches_reference(p_host, published):
    c = check(figure(f"v4-cube-availability-{p_host:.3f}"))
    assert c.figure.published == published and c.figure.tolerance.value == 5e-5
    assert c.measured.value == cube_availability(p_host, 16)
    assert abs(cube_availability(p_host, 16) - published) < 5e-5 and c.status == "ok"


def test_ocs_48_of_64_at_99_percent():
    c = check(figure("v4-ocs-48-of-64-0.990"))
    assert (c.figure.published, c.figure.tolerance.value) == (0.989, 5e-4)
    p = p_at_least_k_healthy(64, 48, cube_availability(0.990, 16))
    assert c.measured.value == p
    assert abs(p - 0.989) < 5e-4 and c.status == "ok"


@pytest.mark.parametrize("p_host", [0.990, 0.995, 0.999])
def test_full_pod_needs_every_cube(p_host):
    p = cube_availability(p_host, 16)
    assert p_at_least_k_healthy(64, 64, p) == pytest.approx(p ** 64, rel=1e-12)
    # reference table: full pod 3.4e-5 / 5.9e-3 / 0.359
    c = check(figure(f"v4-full-pod-{p_host:.3f}"))
    assert c.figure.published == {0.990: 3.4e-5, 0.995: 5.9e-3, 0.999: 0.359}[p_host]
    assert c.measured.value == p_at_least_k_healthy(64, 64, p)
    assert p ** 64 == pytest.approx(c.figure.published, rel=0.02) and c.status == "ok"


def test_ironwood_130_of_144_at_95_percent():
    c = check(figure("ironwood-130-of-144"))
    p = cube_availability_for_target(144, 130, 0.95)
    assert c.measured.value == p and (c.figure.published, c.figure.tolerance.value) == (0.935, 0.003)
    assert abs(p - 0.935) < 0.003 and c.status == "ok"
    assert p_at_least_k_healthy(144, 130, p) == pytest.approx(0.95, abs=1e-6)


def _brute(n, p):
    pmf = [0.0] * (n + 1)
    for pattern in product((0, 1), repeat=n):
        h = sum(pattern)
        pmf[h] += p ** h * (1 - p) ** (n - h)
    return pmf


@pytest.mark.parametrize("n", [1, 5, 8])
@pytest.mark.parametrize("p", [0.3, 0.85, 1.0])
def test_pmf_and_tail_match_brute_force(n, p):
    brute = _brute(n, p)
    assert healthy_pmf(n, p) == pytest.approx(brute, abs=1e-12)
    for k in range(-1, n + 2):
        assert p_at_least_k_healthy(n, k, p) == pytest.approx(sum(brute[max(k, 0):]), abs=1e-12)


def test_tail_is_monotone():
    p = 0.9
    tails = [p_at_least_k_healthy(64, k, p) for k in range(66)]
    assert all(a >= b for a, b in zip(tails, tails[1:], strict=False))
    assert p_at_least_k_healthy(64, 40, 0.8) < p_at_least_k_healthy(64, 40, 0.9)


def test_correlated_domains():
    # domains of one cube, always up: the independent model
    assert healthy_pmf_correlated(8, 0.9, 1, 1.0) == pytest.approx(healthy_pmf(8, 0.9))
    # brute force: 4 cubes in 2 domains of 2, domain up 0.95, cube 0.9
    pmf = [0.0] * 5
    for domains in product((0, 1), repeat=2):
        for cubes in product((0, 1), repeat=4):
            w = math.prod(0.95 if d else 0.05 for d in domains) * math.prod(0.9 if c else 0.1 for c in cubes)
            h = sum(c and domains[i // 2] for i, c in enumerate(cubes))
            pmf[h] += w
    assert healthy_pmf_correlated(4, 0.9, 2, 0.95) == pytest.approx(pmf, abs=1e-12)
    # correlation with the same mean availability makes big slices less likely... and small ones too
    assert p_at_least_k_healthy_correlated(64, 48, 0.9, 4, 0.99) < p_at_least_k_healthy(64, 48, 0.9)


def test_ocs_goodput_brute_force_and_bounds():
    n, p = 6, 0.8
    brute = _brute(n, p)
    for k in range(1, n + 1):
        expect = sum(w * (h // k) * k / n for h, w in enumerate(brute))
        assert ocs_goodput(n, k, p) == pytest.approx(expect, abs=1e-12)
        assert ocs_goodput(n, k, p) <= p + 1e-12
    assert ocs_goodput(64, 1, 0.9) == pytest.approx(0.9)


def test_spares_for_target():
    p = cube_availability(0.990, 16)
    s = spares_for_target(48, p, 0.98, 64)
    assert s is not None
    assert p_at_least_k_healthy(48 + s, 48, p) >= 0.98
    assert p_at_least_k_healthy(48 + s - 1, 48, p) < 0.98
    assert spares_for_target(64, p, 0.99, 64) is None


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_bad_probability_raises(bad):
    with pytest.raises(TpusimError):
        cube_availability(bad, 16)
