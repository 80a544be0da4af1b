"""Discrete-event pod simulator: failures, repairs, OCS reconfiguration, checkpoints, goodput.

    >>> from tpusim.sim import load_scenario, simulate
    >>> result = simulate(load_scenario("palm-540b-50d"))
    >>> round(result.summary["goodput"], 2)  # scheduling x runtime x program goodput
    0.42

Modules: scenario (TOML -> frozen dataclasses), failures (distributions), jobs (progress rate
and checkpoint interval per job), world (the shared state of one replication), components
(failure and repair processes, cube health), scheduling (placement, spare swaps), lifecycle (the
job state machine, the only writer of a job's phase and flags), training (the SimPy process
that drives it), progress (closed-form progress between events), crews (repair crews),
engine (one replication), placement (calls into the planner), accounting (goodput, badput,
tables), analytic (closed forms), replicate (replications over a process pool).
"""

from tpusim.sim.replicate import SimulationResult, simulate
from tpusim.sim.scenario import Scenario, load_scenario, scenario_from_dict, with_overrides

__all__ = ["Scenario", "SimulationResult", "load_scenario", "scenario_from_dict", "simulate",
           "with_overrides"]
