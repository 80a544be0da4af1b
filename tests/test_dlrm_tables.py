"""Embedding-table arithmetic: published table totals, padding rules, sharding loads, the OpenXLA
COO example, HBM stack formulas, dense model size."""

from __future__ import annotations

import numpy as np
import pytest

from tpusim.validation import check, figure
from tpusim.workloads.dlrm.config import load_dlrm
from tpusim.workloads.dlrm.dense import dense_shape
from tpusim.workloads.dlrm.tables import (
    ROW_ALIGN_BYTES,
    TableSet,
    coo,
    expected_partitions_touched,
    hbm_stack_bytes,
    shard_load,
    table_set,
    totals,
)

DCNV2 = load_dlrm("dlrm-dcnv2")
V1 = load_dlrm("dlrm-mlperf-v1")


def test_dcnv2_table_totals():
    """mlcommons/training recommendation_v2/torchrec_dlrm/README.MD: 26 tables, dim 128, the
    listed row counts (204,184,588 rows = 104.5 GB in fp32), multi-hot sizes summing to 214 ids
    per sample. Exact."""
    t = totals(table_set(DCNV2.embedding))
    assert t["tables"] == 26
    assert t["rows"] == 204_184_588
    assert t["bytes"] == 204_184_588 * 128 * 4
    c = check(figure("dlrm-dcnv2-table-bytes"))  # 104.5 GB, tolerance 0.05 GB (the table)
    assert c.measured.value == t["bytes"] and c.within
    assert t["lookups_per_sample"] == 214
    assert t["output_bytes_per_sample"] == 26 * 128 * 4  # pooled: 13.3 KB per sample
    assert t["gathered_bytes_per_sample"] == 214 * 512  # 109.6 KB per sample


def test_mlperf_v1_table_totals():
    """mlcommons/training_results_v1.0 Google run_and_time.sh --vocab_sizes_embed: 26 one-hot
    tables of dim 128, 187,767,399 rows = 96.1 GB in fp32. Exact."""
    t = totals(table_set(V1.embedding))
    assert t["rows"] == 187_767_399
    c = check(figure("dlrm-mlperf-v1-table-bytes"))  # 96.14 GB, tolerance 0.01 GB (the table)
    assert c.measured.value == t["bytes"] and c.within
    assert t["lookups_per_sample"] == 26
    # --num_tables_in_ec=15: the 15 largest tables go to the SparseCores
    assert int((table_set(V1.embedding).rows >= V1.embedding.replicate_below_rows).sum()) == 15


def _tables(rows, dim, lookups, *, table_bytes=4, seq=None) -> TableSet:
    n = len(rows)
    return TableSet(names=tuple(f"t{i}" for i in range(n)), rows=np.array(rows), dim=np.array(dim),
                    lookups=np.array(lookups),
                    sequence=np.zeros(n, bool) if seq is None else np.array(seq),
                    table_bytes=table_bytes, activation_bytes=4)


def test_row_padding_to_32_bytes():
    """OpenXLA SparseCore doc sec. 10: rows padded to 32 B (8 fp32): a dim-1 fp32 table costs 8x."""
    ts = _tables([10, 10, 10, 10], [1, 8, 9, 128], [1, 1, 1, 1])
    assert ts.row_bytes.tolist() == [32, 32, 64, 512]
    bf16 = _tables([10, 10], [10, 16], [1, 1], table_bytes=2)
    assert bf16.row_bytes.tolist() == [32, 32]
    assert np.all(ts.row_bytes % ROW_ALIGN_BYTES == 0)
    assert np.all(ts.row_bytes >= ts.dim * ts.table_bytes)


def test_vocabulary_padded_to_sparsecore_count():
    """OpenXLA sec. 10: the vocabulary is padded to a multiple of the SparseCores in the system:
    each partition stores ceil(rows / partitions) rows."""
    ts = _tables([1000, 7], [8, 8], [1, 1])
    load = shard_load(ts, "mod", partitions=64, per_group=4)
    assert load.stored_bytes_busiest_group == (16 + 1) * 4 * 32


def test_openxla_coo_example():
    """OpenXLA SparseCore doc sec. 3: samples [[A], [A, B, C], [B, B, D]] become
    row_ids [0, 1, 1, 1, 2, 2], col_ids [A, A, B, C, B, D] after in-sample dedup; sec. 7-8:
    target SparseCore = col_id % num_total_sparse_cores."""
    a, b, c, d = 10, 11, 12, 13
    rows, cols, target = coo([[a], [a, b, c], [b, b, d]], num_sparsecores=4)
    assert rows == [0, 1, 1, 1, 2, 2]
    assert cols == [a, a, b, c, b, d]
    assert target == [2, 2, 3, 0, 3, 1]


def test_hbm_stack_formulas():
    """OpenXLA sec. 9: forward (2 D + 1) L n 4 B, backward 3 D L n 4 B; the larger counts."""
    ts = _tables([100, 100], [128, 1], [3, 2])
    n = 10
    expected = max((2 * 128 + 1) * 3 * n * 4, 3 * 128 * 3 * n * 4) + max((2 + 1) * 2 * n * 4, 3 * 2 * n * 4)
    assert hbm_stack_bytes(ts, n) == expected


def test_partitions_touched():
    lk = np.array([1, 2, 100])
    assert expected_partitions_touched(lk, 1).tolist() == [1, 1, 1]
    many = expected_partitions_touched(lk, 10**6)
    assert many == pytest.approx(lk, rel=1e-3)
    few = expected_partitions_touched(lk, 4)
    assert np.all(few <= 4) and np.all(few <= lk) and few[0] == pytest.approx(1.0)


@pytest.mark.parametrize("sharding", ["mod", "table", "column"])
@pytest.mark.parametrize(("partitions", "per_group"), [(16, 4), (512, 4), (32, 1)])
def test_shard_loads_conserve_work(sharding, partitions, per_group):
    """Every sharding spreads the same gathered bytes; the busiest group carries at least the
    mean; table-wise shards send pooled vectors only."""
    ts = table_set(DCNV2.embedding)
    load = shard_load(ts, sharding, partitions, per_group)
    total = float((ts.lookups * ts.row_bytes).sum())
    groups = partitions // per_group
    assert load.row_bytes_mean_group * groups == pytest.approx(total)
    assert load.row_bytes_busiest_group >= load.row_bytes_mean_group * (1 - 1e-12)
    assert load.row_bytes_busiest_partition * partitions >= total * (1 - 1e-12)
    if sharding == "mod":
        assert load.row_bytes_busiest_group == pytest.approx(load.row_bytes_mean_group)
    if sharding == "table":
        assert load.output_vectors_per_sample == len(ts)


@pytest.mark.parametrize(("wl", "figure_id"), [(V1, "dlrm-mlperf-v1-dense-macs"),
                                              (DCNV2, "dlrm-dcnv2-dense-macs")])
def test_dense_macs_per_sample(wl, figure_id):
    """Forward MACs per sample (bottom MLP + interaction + top MLP): MLPerf DLRM v1 ~2.46 M (dot
    interaction over 27 vectors of 128), DCNv2 ~16.0 M (3 cross layers of rank 512 on x0 = 3456).
    Tolerance 0.5% (published values and tolerance: tpusim/validation/published.py)."""
    ts = table_set(wl.embedding)
    shape = dense_shape(wl.model, np.repeat(ts.dim, ts.outputs_per_sample))
    c = check(figure(figure_id))
    assert c.measured.value == shape.macs_per_sample
    assert c.figure.tolerance.value == 0.005
    assert shape.macs_per_sample == pytest.approx(c.figure.published, rel=0.005)
    assert shape.train_flops_per_sample == 6 * shape.macs_per_sample
