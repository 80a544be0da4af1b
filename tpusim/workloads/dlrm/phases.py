"""One DLRM training step, phase by phase, vectorised over candidate systems.

Every input is an array with one entry per candidate (placement, sharding, slice shape, chips);
the arithmetic broadcasts, so a search evaluates all candidates in one call. Seconds, bytes.

Phases (docs/embeddings.md has the formulas and sources):
- host: the host turns its chips' ids into COO input at `host_preprocess_ids_per_s`; it runs
  ahead of the device (prefetch), so it only shows when it is slower than the device step;
- sc_forward: the embedding engine gathers the unique rows its busiest memory owns (HBM at
  `sc_hbm_fraction` for SparseCores, / `sc_over_tc_gather_speedup` for the TensorCore, host DRAM
  at `host_dram_fraction` for the host) and writes one partial sum per touched (sample, table);
  the receiving chip adds the partials into pooled vectors (streaming HBM);
- all_to_all_forward / _backward: those partials to the samples' chips and their gradients
  back, limited by the busiest link of the slice under shortest-path routing (topology.alltoall),
  by the busiest chip's injection links, and across slices by the data-center network; with host
  placement, over the hosts' network and each chip's PCIe link;
- tensorcore: the dense network (roofline), tables replicated on every chip (gathered by the
  TensorCore, updated densely) and the dense optimizer;
- dense_allreduce: the dense gradients over every torus axis (and DCN between slices), exposed
  where it outlasts the dense backward pass;
- sc_backward: partial gradients read, rows and optimizer slots read and written in place;
- fixed: `step_fixed_overhead_s`.

Serial: device = sum of the phases. Pipelined (SparseCore or host engine, `pipelining`): the
engine's work overlaps the TensorCore's, device = max(TensorCore path, engine path, shared HBM
time, shared link time) + fixed, so 1 <= serial / pipelined <= 2. Step = max(device, host).

`breakdown` gives each phase's exposed seconds (they add up to the step): the phases of the
binding path; a binding shared-resource bound is split over its users in proportion to their
use. `phases` gives each phase's own duration (the whole dense all-reduce, also the part the
dense backward pass hides).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PHASES = ("host", "sc_forward", "sc_backward", "all_to_all_forward", "all_to_all_backward",
          "tensorcore", "dense_allreduce", "fixed")
ENGINE_PHASES = ("sc_forward", "all_to_all_forward", "all_to_all_backward", "sc_backward")
TC_PHASES = ("tensorcore", "dense_allreduce")
BOUNDS = ("tensorcore_path", "engine_path", "hbm", "ici")


@dataclass(frozen=True)
class StepArrays:
    """Per-candidate inputs of one step (arrays of equal length, or scalars that broadcast)."""

    # engine work, seconds (already divided by the engine's achievable bandwidth)
    engine_forward_s: np.ndarray
    engine_backward_s: np.ndarray
    combine_s: np.ndarray  # receiving chip: partials -> pooled, and pooled gradients -> partials
    engine_uses_hbm: np.ndarray  # bool: the engine's memory is the chip's HBM (not host DRAM)
    overlaps: np.ndarray  # bool: engine and TensorCore work overlap (pipelined, not tensorcore)
    # communication, seconds
    all_to_all_s: np.ndarray  # one direction, latency included
    all_to_all_link_s: np.ndarray  # its time on the busiest ICI link (bandwidth part, 0 for host)
    allreduce_s: np.ndarray  # dense gradient all-reduce, whole
    allreduce_link_s: np.ndarray
    # TensorCore, seconds
    tensorcore_s: np.ndarray  # dense fwd + bwd, replicated tables, dense optimizer
    tensorcore_hbm_s: np.ndarray  # its HBM-bound part
    dense_backward_s: np.ndarray  # window that hides the all-reduce
    host_s: np.ndarray
    fixed_s: np.ndarray


def evaluate(a: StepArrays) -> dict[str, np.ndarray]:
    """Step time, exposed breakdown, phase durations, bound and bottleneck per candidate."""
    phases = {
        "host": np.asarray(a.host_s, dtype=float),
        "sc_forward": a.engine_forward_s + a.combine_s / 2,
        "sc_backward": a.engine_backward_s + a.combine_s / 2,
        "all_to_all_forward": np.asarray(a.all_to_all_s, dtype=float),
        "all_to_all_backward": np.asarray(a.all_to_all_s, dtype=float),
        "tensorcore": np.asarray(a.tensorcore_s, dtype=float),
        "dense_allreduce": np.asarray(a.allreduce_s, dtype=float),
        "fixed": np.asarray(a.fixed_s, dtype=float),
    }
    shape = np.broadcast(*phases.values()).shape
    phases = {k: np.broadcast_to(v, shape).astype(float) for k, v in phases.items()}
    # on the TensorCore's path the all-reduce shows only where it outlasts the dense backward pass
    path = {**phases, "dense_allreduce": np.maximum(0.0, phases["dense_allreduce"] - a.dense_backward_s)}
    engine_path = sum(phases[k] for k in ENGINE_PHASES)
    tc_path = path["tensorcore"] + path["dense_allreduce"]
    serial = engine_path + tc_path
    hbm_bound = np.where(a.engine_uses_hbm, phases["sc_forward"] + phases["sc_backward"], a.combine_s) \
        + a.tensorcore_hbm_s
    ici_bound = 2 * a.all_to_all_link_s + a.allreduce_link_s
    bounds = np.stack([np.broadcast_to(x, shape) for x in (tc_path, engine_path, hbm_bound, ici_bound)])
    overlapped = bounds.max(axis=0)
    overlaps = np.broadcast_to(a.overlaps, shape)
    device_core = np.where(overlaps, overlapped, serial)
    device = device_core + phases["fixed"]
    step = np.maximum(device, phases["host"])
    binding = np.where(overlaps, bounds.argmax(axis=0), -1)  # -1: serial, everything exposed

    hbm_users = {
        "sc_forward": np.where(a.engine_uses_hbm, phases["sc_forward"], a.combine_s / 2),
        "sc_backward": np.where(a.engine_uses_hbm, phases["sc_backward"], a.combine_s / 2),
        "tensorcore": np.broadcast_to(a.tensorcore_hbm_s, shape),
    }
    ici_users = {
        "all_to_all_forward": np.broadcast_to(a.all_to_all_link_s, shape),
        "all_to_all_backward": np.broadcast_to(a.all_to_all_link_s, shape),
        "dense_allreduce": np.broadcast_to(a.allreduce_link_s, shape),
    }
    breakdown = {}
    for k in PHASES:
        if k in ("host", "fixed"):
            continue
        v = path[k]
        exposed = np.select(
            [binding == -1, binding == 0, binding == 1, binding == 2, binding == 3],
            [v,
             v if k in TC_PHASES else 0.0 * v,
             v if k in ENGINE_PHASES else 0.0 * v,
             _share(hbm_users, k, hbm_bound),
             _share(ici_users, k, ici_bound)],
        )
        breakdown[k] = exposed
    breakdown["fixed"] = phases["fixed"]
    breakdown["host"] = step - device
    breakdown = {k: breakdown[k] for k in PHASES}
    return {"step_time_s": step, "device_s": device, "serial_device_s": serial + phases["fixed"],
            "binding": binding, "bounds": bounds, "phases": phases, "breakdown": breakdown}


def _share(users: dict[str, np.ndarray], key: str, bound: np.ndarray) -> np.ndarray:
    """`key`'s part of a shared-resource bound: bound x its use / all uses (0 if not a user)."""
    if key not in users:
        return 0.0 * bound
    total = sum(users.values())
    return np.where(total > 0, bound * users[key] / np.where(total > 0, total, 1.0), 0.0)
