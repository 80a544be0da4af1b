"""Workload TOML -> frozen dataclasses (schema in docs/contract.md), every key read through the
strict reader (`tpusim.inputs`): unknown keys and tables are refused with did-you-mean.

[model]        kind = "dense_llm", layers, d_model, heads, head_dim, kv_heads, d_ff, vocab,
               seq_len, mlp = "gelu"|"relu"|"swiglu"; optional block = "serial"|"parallel",
               tie_embeddings (true), attention = "flash"|"materialized",
               position = "rope"|"learned"|"relative", causal (true), qk_norm (false)
[training]     global_batch_seqs, remat (REMATS), optimizer = adafactor|adam,
               param_dtype = bf16|fp32; optional async_all_gather (true), matmul_dtype = bf16|int8,
               collective_matmul (false), async_reduce_scatter (false),
               offload_optimizer (false)
[system]       chip, chips_per_slice, slices; optional slice_shape, twisted
[parallelism]  optional: data, fsdp, tensor, pipeline, microbatches; optional
               axes = {tensor = [0], fsdp = [1, 2]} to fix which physical axes each runs over
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from tpusim.data import find_input
from tpusim.errors import TpusimError
from tpusim.filecache import file_cached
from tpusim.inputs import Section, check_choice, check_integer, load_toml, parse_shape

MLPS = ("gelu", "relu", "swiglu")
BLOCKS = ("serial", "parallel")
# Remat policies (tpusim/workloads/remat.py): the first four are the project's names (minimal =
# JAX's checkpoint_dots_with_no_batch_dims, palm = PaLM App. B's fraction); the others are
# MaxText's named policies (decoders.py; save_dot_except_logits* from praxis, in MaxText's 2024
# MLPerf fork); the *_offloaded ones move what they save to host memory.
REMATS = (
    "none",
    "minimal",
    "full",
    "palm",
    "minimal_with_context",
    "save_dot_except_mlpwi",
    "save_dot_except_mlp",
    "save_qkv_proj",
    "save_out_proj",
    "save_dot_except_logits",
    "save_dot_except_logits_ffn1",
    "minimal_offloaded",
    "qkv_proj_offloaded",
)
OPTIMIZERS = ("adafactor", "adam")
DTYPES = {"bf16": 2, "fp32": 4}
MATMUL_DTYPES = ("bf16", "int8")
ATTENTIONS = ("flash", "materialized")
POSITIONS = ("rope", "learned", "relative")
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
    causal: bool = True  # decoder self-attention masks future tokens
    qk_norm: bool = False  # layer norms on queries and keys before QK^T (Dehghani et al. 2023)

    @property
    def mlp_in_matrices(self) -> int:
        """Matrices multiplying the MLP input: 2 for swiglu (gate and up), 1 for gelu or relu."""
        return 2 if self.mlp == "swiglu" else 1


@dataclass(frozen=True)
class Training:
    global_batch_seqs: int
    remat: str = "full"
    optimizer: str = "adam"
    param_dtype: str = "bf16"
    async_all_gather: bool = True  # XLA overlaps FSDP weight all-gathers with compute
    matmul_dtype: str = "bf16"  # int8: AQT-style int8 layer matmuls (forward and both backward)
    collective_matmul: bool = False  # XLA overlaps tensor-parallel collectives with their matmuls
    # asynchronous, continuation-fused reduce-scatters (XLA's --xla_enable_async_reduce_scatter_fusion
    # with --xla_tpu_enable_async_collective_fusion_fuse_reduce_scatter): FSDP gradient
    # reduce-scatters overlap the next layer's backward (step.py)
    async_reduce_scatter: bool = False
    offload_optimizer: bool = False  # optimizer state in host memory, streamed over PCIe

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


# Largest sizes accepted: far beyond any model or machine, small enough that every derived
# figure (FLOPs, bytes, seconds) stays a finite float.
MAX_LAYERS = 10_000
MAX_WIDTH = 10**7  # d_model, d_ff, heads, head_dim
MAX_TOKENS = 10**9  # vocab, seq_len, global_batch_seqs
MAX_CHIPS = 2**24  # chips per slice, slices, any parallelism degree, microbatches


def _default(cls: type, name: str) -> Any:
    """The dataclass field's default: each default is written once, on the dataclass."""
    return next(f.default for f in fields(cls) if f.name == name)


def model_from_section(table: Section) -> Model:
    kind = table.string("kind", "dense_llm")
    if kind != "dense_llm":
        raise TpusimError(
            f'{table.label}: kind {kind!r} is not a dense LLM; this estimator needs kind = "dense_llm"'
        )
    heads = table.integer("heads", at_least=1, at_most=MAX_WIDTH)
    model = Model(
        layers=table.integer("layers", at_least=1, at_most=MAX_LAYERS),
        d_model=table.integer("d_model", at_least=1, at_most=MAX_WIDTH),
        heads=heads,
        head_dim=table.integer("head_dim", at_least=1, at_most=MAX_WIDTH),
        kv_heads=table.integer("kv_heads", heads, at_least=1, at_most=MAX_WIDTH),
        d_ff=table.integer("d_ff", at_least=1, at_most=MAX_WIDTH),
        vocab=table.integer("vocab", at_least=1, at_most=MAX_TOKENS),
        seq_len=table.integer("seq_len", at_least=1, at_most=MAX_TOKENS),
        mlp=table.choice("mlp", MLPS, _default(Model, "mlp")),
        block=table.choice("block", BLOCKS, _default(Model, "block")),
        tie_embeddings=table.boolean("tie_embeddings", _default(Model, "tie_embeddings")),
        attention=table.choice("attention", ATTENTIONS, _default(Model, "attention")),
        position=table.choice("position", POSITIONS, _default(Model, "position")),
        causal=table.boolean("causal", _default(Model, "causal")),
        qk_norm=table.boolean("qk_norm", _default(Model, "qk_norm")),
    )
    if model.kv_heads > model.heads or model.heads % model.kv_heads:
        raise TpusimError(
            f"{table.label}: kv_heads ({model.kv_heads}) must divide heads ({model.heads}); "
            "1 = multi-query, heads = multi-head"
        )
    return model


def training_from_section(table: Section) -> Training:
    return Training(
        global_batch_seqs=table.integer("global_batch_seqs", at_least=1, at_most=MAX_TOKENS),
        remat=table.choice("remat", REMATS, _default(Training, "remat")),
        optimizer=table.choice("optimizer", OPTIMIZERS, _default(Training, "optimizer")),
        param_dtype=table.choice("param_dtype", tuple(DTYPES), _default(Training, "param_dtype")),
        async_all_gather=table.boolean("async_all_gather", _default(Training, "async_all_gather")),
        matmul_dtype=table.choice("matmul_dtype", MATMUL_DTYPES, _default(Training, "matmul_dtype")),
        collective_matmul=table.boolean("collective_matmul", _default(Training, "collective_matmul")),
        async_reduce_scatter=table.boolean(
            "async_reduce_scatter", _default(Training, "async_reduce_scatter")
        ),
        offload_optimizer=table.boolean("offload_optimizer", _default(Training, "offload_optimizer")),
    )


def system_from_section(table: Section) -> System:
    shape = table.string("slice_shape", None, hint='a shape like "4x4x8"')
    if shape is not None:
        parse_shape(shape)  # the chip's rules are applied by the estimate
    return System(
        chip=table.string("chip"),
        chips_per_slice=table.integer("chips_per_slice", at_least=1, at_most=MAX_CHIPS),
        slices=table.integer("slices", _default(System, "slices"), at_least=1, at_most=MAX_CHIPS),
        slice_shape=shape,
        twisted=table.boolean("twisted", _default(System, "twisted")),
    )


def parallelism_from_section(table: Section) -> Parallelism:
    axes_table = table.section("axes", required=False)
    axes = []
    for name in axes_table.names():
        check_choice(name, "axes key", table.label, LOGICAL_AXES)
        axes.append((name, axes_table.integers(name, at_least=0, at_most=3)))
    def degree(key: str, default: int) -> int:
        return table.integer(key, default, at_least=1, at_most=MAX_CHIPS)

    pipeline = degree("pipeline", _default(Parallelism, "pipeline"))
    return Parallelism(
        data=degree("data", _default(Parallelism, "data")),
        fsdp=degree("fsdp", _default(Parallelism, "fsdp")),
        tensor=degree("tensor", _default(Parallelism, "tensor")),
        pipeline=pipeline,
        microbatches=degree("microbatches", pipeline),
        axes=tuple(axes),
    )


def workload_from_dict(doc: dict[str, Any], where: str, name: str) -> Workload:
    """Build a Workload from a parsed TOML document; checks each field (not the sharding) and
    refuses unknown keys and tables."""
    with Section(doc, where) as top:
        model = model_from_section(top.section("model"))
        training = training_from_section(top.section("training"))
        system = system_from_section(top.section("system"))
        par = top.optional_section("parallelism")  # absent: the estimate searches for the best
        parallelism = None if par is None else parallelism_from_section(par)
    return Workload(name=name, model=model, training=training, system=system, parallelism=parallelism)


@file_cached()
def _load_file(path: Path) -> Workload:
    return workload_from_dict(load_toml(path), str(path), path.stem)


def workload_path(ref: str | Path, *, relative_to: Path | None = None) -> Path:
    """The workload file a reference names: a shipped name ('palm-540b') or a path."""
    return find_input(ref, kind="workload", folder="workloads", relative_to=relative_to)


def load_workload(path_or_name: str | Path, *, relative_to: Path | None = None) -> Workload:
    """A workload from a TOML path, or a shipped workload by bare name ('palm-540b')."""
    path = workload_path(path_or_name, relative_to=relative_to)
    return _load_file(path)


def with_twist(wl: Workload, twisted: bool) -> Workload:
    """The workload on a twisted (True) or plain (False) torus: its [system] twisted replaced.

    The twist is checked against the slice when the estimate resolves it (k x k x 2k or
    k x 2k x 2k slices of whole cubes, on a chip whose slices twist)."""
    if not isinstance(twisted, bool):
        raise TpusimError(f"workload override: twisted must be true or false, got {twisted!r}",
                          params=("twisted",))
    return replace(wl, system=replace(wl.system, twisted=twisted))


def with_overrides(
    wl: Workload,
    *,
    chip: str | None = None,
    chips_per_slice: int | None = None,
    slices: int | None = None,
    slice_shape: str | None = None,
    global_batch_seqs: int | None = None,
    remat: str | None = None,
    offload_optimizer: bool | None = None,
    matmul_dtype: str | None = None,
) -> Workload:
    """The workload with system/training fields replaced (None keeps the file's value)."""
    for name, value, most in (
        ("chips_per_slice", chips_per_slice, MAX_CHIPS),
        ("slices", slices, MAX_CHIPS),
        ("global_batch_seqs", global_batch_seqs, MAX_TOKENS),
    ):
        if value is not None:
            check_integer(value, name, "", at_least=1, at_most=most, param=True)
    if remat is not None:
        check_choice(remat, "remat", "", REMATS, param=True)
    if matmul_dtype is not None:
        check_choice(matmul_dtype, "matmul_dtype", "workload override", MATMUL_DTYPES)
    if offload_optimizer is not None and not isinstance(offload_optimizer, bool):
        raise TpusimError(
            f"workload override: offload_optimizer must be true or false, got {offload_optimizer!r}"
        )
    for name, value in (("chip", chip), ("slice_shape", slice_shape)):
        if value is not None and not isinstance(value, str):
            raise TpusimError(f"workload override: {name} must be a string, got {value!r}")
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
    if offload_optimizer is not None:
        training = replace(training, offload_optimizer=offload_optimizer)
    if matmul_dtype is not None:
        training = replace(training, matmul_dtype=matmul_dtype)
    return replace(wl, system=system, training=training)
