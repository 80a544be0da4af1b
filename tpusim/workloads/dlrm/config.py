"""DLRM workload: frozen dataclasses for the `[model] kind = "dlrm"` TOML schema.

[model]      kind = "dlrm", dense_features, bottom_mlp = [..], top_mlp = [..],
             interaction = "dot" | "dcn" (dcn_layers, dcn_low_rank)
[embedding]  dim, table_dtype, activation_dtype, optimizer (sgd | adagrad | adam), combiner,
             placement (sparsecore | tensorcore | host), sharding (mod | table | column),
             replicate_below_rows, unique_fraction, skew, pipelining
[[embedding.tables]]  name, rows, dim (optional), lookups, count (repeats), sequence
[training]   global_batch (samples); optional dense_optimizer, gradient_dtype
[system]     chip, chips (all slices), slices, twisted

The arithmetic the model needs from a table set (row bytes with 32 B padding, totals) lives in
`tables.py`; this module only holds and checks the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

from tpusim.errors import TpusimError
from tpusim.filecache import file_cached
from tpusim.inputs import Section, check_choice, parse_shape, read_toml

INTERACTIONS = ("dot", "dcn")
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "int8": 1}
OPTIMIZER_SLOTS = {"sgd": 0, "adagrad": 1, "adam": 2}  # per-row state beside the row itself
COMBINERS = ("sum", "mean", "sqrtn")  # per-id weights: no cost difference
PLACEMENTS = ("sparsecore", "tensorcore", "host")
SHARDINGS = ("mod", "table", "column")


@dataclass(frozen=True)
class DlrmModel:
    """Dense part: bottom MLP on the dense features, interaction, top MLP."""

    dense_features: int
    bottom_mlp: tuple[int, ...]
    top_mlp: tuple[int, ...]
    interaction: str = "dot"
    dcn_layers: int = 0
    dcn_low_rank: int = 0


@dataclass(frozen=True)
class Table:
    """One embedding table (`count` identical copies). `lookups` ids per sample (multi-hot
    size); a `sequence` feature is not pooled (one output vector per lookup)."""

    name: str
    rows: int
    lookups: int
    dim: int | None = None  # None: the [embedding] dim
    count: int = 1
    sequence: bool = False


@dataclass(frozen=True)
class Embedding:
    dim: int
    tables: tuple[Table, ...]
    table_dtype: str = "fp32"
    activation_dtype: str = "fp32"
    optimizer: str = "adagrad"
    combiner: str = "sum"
    placement: str = "sparsecore"
    sharding: str = "mod"
    replicate_below_rows: int = 0  # smaller tables: replicated on every chip, looked up by the TensorCore
    unique_fraction: float = 1.0  # unique / total ids per partition after dedup (<= 1)
    skew: float = 1.0  # max / mean ids per partition (>= 1)
    pipelining: bool = True  # SparseCore (or host) work overlaps the TensorCore's

    @property
    def table_bytes(self) -> int:
        return DTYPE_BYTES[self.table_dtype]

    @property
    def activation_bytes(self) -> int:
        return DTYPE_BYTES[self.activation_dtype]

    @property
    def slots(self) -> int:
        return OPTIMIZER_SLOTS[self.optimizer]


@dataclass(frozen=True)
class DlrmTraining:
    global_batch: int  # samples per step, all chips together
    dense_optimizer: str  # the file's [embedding] optimizer unless [training] names another
    gradient_dtype: str = "bf16"  # dense-gradient all-reduce payload

    @property
    def gradient_bytes(self) -> int:
        return DTYPE_BYTES[self.gradient_dtype]


@dataclass(frozen=True)
class DlrmSystem:
    chip: str
    chips: int  # all slices together
    slices: int = 1
    twisted: bool = False
    slice_shape: str | None = None

    @property
    def chips_per_slice(self) -> int:
        return self.chips // self.slices


@dataclass(frozen=True)
class DlrmWorkload:
    name: str
    model: DlrmModel
    embedding: Embedding
    training: DlrmTraining
    system: DlrmSystem

    kind = "dlrm"


def check_workload(wl: DlrmWorkload) -> DlrmWorkload:
    """Raise a TpusimError for inputs no model can have (the reader checks types and ranges;
    this checks the relations between values). Returns `wl`."""
    s, t = wl.system, wl.training
    if s.chips % s.slices:
        raise TpusimError(f"[system] chips = {s.chips} must be a multiple of slices = {s.slices}")
    if t.global_batch % s.chips:
        raise TpusimError(
            f"[training] global_batch = {t.global_batch} must be a multiple of the {s.chips} chips "
            f"(each chip takes the same number of samples), e.g. "
            f"{s.chips * max(1, t.global_batch // s.chips)}"
        )
    m = wl.model
    if m.interaction == "dcn" and (m.dcn_layers < 1 or m.dcn_low_rank < 1):
        raise TpusimError('[model] interaction = "dcn" needs dcn_layers >= 1 and dcn_low_rank >= 1')
    if not wl.embedding.tables:
        raise TpusimError("[embedding] needs at least one [[embedding.tables]] entry")
    names = [tb.name for tb in wl.embedding.tables]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TpusimError(f"[[embedding.tables]] names must be unique; repeated: {', '.join(dup)} "
                          f"(use count = k for identical tables)")
    if s.slice_shape is not None and math.prod(parse_shape(s.slice_shape)) != s.chips_per_slice:
        raise TpusimError(f"[system] slice_shape {s.slice_shape} does not hold chips / slices = "
                          f"{s.chips_per_slice} chips")
    return wl


def with_overrides(
    wl: DlrmWorkload,
    *,
    chip: str | None = None,
    chips: int | None = None,
    slices: int | None = None,
    twisted: bool | None = None,
    slice_shape: str | None = None,
    placement: str | None = None,
    sharding: str | None = None,
    pipelining: bool | None = None,
    global_batch: int | None = None,
) -> DlrmWorkload:
    """The workload with system / embedding fields replaced (None keeps the file's value). A new
    chip, chip count or slice count drops the file's slice shape and twist, a new slice shape its
    twist (they were chosen for the file's system): plain unless `twisted` is given. A slice
    shape without `chips` sets the chips (shape x slices)."""
    for name, value in (("chips", chips), ("slices", slices), ("global_batch", global_batch)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise TpusimError(f"{name} must be a positive integer, got {value!r}", params=(name,))
    for name, value in (("twisted", twisted), ("pipelining", pipelining)):
        if value is not None and not isinstance(value, bool):
            raise TpusimError(f"{name} must be true or false, got {value!r}", params=(name,))
    if placement is not None:
        check_choice(placement, "placement", "", PLACEMENTS, param=True)
    if sharding is not None:
        check_choice(sharding, "sharding", "", SHARDINGS, param=True)
    sys_ = wl.system
    if slice_shape is not None and chips is None:  # the shape alone sets the slice size
        chips = math.prod(parse_shape(slice_shape)) * (slices if slices is not None else sys_.slices)
    resized = (chip is not None and chip != sys_.chip) or (chips is not None and chips != sys_.chips) or (
        slices is not None and slices != sys_.slices)
    reshaped = slice_shape is not None and slice_shape != sys_.slice_shape
    system = replace(
        sys_,
        chip=chip if chip is not None else sys_.chip,
        chips=chips if chips is not None else sys_.chips,
        slices=slices if slices is not None else sys_.slices,
        twisted=twisted if twisted is not None else (False if resized or reshaped else sys_.twisted),
        slice_shape=slice_shape if slice_shape is not None else (None if resized else sys_.slice_shape),
    )
    emb = replace(
        wl.embedding,
        placement=placement if placement is not None else wl.embedding.placement,
        sharding=sharding if sharding is not None else wl.embedding.sharding,
        pipelining=pipelining if pipelining is not None else wl.embedding.pipelining,
    )
    training = wl.training if global_batch is None else replace(wl.training, global_batch=global_batch)
    if slice_shape is not None:  # an illegal shape is the problem to name, before the batch's
        from tpusim.hardware import load_chip
        from tpusim.workloads.sharding import resolve_slice

        shape_chips = math.prod(parse_shape(slice_shape))
        resolve_slice(load_chip(system.chip), shape_chips, slice_shape, system.twisted)
    return check_workload(replace(wl, system=system, embedding=emb, training=training))


def _default(cls: type, name: str):
    """The dataclass field's default (each default is written once, on the dataclass)."""
    return next(f.default for f in fields(cls) if f.name == name)


MAX_COUNT = 10**13  # rows, ids, chips: anything larger is a typo, not a workload


def model_from_section(t: Section) -> DlrmModel:
    kind = t.string("kind")
    if kind != "dlrm":
        raise TpusimError(f'{t.label}: kind {kind!r} is not a DLRM; this reader needs kind = "dlrm"')
    interaction = t.choice("interaction", INTERACTIONS, _default(DlrmModel, "interaction"))
    dcn = interaction == "dcn"
    layers = t.integer("dcn_layers", 0, at_least=1 if dcn else 0, at_most=1000)
    rank = t.integer("dcn_low_rank", 0, at_least=1 if dcn else 0, at_most=MAX_COUNT)
    if not dcn and (layers or rank):
        raise TpusimError(f'{t.label}: dcn_layers and dcn_low_rank belong to interaction = "dcn"; '
                          f'remove them or set interaction = "dcn"')
    bottom = t.integers("bottom_mlp", at_least=1, at_most=MAX_COUNT)
    top = t.integers("top_mlp", at_least=1, at_most=MAX_COUNT)
    for key, widths in (("bottom_mlp", bottom), ("top_mlp", top)):
        if not widths:
            raise TpusimError(f"{t.label}: {key} needs at least one layer width, e.g. [512, 256, 128]")
    return DlrmModel(
        dense_features=t.integer("dense_features", at_least=1, at_most=MAX_COUNT),
        bottom_mlp=bottom,
        top_mlp=top,
        interaction=interaction,
        dcn_layers=layers,
        dcn_low_rank=rank,
    )


def table_from_section(t: Section) -> Table:
    return Table(
        name=t.string("name"),
        rows=t.integer("rows", at_least=1, at_most=MAX_COUNT),
        lookups=t.integer("lookups", at_least=1, at_most=MAX_COUNT),
        dim=t.integer("dim", None, at_least=1, at_most=2**20),
        count=t.integer("count", _default(Table, "count"), at_least=1, at_most=10**6),
        sequence=t.boolean("sequence", _default(Table, "sequence")),
    )


def embedding_from_section(t: Section) -> Embedding:
    d = {f.name: f.default for f in fields(Embedding) if f.name not in ("dim", "tables")}
    tables = tuple(table_from_section(x) for x in t.sections("tables"))
    return Embedding(
        dim=t.integer("dim", at_least=1, at_most=2**20),
        tables=tables,
        table_dtype=t.choice("table_dtype", tuple(DTYPE_BYTES), d["table_dtype"]),
        activation_dtype=t.choice("activation_dtype", tuple(DTYPE_BYTES), d["activation_dtype"]),
        optimizer=t.choice("optimizer", tuple(OPTIMIZER_SLOTS), d["optimizer"]),
        combiner=t.choice("combiner", COMBINERS, d["combiner"]),
        placement=t.choice("placement", PLACEMENTS, d["placement"]),
        sharding=t.choice("sharding", SHARDINGS, d["sharding"]),
        replicate_below_rows=t.integer("replicate_below_rows", d["replicate_below_rows"], at_least=0,
                                       at_most=MAX_COUNT),
        unique_fraction=t.number("unique_fraction", d["unique_fraction"], above=0, at_most=1,
                                 hint="unique / total ids per partition, e.g. 0.6"),
        skew=t.number("skew", d["skew"], at_least=1, at_most=1e6,
                      hint="max / mean ids per partition, 1 = even"),
        pipelining=t.boolean("pipelining", d["pipelining"]),
    )


def training_from_section(t: Section, embedding_optimizer: str) -> DlrmTraining:
    return DlrmTraining(
        global_batch=t.integer("global_batch", at_least=1, at_most=MAX_COUNT),
        dense_optimizer=t.choice("dense_optimizer", tuple(OPTIMIZER_SLOTS), embedding_optimizer),
        gradient_dtype=t.choice("gradient_dtype", tuple(DTYPE_BYTES),
                                _default(DlrmTraining, "gradient_dtype")),
    )


def system_from_section(t: Section) -> DlrmSystem:
    shape = t.string("slice_shape", None, hint='a shape like "4x4x8"')
    if shape is not None:
        parse_shape(shape)
    return DlrmSystem(
        chip=t.string("chip"),
        chips=t.integer("chips", at_least=1, at_most=10**7),
        slices=t.integer("slices", _default(DlrmSystem, "slices"), at_least=1, at_most=10**5),
        twisted=t.boolean("twisted", _default(DlrmSystem, "twisted")),
        slice_shape=shape,
    )


def dlrm_from_section(doc: Section, name: str) -> DlrmWorkload:
    """Read a whole DLRM workload file strictly (unknown keys and tables are errors)."""
    model = model_from_section(doc.section("model"))
    emb = embedding_from_section(doc.section("embedding"))
    training = training_from_section(doc.section("training"), emb.optimizer)
    system = system_from_section(doc.section("system"))
    doc.done()
    return check_workload(DlrmWorkload(name=name, model=model, embedding=emb, training=training,
                                       system=system))


@file_cached()
def _load_file(path: Path) -> DlrmWorkload:
    with read_toml(path) as doc:
        return dlrm_from_section(doc, path.stem)


def load_dlrm(path_or_name: str | Path, *, relative_to: Path | None = None) -> DlrmWorkload:
    """A DLRM workload from a TOML path, or a shipped one by bare name ('dlrm-dcnv2')."""
    from tpusim.workloads.config import workload_path

    return _load_file(workload_path(path_or_name, relative_to=relative_to))
