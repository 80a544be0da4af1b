"""The dense part of a DLRM on the TensorCore: layer shapes, FLOPs, parameters, roofline time.

Per sample (forward multiply-accumulates):
- bottom MLP on the dense features: sum of k x n over its layers;
- `dot` interaction (DLRM, Naumov et al. 2019): the F embedding vectors and the bottom output,
  F + 1 vectors of width d, multiplied pairwise as one (F+1) x d by d x (F+1) product:
  (F+1)^2 d; the top MLP reads the F(F+1)/2 distinct pairs plus the bottom output;
- `dcn` interaction (DCN-V2, Wang et al. 2021, low-rank cross layers): x0 = bottom output and
  every embedding output concatenated; each layer x_{l+1} = x0 * (U (V x_l) + b) + x_l costs
  2 x0 r; the top MLP reads x0;
- top MLP: sum of k x n.
Training = 3 x forward FLOPs (backward is twice the forward), 6 FLOPs per MAC.

Time (the dense-LLM roofline, `topologies/efficiency.toml`): each matmul max(FLOPs / (peak x
mxu_fraction x MXU-tile padding of k and n), bf16 bytes / (HBM x hbm_fraction)), elementwise
work (activations, cross-layer products) HBM-bound; backward = 2 x forward.

Invariants (tested): MLPerf DLRM v1 is ~2.46 M MAC and DCNv2 ~16.0 M MAC per sample forward;
time never falls when the batch grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tpusim.errors import TpusimError
from tpusim.workloads.dlrm.config import DlrmModel

COMPUTE_BYTES = 2  # bf16 activations and weights on the TensorCore
FP32_BYTES = 4


@dataclass(frozen=True)
class DenseShape:
    """Matmuls (k, n) per sample, the interaction product, elementwise bytes per sample."""

    matmuls: tuple[tuple[int, int], ...]
    interaction_vectors: int  # F + 1 for dot (0 for dcn)
    interaction_width: int
    elementwise_bytes_per_sample: float  # forward, bf16
    macs_per_sample: float
    params: int
    activation_elements_per_sample: float  # saved for backward

    @property
    def train_flops_per_sample(self) -> float:
        return 6.0 * self.macs_per_sample


def dense_shape(model: DlrmModel, embedding_widths: np.ndarray) -> DenseShape:
    """The dense network of `model` fed by embedding outputs of the given widths (one entry per
    output vector of a sample)."""
    bottom = (model.dense_features, *model.bottom_mlp)
    mm = list(zip(bottom[:-1], bottom[1:], strict=True))
    d = bottom[-1]
    widths = np.asarray(embedding_widths, dtype=np.int64)
    params = sum(k * n + n for k, n in mm)
    elementwise = sum(2 * n for _, n in mm)  # activation: read + write
    saved = float(sum(n for _, n in mm))
    inter_vec = inter_w = 0
    if model.interaction == "dot":
        if widths.size and np.any(widths != d):
            raise TpusimError(
                f'[model] interaction = "dot" multiplies every embedding with the bottom MLP '
                f"output, so every table dim must equal bottom_mlp's last width {d}; use "
                f'interaction = "dcn" for mixed widths'
            )
        f = int(widths.size)
        inter_vec, inter_w = f + 1, d
        top_in = f * (f + 1) // 2 + d
        interaction_macs = float((f + 1) ** 2 * d)
        saved += (f + 1) * d + top_in
    else:
        x0 = d + int(widths.sum())
        r = model.dcn_low_rank
        for _ in range(model.dcn_layers):
            mm += [(x0, r), (r, x0)]
            params += 2 * x0 * r + x0
            elementwise += 4 * x0  # read x0, U V x, x_l; write x_{l+1}
            saved += 2 * x0 + r
        top_in = x0
        interaction_macs = 0.0
    top = (top_in, *model.top_mlp)
    top_mm = list(zip(top[:-1], top[1:], strict=True))
    mm += top_mm
    params += sum(k * n + n for k, n in top_mm)
    elementwise += sum(2 * n for _, n in top_mm)
    saved += float(sum(n for _, n in top_mm))
    macs = float(sum(k * n for k, n in mm)) + interaction_macs
    return DenseShape(
        matmuls=tuple(mm),
        interaction_vectors=inter_vec,
        interaction_width=inter_w,
        elementwise_bytes_per_sample=float(elementwise * COMPUTE_BYTES),
        macs_per_sample=macs,
        params=int(params),
        activation_elements_per_sample=saved,
    )


def _pad(dim, mxu: int):
    """Fraction of MXU tiles a dimension fills: dim / (ceil(dim / mxu) x mxu)."""
    return dim / (np.ceil(dim / mxu) * mxu)


def tensorcore_times(shape: DenseShape, samples, peak_flops_per_s: float, hbm_bytes_per_s: float,
                     mxu: int) -> tuple[np.ndarray, np.ndarray]:
    """(time, HBM-bound part) of one training step's dense work on `samples` per chip (arrays);
    `peak_flops_per_s` and `hbm_bytes_per_s` are the achievable rates (efficiency applied)."""
    b = np.asarray(samples, dtype=float)
    t = np.zeros_like(b)
    t_mem = np.zeros_like(b)
    for k, n in shape.matmuls:
        compute = 2.0 * b * k * n / (peak_flops_per_s * _pad(k, mxu) * _pad(n, mxu))
        memory = COMPUTE_BYTES * (b * k + k * n + b * n) / hbm_bytes_per_s
        t += np.maximum(compute, memory)
        t_mem += memory
    if shape.interaction_vectors:
        v, w = shape.interaction_vectors, shape.interaction_width
        compute = 2.0 * b * v * v * w / (peak_flops_per_s * _pad(w, mxu) * _pad(v, mxu))
        memory = COMPUTE_BYTES * b * (2 * v * w + v * v) / hbm_bytes_per_s
        t += np.maximum(compute, memory)
        t_mem += memory
    vector = shape.elementwise_bytes_per_sample * b / hbm_bytes_per_s
    return 3.0 * (t + vector), 3.0 * (t_mem + vector)


def optimizer_bytes(params: float, slots: int) -> float:
    """HBM bytes of one dense optimizer step: fp32 parameters and slots read and written, the
    fp32 gradient read."""
    return params * FP32_BYTES * (2 * (1 + slots) + 1)
