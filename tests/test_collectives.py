"""Collective costs on torus axes (jax-ml/scaling-book `sharding.md` formulas)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tpusim.collectives import (
    AxisSet,
    all_gather_s,
    all_reduce_s,
    all_to_all_bisection_s,
    all_to_all_s,
    dcn_all_reduce_s,
    point_to_point_s,
    reduce_scatter_s,
)

W = 4.5e10  # v4 one-way link bandwidth


def axis(sizes, wraps, lat=1e-6):
    return AxisSet(tuple(sizes), tuple(wraps), W, lat)


def test_ring_all_gather_is_v_over_bidirectional_bandwidth():
    # scaling book: T = V / W_bidi (times (n-1)/n), independent of the axis size
    a = axis([16], [True])
    v = 1e9
    t = all_gather_s(v, a.shards, a.bandwidth_bytes_per_s, a.latency_s)
    assert t == pytest.approx(8e-6 + v * 15 / 16 / (2 * W))
    assert t == pytest.approx(v * 15 / 16 / (2 * W), rel=1e-3)  # bandwidth-bound


def test_no_wraparound_doubles_the_time():
    ring, line = axis([8], [True]), axis([8], [False])
    v = 1e9
    t_ring = all_gather_s(v, 8, ring.bandwidth_bytes_per_s)
    t_line = all_gather_s(v, 8, line.bandwidth_bytes_per_s)
    assert t_line == pytest.approx(2 * t_ring)


def test_scaling_book_v5e_example_no_wrap():
    # sharding.md: AllGather over Y = 4 v5e chips without a wrap, 8.4e6 bytes per shard:
    # the book's T = 3 x 8.4e6 / 4.5e10 = 560 us is V (n-1)/n / W_uni with V = 4 x 8.4e6
    v = 4 * 8.4e6
    t = all_gather_s(v, 4, axis([4], [False]).bandwidth_bytes_per_s)
    assert t == pytest.approx(560e-6, rel=0.01)


def test_several_axes_share_the_work():
    one = axis([16], [True])
    two = axis([16, 16], [True, True])
    v = 1e9
    t1 = all_gather_s(v, one.shards, one.bandwidth_bytes_per_s)
    t2 = all_gather_s(v, two.shards, two.bandwidth_bytes_per_s)
    # V (n-1)/n / (n_axes W): two axes at once take about half the time of one
    assert t2 == pytest.approx(v * 255 / 256 / (2 * 2 * W))
    assert t2 < t1


def test_small_messages_are_latency_bound():
    a = axis([16], [True], lat=1e-6)
    t = all_gather_s(1.0, a.shards, a.bandwidth_bytes_per_s, a.latency_s)
    assert t == pytest.approx(8e-6, rel=1e-3)  # n/2 hops x 1 us
    line = axis([16], [False], lat=1e-6)
    assert all_gather_s(1.0, 16, line.bandwidth_bytes_per_s, line.latency_s) == pytest.approx(15e-6, rel=1e-3)
    # latency grows with the axis: a bigger ring is never faster for the same bytes
    big = axis([16, 16], [True, True], lat=1e-6)
    assert all_gather_s(1e3, big.shards, big.bandwidth_bytes_per_s, big.latency_s) > t


def test_reduce_scatter_all_reduce_all_to_all_relations():
    a = axis([8, 8], [True, True], lat=0.0)
    v = 3e8
    ag = all_gather_s(v, a.shards, a.bandwidth_bytes_per_s)
    assert reduce_scatter_s(v, a.shards, a.bandwidth_bytes_per_s) == pytest.approx(ag)
    assert all_reduce_s(v, a.shards, a.bandwidth_bytes_per_s) == pytest.approx(2 * ag)
    assert all_to_all_s(v, a.shards, a.bandwidth_bytes_per_s) == pytest.approx(ag / 4)


def test_one_shard_costs_nothing():
    assert all_gather_s(1e9, 1, 1.0, 1e-3) == 0.0
    assert dcn_all_reduce_s(1e9, 1, 1e9) == 0.0


def test_strided_piece_shares_links():
    contiguous = AxisSet((4,), (True,), W, 1e-6, 1.0, (1,))
    strided = AxisSet((4,), (True,), W, 1e-6, 1.0, (4,))
    assert strided.bandwidth_bytes_per_s == pytest.approx(contiguous.bandwidth_bytes_per_s / 4)


def test_all_to_all_bisection_matches_ring_formula_in_one_dimension():
    n, v = 8, 8e8  # a ring of 8: bisection 2 links
    t_bis = all_to_all_bisection_s(v / n, n, 2, W)
    assert t_bis == pytest.approx(v / (4 * 2 * W))


def test_dcn_two_slices_is_one_exchange():
    # PaLM: corresponding hosts exchange their gradient shard once (S = 2: 2 (S-1)/S = 1)
    t = dcn_all_reduce_s(1.3e9, 2, 6.5e9)
    assert t == pytest.approx(0.2)
    # limited by PCIe when it is slower
    assert dcn_all_reduce_s(1e9, 2, 1e10, pcie_bytes_per_s=5e9) == pytest.approx(0.2)


def test_point_to_point():
    assert point_to_point_s(4.5e9, W, hops=3, hop_latency_s=1e-6) == pytest.approx(0.1 + 3e-6)


@given(st.floats(1e3, 1e11), st.integers(2, 64), st.floats(1e9, 1e12), st.floats(1.01, 4.0))
def test_more_bandwidth_never_slower(v, n, bw, factor):
    slow = all_gather_s(v, n, bw, 1e-6)
    fast = all_gather_s(v, n, bw * factor, 1e-6)
    assert fast <= slow


def test_vectorised():
    t = all_gather_s(np.array([1e6, 1e9]), np.array([1, 16]), np.array([9e10, 9e10]))
    assert t.shape == (2,) and t[0] == 0.0 and t[1] > 0
