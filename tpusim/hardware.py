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
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tpusim.data import data_dir, load_toml, require_key, require_table
from tpusim.errors import TpusimError, require_positive, unknown_name

CHIP_PREFIX = "chip-"
POD_PREFIX = "pod-"

# Required numeric chip fields (SI units, names carry the unit).
_CHIP_NUMBERS = (
    "peak_bf16_flops_per_s",
    "hbm_bytes",
    "hbm_bytes_per_s",
    "tensorcores_per_chip",
    "mxu_dim",
    "ici_links_per_chip",
    "ici_link_one_way_bytes_per_s",
    "ici_hop_latency_s",
    "torus_dims",
    "chips_per_host",
    "pcie_bytes_per_s",
    "dcn_bytes_per_s_per_chip",
    "max_pod_chips",
)
_CHIP_OPTIONAL_NUMBERS = (
    "peak_int8_ops_per_s",
    "peak_fp8_flops_per_s",
    "mxus_per_tensorcore",
    "clock_hz",
    "spmem_bytes_per_chip",
)
_SLICE_RULES = ("cubes", "listed")
_WRAP_RULES = ("whole_cubes", "full_axis")


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
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    assumptions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

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
        return tuple(s // c for s, c in zip(self.shape, self.chip.cube_shape, strict=True))

    @property
    def cubes(self) -> int:
        grid = self.cube_grid
        return 0 if grid is None else math.prod(grid)


def _where(path: Path) -> str:
    return str(path)


def _read_sources(doc: dict[str, Any], where: str, values: dict[str, Any]) -> tuple[dict, dict]:
    sources = doc.get("sources", {})
    assumptions = doc.get("assumptions", {})
    if not isinstance(sources, dict) or not isinstance(assumptions, dict):
        raise TpusimError(f"{where}: [sources] and [assumptions] must be tables")
    missing = [k for k in values if k not in sources and k != "name" and k != "chip"]
    if missing:
        raise TpusimError(
            f"{where}: no source for {', '.join(missing)}; add a [sources] entry citing each value"
        )
    return dict(sources), dict(assumptions)


def _parse_dims(value: Any, key: str, where: str) -> tuple[int, ...]:
    if isinstance(value, str):
        from tpusim.topology.shape import parse_shape

        return parse_shape(value)
    if not isinstance(value, list) or not value or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise TpusimError(f"{where}: {key} must be a list of positive integers like [2, 2, 1]")
    return tuple(value)


def chip_from_dict(doc: dict[str, Any], where: str) -> Chip:
    """Build a Chip from a parsed chip TOML document, checking every field."""
    table = require_table(doc, "chip", where)
    slices = require_table(doc, "slices", where)
    values: dict[str, Any] = {"name": require_key(table, "name", where, str)}
    for key in _CHIP_NUMBERS:
        value = require_key(table, key, where, (int, float))
        values[key] = require_positive(where, key, value)
    for key in _CHIP_OPTIONAL_NUMBERS:
        if key in table:
            values[key] = require_positive(where, key, require_key(table, key, where, (int, float)))
    sparse = require_key(table, "sparsecores_per_chip", where, int)
    if sparse < 0:
        raise TpusimError(f"{where}: sparsecores_per_chip must be >= 0, got {sparse}")
    values["sparsecores_per_chip"] = sparse
    for key in ("hbm_bytes", "tensorcores_per_chip", "mxu_dim", "ici_links_per_chip",
                "torus_dims", "chips_per_host", "max_pod_chips", "mxus_per_tensorcore",
                "spmem_bytes_per_chip"):
        if key in values and values[key] != int(values[key]):
            raise TpusimError(f"{where}: {key} must be a whole number, got {values[key]}")
        if key in values:
            values[key] = int(values[key])
    values["host_shape"] = _parse_dims(require_key(table, "host_shape", where, list), "host_shape", where)
    if "cube_shape" in table:
        values["cube_shape"] = _parse_dims(table["cube_shape"], "cube_shape", where)
    sources, assumptions = _read_sources(doc, where, table)
    dims = values["torus_dims"]
    if len(values["host_shape"]) != dims or math.prod(values["host_shape"]) != values["chips_per_host"]:
        raise TpusimError(
            f"{where}: host_shape {values['host_shape']} must have {dims} axes and "
            f"{values['chips_per_host']} chips (chips_per_host)"
        )
    if "cube_shape" in values and len(values["cube_shape"]) != dims:
        raise TpusimError(f"{where}: cube_shape must have {dims} axes (torus_dims)")

    rule = require_key(slices, "rule", where, str)
    if rule not in _SLICE_RULES:
        raise TpusimError(f"{where}: [slices] rule must be one of {', '.join(_SLICE_RULES)}, got {rule!r}")
    wrap = require_key(slices, "wrap", where, str)
    if wrap not in _WRAP_RULES:
        raise TpusimError(f"{where}: [slices] wrap must be one of {', '.join(_WRAP_RULES)}, got {wrap!r}")
    if (rule == "cubes" or wrap == "whole_cubes") and "cube_shape" not in values:
        raise TpusimError(f"{where}: slice rule {rule!r} / wrap {wrap!r} needs [chip] cube_shape")
    shapes: tuple[tuple[int, ...], ...] = ()
    if rule == "listed":
        listed = require_key(slices, "shapes", where, list)
        shapes = tuple(_parse_dims(s, "shapes", where) for s in listed)
    values["slice_rule"] = rule
    values["slice_shapes"] = shapes
    values["wrap_rule"] = wrap
    values["twisted_allowed"] = bool(slices.get("twisted", False))
    return Chip(**values, sources=sources, assumptions=assumptions)


def _catalog_files(prefix: str) -> dict[str, Path]:
    folder = data_dir("topologies")
    return {p.stem[len(prefix):]: p for p in sorted(folder.glob(f"{prefix}*.toml"))}


def chip_names() -> list[str]:
    """Names of the chips in the shipped catalog."""
    return list(_catalog_files(CHIP_PREFIX))


def pod_names() -> list[str]:
    """Names of the pods in the shipped catalog."""
    return list(_catalog_files(POD_PREFIX))


@cache
def _load_chip_file(path: Path) -> Chip:
    return chip_from_dict(load_toml(path), _where(path))


def load_chip(name_or_path: str | Path) -> Chip:
    """A chip by catalog name ('v4', also 'tpu-v4' or 'V4') or from a chip TOML file."""
    path = _catalog_path(name_or_path, CHIP_PREFIX, "chip")
    return _load_chip_file(path)


def _catalog_path(name_or_path: str | Path, prefix: str, kind: str) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise TpusimError(f"{kind} file not found: {text!r}")
        return path.resolve()
    files = _catalog_files(prefix)
    key = text.lower()
    if key.startswith("tpu-") and prefix == CHIP_PREFIX:
        key = key[4:]
    if key == "tpu7x" or key == "ironwood":
        key = "v7"
    if key not in files:
        raise unknown_name(kind, text, files)
    return files[key].resolve()


def pod_from_dict(doc: dict[str, Any], where: str, *, base: Path | None = None) -> Pod:
    """Build a Pod from a parsed pod TOML document; its `chip` names a catalog chip or a file."""
    from tpusim.topology.shape import parse_shape

    table = require_table(doc, "pod", where)
    name = require_key(table, "name", where, str)
    chip_ref = require_key(table, "chip", where, str)
    if chip_ref.endswith(".toml") and base is not None and not Path(chip_ref).is_file():
        chip_ref = str(base / chip_ref)
    chip = load_chip(chip_ref)
    shape = parse_shape(require_key(table, "shape", where, str))
    ocs = require_key(table, "ocs", where, bool)
    if len(shape) != chip.torus_dims:
        raise TpusimError(
            f"{where}: pod shape {'x'.join(map(str, shape))} has {len(shape)} axes but chip "
            f"{chip.name} is a {chip.torus_dims}D torus"
        )
    chips = math.prod(shape)
    if chips > chip.max_pod_chips:
        raise TpusimError(
            f"{where}: pod of {chips} chips exceeds the largest {chip.name} pod ({chip.max_pod_chips})"
        )
    if any(s % h for s, h in zip(shape, chip.host_shape, strict=True)):
        raise TpusimError(f"{where}: pod shape must be a whole number of hosts {chip.host_shape}")
    ports = spare = None
    if ocs:
        if chip.cube_shape is None:
            raise TpusimError(f"{where}: ocs = true needs a chip with cube_shape; {chip.name} has none")
        if any(s % c for s, c in zip(shape, chip.cube_shape, strict=True)):
            raise TpusimError(
                f"{where}: an OCS pod must be whole cubes; each side a multiple of {chip.cube_shape}"
            )
        ports = int(require_positive(where, "ocs_ports", require_key(table, "ocs_ports", where, int)))
        spare = require_key(table, "ocs_spare_ports", where, int)
        if not 0 <= spare < ports:
            raise TpusimError(f"{where}: ocs_spare_ports must be in [0, ocs_ports), got {spare}")
    sources, assumptions = _read_sources(doc, where, table)
    return Pod(name=name, chip=chip, shape=shape, ocs=ocs, ocs_ports=ports,
               ocs_spare_ports=spare, sources=sources, assumptions=assumptions)


@cache
def _load_pod_file(path: Path) -> Pod:
    return pod_from_dict(load_toml(path), _where(path), base=path.parent)


def load_pod(name_or_path: str | Path) -> Pod:
    """A pod by catalog name ('tpu-v4-4096') or from a pod TOML file."""
    return _load_pod_file(_catalog_path(name_or_path, POD_PREFIX, "pod"))


def all_chips() -> list[Chip]:
    return [load_chip(n) for n in chip_names()]


def all_pods() -> list[Pod]:
    return [load_pod(n) for n in pod_names()]


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
    raise TpusimError(f"{chips} chips matches several pods: {names}; choose one with --generation")
