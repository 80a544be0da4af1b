"""Long discrete-event runs converge to the planner's closed forms.

With exponential host failures and unlimited repair crews, hosts are independent two-state
Markov processes, so in steady state a cube is healthy with p_cube = A_host^16 independently
(the TPU v4 paper's availability model, Jouppi et al. ISCA 2023). The fraction of time a slice
can be formed must then equal the planner's p_schedulable: binomial with OCS
(`p_at_least_k_healthy`), exact packing on a static torus (`p_schedulable_static`).
Tolerance: 4 standard errors over independent replications.
"""

from __future__ import annotations

import math

import numpy as np

from tpusim.hardware import load_pod
from tpusim.planner import cube_availability, p_at_least_k_healthy, p_schedulable_static, place_slices
from tpusim.sim import scenario_from_dict
from tpusim.sim.accounting import formable_fraction, healthy_fraction_at_least
from tpusim.sim.engine import run_replication
from tpusim.sim.jobs import plan_jobs

A_HOST = 0.995


def pod_scenario(pod: str, ocs: bool, days: float, seed: int) -> dict:
    return {
        "name": "availability",
        "pod": {"name": pod, "ocs": ocs},
        "failures": {"host": {"availability": A_HOST, "mttr_hours": 1.0}},
        "jobs": [{"name": "probe", "slice": "4x4x4", "mfu": 0.5, "step_time_s": 1.0}],
        "run": {"days": days, "seed": seed},
    }


def replications(doc: dict, n: int, measure) -> np.ndarray:
    sc = scenario_from_dict(doc, "test")
    plans = plan_jobs(sc)
    seeds = np.random.SeedSequence(sc.seed).spawn(n)
    return np.array([measure(run_replication(sc, plans, s, log=True)) for s in seeds])


def test_ocs_fraction_of_time_schedulable_matches_binomial():
    p_cube = cube_availability(A_HOST, 16)
    for k in (60, 56):
        expected = p_at_least_k_healthy(64, k, p_cube)
        got = replications(pod_scenario("tpu-v4-4096", True, 150, seed=k), 6,
                           lambda r, k=k: healthy_fraction_at_least(r, k))
        sigma = got.std(ddof=1) / math.sqrt(got.size)
        assert sigma < 0.02
        assert abs(got.mean() - expected) < 4 * sigma, (k, got.mean(), expected, sigma)


SMALL_POD = """
[pod]
name = "v4-16-cubes"
chip = "v4"
shape = "8x8x16"
ocs = true
ocs_ports = 136
ocs_spare_ports = 8

[sources]
shape = "test pod: 2x2x4 cubes, small enough for exact enumeration (2^16 patterns)"
ocs = "test"
ocs_ports = "test"
ocs_spare_ports = "test"
"""


def test_static_fraction_of_time_schedulable_matches_exact_packing(tmp_path):
    path = tmp_path / "pod-v4-16.toml"
    path.write_text(SMALL_POD)
    pod = load_pod(str(path))
    shape = (2, 2, 2)  # an 8x8x8 slice: two adjacent (cyclic) healthy layers of 4 cubes
    p_cube = cube_availability(A_HOST, 16)
    ref = p_schedulable_static(pod, shape, p_cube)
    assert ref.method == "exact"

    def can_form(healthy: np.ndarray) -> bool:
        return place_slices(pod, healthy.reshape(pod.cube_grid), shape, 1, ocs=False) is not None

    got = replications(pod_scenario(str(path), False, 400, seed=3), 6,
                       lambda r: formable_fraction(r, 0, pod.cubes, can_form))
    sigma = got.std(ddof=1) / math.sqrt(got.size)
    assert sigma < 0.02
    assert abs(got.mean() - ref.p_schedulable) < 4 * sigma, (got.mean(), ref.p_schedulable, sigma)
    # and it is clearly below what the OCS would give on the same pod
    assert p_at_least_k_healthy(16, 8, p_cube) - ref.p_schedulable > 8 * sigma
