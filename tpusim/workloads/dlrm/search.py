"""`search_dlrm(workload)`: rank placements, shardings and slice shapes (twisted or not).

Every placement the chip supports x every sharding x every legal slice shape with the
workload's chips per slice (both the plain and the twisted torus where the shape can be
twisted) is evaluated in one vectorised call; a placement, sharding, slice shape or twist the
caller gives is held fixed. Rows that fit (HBM, and host DRAM for the host
placement) are ranked by step time. Pipelining is the file's choice (it changes the numerics:
updates land two steps late), never searched.

Invariants (tested): the best row is never slower than the file's own configuration when that
fits; every row fits; rows are sorted by step time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tpusim.errors import TpusimError
from tpusim.hardware import Chip, load_chip, no_pod_error, pods_of_chip
from tpusim.inputs import parse_shape
from tpusim.topology.shape import SliceSpec, legal_shapes, slice_spec, twistable
from tpusim.workloads.dlrm.config import PLACEMENTS, SHARDINGS, DlrmWorkload, with_overrides
from tpusim.workloads.dlrm.estimate import DlrmEstimate, estimates_of
from tpusim.workloads.dlrm.model import Candidate, engine_of


@dataclass(frozen=True)
class DlrmSearchResult:
    workload: str
    chip: str
    chips: int
    slices: int
    evaluated: int
    feasible: int
    best: DlrmEstimate | None
    rows: list[dict] = field(default_factory=list)
    skipped_placements: dict[str, str] = field(default_factory=dict)

    @property
    def fits_found(self) -> bool:
        """Whether any candidate fits (HBM, and host DRAM for a host placement): `rows` is not empty."""
        return self.feasible > 0

    def to_dict(self) -> dict:
        """The best row's keys at the top level, plus `rows`, `best`, `evaluated`, `feasible`,
        `fits_found` (false: nothing fits, `rows` is empty and the top-level keys are those of the
        candidate needing the least memory)."""
        out = self.best.to_dict() if self.best is not None else {"kind": "dlrm"}
        out.update(rows=self.rows, best=self.best.to_dict() if self.best else None,
                   evaluated=self.evaluated, feasible=self.feasible, fits_found=self.fits_found,
                   skipped_placements=self.skipped_placements)
        return out

    def to_frame(self):
        """The ranked rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def slice_specs(chip: Chip, chips_per_slice: int) -> list[SliceSpec]:
    """Every legal slice with `chips_per_slice` chips in the chip's largest catalog pod, plain and
    (where possible) twisted."""
    pods = pods_of_chip(chip)
    if not pods:
        raise no_pod_error(chip)
    pod = max(pods, key=lambda p: p.chips)
    shapes = [s for s in legal_shapes(chip, pod.shape) if math.prod(s) == chips_per_slice]
    if not shapes:
        raise TpusimError(f"no legal {chip.name} slice has {chips_per_slice} chips; try a legal slice "
                          f"size for chips_per_slice", params=("chips_per_slice",))
    specs = []
    for shape in shapes:
        specs.append(slice_spec(chip, pod.shape, shape))
        if twistable(chip, shape):
            specs.append(slice_spec(chip, pod.shape, shape, twisted=True))
    return specs


def search_dlrm(wl: DlrmWorkload, *, top: int | None = None, **overrides) -> DlrmSearchResult:
    """Rank the candidates of `wl` (overrides as in `estimate_dlrm`; `top` keeps the best rows).
    A `placement`, `sharding`, `slice_shape` or `twisted` override pins that dimension: only
    candidates with that value are ranked (a pinned placement the chip lacks is an error)."""
    wl2 = with_overrides(wl, **overrides) if overrides else wl
    chip = load_chip(wl2.system.chip)
    n, s = wl2.system.chips, wl2.system.slices
    pinned = {k: v for k, v in overrides.items() if v is not None}
    skipped: dict[str, str] = {}
    placements = []
    for p in (pinned["placement"],) if "placement" in pinned else PLACEMENTS:
        try:
            engine_of(chip, p, n)
        except TpusimError as exc:
            if "placement" in pinned:
                raise
            skipped[p] = str(exc)
            continue
        placements.append(p)
    shardings = (pinned["sharding"],) if "sharding" in pinned else SHARDINGS
    specs = [spec for spec in slice_specs(chip, n // s)
             if ("slice_shape" not in pinned or tuple(spec.shape) == parse_shape(pinned["slice_shape"]))
             and ("twisted" not in pinned or spec.twisted == pinned["twisted"])]
    if not specs:
        want = " ".join([pinned.get("slice_shape", "")] + (["twisted"] if pinned.get("twisted") else []))
        raise TpusimError(f"no legal {chip.name} slice of {n // s} chips is {want.strip() or 'plain'}; "
                          f"search without the slice shape or the twist")
    cands = [Candidate(p, sh, wl2.embedding.pipelining, n, s, spec)
             for p in placements for sh in shardings for spec in specs]
    ests = estimates_of(wl2, cands) if cands else []
    fits = [e for e in ests if e.fits_in_hbm and e.fits_in_host_dram is not False]
    fits.sort(key=lambda e: (e.step_time_s, e.memory_per_chip_bytes))
    best = fits[0] if fits else (min(ests, key=lambda e: e.memory_per_chip_bytes) if ests else None)
    rows = [e.to_row() for e in (fits if top is None else fits[:top])]
    for r in rows:
        r["slower_than_best"] = r["step_time_s"] / best.step_time_s
    return DlrmSearchResult(workload=wl2.name, chip=chip.name, chips=n, slices=s, evaluated=len(ests),
                            feasible=len(fits), best=best, rows=rows, skipped_placements=skipped)
