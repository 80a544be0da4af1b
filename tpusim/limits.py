"""Ceilings on the work and memory one command may ask for, and the one switch that lifts them.

A quantity that sets how long a run takes or how much memory it holds is checked before any
work starts: Monte Carlo patterns of `plan`, the events `simulate` expects (estimated from the
scenario's failure, repair and maintenance rates, so a tiny time such as `mttr_hours = 1e-300`
is caught), the entries of an event log, worker processes, the points of a sweep. A request
above its ceiling is refused with one line naming the cause and the limit. The ceilings are
far above any run that answers a question in reasonable time on one machine; `--no-limits`
(`check_limits=False` in the library) runs it anyway.

Input ranges that no run could use (days above 3650, a Weibull shape of 0.001) are not limits:
they are refused by the reader (`tpusim.inputs`) and no switch lifts them.
"""

from __future__ import annotations

import os

from tpusim.errors import TpusimError
from tpusim.inputs import check_integer

PLAN_SAMPLES = 100_000  # static-torus failure patterns per slice size (10,000: report quality, ~10 s)
# cubes of a pod whose static torus the planner packs: the compiled packing kernel's fixed-size
# bit sets hold 256 (catalog pods have at most 144); beyond, the Python kernel can take hours
PLAN_STATIC_CUBES = 256
SIM_EVENTS = 100_000_000  # component events over all replications (~130,000 per s per worker)
SIM_PROCESSES = 2_000_000  # failure processes of one replication (a SimPy process holds ~1 KB)
SIM_LOG_ENTRIES = 10_000_000  # rows of one replication's event log (about 1.5 GB in memory)
SWEEP_POINTS = 1_000_000  # grid points of one sweep
WORKERS_PER_CPU = 4  # --workers at most this many per CPU (at least 8 in all)

SWITCH = "check_limits=False"  # the library's switch; the CLI's is --no-limits


def over_limit(what: str, amount: float, limit: float, fix: str, *,
               params: tuple[str, ...] = ()) -> TpusimError:
    """'<what>: about <amount>, above the limit of <limit>; <fix>, or pass check_limits=False
    ...' (the CLI shows `check_limits=False` as --no-limits, and each of `params` as its flag)."""
    return TpusimError(f"{what}: about {amount:.3g}, above the limit of {limit:.3g}; {fix}, or pass "
                       f"{SWITCH} to run it anyway", params=(*params, SWITCH))


def max_workers() -> int:
    """The most worker processes a command starts: WORKERS_PER_CPU per CPU, at least 8."""
    return max(8, WORKERS_PER_CPU * (os.cpu_count() or 1))


def check_workers(workers: int) -> int:
    """`workers` if it is a whole number in [1, max_workers()]; else a TpusimError."""
    return check_integer(workers, "workers", "", at_least=1, at_most=max_workers(), param=True,
                         hint=f"{WORKERS_PER_CPU} per CPU at most; more processes only add memory")
