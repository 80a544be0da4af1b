"""Reading a scenario's failure model through the strict reader: [failures] (clock, one table
per component, profile, bad_hosts, loss_spike), [repair] (crews, diagnosis, blame_error,
[[repair.stages]], [repair.retirement]) and [pools].

    [failures]            clock = "wall" | "compute"
    [failures.<component>] mtbf_hours or availability (+ mttr_hours), ttf, ttf_shape, ttr,
                          ttr_shape, repair = "crew" | "pipeline" (repaired components),
                          per = "job" | "chip" (job), detection_hours (sdc)
    [failures.profile]    name, interruptions_per_chip_day, mttr_hours, detection_hours, ttr, ttr_shape
    [failures.bad_hosts]  fraction, multiplier, regenerate_hours
    [failures.loss_spike] per_step | mtbf_hours, rollback_steps, skip_batches
    [failures.straggler]  mtbf_hours (per host), slowdown, detection_hours, detection,
                          detection_shape, mttr_hours, ttr, ttr_shape
    [repair]              crews, diagnosis, blame_error
    [[repair.stages]]     name, mean_hours, dist, shape, escalate, cure, crew
    [repair.retirement]   failures, window_hours, replace_hours
    [pools]               warm_standbys, selection_s, spare_pool, preemption_s

Every bad value is one TpusimError naming the file, the table, the key and the rule.
"""

from __future__ import annotations

import difflib

from tpusim.errors import TpusimError
from tpusim.inputs import Section, UnknownKeyError
from tpusim.sim.failures import DISTRIBUTIONS, Lifetime, mtbf_from_availability
from tpusim.sim.faults import (
    CLOCKS,
    COMPONENTS,
    JOB_RATE_PER,
    REPAIRED,
    BadHosts,
    ComponentFailures,
    LossSpike,
    Pools,
    RepairPolicy,
    RepairStage,
    Retirement,
    Straggler,
)
from tpusim.sim.profiles import profile_failures, read_profile
from tpusim.units import HOUR_S

# Distribution shapes where sampling stays finite and the mean is what the file says: a Weibull
# k below 0.1 has Gamma(1 + 1/k) > 1e15 (draws overflow); a lognormal sigma above 4 puts the
# median below 1/3000 of the mean (most draws ~0, a few astronomically long).
SHAPE_LIMITS = {"weibull": (0.1, 20.0), "lognormal": (0.01, 4.0)}
# Longest time accepted anywhere in a scenario: far beyond any run, small enough that sums and
# lognormal tails of times stay finite floats.
MAX_HOURS = 1e9  # mtbf, mttr, maintenance, injection times (114,000 years)
MAX_SECONDS = 1e9  # recovery times, checkpoint interval, step time (31 years)
MODEL_TABLES = ("profile", "bad_hosts", "loss_spike", "straggler")
# a straggler's step-time multiplier: above 1 (1 is no straggler), at most this (a host 1000
# times slower is a failure, not a straggler; beyond it a typo)
MAX_SLOWDOWN = 1000.0
# components whose lifetime must be exponential: bundles and superpositions of many (links,
# per-host DCN ports, per-chip corruption and job failures) are exact only then
BUNDLED = ("link", "ici_link", "dcn", "sdc")
REPAIRS = ("crew", "pipeline")


def lifetime(spec: Section, prefix: str, mean_s: float) -> Lifetime:
    """`<prefix>` (distribution) and `<prefix>_shape` around a mean of `mean_s` seconds."""
    kind = spec.choice(prefix, DISTRIBUTIONS, "exponential")
    if kind == "exponential":
        spec.allow(f"{prefix}_shape")
        spec.number(f"{prefix}_shape", 1.0, above=0)
        return Lifetime(kind, float(mean_s))
    low, high = SHAPE_LIMITS[kind]
    what = "Weibull k" if kind == "weibull" else "lognormal sigma"
    shape = spec.number(f"{prefix}_shape", 1.0, at_least=low, at_most=high,
                        hint=f"the {what}; outside this range sampling overflows")
    return Lifetime(kind, float(mean_s), shape)


def read_repair(top: Section) -> tuple[int, RepairPolicy | None]:
    """[repair]: crews per pod, and the repair policy (None when every key is at its default)."""
    table = top.section("repair", required=False)
    crews = table.integer("crews", 0, at_least=0, hint="0 = unlimited")
    diagnosis = table.number("diagnosis", 1.0, at_least=0, at_most=1,
                             hint="the probability a failure is traced to a unit")
    blame = table.number("blame_error", 0.0, at_least=0, at_most=1,
                         hint="the probability a traced failure is blamed on another unit")
    stages = []
    items = table.sections("stages")
    for i, item in enumerate(items):
        mean_s = item.number("mean_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S)
        escalate = item.number("escalate", 0.0, at_least=0, at_most=1)
        if i == len(items) - 1 and escalate > 0:
            raise TpusimError(f"{item.label}: the last stage cannot escalate (escalate = 0)")
        stages.append(RepairStage(
            name=item.string("name", f"stage{i + 1}"), duration=lifetime(item, "dist", mean_s),
            escalate=escalate, cure=item.number("cure", 1.0, at_least=0, at_most=1),
            crew=item.boolean("crew", True)))
    retirement = None
    table_r = table.optional_section("retirement")
    if table_r is not None:
        replace = table_r.number("replace_hours", None, above=0, at_most=MAX_HOURS, scale=HOUR_S)
        retirement = Retirement(
            failures=table_r.integer("failures", at_least=1, hint="failures within the window"),
            window_s=table_r.number("window_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S),
            replace=None if replace is None else Lifetime("exponential", replace))
    if not stages and diagnosis == 1.0 and blame == 0.0 and retirement is None:
        return crews, None
    return crews, RepairPolicy(stages=tuple(stages), diagnosis=diagnosis, blame_error=blame,
                               retirement=retirement)


def read_failures(top: Section, pod, ocs: bool, policy: RepairPolicy | None
                  ) -> tuple[tuple[ComponentFailures, ...], str, LossSpike | None,
                             BadHosts | None, str | None, Straggler | None]:
    """[failures]: (component failures, clock, loss spikes, bad hosts, profile name,
    stragglers)."""
    table = top.section("failures", required=False)
    clock = table.choice("clock", CLOCKS, "wall")
    out: dict[str, ComponentFailures] = {}
    for comp in table.names():
        if comp == "clock" or comp in MODEL_TABLES:
            continue
        if comp not in COMPONENTS:
            close = difflib.get_close_matches(comp, (*COMPONENTS, *MODEL_TABLES), n=1)
            guess = f"did you mean [failures.{close[0]}]? " if close else ""
            raise UnknownKeyError(f"{top.file}: unknown [failures.{comp}]; {guess}"
                                  f"components: {', '.join(COMPONENTS)}; "
                                  f"also: {', '.join(MODEL_TABLES)}, clock")
        f = _component(table.section(comp), comp, ocs, policy)
        if f is not None:
            out[comp] = f
    profile_name = None
    spec = table.optional_section("profile")
    if spec is not None:
        profile, rate = read_profile(spec)
        profile_name = profile.name
        if not spec.has("mttr_hours"):
            raise TpusimError(f"{spec.label}: missing key 'mttr_hours': the mean hours to repair the "
                              f"hardware the profile fails (e.g. 48)")
        ttr = lifetime(spec, "ttr", spec.number("mttr_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S))
        detect = None
        if "sdc" in profile.counts:
            if not spec.has("detection_hours"):
                raise TpusimError(f"{spec.label}: missing key 'detection_hours': the {profile.name} "
                                  f"profile has silent data corruption; give the mean hours until it "
                                  f"is found (e.g. 24)")
            detect = Lifetime("exponential", spec.number(
                "detection_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S,
                hint="mean delay before silent data corruption is found"))
        for f in profile_failures(profile, rate, pod.chip, ocs=ocs, ttr=ttr, detect=detect):
            out.setdefault(f.component, f)  # a [failures.<component>] table overrides it
    failures = tuple(out.values())
    if clock == "compute":
        for f in failures:
            if f.ttf.kind != "exponential":
                raise TpusimError(
                    f"{table.label}: clock = \"compute\" pauses failure clocks outside compute, "
                    f"which keeps lifetimes exact only when they are exponential; "
                    f"[failures.{f.component}] has ttf = \"{f.ttf.kind}\"")
    bad = _bad_hosts(table.optional_section("bad_hosts"), out)
    spike = _loss_spike(table.optional_section("loss_spike"))
    straggler = _straggler(table.optional_section("straggler"))
    return failures, clock, spike, bad, profile_name, straggler


def _component(spec: Section, comp: str, ocs: bool, policy: RepairPolicy | None
               ) -> ComponentFailures | None:
    """One [failures.<component>] table (None: the component never fails)."""
    label = spec.label
    spec.string("source", "")  # a free-text citation
    spec.allow("mtbf_hours", "availability")  # read below: never suggested as typos of mttr_hours
    repaired = comp in REPAIRED
    if not repaired and comp != "sdc" and (spec.has("ttr") or spec.has("ttr_shape")):
        raise TpusimError(f"{label}: ttr applies to repaired components ({', '.join(REPAIRED)}) "
                          f"and sdc; a {comp} failure is an interruption the job recovers from")
    repair = spec.choice("repair", REPAIRS, "crew") if repaired else "crew"
    if repair == "pipeline" and (policy is None or not policy.stages):
        raise TpusimError(f"{label}: repair = \"pipeline\" needs [[repair.stages]]")
    if repair == "pipeline":  # the stages set the repair time: a crew's repair time would be ignored
        ignored = [k for k in ("mttr_hours", "ttr", "ttr_shape") if spec.has(k)]
        if ignored:
            raise TpusimError(
                f"{label}: {', '.join(ignored)} would be ignored with repair = \"pipeline\": the "
                f"[[repair.stages]] set the repair time (mean {policy.mean_s / HOUR_S:.3g} h); "
                f"remove {'it' if len(ignored) == 1 else 'them'}, or use repair = \"crew\"")
    mttr_s = spec.number("mttr_hours", None, above=0, at_most=MAX_HOURS, scale=HOUR_S)
    if repaired and repair == "crew" and mttr_s is None:
        raise TpusimError(f"{label}: a {comp} needs mttr_hours (mean time to repair), or "
                          f"repair = \"pipeline\"")
    repair_mean = policy.mean_s if repair == "pipeline" else mttr_s
    if spec.has("mtbf_hours") and spec.has("availability"):
        raise TpusimError(f"{label}: give mtbf_hours or availability (with mttr_hours), not both")
    if spec.has("mtbf_hours"):
        mtbf_s = spec.number("mtbf_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S)
    elif spec.has("availability"):
        a = spec.number("availability", above=0, at_most=1, hint="write 99.5% as 0.995")
        if repair_mean is None:
            raise TpusimError(f"{label}: availability needs mttr_hours to derive the MTBF")
        if a >= 1:
            spec.allow("ttf", "ttf_shape", "ttr", "ttr_shape", "per", "detection_hours")
            return None  # never fails
        mtbf_s = mtbf_from_availability(a, repair_mean)
    else:
        raise TpusimError(f"{label}: give mtbf_hours, or availability with mttr_hours")
    ttf = lifetime(spec, "ttf", mtbf_s)
    ttr = lifetime(spec, "ttr", mttr_s) if mttr_s is not None else None
    per = spec.choice("per", JOB_RATE_PER, "job") if comp == "job" else "job"
    detect = None
    if comp == "sdc":
        detect = Lifetime("exponential", spec.number(
            "detection_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S,
            hint="mean delay before silent data corruption is found"))
    if (comp in BUNDLED or per == "chip") and ttf.kind != "exponential":
        raise TpusimError(f"{label}: a {comp} failure rate is summed over many components; "
                          f'use ttf = "exponential"')
    if comp in ("ocs", "link") and not ocs:
        raise TpusimError(f"{label}: {comp} failures need an OCS pod (ocs = true)")
    return ComponentFailures(comp, ttf, ttr, pipeline=repair == "pipeline", per=per, detect=detect)


def _bad_hosts(spec: Section | None, failures: dict[str, ComponentFailures]) -> BadHosts | None:
    if spec is None:
        return None
    if "host" not in failures:
        raise TpusimError(f"{spec.label}: bad hosts need host failures ([failures.host])")
    regen = spec.number("regenerate_hours", None, above=0, at_most=MAX_HOURS, scale=HOUR_S)
    return BadHosts(
        fraction=spec.number("fraction", at_least=0, at_most=1,
                             hint="the fraction of hosts that are bad, e.g. 0.15"),
        multiplier=spec.number("multiplier", at_least=1,
                               hint="how many times as often a bad host fails"),
        regenerate_s=regen)


def _loss_spike(spec: Section | None) -> LossSpike | None:
    if spec is None:
        return None
    if spec.has("per_step") == spec.has("mtbf_hours"):
        raise TpusimError(f"{spec.label}: give per_step (spikes per training step) or mtbf_hours "
                          f"(compute hours between spikes), one of them")
    return LossSpike(
        rollback_steps=spec.integer("rollback_steps", at_least=0,
                                    hint="steps the job goes back (PaLM: about 100)"),
        skip_batches=spec.integer("skip_batches", 0, at_least=0),
        rate_per_step=spec.number("per_step", None, above=0, at_most=1),
        mtbf_s=spec.number("mtbf_hours", None, above=0, at_most=MAX_HOURS, scale=HOUR_S))


def _straggler(spec: Section | None) -> Straggler | None:
    """[failures.straggler]: slow hosts, found after a delay and drained (None when absent)."""
    if spec is None:
        return None
    spec.string("source", "")  # a free-text citation
    spec.allow("mtbf_hours", "detection_hours")  # never suggested as typos of mttr_hours
    if spec.has("ttf") or spec.has("ttf_shape"):
        raise TpusimError(f"{spec.label}: stragglers appear at mtbf_hours per host of a computing "
                          f"job, summed over its hosts, which is exact only for exponential "
                          f"lifetimes; remove ttf and ttf_shape")
    mtbf_s = spec.number("mtbf_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S,
                         hint="mean hours until one host turns into a straggler")
    slowdown = spec.number("slowdown", above=1, at_most=MAX_SLOWDOWN,
                           hint="the step-time multiplier while a straggler is in the job, "
                                "e.g. 1.5 = steps take 50% longer")
    detect_s = spec.number("detection_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S,
                           hint="mean hours until a straggler is found and its host drained")
    mttr_s = spec.number("mttr_hours", above=0, at_most=MAX_HOURS, scale=HOUR_S,
                         hint="mean hours to repair a drained host")
    return Straggler(mtbf_s=mtbf_s, slowdown=slowdown,
                     detect=lifetime(spec, "detection", detect_s), ttr=lifetime(spec, "ttr", mttr_s))


def read_pools(top: Section, ocs: bool, usable: int) -> Pools | None:
    """[pools]: warm standbys per slice (OCS pods), host selection, the spare pool (None when
    absent)."""
    spec = top.optional_section("pools")
    if spec is None:
        return None
    pools = Pools(warm_standbys=spec.integer("warm_standbys", 0, at_least=0),
                  selection_s=spec.number("selection_s", 0.0, at_least=0, at_most=MAX_SECONDS),
                  spare_pool=spec.integer("spare_pool", 0, at_least=0, at_most=usable - 1,
                                          hint="cubes per pod running preemptible work"),
                  preemption_s=spec.number("preemption_s", 0.0, at_least=0, at_most=MAX_SECONDS))
    if not ocs and pools.warm_standbys:
        raise TpusimError(f"{spec.label}: warm standbys replace single cubes, which needs an OCS "
                          f"pod; a static torus re-places whole slices (use spare_pool there)")
    return pools
