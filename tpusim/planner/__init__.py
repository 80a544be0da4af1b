"""Availability planner: which slices can be formed from healthy cubes, with OCS and on a
static torus, and how to assign and re-form them.

Functions the simulator calls at every failure/repair event are pure and fast:
cube_availability, p_at_least_k_healthy, place_slices, reform_slice; p_schedulable_static is
the static-torus reference its convergence tests compare with.
"""

from tpusim.planner.assign import cross_connects, place_slices, reform_slice
from tpusim.planner.availability import (
    cube_availability,
    cube_availability_for_target,
    healthy_pmf,
    ocs_goodput,
    p_at_least_k_healthy,
    p_at_least_k_healthy_correlated,
    spares_for_target,
)
from tpusim.planner.static import StaticEstimate, p_schedulable_static, static_estimates

__all__ = [
    "StaticEstimate",
    "cross_connects",
    "cube_availability",
    "cube_availability_for_target",
    "healthy_pmf",
    "ocs_goodput",
    "p_at_least_k_healthy",
    "p_at_least_k_healthy_correlated",
    "p_schedulable_static",
    "place_slices",
    "reform_slice",
    "spares_for_target",
    "static_estimates",
]
