"""The failure model of a scenario beyond one distribution per component: the component
taxonomy (what one component is, how many there are, what a failure takes down, how it is
repaired), failure clocks, repair pipelines, bad hosts, diagnosis, retirement, loss spikes and
the spare pools. Frozen dataclasses read by the engine; the scenario reader builds them.

Component table (`COMPONENTS`; counts from the chip and pod TOMLs):

| component | one component is | count | a failure takes down | repair class |
|---|---|---|---|---|
| host | a host (chips_per_host chips) | hosts per cube | its cube | repaired |
| chip | a TPU chip | chips per cube | its cube | repaired |
| hbm | a chip's HBM (uncorrectable error) | chips per cube | its cube | repaired |
| ici_link | an electrical ICI link inside a cube | links inside a cube | its cube | repaired |
| cube | a cube's rack, power, cooling | 1 per cube | its cube | repaired |
| link | an optical link between cubes | optical links per cube | the job restarts after a reroute | reroute |
| ocs | an optical circuit switch | OCSes per pod | every multi-cube slice of the pod restarts | reroute |
| dcn | a host's data-center network port | hosts of a multi-slice job | the job restarts | restart |
| job | the job's software (per job, or per chip) | 1 per job | the job restarts | restart |
| sdc | silent data corruption | chips of a computing job | back to the last good checkpoint | rollback |
| straggler | a slow host | hosts of a computing job | slower steps; found later, its cube | drained |

Repaired components take their cube out of service until a crew (or the repair pipeline) has
repaired them; reroute and restart components interrupt the job, which keeps its cubes. A
straggler interrupts nothing when it appears: it slows the job's synchronous steps until it
is found, then its host (so its cube) is drained, which interrupts the job that holds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tpusim.sim.failures import Lifetime
from tpusim.topology.ocs import optical_links_per_cube

REPAIRED = ("host", "chip", "hbm", "ici_link", "cube")
REROUTE = ("link", "ocs")
RESTART = ("dcn", "job")
ROLLBACK = ("sdc",)
COMPONENTS = REPAIRED + REROUTE + RESTART + ROLLBACK
# Interruption causes a job can count: the components, loss spikes, planned maintenance.
CAUSES = ("host", "chip", "hbm", "ici_link", "cube", "ocs", "link", "dcn", "job", "sdc",
          "loss_spike", "maintenance")
STRAGGLER = "straggler"  # a cause only in scenarios with [failures.straggler]
CLOCKS = ("wall", "compute")
JOB_RATE_PER = ("job", "chip")


def ici_links_per_cube(cube_shape: tuple[int, ...]) -> int:
    """Electrical ICI links inside one cube: sum over axes of (side - 1) x (chips / side)
    (144 in a 4x4x4 cube; the wraparound links leave the cube through the OCS)."""
    chips = math.prod(cube_shape)
    return sum((side - 1) * (chips // side) for side in cube_shape)


def units_per_cube(component: str, chip) -> int:
    """How many of a repaired `component` one cube of `chip` holds."""
    return {"host": chip.hosts_per_cube, "chip": chip.chips_per_cube,
            "hbm": chip.chips_per_cube, "ici_link": 1, "cube": 1}[component]


def lifetime_of(f: ComponentFailures, chip) -> Lifetime:
    """The time to failure of one simulated unit of `f`: the intra-cube ICI links of a cube
    and the optical links of a cube are bundles (exponential, at count / MTBF)."""
    if f.component == "ici_link":
        return Lifetime("exponential", f.ttf.mean_s / ici_links_per_cube(chip.cube_shape))
    if f.component == "link":
        return Lifetime("exponential", f.ttf.mean_s / optical_links_per_cube(chip.cube_shape))
    return f.ttf


@dataclass(frozen=True)
class ComponentFailures:
    """Failures of one component class: time to failure (`ttf`, per component) and, for
    repaired components, time to repair (`ttr`; with `pipeline`, the repair stages are used
    instead). `per` ("job" or "chip") scales job-level failures; `detect` is the delay before
    silent data corruption is found."""

    component: str
    ttf: Lifetime
    ttr: Lifetime | None = None
    pipeline: bool = False
    per: str = "job"
    detect: Lifetime | None = None


@dataclass(frozen=True)
class RepairStage:
    """One stage of a repair (e.g. automated, then manual): its duration; `escalate`, the
    probability that it cannot handle the fault and passes the unit to the next stage; `cure`,
    the probability that a repair ending here fixes a bad host's persistent fault; `crew`,
    whether the stage holds a repair crew."""

    name: str
    duration: Lifetime
    escalate: float = 0.0
    cure: float = 1.0
    crew: bool = True


@dataclass(frozen=True)
class Retirement:
    """A unit that fails `failures` times within `window_s` is retired instead of repaired; a
    new (good) unit replaces it after a `replace` draw (never, if None)."""

    failures: int
    window_s: float
    replace: Lifetime | None = None


@dataclass(frozen=True)
class RepairPolicy:
    """How failed units are found and repaired. `diagnosis`: probability that a failure is
    traced to a unit at all (else the job restarts on the same hardware and the unit keeps
    running); `blame_error`: probability that a traced failure is blamed on another (healthy)
    unit of the same job, which goes to repair while the faulty one stays."""

    stages: tuple[RepairStage, ...] = ()
    diagnosis: float = 1.0
    blame_error: float = 0.0
    retirement: Retirement | None = None

    @property
    def mean_s(self) -> float:
        """Expected duration of a repair through the stages."""
        total, reach = 0.0, 1.0
        for i, stage in enumerate(self.stages):
            total += reach * stage.duration.mean_s
            if i + 1 < len(self.stages):
                reach *= stage.escalate
        return total


@dataclass(frozen=True)
class BadHosts:
    """A `fraction` of the hosts fail `multiplier` times as often (a persistent fault, cured by
    a repair with the stage's cure probability). With `regenerate_s`, good hosts turn bad at
    that interval until the initial number of bad hosts is restored."""

    fraction: float
    multiplier: float
    regenerate_s: float | None = None


@dataclass(frozen=True)
class LossSpike:
    """Training instabilities: `rate_per_step` (or `mtbf_s` of compute); each rolls the job
    back `rollback_steps` steps (to the last checkpoint at least that far back: repeated steps)
    and skips `skip_batches` batches of data."""

    rollback_steps: int
    skip_batches: int = 0
    rate_per_step: float | None = None
    mtbf_s: float | None = None

    def rate_per_compute_s(self, step_time_s: float) -> float:
        if self.rate_per_step is not None:
            return self.rate_per_step / step_time_s
        return 1.0 / self.mtbf_s


@dataclass(frozen=True)
class Straggler:
    """Slow hosts that do not fail: one appears at `mtbf_s` per host of a computing job
    (exponential); while one is in a job's slices every synchronous step takes `slowdown`
    times as long (the slowest chip sets the pace). It is found a `detect` draw after it
    appears; then its host is drained (its cube goes down, interrupting the job that holds
    it) and repaired for a `ttr` draw."""

    mtbf_s: float
    slowdown: float
    detect: Lifetime
    ttr: Lifetime


@dataclass(frozen=True)
class Pools:
    """Where replacement cubes (hosts, on pods without cubes) come from. Each job keeps up to
    `warm_standbys` healthy cubes reserved (swapped in with the OCS reconfiguration only); other
    free cubes form the working pool (swapping one in costs `selection_s` of host selection);
    `spare_pool` cubes of each pod run preemptible work and are taken only when the working
    pool is empty (costing `preemption_s` more), after which they join the working pool."""

    warm_standbys: int = 0
    selection_s: float = 0.0
    spare_pool: int = 0
    preemption_s: float = 0.0


@dataclass(frozen=True)
class FaultModel:
    """Everything a scenario says about failures besides the per-component distributions."""

    clock: str = "wall"
    repair: RepairPolicy | None = None
    bad_hosts: BadHosts | None = None
    loss_spike: LossSpike | None = None
    pools: Pools | None = None
    profile: str | None = None  # the failure profile the rates came from, if any
    straggler: Straggler | None = None

    @property
    def causes(self) -> tuple[str, ...]:
        """The interruption causes a job counts: `straggler` only when stragglers are modelled
        (a scenario without them keeps its keys and columns as they were)."""
        return (*CAUSES, STRAGGLER) if self.straggler is not None else CAUSES
