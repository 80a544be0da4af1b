"""Failure profiles: shares of interruptions by cause from a published fleet snapshot, mapped to
TPU components and scaled to a scenario's fleet interruption rate.

A profile (`scenarios/failure-profiles/<name>.toml`) lists causes with their counts and the
component each maps to. With a target rate r (interruptions per chip-day) and component c's
share s_c = count_c / total, one component of class c fails at

    r x s_c x chips_per_component  per day,  MTBF_c = 24 / (r x s_c x chips_per_component) h,

where chips_per_component is 1 for chips, HBM and silent data corruption (per chip), the chips of
a host for hosts and DCN ports, chips_per_cube / links_per_cube for links. Job-level failures are
per chip of the job. Every lifetime is exponential; repaired components (host, chip, HBM, and
intra-cube links on pods without OCS) take `mttr_hours`.

Invariant (tested): on a fleet where every component of the profile is present, the expected
interruptions per chip-day sum to r.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tpusim.data import data_dir
from tpusim.errors import TpusimError, unknown_name
from tpusim.inputs import Section, read_toml
from tpusim.sim.failures import Lifetime
from tpusim.sim.faults import COMPONENTS, REPAIRED, ComponentFailures, ici_links_per_cube
from tpusim.topology.ocs import optical_links_per_cube
from tpusim.units import DAY_S

FOLDER = "failure-profiles"


@dataclass(frozen=True)
class Profile:
    """Counts of interruptions by component, and the snapshot's own rate per accelerator-day."""

    name: str
    counts: dict[str, int]
    per_chip_day: float

    def shares(self) -> dict[str, float]:
        total = sum(self.counts.values())
        return {c: n / total for c, n in self.counts.items()}


def profile_names() -> list[str]:
    folder = data_dir("scenarios") / FOLDER
    return sorted(p.stem for p in folder.glob("*.toml"))


@cache
def load_profile(name: str) -> Profile:
    """A shipped failure profile by name."""
    names = profile_names()
    if name not in names:
        raise TpusimError(unknown_name("failure profile", name, names))
    path: Path = data_dir("scenarios") / FOLDER / f"{name}.toml"
    doc = read_toml(path)
    doc.string("name")
    total = doc.integer("interruptions", at_least=1)
    chips = doc.integer("accelerators", at_least=1)
    days = doc.number("days", above=0)
    doc.mapping("sources")
    doc.mapping("assumptions")
    counts: dict[str, int] = {}
    for cause in doc.sections("causes"):
        cause.string("cause")
        comp = cause.choice("component", COMPONENTS)
        counts[comp] = counts.get(comp, 0) + cause.integer("count", at_least=1)
    doc.done()
    if sum(counts.values()) != total:
        raise TpusimError(f"{path}: the causes sum to {sum(counts.values())}, not {total}")
    return Profile(name, counts, total / (chips * days))


def chips_per_component(component: str, chip, *, ocs: bool) -> float:
    """How many chips one component of the class serves (its share of the fleet rate)."""
    if component in ("host", "dcn"):
        return chip.chips_per_host
    if component == "link":
        return chip.chips_per_cube / optical_links_per_cube(chip.cube_shape)
    if component == "ici_link":
        return chip.chips_per_cube / ici_links_per_cube(chip.cube_shape)
    if component == "cube":
        return chip.chips_per_cube
    return 1.0  # chip, hbm, sdc, job (per chip)


def profile_failures(profile: Profile, per_chip_day: float, chip, *, ocs: bool,
                     ttr: Lifetime, detect: Lifetime) -> list[ComponentFailures]:
    """The profile's components at `per_chip_day` interruptions per chip-day. On a pod without
    OCS the link share goes to the intra-cube ICI links (no reroute: the cube is repaired)."""
    out = []
    for comp, share in profile.shares().items():
        if comp == "link" and not ocs:
            comp = "ici_link"
        per_day = per_chip_day * share * chips_per_component(comp, chip, ocs=ocs)
        ttf = Lifetime("exponential", DAY_S / per_day)
        out.append(ComponentFailures(comp, ttf, ttr if comp in REPAIRED else None,
                                     per="chip" if comp == "job" else "job",
                                     detect=detect if comp == "sdc" else None))
    return out


def read_profile(spec: Section) -> tuple[Profile, float]:
    """[failures.profile]: the profile and the target rate per chip-day."""
    profile = load_profile(spec.choice("name", profile_names()))
    rate = spec.number("interruptions_per_chip_day", profile.per_chip_day, above=0,
                       hint="interruptions per chip per day across the fleet")
    return profile, rate
