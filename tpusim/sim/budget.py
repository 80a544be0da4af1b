"""How much work a simulation asks for, estimated before it starts (ceilings in `tpusim.limits`).

Per replication, each failure process yields about horizon / mean cycle events (a repairable
unit fails and is repaired once per MTBF + MTTR; OCS, link and job failures once per MTBF),
maintenance two per cube interval per pod. The event log of replication 0 also holds three rows
per checkpoint (saving, checkpoint, running). A scenario whose tiny times imply a runaway
(`mttr_hours = 1e-300` with an availability, `cube_interval_hours = 1e-300`,
`checkpoint_save_s = 1e-300`) is refused here with the cause named, instead of running until it
holds gigabytes.

Invariants (tested): the estimate is within a factor of 2 of the component events a run counts
(`ReplicationResult.n_events`) on the shipped scenarios.
"""

from __future__ import annotations

import math

from tpusim import limits
from tpusim.sim.faults import REPAIRED, lifetime_of
from tpusim.sim.jobs import JobPlan
from tpusim.sim.scenario import Scenario
from tpusim.units import HOUR_S


def units(scenario: Scenario) -> dict[str, int]:
    """Failure processes per replication, by component class (the simulator runs one each)."""
    pod, chip = scenario.pod, scenario.pod.chip
    cubes = scenario.pod_count * scenario.usable_cubes
    per_class = {"host": cubes * chip.hosts_per_cube, "chip": cubes * chip.chips_per_cube,
                 "hbm": cubes * chip.chips_per_cube, "ici_link": cubes,  # one bundle per cube
                 "cube": cubes, "link": cubes, "ocs": scenario.pod_count * pod.ocs_count,
                 "job": len(scenario.jobs), "dcn": len(scenario.jobs), "sdc": len(scenario.jobs)}
    return {f.component: per_class[f.component] for f in scenario.failures}


def expected_events(scenario: Scenario) -> dict[str, float]:
    """Expected component events of one replication, by cause ('failures.host', 'maintenance')."""
    horizon = scenario.horizon_s
    out: dict[str, float] = {}
    count = units(scenario)
    chip = scenario.pod.chip
    jobs_chips = sum(j.cubes * chip.chips_per_cube for j in scenario.jobs)
    # the components behind the job processes: DCN ports, chips (corruption, per-chip failures)
    per_job = {"dcn": jobs_chips / chip.chips_per_host, "sdc": jobs_chips, "job": jobs_chips}
    repair = scenario.faults.repair
    for f in scenario.failures:
        n = count[f.component]
        ttf = lifetime_of(f, chip)  # a cube's bundle of links fails at links / MTBF
        if f.component in REPAIRED:
            mttr = repair.mean_s if f.pipeline else f.ttr.mean_s
            out[f"failures.{f.component}"] = 2.0 * n * horizon / (ttf.mean_s + mttr)
        elif f.component in per_job and (f.component != "job" or f.per == "chip"):
            out[f"failures.{f.component}"] = per_job[f.component] * horizon / ttf.mean_s
        else:
            out[f"failures.{f.component}"] = n * horizon / ttf.mean_s
    m = scenario.maintenance
    if m is not None:
        out["maintenance"] = 2.0 * scenario.pod_count * horizon / m.cube_interval_s
    straggler = scenario.faults.straggler
    if straggler is not None:  # each: appears, is drained, is repaired
        hosts = jobs_chips / chip.chips_per_host
        out["failures.straggler"] = 3.0 * hosts * horizon / straggler.mtbf_s
    if scenario.injections:
        out["inject"] = 2.0 * len(scenario.injections)
    return out


def expected_checkpoints(scenario: Scenario, plans: tuple[JobPlan, ...]) -> dict[str, float]:
    """Expected checkpoints per job in one replication: running time / interval (at most)."""
    out = {}
    for plan in plans:
        if math.isfinite(plan.interval_s) and plan.interval_s > 0:
            running = min(scenario.horizon_s, plan.work_s)
            out[plan.spec.name] = running / plan.interval_s
    return out


def check_budget(scenario: Scenario, plans: tuple[JobPlan, ...], *, logged: bool) -> None:
    """Refuse (TpusimError naming the largest cause and the limit) a simulation whose processes,
    events over all replications, or event log (when `logged`) exceed `tpusim.limits`."""
    count = units(scenario)
    total_units = sum(count.values())
    if total_units > limits.SIM_PROCESSES:
        worst = max(count, key=count.get)
        raise limits.over_limit(
            f"simulate {scenario.name}: failure processes per replication ({worst}: {count[worst]})",
            total_units, limits.SIM_PROCESSES, "use fewer pods ([pod] count) or model whole cubes")
    events = expected_events(scenario)
    total = sum(events.values()) * scenario.replications
    if total > limits.SIM_EVENTS:
        worst = max(events, key=events.get)
        raise limits.over_limit(
            f"simulate {scenario.name}: expected events over {scenario.replications} replication(s) "
            f"({_why(scenario, worst)})", total, limits.SIM_EVENTS,
            "check that time for a typo, or simulate fewer days or replications")
    if not logged:
        return
    ckpts = expected_checkpoints(scenario, plans)
    rows = sum(events.values()) + 3 * sum(ckpts.values())
    if rows > limits.SIM_LOG_ENTRIES:
        if ckpts and 3 * max(ckpts.values()) > sum(events.values()):
            job = max(ckpts, key=ckpts.get)
            plan = next(p for p in plans if p.spec.name == job)
            why = (f"job {job!r} checkpoints every {plan.interval_s:.3g} s "
                   f"([recovery] checkpoint_interval_s / checkpoint_save_s)")
        else:
            why = _why(scenario, max(events, key=events.get))
        raise limits.over_limit(f"simulate {scenario.name}: event log rows of replication 0 ({why})",
                                rows, limits.SIM_LOG_ENTRIES,
                                "check that time for a typo, or run several replications without "
                                "an event log (`out` with `replications` of 2 or more)",
                                params=("out", "replications"))


def _why(scenario: Scenario, cause: str) -> str:
    """The scenario value behind a cause of events, as the file writes it."""
    if cause == "maintenance":
        hours = scenario.maintenance.cube_interval_s / HOUR_S
        return f"[maintenance] every {hours:.3g} h per pod"
    if cause == "inject":
        return "[[inject]]"
    if cause == "failures.straggler":
        mean_h = scenario.faults.straggler.mtbf_s / HOUR_S
        return f"[failures.straggler]: mtbf {mean_h:.3g} h per host of the jobs"
    f = scenario.failure(cause.split(".", 1)[1])
    mean_h = f.ttf.mean_s / HOUR_S
    repair = f" + mttr {f.ttr.mean_s / HOUR_S:.3g} h" if f.ttr is not None else ""
    return f"[{cause}]: mtbf {mean_h:.3g} h{repair}"
