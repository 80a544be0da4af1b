"""Recipes: how the model's value of each published figure is computed through the library.

Each public function here returns a recipe, `f(context) -> Measured`, that runs the library
(estimate, the DLRM model, the planner's closed forms, the simulator) on the published
configuration. Nothing here is a model output: every value is computed when the recipe runs.
The workload builder `maxtext_2023` rebuilds published recipes that are not
shipped as workload files; the derivations are in the table's sources
(tpusim/validation/published.py) and in docs/estimate.md, Validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from tpusim.validation.figure import Context, Measured

Recipe = Callable[[Context], Measured]


# --- dense LLMs ------------------------------------------------------------------------------------

def _workload(name: str):
    from tpusim.workloads import load_workload

    return load_workload(name)


def _fits(est) -> tuple[str, ...]:
    if est.fits_in_hbm:
        return ()
    return (f"does not fit in HBM ({est.memory_per_chip_bytes / 2**30:.1f} GiB per chip)",)


def palm_540b(ctx: Context):
    """The PaLM 540B estimate as trained (2 x 3072 v4 chips, batch 2048), once per run."""
    from tpusim.workloads import estimate

    return ctx.get("palm-540b", lambda: estimate(_workload("palm-540b")))


def palm_540b_attribute(attribute: str) -> Recipe:
    """`mfu`, `hfu` or `tokens_per_s` of the PaLM 540B estimate."""
    def recipe(ctx: Context) -> Measured:
        est = palm_540b(ctx)
        return Measured(float(getattr(est, attribute)), est, problems=_fits(est))
    return recipe


def palm_540b_two_pod_scaling(ctx: Context) -> Measured:
    """tokens/s on two pods (batch 2048) over one pod (batch 1024): weak scaling."""
    from tpusim.workloads import estimate

    two = palm_540b(ctx)
    one = estimate(_workload("palm-540b"), slices=1, global_batch_seqs=1024)
    return Measured(two.tokens_per_s / one.tokens_per_s, (two, one))


def maxtext_v4(name: str, slices: int, *, qk_norm: bool | None = None):
    """A MaxText v4 workload (shipped file) on `slices` slices at the recipe's per-device batch;
    `qk_norm=False`: the March 2023 model, before query/key norms."""
    from tpusim.workloads import estimate

    wl = _workload(name)
    if qk_norm is not None:
        wl = replace(wl, model=replace(wl.model, qk_norm=qk_norm))
    return estimate(wl, slices=slices, global_batch_seqs=wl.training.global_batch_seqs * slices)


def maxtext_v4_mfu(name: str, slices: int, *, qk_norm: bool | None = None) -> Recipe:
    """MFU counted as 6 x N_total (`params_only`, MaxText's train.py of 2023)."""
    def recipe(ctx: Context) -> Measured:
        est = ctx.get((name, slices, qk_norm), lambda: maxtext_v4(name, slices, qk_norm=qk_norm))
        return Measured(est.mfu_by_convention["params_only"], est, problems=_fits(est))
    return recipe


def maxtext_v4_scaling(name: str, slices: int, published_one_slice: float, *,
                       qk_norm: bool | None = None) -> Recipe:
    """The n-slice MFU as the published one-slice MFU x the model's n-slice / 1-slice ratio
    (the gradient exchange over the data-center network, not the per-slice level)."""
    one, many = maxtext_v4_mfu(name, 1, qk_norm=qk_norm), maxtext_v4_mfu(name, slices, qk_norm=qk_norm)

    def recipe(ctx: Context) -> Measured:
        m1, mn = one(ctx), many(ctx)
        return Measured(published_one_slice * mn.value / m1.value, (m1.result, mn.result))
    return recipe


def parameter_scales(scale: int) -> tuple[int, int, int]:
    """MaxText's pyconfig.get_individual_scales: global_parameter_scale 2**n doubles layers,
    heads (with d_ff) and the embedding in turn; returns their exponents (layers, heads, emb).

    >>> parameter_scales(1), parameter_scales(2), parameter_scales(4), parameter_scales(8)
    ((0, 0, 0), (0, 1, 0), (0, 1, 1), (1, 1, 1))
    """
    base, rem = divmod(int(math.log2(scale)), 3)
    return base, base + int(rem > 0), base + int(rem > 1)


def maxtext_2023(scale: int, per_device: int, chips: int, tensor: int, remat: str, chip: str):
    """A MaxText recipe on the 2023 default model (v5p: the December 2023 code, v5e: October
    2023): base emb 2560, 8 heads of 256, ReLU MLP 8192, 16 layers, scaled by
    global_parameter_scale (pyconfig.get_individual_scales); parallel block, tied vocab 32768,
    sequence 2048, fp32 weights, AdamW, flash attention. v5p: RoPE, query/key norms, causal
    flash; v5e: no position encoding reaches the flash kernel, causal=False."""
    from tpusim.workloads.config import Model

    base, heads, emb = parameter_scales(scale)
    december = chip == "v5p"
    model = Model(layers=16 * 2**base, d_model=2560 * 2**emb, heads=8 * 2**heads, head_dim=256,
                  kv_heads=8 * 2**heads, d_ff=8192 * 2**heads, vocab=32768, seq_len=2048, mlp="relu",
                  block="parallel", tie_embeddings=True, attention="flash",
                  position="rope" if december else "learned", causal=december, qk_norm=december)
    return maxtext_workload(f"maxtext-2023-{scale}b-{chip}", model, per_device, chips, tensor, remat, chip)


def maxtext_workload(name: str, model, per_device: int, chips: int, tensor: int, remat: str, chip: str):
    """`model` trained as MaxText's recipes do: per_device_batch_size x chips sequences, AdamW
    on fp32 weights, one slice of `chips`, ici fsdp x tensor."""
    from tpusim.workloads import Parallelism
    from tpusim.workloads.config import System, Training, Workload

    return Workload(
        name=name, model=model,
        training=Training(global_batch_seqs=per_device * chips, remat=remat, optimizer="adam",
                          param_dtype="fp32"),
        system=System(chip=chip, chips_per_slice=chips),
        parallelism=Parallelism(fsdp=chips // tensor, tensor=tensor),
    )


def maxtext_2023_mfu(recipe: tuple[int, int, int, int, str], chip: str, convention: str) -> Recipe:
    """MFU of a 2023 MaxText recipe (scale, per-device batch, chips, tensor, remat) in the
    convention of its README table."""
    from tpusim.workloads import estimate

    def run(ctx: Context) -> Measured:
        est = estimate(maxtext_2023(*recipe, chip))
        return Measured(est.mfu_by_convention[convention], est, problems=_fits(est))
    return run


MLPERF_EVAL_SEQUENCES = 24567  # the fork's evaluation set: 24567 sequences of 2048 tokens


def mlperf_gpt3_block(chips: int, shape: str, seqs: int, par: tuple[int, int, int],
                      remat: str) -> Recipe:
    """One MLPerf v4.0 GPT-3 175B block on v5p (int8): ceil(24567 / batch) training steps, then
    the evaluation of 24567 sequences at one sequence per chip (forward passes of the same
    sharding). `par`: (data, fsdp, tensor)."""
    from tpusim.workloads import Parallelism, estimate
    from tpusim.workloads.config import with_overrides

    def run(ctx: Context) -> Measured:
        wl = with_overrides(_workload("mlperf-gpt3-175b-v5p"), chips_per_slice=chips,
                            slice_shape=shape, global_batch_seqs=seqs, remat=remat)
        sharding = Parallelism(data=par[0], fsdp=par[1], tensor=par[2])
        train = estimate(wl, parallelism=sharding)
        evaluation = estimate(wl, global_batch_seqs=chips, parallelism=sharding)
        block = (math.ceil(MLPERF_EVAL_SEQUENCES / seqs) * train.step_time_s
                 + math.ceil(MLPERF_EVAL_SEQUENCES / chips) * evaluation.forward_time_s)
        problems = _fits(train) + (() if train.matmul_dtype == "int8" else ("matmuls not int8",))
        return Measured(block, (train, evaluation), problems=problems)
    return run


def flops_per_token(name: str, *, hardware: bool) -> Recipe:
    """Model FLOPs per token (PaLM's 6N + 12LHQT), or with `hardware` the FLOPs executed with
    the workload's remat policy and materialised attention (PaLM Table 22's second column)."""
    def run(ctx: Context) -> Measured:
        from tpusim.workloads.efficiency import load_efficiency
        from tpusim.workloads.flops import hardware_flops_per_token, model_flops_per_token

        wl = _workload(name)
        if hardware:
            block = load_efficiency().attention_block_tokens
            return Measured(hardware_flops_per_token(wl.model, wl.training.remat, block), wl)
        return Measured(model_flops_per_token(wl.model), wl)
    return run


def parameters(name: str) -> Recipe:
    """Every parameter of the workload's model."""
    def run(ctx: Context) -> Measured:
        from tpusim.workloads.flops import param_counts

        return Measured(float(param_counts(_workload(name).model).total))
    return run


# --- embeddings (DLRM) -----------------------------------------------------------------------------

def _dlrm(name: str):
    from tpusim.workloads.dlrm.config import load_dlrm

    return load_dlrm(name)


def dlrm_table_bytes(name: str) -> Recipe:
    """The bytes of every embedding table's rows."""
    def run(ctx: Context) -> Measured:
        from tpusim.workloads.dlrm.tables import table_set, totals

        return Measured(float(totals(table_set(_dlrm(name).embedding))["bytes"]))
    return run


def dlrm_dense_macs(name: str) -> Recipe:
    """Forward multiply-accumulates per sample of the dense part (bottom MLP, interaction, top)."""
    def run(ctx: Context) -> Measured:
        import numpy as np

        from tpusim.workloads.dlrm.dense import dense_shape
        from tpusim.workloads.dlrm.tables import table_set

        wl = _dlrm(name)
        ts = table_set(wl.embedding)
        shape = dense_shape(wl.model, np.repeat(ts.dim, ts.outputs_per_sample))
        return Measured(float(shape.macs_per_sample), shape)
    return run


def dlrm_mlperf_v1_step(ctx: Context) -> Measured:
    """The step time of the shipped MLPerf v1.0 DLRM on 64 v4 chips (run_and_time.sh settings)."""
    from tpusim.workloads.dlrm import estimate_dlrm

    est = estimate_dlrm(_dlrm("dlrm-mlperf-v1"))
    settings = (est.chips, est.global_batch, est.pipelining)
    problems = () if settings == (64, 55296, False) else (f"not the published run: {settings}",)
    return Measured(est.step_time_s, est, problems=problems)


def embedding_share(est) -> float:
    """The embedding phases' share of a DLRM step (SparseCore and all-to-all against dense)."""
    from tpusim.workloads.dlrm.phases import ENGINE_PHASES

    emb = sum(est.phases_s[k] for k in ENGINE_PHASES)
    return emb / (emb + est.phases_s["tensorcore"])


def dlrm_sparsecore_over_host(ctx: Context) -> Measured:
    """Step time with the tables in host memory over the SparseCore step, DCNv2 on 128 v4 chips
    (each placement with its best sharding); the comparison needs an embedding-bound model
    (>= 70% of the SparseCore step in the embedding phases)."""
    from tpusim.workloads.dlrm import compare_placements

    ests = {e.placement: e for e in compare_placements(_dlrm("dlrm-dcnv2"), chip="v4", chips=128,
                                                       twisted=False)}
    sc, host = ests["sparsecore"], ests["host"]
    share = embedding_share(sc)
    problems = () if share >= 0.7 else (f"not embedding-bound ({share:.0%} of the step)",)
    return Measured(host.step_time_s / sc.step_time_s, ests, problems=problems)


# --- availability planner --------------------------------------------------------------------------

def cube_availability(p_host: float, hosts: int = 16) -> Recipe:
    def run(ctx: Context) -> Measured:
        from tpusim.planner import cube_availability as p_cube

        return Measured(p_cube(p_host, hosts))
    return run


def p_at_least(cubes: int, k: int, p_host: float, hosts: int = 16) -> Recipe:
    """P(at least k of `cubes` cubes healthy) at host availability `p_host`."""
    def run(ctx: Context) -> Measured:
        from tpusim.planner import cube_availability as p_cube
        from tpusim.planner import p_at_least_k_healthy

        return Measured(p_at_least_k_healthy(cubes, k, p_cube(p_host, hosts)))
    return run


def cube_availability_for(cubes: int, k: int, confidence: float) -> Recipe:
    """The cube availability that gives at least k of `cubes` healthy with `confidence`."""
    def run(ctx: Context) -> Measured:
        from tpusim.planner import cube_availability_for_target

        return Measured(cube_availability_for_target(cubes, k, confidence))
    return run


# --- simulator -------------------------------------------------------------------------------------

def palm_e2e_chip_hours(replications: int = 4) -> Recipe:
    """Ideal over used chip-hours of scenarios/palm-540b-e2e.toml (the published batch schedule
    with failures): the mean over replications, its standard error as the spread, and the
    failure-free ratio of the same schedule as the ceiling. Ideal: the tokens trained at the
    final configuration's estimated throughput."""
    def run(ctx: Context) -> Measured:
        from tpusim.sim import load_scenario, simulate, with_overrides

        r = simulate(with_overrides(load_scenario("palm-540b-e2e"), replications=replications),
                     workers=ctx.workers)
        plans = {p.spec.name: p for p in r.plans}
        final = plans["batch-2048"]
        tokens = sum(p.spec.steps * p.tokens_per_step for p in plans.values())
        ideal = tokens / (final.tokens_per_step / final.step_time_s) * final.chips
        failure_free = sum(p.work_s * p.chips for p in plans.values())
        jobs = r.table[r.table["job"] != "*"]
        used = (jobs["chips"] * jobs["window_s"]).groupby(jobs["replication"]).sum()
        ratios = ideal / used
        sigma = float(ratios.std(ddof=1) / math.sqrt(len(ratios)))
        return Measured(float(ratios.mean()), r, spread=sigma, ceiling=ideal / failure_free)
    return run


# Google's 2026 elastic-recovery figures for TPU (Google developers blog, read through a secondary
# source): 50 s reschedule, 13 s detection + 12.7 s to the next step, 5.4 s restore.
FAST_RESTART = {"tpu_init_s": 50.0, "program_startup_s": 25.7, "checkpoint_restore_s": 5.4}


def llama3_like() -> dict:
    """Llama 3 405B's interruption rate (one every 3.09 h over 54 days) on a v4 pod: checkpoints
    of 60 s written in the background after a 5 s blocking snapshot, the fast restart above,
    interval auto (Young/Daly)."""
    return {
        "name": "llama3-like",
        "pod": {"name": "tpu-v4-4096"},
        "failures": {"job": {"mtbf_hours": 54 * 24 / 419}},
        "recovery": {**FAST_RESTART, "checkpoint_save_s": 60, "checkpoint_async": True,
                     "checkpoint_async_block_s": 5},
        "jobs": [{"name": "llm", "slice": "16x16x16", "mfu": 0.4, "step_time_s": 10}],
        "run": {"days": 54, "seed": 2, "replications": 8},
    }


def gemini_like(in_memory: bool) -> dict:
    """A 4-pod v4 job (4 x 3072 chips) with the PaLM scenario's host failure model (A = 0.995,
    48 h repair: one interruption every ~3.1 h). Persistent: blocking 120 s saves, 120 s
    restore, Young/Daly interval. In-memory replica: recover from a peer slice's memory (lose
    under one step, 10 s restore) and write persistent checkpoints hourly in the background."""
    recovery: dict = {"tpu_init_s": 60, "program_startup_s": 120, "checkpoint_restore_s": 120}
    if in_memory:
        recovery |= {"in_memory_replica": True, "replica_restore_s": 10, "checkpoint_async": True,
                     "checkpoint_async_block_s": 5, "checkpoint_save_s": 120,
                     "checkpoint_interval_s": 3600}
    else:
        recovery |= {"checkpoint_save_s": 120}
    return {
        "name": "gemini-like",
        "pod": {"name": "tpu-v4-4096", "count": 4},
        "failures": {"host": {"availability": 0.995, "mttr_hours": 48}},
        "recovery": recovery,
        "jobs": [{"name": "llm", "slice": "12x16x16", "slices": 4, "mfu": 0.46,
                  "step_time_s": 17.6}],
        "run": {"days": 30, "seed": 5, "replications": 6},
    }


def _simulated(ctx: Context, key: str, doc: Callable[[], dict]):
    from tpusim.sim import scenario_from_dict, simulate

    return ctx.get(key, lambda: simulate(scenario_from_dict(doc(), key), workers=ctx.workers))


def llama3_runtime_goodput(ctx: Context) -> Measured:
    """Runtime goodput of the Llama-3-like scenario; spread: its 95% interval half-width."""
    r = _simulated(ctx, "llama3-like", llama3_like)
    s = r.summary
    return Measured(s["runtime_goodput"], r, spread=s["runtime_goodput_ci95"])


def gemini_runtime_goodput(in_memory: bool) -> Recipe:
    def run(ctx: Context) -> Measured:
        key = "gemini-like-replica" if in_memory else "gemini-like-persistent"
        r = _simulated(ctx, key, lambda: gemini_like(in_memory))
        return Measured(r.summary["runtime_goodput"], r)
    return run


def gemini_gain(ctx: Context) -> Measured:
    """Runtime goodput with the in-memory replica minus with persistent checkpoints only."""
    replica, persistent = gemini_runtime_goodput(True)(ctx), gemini_runtime_goodput(False)(ctx)
    return Measured(replica.value - persistent.value, (replica.result, persistent.result))
