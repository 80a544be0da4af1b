"""The scenario TOML: pod(s), failures, recovery, jobs and run settings, as frozen dataclasses.

    [pod]       name, count (identical pods; a slice never spans pods), ocs, spare_cubes
    [failures.host|chip|cube|ocs|link|job]   ttf, mtbf_hours or availability, mttr_hours, ttr, shapes
    [maintenance]                      cube_interval_hours, duration_hours, notice
    [repair]    crews (per pod; 0 = unlimited)
    [recovery]  ocs_reconfigure_s, tpu_init_s, program_startup_s, checkpoint_interval_s ("auto"
                or seconds), checkpoint_save_s, checkpoint_async, checkpoint_async_block_s,
                checkpoint_restore_s, in_memory_replica, replica_restore_s
    [[jobs]]    name, workload, slice, slices, train_tokens | train_samples (DLRM) | steps, priority,
                submit_hours, elastic, min_slices, and what-if overrides mfu, step_time_s,
                tokens_per_step
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
from functools import cached_property
from pathlib import Path
from typing import Any

from tpusim.data import find_input
from tpusim.errors import TpusimError, unknown_name
from tpusim.hardware import Pod, cloud_slice, load_pod
from tpusim.inputs import Section, check_integer, check_number, load_toml
from tpusim.sim.fault_inputs import MAX_HOURS, MAX_SECONDS, read_failures, read_pools, read_repair
from tpusim.sim.faults import ComponentFailures, FaultModel
from tpusim.topology.shape import check_slice_shape, fmt_shape, is_whole_cubes, twistable
from tpusim.units import DAY_S, HOUR_S
from tpusim.workloads.config import workload_path

# Recovery defaults, seconds. Sources in docs/simulate.md.
DEFAULT_RECOVERY: dict[str, Any] = {
    "ocs_reconfigure_s": 10.0,        # ~10 s end-to-end (Gemini 1.0 report, via a secondary source)
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
class Maintenance:
    """Rolling planned maintenance: one cube of each pod every `cube_interval_s`, down for
    `duration_s`; with `notice` the job saves a checkpoint first and loses no progress."""

    cube_interval_s: float
    duration_s: float
    notice: bool = True


@dataclass(frozen=True)
class Injection:
    """A scripted failure: at `at_s`, cube `cube` of pod `pod` goes down for `duration_s`
    (a repaired component's cause, or maintenance), or job `job` is interrupted (job,
    loss_spike), or its computation is silently corrupted and found `duration_s` later (sdc),
    or a host of its slices turns into a straggler, found `duration_s` later (straggler)."""

    at_s: float
    cause: str
    pod: int = 0
    cube: int = 0
    duration_s: float = 0.0
    job: str = ""


INJECT_CAUSES = ("host", "chip", "hbm", "ici_link", "cube", "maintenance", "job", "loss_spike",
                 "sdc", "straggler")
JOB_INJECTIONS = ("job", "loss_spike", "sdc", "straggler")  # name a job, not a cube
FOUND_LATER = ("sdc", "straggler")  # duration_hours: the delay until it is found


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
    train_samples: float | None = None  # a DLRM job's work (its workload's [model] kind = "dlrm")
    steps: int | None = None
    elastic: bool = False  # continue on fewer data-parallel slices (>= min_slices) after a loss
    min_slices: int = 1
    mfu: float | None = None  # overrides (what-if); absent = from `tpusim estimate`
    step_time_s: float | None = None
    tokens_per_step: float | None = None
    global_batch_seqs: int | None = None  # the estimate's batch (default: the workload's)
    after: str | None = None  # submitted when this job finishes (a training schedule's phases)
    twisted: bool = False  # a twisted torus (k x k x 2k, k x 2k x 2k); its estimate is the twisted one

    @property
    def slice_name(self) -> str:
        """'4x4x8' or '4x4x8 twisted': the slice the job asks for."""
        return fmt_shape(self.slice_shape) + (" twisted" if self.twisted else "")

    @cached_property
    def cubes_per_slice(self) -> int:
        return math.prod(self.slice_cubes)

    @cached_property
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
    faults: FaultModel = FaultModel()
    source: str = field(default="", compare=False)

    @property
    def horizon_s(self) -> float:
        return self.days * DAY_S

    @property
    def unit(self) -> str:
        """What a placement and failure unit is called: 'host' on a pod without cubes (or of
        one-host cubes), else 'cube'."""
        return "host" if self.pod.chip.cube_shape == self.pod.chip.host_shape else "cube"

    def failure(self, component: str) -> ComponentFailures | None:
        for f in self.failures:
            if f.component == component:
                return f
        return None


MAX_DAYS = 3650.0  # ten years: beyond that fleets, failure rates and jobs change; not a run to simulate
MAX_REPLICATIONS = 100_000  # 1000 replications give goodput to +-0.1%; more is a typo
DEFAULT_RUN: dict[str, Any] = {"days": 30.0, "seed": 0, "replications": 1, "warm_start": True}


def with_overrides(scenario: Scenario, *, days: float | None = None, seed: int | None = None,
                   replications: int | None = None) -> Scenario:
    """The scenario with command-line overrides applied (checked like the TOML values)."""
    where = "command line"
    changes: dict[str, Any] = {}
    if days is not None:
        changes["days"] = check_number(days, "days", where, param=True, above=0, at_most=MAX_DAYS,
                                       hint="ten years at most; simulate a shorter run")
    if seed is not None:
        changes["seed"] = check_integer(seed, "seed", where, param=True, at_least=0)
    if replications is not None:
        changes["replications"] = check_integer(replications, "replications", where, param=True, at_least=1,
                                                at_most=MAX_REPLICATIONS)
    out = replace(scenario, **changes)
    _check_submissions(out.jobs, out.days, where)
    return out


def scenario_path(ref: str | Path, *, relative_to: Path | None = None) -> Path:
    """The scenario file a reference names: a shipped name ('palm-540b-50d') or a path."""
    return find_input(ref, kind="scenario", folder="scenarios", relative_to=relative_to)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario TOML (a path, or a name in the shipped `scenarios/`)."""
    found = scenario_path(path)
    return scenario_from_dict(load_toml(found), str(found), base=found.parent)


def scenario_from_dict(doc: dict[str, Any], where: str, *, base: Path | None = None) -> Scenario:
    """Build a Scenario from a parsed TOML document, refusing unknown keys and tables. Files it
    names (pod, workloads) are looked for beside `base` (the scenario's folder) too."""
    with Section(doc, where) as top:
        return _scenario(top, where, base)


def _scenario(top: Section, where: str, base: Path | None) -> Scenario:
    name = top.string("name", Path(where).stem)
    top.mapping("sources")
    top.mapping("assumptions")
    pod_table = top.section("pod")
    pod = load_pod(pod_table.string("name", hint='a pod name like "tpu-v4-4096" or a pod TOML file'),
                   relative_to=base)
    if pod.cube_grid is None:  # without cubes, hosts are the units of placement and failure
        pod = replace(pod, chip=replace(pod.chip, cube_shape=pod.chip.host_shape))
    count = pod_table.integer("count", 1, at_least=1, at_most=1024)
    ocs = pod_table.boolean("ocs", pod.ocs)
    if ocs and not pod.ocs:
        raise TpusimError(f"{pod_table.label}: pod {pod.name} has no OCS; set ocs = false")

    jobs = _jobs(top, pod, base, ocs=ocs)
    spare = pod_table.raw("spare_cubes", "all")
    if spare == "all":
        usable = pod.cubes
    else:
        spare = check_integer(spare, "spare_cubes", pod_table.label, at_least=0,
                              hint='or "all": every cube of the pod')
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

    crews, policy = read_repair(top)
    failures, clock, spike, bad, profile, straggler = read_failures(top, pod, ocs, policy)
    faults = FaultModel(clock=clock, repair=policy, bad_hosts=bad, loss_spike=spike,
                        pools=read_pools(top, ocs, usable), profile=profile, straggler=straggler)
    run = top.section("run", required=False)
    days = run.number("days", DEFAULT_RUN["days"], above=0, at_most=MAX_DAYS,
                      hint="ten years at most; simulate a shorter run")
    seed = run.integer("seed", DEFAULT_RUN["seed"], at_least=0)
    reps = run.integer("replications", DEFAULT_RUN["replications"], at_least=1, at_most=MAX_REPLICATIONS)
    warm = run.boolean("warm_start", DEFAULT_RUN["warm_start"])
    _check_submissions(jobs, days, f"{where} [[jobs]]")

    scenario = Scenario(
        name=name,
        pod=pod,
        pod_count=count,
        ocs=ocs,
        usable_cubes=usable,
        repair_crews=crews,
        failures=failures,
        maintenance=_maintenance(top),
        recovery=_recovery(top),
        jobs=jobs,
        days=float(days),
        seed=seed,
        replications=reps,
        warm_start=warm,
        injections=_injections(top, count, usable, jobs),
        faults=faults,
        source=where,
    )
    if spike is None and any(i.cause == "loss_spike" for i in scenario.injections):
        raise TpusimError(f"{where}: an injected loss_spike needs [failures.loss_spike] "
                          f"(rollback_steps)")
    if straggler is None and any(i.cause == "straggler" for i in scenario.injections):
        raise TpusimError(f"{where}: an injected straggler needs [failures.straggler] "
                          f"(slowdown, mttr_hours)")
    top.done()
    return scenario


def _check_submissions(jobs: tuple[JobSpec, ...], days: float, where: str) -> None:
    """A job submitted at or after the end of the run would never run: an input error."""
    for job in jobs:
        if job.submit_s >= days * DAY_S:
            raise TpusimError(
                f"{where}: job {job.name!r} is submitted at {job.submit_s / HOUR_S:g} h, after the "
                f"run ends ({days:g} days = {days * 24:g} h); submit it earlier or run longer (days)"
            )


# --- sections -----------------------------------------------------------------------------

def _maintenance(top: Section) -> Maintenance | None:
    table = top.optional_section("maintenance")
    if table is None:
        return None
    return Maintenance(table.number("cube_interval_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S),
                       table.number("duration_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S),
                       table.boolean("notice", True))


def _recovery(top: Section) -> Recovery:
    table = top.section("recovery", required=False)
    out: dict[str, Any] = {}
    for key, default in DEFAULT_RECOVERY.items():
        if isinstance(default, bool):
            out[key] = table.boolean(key, default)
        elif key == "checkpoint_interval_s":
            value = table.raw(key, default)
            out[key] = None if value == "auto" else check_number(
                value, key, table.label, above=0, at_most=MAX_SECONDS,
                hint='or "auto": Young/Daly from the failure rate')
        else:
            out[key] = float(table.number(key, default, at_least=0, at_most=MAX_SECONDS,
                                           hint="a time in seconds"))
    if out["checkpoint_save_s"] <= 0 and not out["in_memory_replica"]:
        raise TpusimError(f"{table.label}: checkpoint_save_s must be > 0")
    rec = Recovery(**out)
    if rec.checkpoint_async and rec.checkpoint_interval_s is not None \
            and rec.checkpoint_interval_s < rec.checkpoint_save_s:
        raise TpusimError(
            f"{table.label}: with checkpoint_async the interval ({rec.checkpoint_interval_s:g} s) must be "
            f"at least checkpoint_save_s ({rec.checkpoint_save_s:g} s), one write at a time"
        )
    return rec


def _check_kind(job: Section, workload: str | None, *, tokens, samples, tokens_per_step, batch) -> None:
    """A DLRM workload trains samples, a dense LLM tokens: refuse the other's keys."""
    if samples is not None and workload is None:
        raise TpusimError(f"{job.label}: train_samples needs a DLRM workload ([model] kind = \"dlrm\")")
    if workload is None:
        return
    from tpusim.workloads.kinds import workload_kind

    dlrm = workload_kind(workload) == "dlrm"
    wrong = [k for k, v in (("train_tokens", tokens), ("tokens_per_step", tokens_per_step),
                            ("global_batch_seqs", batch)) if v is not None] if dlrm else (
        ["train_samples"] if samples is not None else [])
    if wrong:
        what = ("a DLRM workload trains samples: use train_samples (its batch is the workload's "
                "[training] global_batch)") if dlrm else "a dense-LLM workload trains tokens"
        raise TpusimError(f"{job.label}: {', '.join(wrong)} do not apply; {what}")


def _jobs(top: Section, pod: Pod, base: Path | None, *, ocs: bool) -> tuple[JobSpec, ...]:
    tables = top.sections("jobs")
    if not tables:
        raise TpusimError(f"{top.label}: add at least one [[jobs]] table (name, slice, slices, ...)")
    out = []
    names = set()
    for i, job in enumerate(tables):
        name = job.string("name", f"job{i}")
        if name in names:
            raise TpusimError(f"{job.label}: duplicate job name {name!r}")
        names.add(name)
        # read before the slice, so that a bad slice is not blamed on `slices` as a typo of it
        slices = job.integer("slices", 1, at_least=1, at_most=4096)
        text = job.string("slice", hint='e.g. "8x8x8", or a Cloud TPU name such as "v4-128"')
        try:
            named = cloud_slice(text)  # a Cloud TPU name ('v4-128') -> its chips and shape
            if named is not None and named.pod.chip.name != pod.chip.name:
                raise TpusimError(f"slice {text} is {named.chips} {named.pod.chip.name} chips but the pod "
                                  f"is made of {pod.chip.name} chips; name a {pod.chip.name} slice")
            shape = check_slice_shape(pod.chip, pod.shape, text if named is None else named.slice_shape)
        except TpusimError as exc:
            raise TpusimError(f"{job.label}: {exc}") from None
        if not is_whole_cubes(pod.chip, shape):
            unit = "host" if pod.chip.cube_shape == pod.chip.host_shape else "cube"
            raise TpusimError(
                f"{job.label}: slice {fmt_shape(shape)} is not made of whole {unit}s "
                f"({fmt_shape(pod.chip.cube_shape)}); the simulator places whole-{unit} slices"
            )
        twisted = job.boolean("twisted", False)
        if twisted and not twistable(pod.chip, shape):
            raise TpusimError(f"{job.label}: {_twist_refusal(name, pod.chip, shape)}")
        if twisted and not ocs:  # the OCS wires the twist (Jouppi et al., arXiv 2304.01433, abstract)
            raise TpusimError(f"{job.label}: job {name!r} asks for a twisted slice, but the twist is "
                              f"wired by the OCS and this pod runs without one (ocs = false); remove "
                              f"twisted or set [pod] ocs = true")
        if sum(job.has(k) for k in ("train_tokens", "train_samples", "steps")) > 1:
            raise TpusimError(f"{job.label}: give one of train_tokens, train_samples or steps")
        tokens = job.number("train_tokens", None, above=0, at_most=1e18)
        samples = job.number("train_samples", None, above=0, at_most=1e18)
        steps = job.integer("steps", None, at_least=1, at_most=10**15)
        priority = job.integer("priority", 0, at_least=-10**9, at_most=10**9, hint="higher runs first")
        submit_s = job.number("submit_hours", 0.0, at_least=0, at_most=MAX_HOURS, scale=HOUR_S)
        mfu = job.number("mfu", None, above=0, at_most=1, hint="write 50% as 0.5")
        step = job.number("step_time_s", None, above=0, at_most=MAX_SECONDS)
        tps = job.number("tokens_per_step", None, above=0, at_most=1e15)
        workload = job.string("workload", None, hint="a workload name or TOML path")
        if workload is not None:
            workload = str(workload_path(workload, relative_to=base))
        if workload is None and (mfu is None or step is None):
            raise TpusimError(f"{job.label}: give a workload, or both mfu and step_time_s")
        if tokens is not None and workload is None and tps is None:
            raise TpusimError(f"{job.label}: train_tokens needs a workload or tokens_per_step")
        batch = job.integer("global_batch_seqs", None, at_least=1,
                            hint="the global batch the estimate uses (default: the workload's)")
        if batch is not None and workload is None:
            raise TpusimError(f"{job.label}: global_batch_seqs sets the estimate's batch; give a workload")
        _check_kind(job, workload, tokens=tokens, samples=samples, tokens_per_step=tps, batch=batch)
        after = job.string("after", None, hint="the job this one follows (a schedule's phases)")
        if after is not None and after not in names - {name}:
            raise TpusimError(f"{job.label}: after = {after!r} must name a job listed before it "
                              f"({', '.join(sorted(names - {name})) or 'none'})")
        elastic = job.boolean("elastic", False)
        min_slices = job.integer("min_slices", 1, at_least=1, at_most=4096)
        if elastic and not 1 <= min_slices < slices:
            raise TpusimError(
                f"{job.label}: an elastic job needs 1 <= min_slices < slices ({slices}); got {min_slices}")
        out.append(JobSpec(name=name, workload=workload, slice_shape=shape,
                           slice_cubes=pod.cube_shape_of(shape), slices=slices, priority=priority,
                           submit_s=float(submit_s), elastic=elastic, min_slices=min_slices,
                           train_tokens=tokens, train_samples=samples, steps=steps, mfu=mfu,
                           step_time_s=step,
                           tokens_per_step=tps, global_batch_seqs=batch, after=after, twisted=twisted))
    return tuple(out)


def _twist_refusal(name: str, chip, shape: tuple[int, ...]) -> str:
    """Why job `name` cannot have a twisted `shape` slice, and the fix (the rule is
    tpusim.topology.shape.twistable, the estimate's)."""
    if not chip.twisted_allowed:
        return (f"job {name!r} asks for a twisted slice, but {chip.name} slices cannot be twisted "
                f"(its chip file's [slices] twisted = false); remove twisted")
    return (f"job {name!r} asks for a twisted {fmt_shape(shape)} slice, but only k x k x 2k or "
            f"k x 2k x 2k slices of whole cubes can be twisted (e.g. 4x4x8, 4x8x8); use such a "
            f"slice or remove twisted")


def _injections(top: Section, pods: int, usable: int, jobs: tuple[JobSpec, ...]) -> tuple[Injection, ...]:
    names = [j.name for j in jobs]
    out = []
    for item in top.sections("inject"):
        at_s = item.number("at_hours", at_least=0, at_most=MAX_HOURS, scale=HOUR_S)
        cause = item.choice("cause", INJECT_CAUSES, "host")
        if cause in JOB_INJECTIONS:
            job = item.string("job", names[0])
            if job not in names:
                raise TpusimError(f"{item.label}: {unknown_name('job', job, names)}")
            item.allow("pod", "cube")
            detect_s = 0.0
            if cause in FOUND_LATER:  # found duration_hours after it strikes
                detect_s = item.number("duration_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S)
            else:
                item.allow("duration_hours")
            out.append(Injection(at_s=at_s, cause=cause, job=job, duration_s=detect_s))
            continue
        item.allow("job")
        pod = item.integer("pod", 0, at_least=0, at_most=pods - 1)
        cube = item.integer("cube", at_least=0, at_most=usable - 1)
        duration_s = item.number("duration_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S)
        out.append(Injection(at_s=at_s, cause=cause, pod=pod, cube=cube, duration_s=duration_s))
    return tuple(out)
