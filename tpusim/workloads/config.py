"""Workload TOML -> frozen dataclasses, with every input checked (schema in docs/contract.md).

[model]        kind = "dense_llm", layers, d_model, heads, head_dim, kv_heads, d_ff, vocab,
               seq_len, mlp = "gelu"|"swiglu"; optional block = "serial"|"parallel",
               tie_embeddings (true), attention = "flash"|"materialized", position = "rope"|"learned"
[training]     global_batch_seqs, remat = none|minimal|full|palm, optimizer = adafactor|adam,
               param_dtype = bf16|fp32; optional async_all_gather (true)
[system]       chip, chips_per_slice, slices; optional slice_shape, twisted
[parallelism]  optional: data, fsdp, tensor, pipeline, microbatches; optional
               axes = {tensor = [0], fsdp = [1, 2]} to fix which physical axes each runs over
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from tpusim.data import load_toml, require_key, require_table, resolve_path
from tpusim.errors import TpusimError

MLPS = ("gelu", "swiglu")
BLOCKS = ("serial", "parallel")
REMATS = ("none", "minimal", "full", "palm")
OPTIMIZERS = ("adafactor", "adam")
DTYPES = {"bf16": 2, "fp32": 4}
ATTENTIONS = ("flash", "materialized")
POSITIONS = ("rope", "learned")
LOGICAL_AXES = ("tensor", "fsdp", "data", "pipeline")


@dataclass(frozen=True)
class Model:
    layers: int
    d_model: int
    heads: int
    head_dim: int
    kv_heads: int
    d_ff: int
    vocab: int
    seq_len: int
    mlp: str = "swiglu"
    block: str = "serial"
    tie_embeddings: bool = True
    attention: str = "flash"
    position: str = "rope"

    @property
    def mlp_in_matrices(self) -> int:
        """Matrices multiplying the MLP input: 2 for swiglu (gate and up), 1 for gelu."""
        return 2 if self.mlp == "swiglu" else 1


@dataclass(frozen=True)
class Training:
    global_batch_seqs: int
    remat: str = "full"
    optimizer: str = "adam"
    param_dtype: str = "bf16"
    async_all_gather: bool = True  # XLA overlaps FSDP weight all-gathers with compute

    @property
    def param_bytes(self) -> int:
        return DTYPES[self.param_dtype]


@dataclass(frozen=True)
class System:
    chip: str
    chips_per_slice: int
    slices: int = 1
    slice_shape: str | None = None
    twisted: bool = False

    @property
    def chips(self) -> int:
        return self.chips_per_slice * self.slices


@dataclass(frozen=True)
class Parallelism:
    """Sharding. data = data-parallel replicas in total (a multiple of the slices: data/slices
    replicas inside each slice); fsdp x tensor x pipeline x data/slices = chips per slice."""

    data: int = 1
    fsdp: int = 1
    tensor: int = 1
    pipeline: int = 1
    microbatches: int = 1
    axes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # fixed mapping: (logical, physical axes)

    @property
    def chips(self) -> int:
        return self.data * self.fsdp * self.tensor * self.pipeline

    def axes_dict(self) -> dict[str, tuple[int, ...]]:
        return dict(self.axes)


@dataclass(frozen=True)
class Workload:
    name: str
    model: Model
    training: Training
    system: System
    parallelism: Parallelism | None = None

    @property
    def tokens_per_step(self) -> int:
        return self.training.global_batch_seqs * self.model.seq_len


def _int(table: dict, key: str, where: str, *, default: int | None = None, low: int = 1) -> int:
    if key not in table and default is not None:
        return default
    value = require_key(table, key, where, int)
    if value < low:
        raise TpusimError(f"{where}: {key} must be an integer >= {low}, got {value}")
    return value


def _choice(table: dict, key: str, where: str, options: tuple[str, ...], default: str | None = None) -> str:
    if key not in table and default is not None:
        return default
    value = require_key(table, key, where, str)
    if value not in options:
        raise TpusimError(f"{where}: {key} must be one of {', '.join(options)}, got {value!r}")
    return value


def _bool(table: dict, key: str, where: str, default: bool) -> bool:
    if key not in table:
        return default
    return require_key(table, key, where, bool)


def model_from_dict(table: dict[str, Any], where: str) -> Model:
    kind = table.get("kind", "dense_llm")
    if kind != "dense_llm":
        raise TpusimError(
            f'{where}: [model] kind {kind!r} is not a dense LLM; this estimator needs kind = "dense_llm"'
        )
    heads = _int(table, "heads", f"{where} [model]")
    model = Model(
        layers=_int(table, "layers", f"{where} [model]"),
        d_model=_int(table, "d_model", f"{where} [model]"),
        heads=heads,
        head_dim=_int(table, "head_dim", f"{where} [model]"),
        kv_heads=_int(table, "kv_heads", f"{where} [model]", default=heads),
        d_ff=_int(table, "d_ff", f"{where} [model]"),
        vocab=_int(table, "vocab", f"{where} [model]"),
        seq_len=_int(table, "seq_len", f"{where} [model]"),
        mlp=_choice(table, "mlp", f"{where} [model]", MLPS, "swiglu"),
        block=_choice(table, "block", f"{where} [model]", BLOCKS, "serial"),
        tie_embeddings=_bool(table, "tie_embeddings", f"{where} [model]", True),
        attention=_choice(table, "attention", f"{where} [model]", ATTENTIONS, "flash"),
        position=_choice(table, "position", f"{where} [model]", POSITIONS, "rope"),
    )
    if model.kv_heads > model.heads or model.heads % model.kv_heads:
        raise TpusimError(
            f"{where} [model]: kv_heads ({model.kv_heads}) must divide heads ({model.heads}); "
            "1 = multi-query, heads = multi-head"
        )
    return model


def training_from_dict(table: dict[str, Any], where: str) -> Training:
    w = f"{where} [training]"
    return Training(
        global_batch_seqs=_int(table, "global_batch_seqs", w),
        remat=_choice(table, "remat", w, REMATS, "full"),
        optimizer=_choice(table, "optimizer", w, OPTIMIZERS, "adam"),
        param_dtype=_choice(table, "param_dtype", w, tuple(DTYPES), "bf16"),
        async_all_gather=_bool(table, "async_all_gather", w, True),
    )


def system_from_dict(table: dict[str, Any], where: str) -> System:
    w = f"{where} [system]"
    shape = table.get("slice_shape")
    if shape is not None and not isinstance(shape, str):
        raise TpusimError(f'{w}: slice_shape must be a string like "4x4x8", got {shape!r}')
    return System(
        chip=require_key(table, "chip", w, str),
        chips_per_slice=_int(table, "chips_per_slice", w),
        slices=_int(table, "slices", w, default=1),
        slice_shape=shape,
        twisted=_bool(table, "twisted", w, False),
    )


def parallelism_from_dict(table: dict[str, Any], where: str) -> Parallelism:
    w = f"{where} [parallelism]"
    pipeline = _int(table, "pipeline", w, default=1)
    axes_table = table.get("axes", {})
    if not isinstance(axes_table, dict):
        raise TpusimError(f"{w}: axes must be a table like {{tensor = [0], fsdp = [1, 2]}}")
    axes = []
    for name, value in axes_table.items():
        if name not in LOGICAL_AXES:
            raise TpusimError(f"{w}: axes key {name!r} must be one of {', '.join(LOGICAL_AXES)}")
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise TpusimError(f"{w}: axes.{name} must be a list of physical axis indices like [0, 1]")
        axes.append((name, tuple(value)))
    return Parallelism(
        data=_int(table, "data", w, default=1),
        fsdp=_int(table, "fsdp", w, default=1),
        tensor=_int(table, "tensor", w, default=1),
        pipeline=pipeline,
        microbatches=_int(table, "microbatches", w, default=pipeline),
        axes=tuple(axes),
    )


def workload_from_dict(doc: dict[str, Any], where: str, name: str) -> Workload:
    """Build a Workload from a parsed TOML document; checks each field (not the sharding)."""
    model = model_from_dict(require_table(doc, "model", where), where)
    training = training_from_dict(require_table(doc, "training", where), where)
    system = system_from_dict(require_table(doc, "system", where), where)
    par = doc.get("parallelism")
    parallelism = (
        None if par is None else parallelism_from_dict(require_table(doc, "parallelism", where), where)
    )
    return Workload(name=name, model=model, training=training, system=system, parallelism=parallelism)


@cache
def _load_file(path: Path) -> Workload:
    return workload_from_dict(load_toml(path), str(path), path.stem)


def load_workload(path_or_name: str | Path) -> Workload:
    """A workload from a TOML path, or a shipped workload by bare name ('palm-540b')."""
    text = str(path_or_name)
    if not text.endswith(".toml") and "/" not in text:
        text = f"{text}.toml"
    path = resolve_path(text, folder="workloads")
    return _load_file(path.resolve())


def with_overrides(
    wl: Workload,
    *,
    chip: str | None = None,
    chips_per_slice: int | None = None,
    slices: int | None = None,
    slice_shape: str | None = None,
    global_batch_seqs: int | None = None,
    remat: str | None = None,
) -> Workload:
    """The workload with system/training fields replaced (None keeps the file's value)."""
    for name, value in (
        ("chips_per_slice", chips_per_slice),
        ("slices", slices),
        ("global_batch_seqs", global_batch_seqs),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise TpusimError(f"{name} must be a positive integer, got {value!r}")
    if remat is not None and remat not in REMATS:
        raise TpusimError(f"remat must be one of {', '.join(REMATS)}, got {remat!r}")
    system = wl.system
    changed_chips = chips_per_slice is not None and chips_per_slice != system.chips_per_slice
    changed_chip = chip is not None and chip != system.chip
    system = replace(
        system,
        chip=chip if chip is not None else system.chip,
        chips_per_slice=chips_per_slice if chips_per_slice is not None else system.chips_per_slice,
        slices=slices if slices is not None else system.slices,
        slice_shape=slice_shape
        if slice_shape is not None
        else (None if (changed_chips or changed_chip) else system.slice_shape),
    )
    training = wl.training
    if global_batch_seqs is not None:
        training = replace(training, global_batch_seqs=global_batch_seqs)
    if remat is not None:
        training = replace(training, remat=remat)
    return replace(wl, system=system, training=training)
