"""Cost of collectives on TPU torus axes and across slices over the data-center network.

Formulas (jax-ml/scaling-book `sharding.md`, https://jax-ml.github.io/scaling-book/sharding/):

- A logical mesh axis runs over one or more physical torus axes (an `AxisSet`). On a physical
  axis with wraparound, a bidirectional ring uses both links of every chip: bandwidth
  W_bidi = 2 x one-way link bandwidth. Without wraparound (a line) the end links carry the whole
  array one way, so the axis only gives W_uni: "communication typically doubles".
- Several axes at once: the array is split over the axes, which work in parallel, so their
  bandwidths add: T = V (n-1)/n / sum_i W_i (the book's V / (W_ICI n_axes) for equal axes).
- AllGather and ReduceScatter of a full (gathered) array of V bytes over n shards:
  T = T_latency + V (n-1)/n / W with T_latency = hop latency x longest path (n/2 hops per
  ring axis, n-1 per line axis). The book writes max(T_latency, V/W) as a bound; the sum
  (Hockney's alpha-beta model: every ring step pays a hop) is the same in both limits, small
  messages latency-bound and large ones bandwidth-bound, and grows with the axis size.
- AllReduce = ReduceScatter + AllGather (2x). AllToAll = AllGather / 4 on a ring
  (the bisection argument: V/4 crosses the cut each way). A whole-slice all-to-all is limited by
  its busiest link under shortest-path routing of the actual links (topology.alltoall), which
  equals the bisection bound on plain tori and is smaller than it on twisted ones.
- Across slices (DCN): ring all-reduce of each chip's shard with its counterparts,
  T = 2 (S-1)/S x V_chip / B_dcn, limited by the slower of DCN and PCIe (traffic leaves the chip
  through the host).

Every function accepts numpy arrays (broadcast element-wise) so a sharding search evaluates
thousands of configurations in one call. Bytes are bytes, times seconds, bandwidths bytes/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ArrayLike = float | np.ndarray


@dataclass(frozen=True)
class AxisSet:
    """The physical torus axes one logical mesh axis runs over.

    `sizes[i]` chips along physical piece i, `wraps[i]` whether that piece is a closed ring.
    `link_one_way_bytes_per_s` is one direction of one link; `link_fraction` the achievable
    fraction of it (a named efficiency constant).
    """

    sizes: tuple[int, ...]
    wraps: tuple[bool, ...]
    link_one_way_bytes_per_s: float
    hop_latency_s: float
    link_fraction: float = 1.0
    strides: tuple[int, ...] = ()  # per piece: chips between neighbours (1 = adjacent)
    physical: tuple[int, ...] = ()  # physical axis index of each piece (for reports)

    def _strides(self) -> tuple[int, ...]:
        return self.strides or (1,) * len(self.sizes)

    @property
    def shards(self) -> int:
        return math.prod(self.sizes)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Sum over the pieces of 2 x W_uni (ring) or W_uni (line); 0 for a single chip.

        A strided piece (every k-th chip of a physical ring, the contiguous blocks between taken
        by another logical axis) shares each physical link among k interleaved rings: W / k.
        """
        links = sum(
            (2 if w else 1) / k
            for n, w, k in zip(self.sizes, self.wraps, self._strides(), strict=True)
            if n > 1
        )
        return links * self.link_one_way_bytes_per_s * self.link_fraction

    @property
    def latency_s(self) -> float:
        """Hop latency times the longest path: n/2 hops on a ring, n-1 on a line."""
        hops = sum(
            (n // 2 if w else n - 1) * k
            for n, w, k in zip(self.sizes, self.wraps, self._strides(), strict=True)
        )
        return hops * self.hop_latency_s

    @property
    def seconds_per_byte(self) -> float:
        """AllGather time per gathered byte in the bandwidth-bound regime (inf for one chip)."""
        n = self.shards
        if n <= 1:
            return 0.0
        return (n - 1) / n / self.bandwidth_bytes_per_s


def _shard_factor(shards: ArrayLike) -> ArrayLike:
    shards = np.asarray(shards, dtype=float)
    return np.where(shards > 1, (shards - 1) / np.maximum(shards, 1), 0.0)


def all_gather_s(
    full_bytes: ArrayLike, shards: ArrayLike, bandwidth_bytes_per_s: ArrayLike, latency_s: ArrayLike = 0.0
) -> ArrayLike:
    """AllGather of an array of `full_bytes` (gathered size) over `shards` chips.

    T = latency + V (n-1)/n / W; 0 when n == 1.
    """
    factor = _shard_factor(shards)
    bw = np.maximum(np.asarray(bandwidth_bytes_per_s, dtype=float), 1e-300)
    t = np.asarray(latency_s, dtype=float) + np.asarray(full_bytes) * factor / bw
    return np.where(factor > 0, t, 0.0)


def reduce_scatter_s(
    full_bytes: ArrayLike, shards: ArrayLike, bandwidth_bytes_per_s: ArrayLike, latency_s: ArrayLike = 0.0
) -> ArrayLike:
    """ReduceScatter of an unreduced array of `full_bytes`: same cost as AllGather."""
    return all_gather_s(full_bytes, shards, bandwidth_bytes_per_s, latency_s)


def all_reduce_s(
    full_bytes: ArrayLike, shards: ArrayLike, bandwidth_bytes_per_s: ArrayLike, latency_s: ArrayLike = 0.0
) -> ArrayLike:
    """AllReduce = ReduceScatter + AllGather."""
    return 2 * all_gather_s(full_bytes, shards, bandwidth_bytes_per_s, latency_s)


def all_to_all_s(
    full_bytes: ArrayLike, shards: ArrayLike, bandwidth_bytes_per_s: ArrayLike, latency_s: ArrayLike = 0.0
) -> ArrayLike:
    """AllToAll of an array of `full_bytes` over `shards` chips: AllGather / 4 (bisection)."""
    factor = _shard_factor(shards)
    bw = np.maximum(np.asarray(bandwidth_bytes_per_s, dtype=float), 1e-300)
    t = np.asarray(latency_s, dtype=float) + np.asarray(full_bytes) * factor / (4 * bw)
    return np.where(factor > 0, t, 0.0)


def all_to_all_bisection_s(
    bytes_per_chip: ArrayLike,
    chips: int,
    bisection_links: int,
    link_one_way_bytes_per_s: float,
    link_fraction: float = 1.0,
) -> ArrayLike:
    """AllToAll over a whole slice bounded by its bisection (twisted tori have a larger one).

    Each chip spreads `bytes_per_chip` evenly; about chips x bytes_per_chip / 4 bytes cross the
    bisection in each direction, over `bisection_links` links of W_uni each.
    """
    crossing = np.asarray(bytes_per_chip, dtype=float) * chips / 4
    return crossing / (bisection_links * link_one_way_bytes_per_s * link_fraction)


def all_to_all_torus_s(
    bytes_per_chip: ArrayLike,
    chips: int,
    max_link_load: float,
    link_one_way_bytes_per_s: float,
    link_fraction: float = 1.0,
    latency_s: ArrayLike = 0.0,
) -> ArrayLike:
    """AllToAll over a whole slice, limited by its busiest link (topology.alltoall).

    Each chip holds `bytes_per_chip` split into `chips` equal chunks, one per chip (its own
    stays); `max_link_load` is the busiest link direction's load in source-destination flows
    under shortest-path (ECMP) routing of the real links, so
    T = latency + max_load x (V / N) / (W_uni f). On a plain torus with even sides this equals
    `all_to_all_bisection_s`; on a twisted torus it is the smaller gain the links really give.
    """
    if chips <= 1:
        return np.zeros_like(np.asarray(bytes_per_chip, dtype=float))
    bw = link_one_way_bytes_per_s * link_fraction
    return np.asarray(latency_s, dtype=float) + (
        np.asarray(bytes_per_chip, dtype=float) * max_link_load / (chips * bw)
    )


def point_to_point_s(
    n_bytes: ArrayLike,
    link_one_way_bytes_per_s: float,
    hops: ArrayLike = 1,
    hop_latency_s: float = 0.0,
    links: int = 1,
    link_fraction: float = 1.0,
) -> ArrayLike:
    """Send `n_bytes` to a chip `hops` away over `links` parallel links: bytes / bw + hops x latency."""
    bw = links * link_one_way_bytes_per_s * link_fraction
    return np.asarray(n_bytes, dtype=float) / bw + np.asarray(hops) * hop_latency_s


def dcn_all_reduce_s(
    bytes_per_chip: ArrayLike,
    slices: ArrayLike,
    dcn_bytes_per_s_per_chip: float,
    pcie_bytes_per_s: float | None = None,
    dcn_fraction: float = 1.0,
    latency_s: float = 0.0,
) -> ArrayLike:
    """All-reduce of each chip's `bytes_per_chip` with its counterparts in the other slices.

    Ring over S slices: every chip sends and receives 2 (S-1)/S x V (for S = 2: one 1:1
    exchange of V, as PaLM's hosts did). The traffic crosses PCIe to the host NIC, so the
    bandwidth is the smaller of the chip's DCN share and its PCIe link.
    """
    s = np.asarray(slices, dtype=float)
    bw = dcn_bytes_per_s_per_chip * dcn_fraction
    if pcie_bytes_per_s is not None:
        bw = min(bw, pcie_bytes_per_s)
    t = 2 * (s - 1) / np.maximum(s, 1) * np.asarray(bytes_per_chip, dtype=float) / bw + latency_s
    return np.where(s > 1, t, 0.0)
