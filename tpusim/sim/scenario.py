"""The scenario TOML: pod(s), failures, recovery, jobs and run settings, as frozen dataclasses.

    [pod]       name, count (identical pods; a slice never spans pods), ocs, spare_cubes
    [failures.host|chip|cube|ocs|link|job]   ttf, mtbf_hours or availability, mttr_hours, ttr, shapes
    [maintenance]                      cube_interval_hours, duration_hours, notice
    [repair]    crews (per pod; 0 = unlimited)
    [recovery]  ocs_reconfigure_s, tpu_init_s, program_startup_s, checkpoint_interval_s ("auto"
                or seconds), checkpoint_save_s, checkpoint_async, checkpoint_async_block_s,
                checkpoint_restore_s, in_memory_replica, replica_restore_s
    [[jobs]]    name, workload, slice, slices, train_tokens | steps, priority, submit_hours,
                elastic, min_slices, and what-if overrides mfu, step_time_s, tokens_per_step
    [run]       days, seed, replications, warm_start
    [[inject]]  scripted failures for what-ifs and exact traces: at_hours, cause (host, cube,
                maintenance: a cube goes down for duration_hours; job: a job-level interruption),
                pod, cube, job

Every bad value raises a TpusimError that names the file, the key and what to write instead.
Defaults (documented in docs/simulate.md with their sources) are module constants below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tpusim.data import load_toml, require_key, resolve_path
from tpusim.errors import TpusimError, require_positive, require_probability
from tpusim.hardware import Pod, load_pod
from tpusim.sim.failures import DISTRIBUTIONS, Lifetime, mtbf_from_availability
from tpusim.topology.shape import check_slice_shape, fmt_shape, is_whole_cubes
from tpusim.units import DAY_S, HOUR_S

# Component classes a scenario may give failures for. host/chip/cube need repairs (the cube is
# unusable until repaired); ocs/link/job are interruptions the job recovers from in place.
COMPONENTS = ("host", "chip", "cube", "ocs", "link", "job")
REPAIRED = ("host", "chip", "cube")

# Recovery defaults, seconds. Sources in docs/simulate.md.
DEFAULT_RECOVERY: dict[str, Any] = {
    "ocs_reconfigure_s": 10.0,        # hardware.md 1.4: ~10 s end-to-end cube reconfiguration [S]
    "tpu_init_s": 60.0,               # assumption (2026 Google blog: ~50 s reschedule) [S]
    "program_startup_s": 60.0,        # assumption (13 s detect + 12.7 s to next step + compile)
    "checkpoint_interval_s": "auto",  # Young/Daly from the failure rate the job sees
    "checkpoint_save_s": 60.0,        # assumption ("seconds to minutes", Cloud TPU docs)
    "checkpoint_async": False,
    "checkpoint_async_block_s": 0.0,  # blocking snapshot to host memory when async
    "checkpoint_restore_s": 60.0,     # assumption (Google 2023 blog: ~16 s load at 300 TB) [S]
    "in_memory_replica": False,       # Gemini: recover from an in-memory replica
    "replica_restore_s": 10.0,        # assumption
}


@dataclass(frozen=True)
class ComponentFailures:
    """Failures of one component class: time to failure and (for host/cube) time to repair."""

    component: str
    ttf: Lifetime
    ttr: Lifetime | None = None


@dataclass(frozen=True)
class Maintenance:
    """Rolling planned maintenance: one cube of each pod every `cube_interval_s`, down for
    `duration_s`; with `notice` the job saves a checkpoint first and loses no progress."""

    cube_interval_s: float
    duration_s: float
    notice: bool = True


@dataclass(frozen=True)
class Injection:
    """A scripted failure: at `at_s`, cube `cube` of pod `pod` goes down for `duration_s`
    (cause host/cube/maintenance), or job `job` is interrupted (cause job)."""

    at_s: float
    cause: str
    pod: int = 0
    cube: int = 0
    duration_s: float = 0.0
    job: str = ""


INJECT_CAUSES = ("host", "cube", "maintenance", "job")


@dataclass(frozen=True)
class Recovery:
    ocs_reconfigure_s: float
    tpu_init_s: float
    program_startup_s: float
    checkpoint_interval_s: float | None  # None = auto (Young/Daly)
    checkpoint_save_s: float
    checkpoint_async: bool
    checkpoint_async_block_s: float
    checkpoint_restore_s: float
    in_memory_replica: bool
    replica_restore_s: float


@dataclass(frozen=True)
class JobSpec:
    """One training job: `slices` slices of `slice_shape` (chips), data parallel over DCN."""

    name: str
    workload: str | None
    slice_shape: tuple[int, ...]
    slice_cubes: tuple[int, ...]  # the slice shape in cubes
    slices: int
    priority: int = 0
    submit_s: float = 0.0
    train_tokens: float | None = None
    steps: int | None = None
    elastic: bool = False  # continue on fewer data-parallel slices (>= min_slices) after a loss
    min_slices: int = 1
    mfu: float | None = None  # overrides (what-if); absent = from `tpusim estimate`
    step_time_s: float | None = None
    tokens_per_step: float | None = None

    @property
    def cubes_per_slice(self) -> int:
        return math.prod(self.slice_cubes)

    @property
    def cubes(self) -> int:
        return self.cubes_per_slice * self.slices


@dataclass(frozen=True)
class Scenario:
    name: str
    pod: Pod
    pod_count: int
    ocs: bool
    usable_cubes: int  # per pod: the first `usable_cubes` cubes (C order) belong to the simulation
    repair_crews: int  # per pod, 0 = unlimited
    failures: tuple[ComponentFailures, ...]
    maintenance: Maintenance | None
    recovery: Recovery
    jobs: tuple[JobSpec, ...]
    days: float
    seed: int
    replications: int
    warm_start: bool = True
    injections: tuple[Injection, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def horizon_s(self) -> float:
        return self.days * DAY_S

    def failure(self, component: str) -> ComponentFailures | None:
        for f in self.failures:
            if f.component == component:
                return f
        return None


def with_overrides(scenario: Scenario, *, days: float | None = None, seed: int | None = None,
                   replications: int | None = None) -> Scenario:
    """The scenario with command-line overrides applied (checked like the TOML values)."""
    where = "command line"
    changes: dict[str, Any] = {}
    if days is not None:
        changes["days"] = _days(days, where, "--days")
    if seed is not None:
        changes["seed"] = _seed(seed, where)
    if replications is not None:
        changes["replications"] = _positive_int(replications, where, "--replications")
    return replace(scenario, **changes)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario TOML (a path, or a name in the shipped `scenarios/`)."""
    text = str(path)
    if not text.endswith(".toml") and "/" not in text:
        text += ".toml"
    found = resolve_path(text, folder="scenarios")
    return scenario_from_dict(load_toml(found), str(found), base=found.parent)


def scenario_from_dict(doc: dict[str, Any], where: str, *, base: Path | None = None) -> Scenario:
    _unknown_keys(doc, ("name", "pod", "failures", "maintenance", "repair", "recovery", "jobs",
                        "run", "inject", "sources", "assumptions"), where)
    pod_table = doc.get("pod")
    if not isinstance(pod_table, dict):
        raise TpusimError(f"{where}: missing [pod] table (name = \"tpu-v4-4096\", ...)")
    pw = f"{where} [pod]"
    _unknown_keys(pod_table, ("name", "count", "ocs", "spare_cubes"), pw)
    pod_ref = require_key(pod_table, "name", pw, str)
    if pod_ref.endswith(".toml") and base is not None and not Path(pod_ref).is_file():
        pod_ref = str(base / pod_ref)
    pod = load_pod(pod_ref)
    if pod.cube_grid is None:
        raise TpusimError(
            f"{pw}: simulate needs a pod made of cubes (v4, v5p, v7); {pod.name} has none"
        )
    count = _positive_int(pod_table.get("count", 1), pw, "count")
    ocs = pod_table.get("ocs", pod.ocs)
    if not isinstance(ocs, bool):
        raise TpusimError(f"{pw}: ocs must be true or false, got {ocs!r}")
    if ocs and not pod.ocs:
        raise TpusimError(f"{pw}: pod {pod.name} has no OCS; set ocs = false")

    jobs = _jobs(doc, where, pod)
    spare = pod_table.get("spare_cubes", "all")
    if spare == "all":
        usable = pod.cubes
    else:
        if isinstance(spare, bool) or not isinstance(spare, int) or spare < 0:
            raise TpusimError(f"{pw}: spare_cubes must be an integer >= 0 or \"all\", got {spare!r}")
        need = -(-sum(j.cubes for j in jobs) // count)
        usable = min(pod.cubes, need + spare)
    for job in jobs:
        if job.cubes_per_slice > usable:
            raise TpusimError(
                f"{where}: job {job.name!r} needs {job.cubes_per_slice} cubes per slice but each pod "
                f"offers {usable}; use a smaller slice or more spare_cubes"
            )
        if job.slices * job.cubes_per_slice > usable * count:
            raise TpusimError(
                f"{where}: job {job.name!r} needs {job.cubes} cubes but the {count} pod(s) offer "
                f"{usable * count}; use fewer slices or set [pod] count"
            )

    repair = doc.get("repair", {})
    _require_dict(repair, f"{where} [repair]")
    _unknown_keys(repair, ("crews",), f"{where} [repair]")
    crews = repair.get("crews", 0)
    if isinstance(crews, bool) or not isinstance(crews, int) or crews < 0:
        raise TpusimError(f"{where} [repair]: crews must be an integer >= 0 (0 = unlimited), got {crews!r}")

    run = doc.get("run", {})
    _require_dict(run, f"{where} [run]")
    rw = f"{where} [run]"
    _unknown_keys(run, ("days", "seed", "replications", "warm_start"), rw)
    days = _days(run.get("days", 30), rw, "days")
    seed = _seed(run.get("seed", 0), rw)
    reps = _positive_int(run.get("replications", 1), rw, "replications")
    warm = run.get("warm_start", True)
    if not isinstance(warm, bool):
        raise TpusimError(f"{rw}: warm_start must be true or false")

    return Scenario(
        name=str(doc.get("name", Path(where).stem)),
        pod=pod,
        pod_count=count,
        ocs=ocs,
        usable_cubes=usable,
        repair_crews=crews,
        failures=_failures(doc, where, ocs),
        maintenance=_maintenance(doc, where),
        recovery=_recovery(doc, where),
        jobs=jobs,
        days=days,
        seed=seed,
        replications=reps,
        warm_start=warm,
        injections=_injections(doc, where, count, usable, jobs),
        source=where,
    )


# --- sections -----------------------------------------------------------------------------

def _failures(doc: dict[str, Any], where: str, ocs: bool) -> tuple[ComponentFailures, ...]:
    table = doc.get("failures", {})
    _require_dict(table, f"{where} [failures]")
    out = []
    for comp, spec in table.items():
        fw = f"{where} [failures.{comp}]"
        if comp not in COMPONENTS:
            raise TpusimError(f"{where}: unknown [failures.{comp}]; components: {', '.join(COMPONENTS)}")
        _require_dict(spec, fw)
        _unknown_keys(spec, ("ttf", "ttf_shape", "mtbf_hours", "availability", "mttr_hours", "ttr",
                             "ttr_shape", "source"), fw)
        ttr = None
        mttr_s = None
        if "mttr_hours" in spec:
            mttr_s = require_positive(fw, "mttr_hours", spec["mttr_hours"]) * HOUR_S
        if comp in REPAIRED and mttr_s is None:
            raise TpusimError(f"{fw}: a {comp} needs mttr_hours (mean time to repair)")
        if "mtbf_hours" in spec and "availability" in spec:
            raise TpusimError(f"{fw}: give mtbf_hours or availability (with mttr_hours), not both")
        if "mtbf_hours" in spec:
            mtbf_s = require_positive(fw, "mtbf_hours", spec["mtbf_hours"]) * HOUR_S
        elif "availability" in spec:
            a = require_probability(fw, "availability", spec["availability"])
            if mttr_s is None:
                raise TpusimError(f"{fw}: availability needs mttr_hours to derive the MTBF")
            if a >= 1:
                continue  # never fails
            mtbf_s = mtbf_from_availability(a, mttr_s)
        else:
            raise TpusimError(f"{fw}: give mtbf_hours, or availability with mttr_hours")
        ttf = _lifetime(spec, "ttf", mtbf_s, fw)
        if comp in REPAIRED:
            ttr = _lifetime(spec, "ttr", mttr_s, fw)
        if comp == "link" and ttf.kind != "exponential":
            raise TpusimError(f"{fw}: optical links are modelled per cube bundle; use ttf = \"exponential\"")
        if comp in ("ocs", "link") and not ocs:
            raise TpusimError(f"{fw}: {comp} failures need an OCS pod (ocs = true)")
        out.append(ComponentFailures(comp, ttf, ttr))
    return tuple(out)


def _lifetime(spec: dict, prefix: str, mean_s: float, where: str) -> Lifetime:
    kind = spec.get(prefix, "exponential")
    if kind not in DISTRIBUTIONS:
        raise TpusimError(f"{where}: {prefix} must be one of {', '.join(DISTRIBUTIONS)}, got {kind!r}")
    shape = spec.get(f"{prefix}_shape", 1.0)
    if kind != "exponential":
        require_positive(where, f"{prefix}_shape", shape)
    return Lifetime(kind, float(mean_s), float(shape))


def _maintenance(doc: dict[str, Any], where: str) -> Maintenance | None:
    table = doc.get("maintenance")
    if table is None:
        return None
    mw = f"{where} [maintenance]"
    _require_dict(table, mw)
    _unknown_keys(table, ("cube_interval_hours", "duration_hours", "notice"), mw)
    interval = _number(table, "cube_interval_hours", mw)
    duration = _number(table, "duration_hours", mw)
    notice = table.get("notice", True)
    if not isinstance(notice, bool):
        raise TpusimError(f"{mw}: notice must be true or false")
    return Maintenance(interval * HOUR_S, duration * HOUR_S, notice)


def _recovery(doc: dict[str, Any], where: str) -> Recovery:
    table = doc.get("recovery", {})
    rw = f"{where} [recovery]"
    _require_dict(table, rw)
    _unknown_keys(table, tuple(DEFAULT_RECOVERY), rw)
    values = {**DEFAULT_RECOVERY, **table}
    out: dict[str, Any] = {}
    for key, value in values.items():
        default = DEFAULT_RECOVERY[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TpusimError(f"{rw}: {key} must be true or false, got {value!r}")
            out[key] = value
        elif key == "checkpoint_interval_s":
            if value == "auto":
                out[key] = None
            elif isinstance(value, str):
                raise TpusimError(
                    f"{rw}: checkpoint_interval_s must be \"auto\" or seconds > 0, got {value!r}")
            else:
                out[key] = float(require_positive(rw, key, value))
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 \
                    or not math.isfinite(value):
                raise TpusimError(f"{rw}: {key} must be a time >= 0 in seconds, got {value!r}")
            out[key] = float(value)
    if out["checkpoint_save_s"] <= 0 and not out["in_memory_replica"]:
        raise TpusimError(f"{rw}: checkpoint_save_s must be > 0")
    rec = Recovery(**out)
    if rec.checkpoint_async and rec.checkpoint_interval_s is not None \
            and rec.checkpoint_interval_s < rec.checkpoint_save_s:
        raise TpusimError(
            f"{rw}: with checkpoint_async the interval ({rec.checkpoint_interval_s:g} s) must be at "
            f"least checkpoint_save_s ({rec.checkpoint_save_s:g} s), one write at a time"
        )
    return rec


def _jobs(doc: dict[str, Any], where: str, pod: Pod) -> tuple[JobSpec, ...]:
    jobs = doc.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise TpusimError(f"{where}: add at least one [[jobs]] table (name, slice, slices, ...)")
    out = []
    names = set()
    for i, job in enumerate(jobs):
        jw = f"{where} [[jobs]] #{i + 1}"
        _require_dict(job, jw)
        _unknown_keys(job, ("name", "workload", "slice", "slices", "train_tokens", "steps", "priority",
                            "submit_hours", "mfu", "step_time_s", "tokens_per_step", "elastic",
                            "min_slices"), jw)
        name = str(job.get("name", f"job{i}"))
        if name in names:
            raise TpusimError(f"{jw}: duplicate job name {name!r}")
        names.add(name)
        shape = check_slice_shape(pod.chip, pod.shape, require_key(job, "slice", jw, str))
        if not is_whole_cubes(pod.chip, shape):
            raise TpusimError(
                f"{jw}: slice {fmt_shape(shape)} is smaller than a cube; the simulator places "
                f"whole-cube slices (e.g. {fmt_shape(pod.chip.cube_shape)})"
            )
        cubes = tuple(s // c for s, c in zip(shape, pod.chip.cube_shape, strict=True))
        slices = _positive_int(job.get("slices", 1), jw, "slices")
        if "train_tokens" in job and "steps" in job:
            raise TpusimError(f"{jw}: give train_tokens or steps, not both")
        tokens = _number(job, "train_tokens", jw) if "train_tokens" in job else None
        steps = _positive_int(job["steps"], jw, "steps") if "steps" in job else None
        priority = job.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TpusimError(f"{jw}: priority must be an integer (higher runs first)")
        submit = job.get("submit_hours", 0)
        if isinstance(submit, bool) or not isinstance(submit, int | float) or submit < 0:
            raise TpusimError(f"{jw}: submit_hours must be >= 0")
        mfu = job.get("mfu")
        if mfu is not None:
            mfu = require_probability(jw, "mfu", mfu)
        step = _number(job, "step_time_s", jw) if "step_time_s" in job else None
        tps = _number(job, "tokens_per_step", jw) if "tokens_per_step" in job else None
        workload = job.get("workload")
        if workload is not None and not isinstance(workload, str):
            raise TpusimError(f"{jw}: workload must be a workload name or TOML path")
        if workload is None and (mfu is None or step is None):
            raise TpusimError(f"{jw}: give a workload, or both mfu and step_time_s")
        if tokens is not None and workload is None and tps is None:
            raise TpusimError(f"{jw}: train_tokens needs a workload or tokens_per_step")
        elastic = job.get("elastic", False)
        if not isinstance(elastic, bool):
            raise TpusimError(f"{jw}: elastic must be true or false")
        min_slices = _positive_int(job.get("min_slices", 1), jw, "min_slices")
        if elastic and not 1 <= min_slices < slices:
            raise TpusimError(
                f"{jw}: an elastic job needs 1 <= min_slices < slices ({slices}); got {min_slices}")
        out.append(JobSpec(name=name, workload=workload, slice_shape=shape, slice_cubes=cubes,
                           slices=slices, priority=priority, submit_s=float(submit) * HOUR_S,
                           elastic=elastic, min_slices=min_slices,
                           train_tokens=tokens, steps=steps, mfu=mfu, step_time_s=step,
                           tokens_per_step=tps))
    return tuple(out)


def _injections(doc: dict[str, Any], where: str, pods: int, usable: int,
                jobs: tuple[JobSpec, ...]) -> tuple[Injection, ...]:
    items = doc.get("inject", [])
    if not isinstance(items, list):
        raise TpusimError(f"{where}: inject must be an array of tables ([[inject]])")
    names = [j.name for j in jobs]
    out = []
    for i, item in enumerate(items):
        iw = f"{where} [[inject]] #{i + 1}"
        _require_dict(item, iw)
        _unknown_keys(item, ("at_hours", "cause", "pod", "cube", "duration_hours", "job"), iw)
        at = require_key(item, "at_hours", iw, (int, float))
        if at < 0:
            raise TpusimError(f"{iw}: at_hours must be >= 0")
        cause = item.get("cause", "host")
        if cause not in INJECT_CAUSES:
            raise TpusimError(f"{iw}: cause must be one of {', '.join(INJECT_CAUSES)}, got {cause!r}")
        if cause == "job":
            job = item.get("job", names[0])
            if job not in names:
                from tpusim.errors import unknown_name

                raise TpusimError(f"{iw}: {unknown_name('job', str(job), names)}")
            out.append(Injection(at_s=float(at) * HOUR_S, cause=cause, job=job))
            continue
        pod = item.get("pod", 0)
        cube = require_key(item, "cube", iw, int)
        if isinstance(pod, bool) or not isinstance(pod, int) or not 0 <= pod < pods:
            raise TpusimError(f"{iw}: pod must be an index in [0, {pods})")
        if not 0 <= cube < usable:
            raise TpusimError(f"{iw}: cube must be an index in [0, {usable})")
        duration = _number(item, "duration_hours", iw) * HOUR_S
        out.append(Injection(at_s=float(at) * HOUR_S, cause=cause, pod=pod, cube=cube,
                             duration_s=duration))
    return tuple(out)


# --- helpers ------------------------------------------------------------------------------

def _require_dict(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise TpusimError(f"{where}: must be a table")


def _unknown_keys(table: dict, known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            from tpusim.errors import unknown_name

            raise TpusimError(f"{where}: {unknown_name('key', key, known)}")


def _number(table: dict, key: str, where: str) -> float:
    """table[key] as a positive finite float, or a TpusimError naming the key."""
    return float(require_positive(where, key, require_key(table, key, where, (int, float))))


MAX_DAYS = 3650.0  # ten years: beyond that fleets, failure rates and jobs change; not a run to simulate


def _days(value: Any, where: str, name: str) -> float:
    days = float(require_positive(where, name, value))
    if days > MAX_DAYS:
        raise TpusimError(f"{where}: {name} = {value!r} is more than {MAX_DAYS:g} days (ten years); "
                          f"simulate a shorter run")
    return days


def _positive_int(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TpusimError(f"{where}: {name} must be a whole number > 0, got {value!r}")
    return value


def _seed(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TpusimError(f"{where}: seed must be an integer >= 0, got {value!r}")
    return value
