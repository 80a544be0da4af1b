"""Chip and pod specifications, loaded from the TOML files in `topologies/`.

No hardware number lives in code: every value comes from a TOML file whose `[sources]` table
cites where it comes from, and whose `[assumptions]` table says which values are assumed.

    >>> chip = load_chip("v4")
    >>> chip.peak_bf16_flops_per_s
    275000000000000.0
    >>> load_pod("tpu-v4-4096").chips
    4096
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tpusim import defaults
from tpusim.data import catalog, find_input
from tpusim.errors import TpusimError
from tpusim.filecache import file_cached
from tpusim.inputs import REQUIRED, Section, fmt_shape, load_toml, parse_shape
from tpusim.topology.ocs import cubes_per_ocs, ocs_count

CHIP_PREFIX = "chip-"
POD_PREFIX = "pod-"

# Numeric chip fields: (integer?, smallest, largest). SI units, names carry the unit. The ranges
# are far outside any real chip; they keep every derived figure finite (a step time is FLOPs
# divided by a rate, so a rate of 1e-300 would overflow it).
_RATE = (False, 1.0, 1e24)
_CHIP_NUMBERS: dict[str, tuple[bool, float, float]] = {
    "peak_bf16_flops_per_s": _RATE,
    "hbm_bytes": (True, 1, 2**50),
    "hbm_bytes_per_s": _RATE,
    "tensorcores_per_chip": (True, 1, 64),
    "mxu_dim": (True, 1, 4096),
    "ici_links_per_chip": (True, 1, 64),
    "ici_link_one_way_bytes_per_s": _RATE,
    "ici_hop_latency_s": (False, 1e-12, 1.0),
    "torus_dims": (True, 1, 4),
    "chips_per_host": (True, 1, 1024),
    "pcie_bytes_per_s": _RATE,
    "dcn_bytes_per_s_per_chip": _RATE,
    "max_pod_chips": (True, 1, 2**24),
}
_CHIP_OPTIONAL_NUMBERS: dict[str, tuple[bool, float, float]] = {
    "peak_int8_ops_per_s": _RATE,
    "peak_fp8_flops_per_s": _RATE,
    "mxus_per_tensorcore": (True, 1, 64),
    "clock_hz": (False, 1e6, 1e11),
    "spmem_bytes_per_chip": (True, 1, 2**40),
    "host_dram_bytes": (True, 1, 2**50),
    "host_dram_bytes_per_s": _RATE,
}
_SLICE_RULES = ("cubes", "listed")
_WRAP_RULES = ("whole_cubes", "full_axis")
_CHIP_ALIASES = {"tpu7x": "v7", "ironwood": "v7", "v5litepod": "v5e"}


@dataclass(frozen=True)
class Chip:
    """One TPU chip generation. SI units throughout; `sources` maps each field to its citation."""

    name: str
    peak_bf16_flops_per_s: float
    hbm_bytes: int
    hbm_bytes_per_s: float
    tensorcores_per_chip: int
    mxu_dim: int
    ici_links_per_chip: int
    ici_link_one_way_bytes_per_s: float  # one direction of one link
    ici_hop_latency_s: float
    torus_dims: int
    chips_per_host: int
    host_shape: tuple[int, ...]
    pcie_bytes_per_s: float
    dcn_bytes_per_s_per_chip: float  # data-center network, one direction, per chip
    max_pod_chips: int
    sparsecores_per_chip: int
    slice_rule: str  # "cubes" (OCS cube multiples or sub-cube) or "listed"
    slice_shapes: tuple[tuple[int, ...], ...]  # legal shapes when slice_rule == "listed"
    wrap_rule: str  # "whole_cubes" or "full_axis"
    twisted_allowed: bool
    cube_shape: tuple[int, ...] | None = None  # None: no OCS cubes
    peak_int8_ops_per_s: float | None = None
    peak_fp8_flops_per_s: float | None = None
    mxus_per_tensorcore: int | None = None
    clock_hz: float | None = None
    spmem_bytes_per_chip: int | None = None  # SparseCore scratchpad (Spmem), all SCs together
    host_dram_bytes: int | None = None  # one host's DRAM (the host serves chips_per_host chips)
    host_dram_bytes_per_s: float | None = None  # one host's peak DRAM bandwidth
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    assumptions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # the chip TOML it was read from (None if built from a dict): a reference load_chip accepts
    # even for a chip outside the catalog, so a pod's chip can be handed on by reference
    path: str | None = field(default=None, compare=False, repr=False)

    @property
    def ici_link_bidi_bytes_per_s(self) -> float:
        """Both directions of one link together (the scaling book's W_ICI 'bidi')."""
        return 2 * self.ici_link_one_way_bytes_per_s

    @property
    def hosts_per_cube(self) -> int | None:
        if self.cube_shape is None:
            return None
        return math.prod(self.cube_shape) // self.chips_per_host

    @property
    def chips_per_cube(self) -> int | None:
        return None if self.cube_shape is None else math.prod(self.cube_shape)


@dataclass(frozen=True)
class Pod:
    """A pod: chips of one generation in a torus; with OCS, cubes joined by optical switches."""

    name: str
    chip: Chip
    shape: tuple[int, ...]  # in chips, one entry per torus axis
    ocs: bool
    ocs_ports: int | None = None  # ports per OCS, spares included
    ocs_spare_ports: int | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    assumptions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def chips(self) -> int:
        return math.prod(self.shape)

    @property
    def hosts(self) -> int:
        return self.chips // self.chip.chips_per_host

    @property
    def cube_grid(self) -> tuple[int, ...] | None:
        """The pod's shape in cubes (e.g. (4, 4, 4) for the v4 pod), or None without cubes."""
        if self.chip.cube_shape is None:
            return None
        return self.cube_shape_of(self.shape)

    @property
    def cubes(self) -> int:
        grid = self.cube_grid
        return 0 if grid is None else math.prod(grid)

    @property
    def ocs_count(self) -> int:
        """OCSes wiring the pod's cubes (48 on the v4 pod); 0 without OCS."""
        if not self.ocs or self.chip.cube_shape is None:
            return 0
        return ocs_count(self.chip.cube_shape, self.cubes, self.ocs_ports, self.ocs_spare_ports)

    @property
    def ocs_group_cubes(self) -> tuple[int, ...]:
        """Cubes in each OCS group, in cube-id order (cube c is in group c // the first size,
        `tpusim.topology.ocs.port`): an OCS joins only the cubes of its group, so a slice is
        formed within one group. One group of every cube on the catalog pods, and on a pod
        without OCS; several on a custom pod whose OCSes have too few ports."""
        n = self.cubes
        if not self.ocs or not n or self.ocs_ports is None:
            return (n,)
        per = cubes_per_ocs(self.ocs_ports, self.ocs_spare_ports)
        return tuple(min(per, n - start) for start in range(0, n, per))

    def cube_shape_of(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A whole-cube slice shape in chips -> the same slice in cubes ((8, 8, 16) -> (2, 2, 4)
        on v4); a TpusimError naming a whole-cube shape near it otherwise."""
        side = self.chip.cube_shape
        if side is None:
            raise TpusimError(f"{self.chip.name} has no OCS cubes; slices are not made of cubes")
        if len(shape) != len(side) or any(s % c for s, c in zip(shape, side, strict=True)):
            near = tuple(max(c, s // c * c) for s, c in zip(shape, side, strict=False))
            raise TpusimError(
                f"slice {fmt_shape(shape)} is not made of whole {fmt_shape(side)} cubes; "
                f"use whole cubes, e.g. {fmt_shape(near)}"
            )
        return tuple(s // c for s, c in zip(shape, side, strict=True))


def _sources(doc: Section, table: Section) -> tuple[dict[str, str], dict[str, str]]:
    """[sources] must cite every value of `table` (but its name and chip); a key `table` does not
    know is refused first (a typo, not a value that lacks a source)."""
    table.done()
    return doc.citations(k for k in table.names() if k not in ("name", "chip"))


def chip_from_dict(doc: dict[str, Any], where: str) -> Chip:
    """Build a Chip from a parsed chip TOML document, checking every field."""
    with Section(doc, where) as top:
        return _chip(top)


def _chip(top: Section) -> Chip:
    table = top.section("chip")
    values: dict[str, Any] = {"name": table.string("name")}
    for key, (whole, low, high) in (_CHIP_NUMBERS | _CHIP_OPTIONAL_NUMBERS).items():
        default = REQUIRED if key in _CHIP_NUMBERS else None
        if whole:
            values[key] = table.integer(key, default, at_least=int(low), at_most=int(high))
        else:
            values[key] = table.number(key, default, at_least=low, at_most=high)
        if values[key] is None:
            del values[key]
    values["sparsecores_per_chip"] = table.integer("sparsecores_per_chip", at_least=0, at_most=64)
    values["host_shape"] = table.shape("host_shape")
    cube = table.shape("cube_shape", None)
    if cube is not None:
        values["cube_shape"] = cube
    dims = values["torus_dims"]
    if len(values["host_shape"]) != dims or math.prod(values["host_shape"]) != values["chips_per_host"]:
        raise TpusimError(
            f"{table.label}: host_shape {values['host_shape']} must have {dims} axes and "
            f"{values['chips_per_host']} chips (chips_per_host)"
        )
    if cube is not None and len(cube) != dims:
        raise TpusimError(f"{table.label}: cube_shape must have {dims} axes (torus_dims)")

    slices = top.section("slices")
    rule = slices.choice("rule", _SLICE_RULES)
    wrap = slices.choice("wrap", _WRAP_RULES)
    if (rule == "cubes" or wrap == "whole_cubes") and cube is None:
        raise TpusimError(f"{slices.label}: slice rule {rule!r} / wrap {wrap!r} needs [chip] cube_shape")
    values["slice_shapes"] = slices.shapes("shapes") if rule == "listed" else ()
    slices.allow("shapes")
    values["slice_rule"] = rule
    values["wrap_rule"] = wrap
    values["twisted_allowed"] = slices.boolean("twisted", False)
    sources, assumptions = _sources(top, table)
    top.done()
    return Chip(**values, sources=sources, assumptions=assumptions)


def chip_names() -> list[str]:
    """Names of the chips in the shipped catalog."""
    return list(catalog("topologies", CHIP_PREFIX))


def pod_names() -> list[str]:
    """Names of the pods in the shipped catalog."""
    return list(catalog("topologies", POD_PREFIX))


def _chip_key(name: str) -> str:
    key = name.lower().removeprefix("tpu-")
    return _CHIP_ALIASES.get(key, key)


def chip_path(ref: str | Path, *, relative_to: Path | None = None) -> Path:
    """The chip file a reference names: a catalog name ('v4', 'tpu-v4', 'V4', 'ironwood') or a path."""
    return find_input(ref, kind="chip", folder="topologies", prefix=CHIP_PREFIX,
                      relative_to=relative_to, name_key=_chip_key)


def pod_path(ref: str | Path, *, relative_to: Path | None = None) -> Path:
    """The pod file a reference names: a catalog name ('tpu-v4-4096') or a path."""
    return find_input(ref, kind="pod", folder="topologies", prefix=POD_PREFIX, relative_to=relative_to)


@file_cached()
def _load_chip_file(path: Path) -> Chip:
    return replace(chip_from_dict(load_toml(path), str(path)), path=str(path))


def load_chip(name_or_path: str | Path) -> Chip:
    """A chip by catalog name ('v4', also 'tpu-v4' or 'V4') or from a chip TOML file."""
    path = chip_path(name_or_path)
    return _load_chip_file(path)


def pod_from_dict(doc: dict[str, Any], where: str, *, base: Path | None = None) -> Pod:
    """Build a Pod from a parsed pod TOML document; its `chip` names a catalog chip or a file
    (looked for beside the pod file, `base`, too)."""
    with Section(doc, where) as top:
        return _pod(top, base)


def _pod(top: Section, base: Path | None) -> Pod:
    table = top.section("pod")
    name = table.string("name")
    chip_file = chip_path(table.string("chip"), relative_to=base)
    chip = _load_chip_file(chip_file)
    shape = table.shape("shape")
    ocs = table.boolean("ocs")
    if len(shape) != chip.torus_dims:
        raise TpusimError(
            f"{table.label}: pod shape {fmt_shape(shape)} has {len(shape)} axes but chip "
            f"{chip.name} is a {chip.torus_dims}D torus"
        )
    chips = math.prod(shape)
    if chips > chip.max_pod_chips:
        raise TpusimError(
            f"{table.label}: pod of {chips} chips exceeds the largest {chip.name} pod ({chip.max_pod_chips})"
        )
    if any(s % h for s, h in zip(shape, chip.host_shape, strict=True)):
        raise TpusimError(f"{table.label}: pod shape must be a whole number of hosts {chip.host_shape}")
    ports = spare = None
    table.allow("ocs_ports", "ocs_spare_ports")
    if not ocs and (table.has("ocs_ports") or table.has("ocs_spare_ports")):
        raise TpusimError(f"{table.label}: ocs_ports and ocs_spare_ports belong to an OCS pod; "
                          f"remove them or set ocs = true")
    if ocs:
        if chip.cube_shape is None:
            raise TpusimError(f"{table.label}: ocs = true needs a chip with cube_shape; {chip.name} has none")
        if any(s % c for s, c in zip(shape, chip.cube_shape, strict=True)):
            raise TpusimError(
                f"{table.label}: an OCS pod must be whole cubes; each side a multiple of {chip.cube_shape}"
            )
        ports = table.integer("ocs_ports", at_least=1, at_most=100_000)
        spare = table.integer("ocs_spare_ports", at_least=0)
        if ports - spare < 2:
            raise TpusimError(f"{table.label}: an OCS needs at least 2 usable ports; ocs_spare_ports "
                              f"({spare}) must be at most ocs_ports - 2 ({ports - 2})")
    sources, assumptions = _sources(top, table)
    top.done()
    return Pod(name=name, chip=chip, shape=shape, ocs=ocs, ocs_ports=ports,
               ocs_spare_ports=spare, sources=sources, assumptions=assumptions)


@file_cached()
def _load_pod_file(path: Path) -> Pod:  # cached while the pod file and its chip file are unchanged
    return pod_from_dict(load_toml(path), str(path), base=path.parent)


def load_pod(name_or_path: str | Path, *, relative_to: Path | None = None) -> Pod:
    """A pod by catalog name ('tpu-v4-4096'), from a pod TOML file (also beside `relative_to`),
    or the catalog pod of a Cloud TPU name ('v5p-128': the v5p pod; see `cloud_slice`)."""
    named = cloud_slice(name_or_path) if isinstance(name_or_path, str) else None
    if named is not None:
        return named.pod
    path = pod_path(name_or_path, relative_to=relative_to)
    return _load_pod_file(path)


# Cloud TPU accelerator names: '<generation>-<N>'. N counts TensorCores, so a chip counts
# tensorcores_per_chip of them (from the chip TOML): v4-8 and v5p-128 are 4 and 64 chips (2 per
# chip), v5litepod-256 / v5e-256 / v6e-256 are 256 chips (1 per chip); tpu7x-N follows the same
# rule with Ironwood's 2 TensorCores per chip (an assumption: the Cloud docs list TPU7x by
# topology). https://cloud.google.com/tpu/docs/types-topologies
CLOUD_PREFIXES = ("v2", "v3", "v4", "v5p", "v5e", "v5litepod", "v6e", "tpu7x")


@dataclass(frozen=True)
class CloudSlice:
    """A Cloud TPU name resolved: the catalog pod of its generation and the slice it names."""

    name: str
    pod: Pod
    chips: int
    shape: tuple[int, ...]  # the most compact legal shape with that many chips

    @property
    def slice_shape(self) -> str:
        return fmt_shape(self.shape)


def cloud_slice(name: str) -> CloudSlice | None:
    """`name` as a Cloud TPU accelerator name ('v4-8', 'v5p-128', 'v5litepod-256', 'v6e-256',
    'tpu7x-256'); None when it is not written like one. A name of that form whose size is not a
    slice of the generation's catalog pod is a TpusimError naming the legal sizes."""
    from tpusim.topology.shape import compact_shape

    prefix, _, count = name.strip().lower().rpartition("-")
    if prefix not in CLOUD_PREFIXES or not count.isdigit():
        return None
    chip = load_chip(prefix)
    pods = [p for p in all_pods() if p.chip.name == chip.name]
    if not pods:
        raise TpusimError(f"{name}: no catalog pod of {chip.name} chips; add a pod TOML to topologies/")
    pod = max(pods, key=lambda p: p.chips)
    cores, per_chip = int(count), chip.tensorcores_per_chip
    if cores < per_chip or cores % per_chip:
        raise TpusimError(f"{name}: the number after the dash counts TensorCores ({per_chip} per "
                          f"{chip.name} chip), so it must be a multiple of {per_chip}")
    chips = cores // per_chip
    try:
        shape = compact_shape(chip, pod.shape, chips)
    except TpusimError as exc:
        raise TpusimError(f"{name} = {chips} {chip.name} chips: {exc}") from None
    return CloudSlice(name=name, pod=pod, chips=chips, shape=shape)


def planned_slice_of(pod: Any, slice_shape: str | None = None) -> str | None:
    """The slice a planner question names (`pod_and_slice`: a Cloud TPU name such as 'v5p-128'
    names that slice); a name smaller than one cube is an error: the planner counts whole cubes."""
    from tpusim.topology.shape import is_whole_cubes

    named = cloud_slice(pod) if isinstance(pod, str) else None
    if named is None:
        return slice_shape
    chip = named.pod.chip
    if chip.cube_shape is not None and not is_whole_cubes(chip, named.shape):
        cube_chips = math.prod(chip.cube_shape)
        raise TpusimError(
            f"{pod} is a {named.chips}-chip slice ({named.slice_shape}), less than one "
            f"{cube_chips}-chip cube; plan counts whole cubes: name a slice of whole cubes "
            f"({pod.rpartition('-')[0]}-{cube_chips * chip.tensorcores_per_chip} or more) or "
            f"the pod ({named.pod.name})")
    return pod_and_slice(pod, slice_shape)


def slice_named(pod: str | Path | None, slice_shape: str | None, *,
                via: str = "`pod`") -> tuple[str | Path | None, str | None]:
    """A slice given as a Cloud TPU name ('v5p-128'): with no pod the name stands for both, as
    `pod='v5p-128'` does (-> (name, None)); with a pod it must be that name's catalog pod and
    becomes its shape in chips (`via` says how the pod was given, for the message). Any other
    slice passes through."""
    named = cloud_slice(slice_shape) if isinstance(slice_shape, str) else None
    if named is None:
        return pod, slice_shape
    if pod is None:
        return slice_shape, None
    given = load_pod(pod)
    if given.name != named.pod.name:
        raise TpusimError(f"`slice` {slice_shape} is {named.chips} chips of {named.pod.name}, not "
                          f"of {via} {given.name}; give the Cloud TPU name alone, or {via} "
                          f"{given.name} with a shape in chips",
                          params=("slice", *re.findall(r"`(\w+)`", via)))
    return pod, named.slice_shape


def planned_pod(*, pod: str | Path | None, chips: int | None, generation: str | None,
                slice_shape: str | None) -> tuple[Pod, str | None]:
    """The pod and slice a planner question names (tpusim plan, tpusim.plan, sweep plan
    points): `select_pod` for the pod; a Cloud TPU name as `pod` or as `slice_shape` names its
    pod and that slice (`slice_named`, `planned_slice_of`), which must agree with the pod,
    `chips` or `generation` given."""
    if pod is None and (chips is not None or generation is not None):
        sized = select_pod(chips=chips, generation=generation).name  # a named slice must be of it
        named, slice_shape = slice_named(sized, slice_shape, via="the pod of `chips`/`generation`")
        pod = None if named == sized else named
    else:
        pod, slice_shape = slice_named(pod, slice_shape)
    return (select_pod(pod=pod, chips=chips, generation=generation),
            planned_slice_of(pod, slice_shape))


def chip_and_slice(chip: str | None, slice_shape: str | None) -> tuple[str | None, str | None]:
    """A slice given as a Cloud TPU name ('v5p-128') -> (its chip, its shape in chips); any
    other slice passes through. A chip that contradicts the name is an error."""
    if slice_shape is not None and not isinstance(slice_shape, str):
        raise TpusimError(f"slice must be a shape like '4x4x8' or a Cloud TPU name like 'v5p-128', "
                          f"got {slice_shape!r}", params=("slice",))
    named = cloud_slice(slice_shape) if slice_shape else None
    if named is None:
        return chip, slice_shape
    own = named.pod.chip.name
    if chip is not None and load_chip(chip).name != own:
        raise TpusimError(f"slice {slice_shape} is {named.chips} {own} chips, not {chip}; give the "
                          f"chip or a Cloud TPU name of that chip, not both", params=("chip",))
    return own, named.slice_shape


def cloud_prefixes(chip: Chip) -> list[str]:
    """The Cloud TPU name prefixes of `chip`, canonical first ('v5e', 'v5litepod')."""
    return [p for p in CLOUD_PREFIXES if _chip_key(p) == chip.name]


def pod_and_slice(pod: str | Path, slice_shape: str | None) -> str | None:
    """The slice a pod reference implies: a Cloud TPU name ('v4-8') names its slice, which a
    different `slice_shape` contradicts (an error); any other pod passes `slice_shape` through."""
    named = cloud_slice(pod) if isinstance(pod, str) else None
    if named is None:
        return slice_shape
    if slice_shape is not None and parse_shape(slice_shape) != parse_shape(named.slice_shape):
        raise TpusimError(f"pod {pod} names {named.slice_shape} chips of {named.pod.name}, not "
                          f"slice {slice_shape}; give pod {named.pod.name} with slice {slice_shape}, "
                          f"or the Cloud TPU name alone", params=("pod", "slice"))
    return named.slice_shape


def cloud_names(chip: Chip) -> list[str]:
    """The Cloud TPU names of every legal slice size of `chip`'s catalog pod, smallest first."""
    from tpusim.topology.shape import legal_shapes

    pods = [p for p in all_pods() if p.chip.name == chip.name]
    if not pods:
        return []
    pod = max(pods, key=lambda p: p.chips)
    prefix = next(p for p in CLOUD_PREFIXES if _chip_key(p) == chip.name)
    sizes = sorted({math.prod(s) for s in legal_shapes(chip, pod.shape)})
    return [f"{prefix}-{n * chip.tensorcores_per_chip}" for n in sizes]


def all_chips() -> list[Chip]:
    return [load_chip(n) for n in chip_names()]


def all_pods() -> list[Pod]:
    return [load_pod(n) for n in pod_names()]


def pods_of_chip(chip: Chip) -> list[Pod]:
    """The pods built of `chip`: the catalog's, and for a chip read from a file outside the
    catalog the pod files (`pod-*.toml`) beside it that name it. Empty if there is none."""
    pods = [p for p in all_pods() if p.chip.name == chip.name]
    if pods or chip.path is None:
        return pods
    for path in sorted(Path(chip.path).parent.glob(f"{POD_PREFIX}*.toml")):
        try:
            pod = _load_pod_file(path)
        except TpusimError:
            continue  # another kind of file, or a pod of a chip that is not there
        if pod.chip.path == chip.path:
            pods.append(pod)
    return pods


def no_pod_error(chip: Chip) -> TpusimError:
    """The error for a chip no pod is built of (slices are cut from its largest pod)."""
    where = "the catalog" if chip.path is None else f"the catalog or beside {chip.path}"
    return TpusimError(f"no pod of chip {chip.name} in {where}; slices are cut from the chip's "
                       f"largest pod: put a pod TOML (pod-NAME.toml, [pod] chip = its file) beside "
                       f"the chip file")


def select_pod(*, pod: str | Path | None = None, chips: int | None = None,
               generation: str | None = None) -> Pod:
    """The pod a user asked for: by name or file (`pod`), else by size (`chips`, default
    defaults.POD_CHIPS) and `generation`; a generation alone names its largest catalog pod (the
    one its Cloud TPU names cut slices from). A pod given together with a size or a generation it
    does not have is a contradiction, refused (never one of them silently ignored)."""
    if pod is None:
        if chips is None and generation is not None:
            chip = load_chip(generation)
            pods = [p for p in all_pods() if p.chip.name == chip.name]
            if pods:
                return max(pods, key=lambda p: p.chips)
        return find_pod(defaults.POD_CHIPS if chips is None else chips, generation)
    found = load_pod(pod)
    if chips is not None and chips != found.chips:
        raise TpusimError(f"pod {found.name} has {found.chips} chips, not {chips}; give the pod or "
                          f"the chip count (`pod` or `chips`), not both", params=("pod", "chips"))
    if generation is not None and load_chip(generation).name != found.chip.name:
        raise TpusimError(f"pod {found.name} is made of {found.chip.name} chips, not {generation}; "
                          f"give the pod or the generation (`pod` or `generation`), not both",
                          params=("pod", "generation"))
    return found


def find_pod(chips: int, generation: str | None = None) -> Pod:
    """The catalog pod with `chips` chips (and of `generation`, if given).

    Raises a TpusimError listing the known pod sizes when none matches, or the candidates when
    several do and no generation was given.
    """
    if generation is not None:
        chip = load_chip(generation)
        matches = [p for p in all_pods() if p.chips == chips and p.chip.name == chip.name]
    else:
        matches = [p for p in all_pods() if p.chips == chips]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        sizes = ", ".join(f"{p.chips} ({p.chip.name})" for p in all_pods())
        gen = f" of generation {generation}" if generation else ""
        raise TpusimError(f"no catalog pod{gen} has {chips} chips; known pods: {sizes}")
    names = ", ".join(f"{p.name} ({p.chip.name})" for p in matches)
    raise TpusimError(f"{chips} chips matches several pods: {names}; choose one with generation",
                      params=("generation",))
