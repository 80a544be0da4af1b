"""Embedding-table arithmetic: padding, totals, how a sharding spreads ids, rows and outputs.

Sources (OpenXLA, "A deep dive into SparseCore", https://openxla.org/xla/sparsecore):
- a row is padded to a multiple of 32 bytes (8 fp32: a dim-1 fp32 table costs 8x), sec. 10;
- the vocabulary is padded to a multiple of the number of SparseCores in the system, sec. 10;
- mod sharding: id j is served by SparseCore j % num_total_sparse_cores, sec. 7-8;
- host preprocessing turns each sample's ids into COO (row = sample, col = id), removes
  duplicates within a sample and groups ids by target SparseCore, sec. 3 and 7;
- HBM stack per table: forward ~ (2 x feature_width + 1) x max_unique_nz_per_row x
  logical_replica_count x 4 B, backward ~ 3 x feature_width x ... x 4 B, sec. 9.

Arrays are over the expanded tables (a table with `count = k` appears k times).

Invariants (tested): padded row bytes are a multiple of 32 and at least the unpadded bytes;
the loads of every sharding add up to the same total ids and rows; per-partition rows under mod
sharding are ceil(rows / partitions); the busiest partition carries at least the mean load.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from tpusim.workloads.dlrm.config import Embedding

ROW_ALIGN_BYTES = 32  # OpenXLA SparseCore doc sec. 10: rows padded to 32 B


@dataclass(frozen=True)
class TableSet:
    """The expanded tables as arrays (one entry per table copy)."""

    names: tuple[str, ...]
    rows: np.ndarray  # int64
    dim: np.ndarray  # int64, logical width
    lookups: np.ndarray  # int64, ids per sample
    sequence: np.ndarray  # bool: unpooled feature
    table_bytes: int  # bytes per element in HBM
    activation_bytes: int  # bytes per element of pooled outputs / their gradients

    @property
    def padded_dim(self) -> np.ndarray:
        """Elements per stored row: dim rounded up so that a row is a multiple of 32 bytes."""
        per = ROW_ALIGN_BYTES // math.gcd(ROW_ALIGN_BYTES, self.table_bytes)
        return -(-self.dim // per) * per if self.table_bytes < ROW_ALIGN_BYTES else self.dim

    @property
    def row_bytes(self) -> np.ndarray:
        """Stored bytes of one row (padded)."""
        return self.padded_dim * self.table_bytes

    @property
    def outputs_per_sample(self) -> np.ndarray:
        """Vectors each sample gets from each table: 1 when pooled, `lookups` for a sequence."""
        return np.where(self.sequence, self.lookups, 1)

    def subset(self, mask: np.ndarray) -> TableSet:
        keep = np.asarray(mask, bool)
        return TableSet(
            names=tuple(n for n, k in zip(self.names, keep, strict=True) if k),
            rows=self.rows[keep],
            dim=self.dim[keep],
            lookups=self.lookups[keep],
            sequence=self.sequence[keep],
            table_bytes=self.table_bytes,
            activation_bytes=self.activation_bytes,
        )

    def __len__(self) -> int:
        return int(self.rows.size)


def table_set(emb: Embedding) -> TableSet:
    """Expand `count` repeats and default dims into arrays."""
    names, rows, dims, lookups, seq = [], [], [], [], []
    for t in emb.tables:
        for i in range(t.count):
            names.append(t.name if t.count == 1 else f"{t.name}[{i}]")
            rows.append(t.rows)
            dims.append(t.dim if t.dim is not None else emb.dim)
            lookups.append(t.lookups)
            seq.append(t.sequence)
    return TableSet(
        names=tuple(names),
        rows=np.array(rows, dtype=np.int64),
        dim=np.array(dims, dtype=np.int64),
        lookups=np.array(lookups, dtype=np.int64),
        sequence=np.array(seq, dtype=bool),
        table_bytes=emb.table_bytes,
        activation_bytes=emb.activation_bytes,
    )


def totals(ts: TableSet) -> dict[str, float]:
    """Rows, stored bytes (unpadded and padded), lookups and output bytes per sample."""
    return {
        "tables": len(ts),
        "rows": int(ts.rows.sum()),
        "bytes": int((ts.rows * ts.dim).sum() * ts.table_bytes),
        "padded_bytes": int((ts.rows * ts.row_bytes).sum()),
        "lookups_per_sample": int(ts.lookups.sum()),
        "gathered_bytes_per_sample": int((ts.lookups * ts.row_bytes).sum()),
        "output_bytes_per_sample": int((ts.outputs_per_sample * ts.dim).sum() * ts.activation_bytes),
    }


def expected_partitions_touched(lookups: np.ndarray, partitions: int) -> np.ndarray:
    """Expected distinct partitions hit by `lookups` distinct ids spread uniformly at random
    over `partitions` (mod sharding of well-mixed ids): P (1 - (1 - 1/P)^L). Each touched
    partition sends the sample one partial sum, so this is the vectors per sample and table."""
    lk = np.asarray(lookups, dtype=float)
    if partitions <= 1:
        return np.minimum(lk, 1.0)
    return partitions * -np.expm1(lk * np.log1p(-1.0 / partitions))


@dataclass(frozen=True)
class ShardLoad:
    """Per-step work of one sharding of the sharded tables over `partitions` engines
    (SparseCores, or hosts), `per_group` engines sharing one memory (a chip, or a host).

    Loads are per step for the whole global batch; `*_busiest_*` are the maxima the step waits for.
    """

    partitions: int
    per_group: int
    row_bytes_busiest_partition: float  # row bytes touched per sample on the busiest engine
    row_bytes_busiest_group: float  # the same summed over the busiest group's engines
    row_bytes_mean_group: float
    output_vectors_per_sample: float  # partial / pooled vectors sent per sample, all tables
    output_bytes_per_sample: float  # those vectors' bytes (activation dtype)
    send_share_busiest_group: float  # busiest group's share of all output bytes (1/groups if even)
    stored_bytes_busiest_group: float  # table rows on the busiest group (padded), one copy
    skewed: bool  # whether the skew factor applies (mod sharding spreads each table)


def mod_load(ts: TableSet, partitions: int, per_group: int) -> ShardLoad:
    """Row-wise: every table spread over every engine, id -> id % partitions (mean loads; the
    caller applies the skew). Vocabulary padded to a multiple of `partitions`."""
    groups = partitions // per_group
    row_bytes = float((ts.lookups * ts.row_bytes).sum())
    vectors = np.where(ts.sequence, ts.lookups, expected_partitions_touched(ts.lookups, partitions))
    rows_per_partition = -(-ts.rows // partitions)
    return ShardLoad(
        partitions=partitions,
        per_group=per_group,
        row_bytes_busiest_partition=row_bytes / partitions,
        row_bytes_busiest_group=row_bytes / groups,
        row_bytes_mean_group=row_bytes / groups,
        output_vectors_per_sample=float(vectors.sum()),
        output_bytes_per_sample=float((vectors * ts.dim).sum() * ts.activation_bytes),
        send_share_busiest_group=1.0 / groups,
        stored_bytes_busiest_group=float((rows_per_partition * per_group * ts.row_bytes).sum()),
        skewed=True,
    )


def column_shards(ts: TableSet, partitions: int) -> np.ndarray:
    """Column shards per table for column sharding: each table split into slices at least 32
    bytes wide, in proportion to its share of the gathered bytes, so that the heavy tables spread
    over the engines: clip(ceil(partitions x work_t / total work), 1, row_bytes / 32)."""
    widest = ts.row_bytes // ROW_ALIGN_BYTES
    work = (ts.lookups * ts.row_bytes).astype(float)
    want = np.ceil(partitions * work / max(work.sum(), 1.0)).astype(np.int64)
    return np.clip(want, 1, widest)


def wise_load(ts: TableSet, partitions: int, per_group: int, shards: np.ndarray) -> ShardLoad:
    """Table-wise (shards = 1) or column-wise: each shard whole on one engine, shards placed
    largest work first on the least-loaded engine (LPT); a shard pools its ids itself."""
    groups = partitions // per_group
    work = np.repeat(ts.lookups * ts.row_bytes / shards, shards).astype(float)
    stored = np.repeat(ts.rows * ts.row_bytes / shards, shards).astype(float)
    out = np.repeat((ts.outputs_per_sample * ts.dim * ts.activation_bytes / shards).astype(float), shards)
    engine = _lpt(work, partitions)
    eng_work = np.bincount(engine, weights=work, minlength=partitions)
    group = engine // per_group
    grp_work = np.bincount(group, weights=work, minlength=groups)
    grp_stored = np.bincount(group, weights=stored, minlength=groups)
    grp_out = np.bincount(group, weights=out, minlength=groups)
    vectors = float((ts.outputs_per_sample * shards).sum())
    return ShardLoad(
        partitions=partitions,
        per_group=per_group,
        row_bytes_busiest_partition=float(eng_work.max()),
        row_bytes_busiest_group=float(grp_work.max()),
        row_bytes_mean_group=float(work.sum()) / groups,
        output_vectors_per_sample=vectors,
        output_bytes_per_sample=float(out.sum()),
        send_share_busiest_group=float(grp_out.max() / out.sum()) if out.sum() else 0.0,
        stored_bytes_busiest_group=float(grp_stored.max()),
        skewed=False,
    )


def _lpt(work: np.ndarray, engines: int) -> np.ndarray:
    """Longest-processing-time-first assignment: engine index of each item."""
    order = np.argsort(-work, kind="stable")
    assign = np.empty(work.size, dtype=np.int64)
    if work.size <= engines:  # every item gets an engine of its own
        assign[order] = np.arange(work.size)
        return assign
    heap = [(0.0, e) for e in range(engines)]
    for i in order:
        load, e = heapq.heappop(heap)
        assign[i] = e
        heapq.heappush(heap, (load + float(work[i]), e))
    return assign


def shard_load(ts: TableSet, sharding: str, partitions: int, per_group: int) -> ShardLoad:
    """The load of `sharding` ("mod", "table" or "column") over `partitions` engines."""
    if sharding == "mod":
        return mod_load(ts, partitions, per_group)
    shards = np.ones(len(ts), dtype=np.int64) if sharding == "table" else column_shards(ts, partitions)
    return wise_load(ts, partitions, per_group, shards)


def hbm_stack_bytes(ts: TableSet, samples_per_chip: float) -> float:
    """HBM stack of the SparseCore programs (OpenXLA sec. 9), the larger of forward and backward
    per table, summed: fwd (2 D + 1) L n 4 B, bwd 3 D L n 4 B, with max_unique_nz_per_row = L
    (ids of one sample and table) and logical_replica_count read as the chip's samples n."""
    fwd = (2 * ts.dim + 1) * ts.lookups * samples_per_chip * 4
    bwd = 3 * ts.dim * ts.lookups * samples_per_chip * 4
    return float(np.maximum(fwd, bwd).sum())


def coo(samples: list[list[int]], num_sparsecores: int) -> tuple[list[int], list[int], list[int]]:
    """Host preprocessing of one feature: (row_ids, col_ids, target SparseCore of each id), ids
    de-duplicated within each sample in order of first appearance (OpenXLA sec. 3, 7)."""
    rows, cols = [], []
    for r, ids in enumerate(samples):
        for i in dict.fromkeys(ids):
            rows.append(r)
            cols.append(i)
    return rows, cols, [c % num_sparsecores for c in cols]
