"""Discrete-event pod simulator: failures, repairs, OCS reconfiguration, checkpoints, goodput.

    >>> from tpusim.sim import load_scenario, simulate
    >>> result = simulate(load_scenario("palm-540b-50d"))
    >>> round(result.summary["goodput"], 2)  # scheduling x runtime x program goodput
    0.42

Modules: scenario and fault_inputs (TOML -> frozen dataclasses), faults (component table and
failure-model dataclasses), profiles (failure profiles), failures (distributions), jobs (speed,
failure rate and checkpoint interval per job), world (the shared state of one replication),
units (repaired units: failures, diagnosis, repair stages, bad hosts, retirement), components
(cube health, OCS, links, maintenance, injections), jobfaults (job-level failure sources),
scheduling (placement by OCS group, spare swaps, pools), freecubes (free cubes per OCS group),
lifecycle (the job state machine, the only writer of a job's phase and flags), training (the
SimPy events that drive it), progress (closed-form progress between events), crews (repair
crews), engine (one replication), placement (calls into the planner), accounting (goodput,
badput, tables), analytic (closed forms), budget (work estimated before a run), replicate
(replications over a process pool).
"""

from tpusim.sim.replicate import SimulationResult, simulate
from tpusim.sim.scenario import Scenario, load_scenario, scenario_from_dict, with_overrides

__all__ = ["Scenario", "SimulationResult", "load_scenario", "scenario_from_dict", "simulate",
           "with_overrides"]
