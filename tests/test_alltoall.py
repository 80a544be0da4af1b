"""All-to-all on the real link list: ECMP link loads against networkx, the bisection bound on
plain tori, the published twisted-torus gains, monotonicity, caching."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from tpusim.collectives import all_to_all_bisection_s, all_to_all_torus_s
from tpusim.hardware import load_pod
from tpusim.topology.alltoall import all_to_all_loads, directed_edge_loads
from tpusim.topology.summary import topology_summary
from tpusim.topology.torus import bisection_links, diameter, torus_links

RING = (True, True, True)

SMALL = [
    ((4, 4, 8), RING, True),
    ((4, 8, 8), RING, True),
    ((4, 4, 8), RING, False),
    ((2, 2, 2), RING, False),  # rings of two: parallel links share the pair's load
    ((2, 3, 4), RING, False),  # odd side
    ((4, 4), (True, False), False),  # v5e-like: one axis wraps
    ((5, 3), (True, False), False),
    ((4, 2, 1), (False, False, False), False),  # sub-cube mesh
]


@pytest.mark.parametrize(("shape", "wrap", "twisted"), SMALL)
def test_loads_equal_networkx_edge_betweenness(shape, wrap, twisted):
    """Directed loads from one search per translation class equal networkx's path-count edge
    betweenness on the simple link graph (each direction carries the undirected value)."""
    src, dst, mult, load = directed_edge_loads(shape, wrap, twisted=twisted)
    links = torus_links(shape, wrap, twisted=twisted)
    graph = nx.Graph()
    graph.add_nodes_from(range(math.prod(shape)))
    graph.add_edges_from(zip(links.src.tolist(), links.dst.tolist(), strict=True))
    expected = nx.edge_betweenness_centrality(graph, normalized=False)
    got = {(int(u), int(v)): x for u, v, x in zip(src, dst, load, strict=True)}
    assert len(got) == 2 * len(expected)
    for (u, v), value in expected.items():
        assert got[(u, v)] == pytest.approx(value, abs=1e-9)
        assert got[(v, u)] == pytest.approx(value, abs=1e-9)
    loads = all_to_all_loads(shape, wrap, twisted)
    assert loads.mean_hops == pytest.approx(nx.average_shortest_path_length(graph))
    assert loads.diameter_hops == diameter(shape, wrap, twisted=twisted)
    assert loads.max_link_load == pytest.approx((load / mult).max())


@pytest.mark.parametrize(("shape", "wrap", "twisted"), SMALL)
def test_every_hop_lands_on_one_link(shape, wrap, twisted):
    """Sum of directed loads = sum of hop distances over ordered pairs."""
    _, _, _, load = directed_edge_loads(shape, wrap, twisted=twisted)
    n = math.prod(shape)
    loads = all_to_all_loads(shape, wrap, twisted)
    assert load.sum() == pytest.approx(loads.mean_hops * n * (n - 1))


@pytest.mark.parametrize(("shape", "wrap"), [
    ((4, 4, 4), RING), ((4, 4, 8), RING), ((4, 8, 8), RING), ((8, 8, 16), RING),
    ((16, 16, 16), RING), ((16, 20, 28), RING), ((16, 16), (True, True)), ((32, 32), (True, True)),
    ((2, 2, 2), RING), ((8, 1, 1), (False, False, False)),
])
def test_plain_torus_equals_bisection_formula(shape, wrap):
    """Untwisted torus with even sides (and a single line): busiest-link time ==
    all_to_all_bisection_s; aggregate = 4 x bisection links x W_uni (N V / 4 bytes cross the cut
    each way, spread evenly over the cut's links)."""
    loads = all_to_all_loads(shape, wrap, False)
    n = math.prod(shape)
    cut = bisection_links(shape, torus_links(shape, wrap))
    w, f, v = 4.5e10, 0.82, 8e6
    ecmp = all_to_all_torus_s(v, n, loads.max_link_load, w, f)
    bisect = all_to_all_bisection_s(v, n, cut, w, f)
    assert ecmp == pytest.approx(bisect, rel=1e-9)
    assert loads.aggregate_bytes_per_s(w) == pytest.approx(4 * cut * w, rel=1e-9)


@pytest.mark.parametrize(("shape", "wrap"), [
    ((8, 16), (False, True)), ((4, 4, 2), (False, False, False)), ((4, 4, 4), (False,) * 3),
])
def test_mesh_is_slower_than_its_bisection(shape, wrap):
    """On a mesh (a line axis next to another axis) shortest paths crowd the middle of the
    lines, so the busiest link carries more than the cut average: the bisection bound is not
    reached."""
    loads = all_to_all_loads(shape, wrap, False)
    n = math.prod(shape)
    cut = bisection_links(shape, torus_links(shape, wrap))
    assert all_to_all_torus_s(1.0, n, loads.max_link_load, 1.0) > all_to_all_bisection_s(1.0, n, cut, 1.0)


def test_v4_reference_times():
    """v4, f = 0.82, V = 8 MB per chip: 108.4 us on 4x4x4 and 216.8 us on 4x4x8 (both forms)."""
    for shape, expected in (((4, 4, 4), 108.4e-6), ((4, 4, 8), 216.8e-6)):
        loads = all_to_all_loads(shape, RING, False)
        t = all_to_all_torus_s(8e6, math.prod(shape), loads.max_link_load, 4.5e10, 0.82)
        assert t == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(("shape", "published"), [((4, 4, 8), 1.63), ((4, 8, 8), 1.31)])
def test_twisted_gain_matches_published(shape, published):
    """Jouppi et al., ISCA 2023 (TPU v4), Fig. 6: all-to-all throughput twisted / regular is
    1.63x on 4x4x8 and 1.31x on 4x8x8. Tolerance 10%; no constant is tuned (the ratio of
    busiest-link loads under shortest-path routing). The bisection ratio (2.0x) would fail."""
    plain = all_to_all_loads(shape, RING, False)
    twisted = all_to_all_loads(shape, RING, True)
    ratio = plain.max_link_load / twisted.max_link_load
    assert ratio == pytest.approx(published, rel=0.10)
    cut_ratio = (bisection_links(shape, torus_links(shape, RING, twisted=True))
                 / bisection_links(shape, torus_links(shape, RING)))
    assert abs(cut_ratio - published) / published > 0.10


@pytest.mark.parametrize("shape", [(4, 4, 8), (4, 8, 8), (8, 8, 16), (8, 16, 16)])
def test_twisted_never_slower(shape):
    assert (all_to_all_loads(shape, RING, True).max_link_load
            <= all_to_all_loads(shape, RING, False).max_link_load)


def test_3d_beats_2d_at_equal_chips():
    """At equal chips and link rate, a 3D torus moves an all-to-all faster than a 2D one
    (bisection ~ N^2/3 against N^1/2)."""
    for n2, n3 in (((8, 8), (4, 4, 4)), ((16, 16), (4, 8, 8)), ((32, 32), (8, 8, 16))):
        two = all_to_all_loads(n2, (True, True), False)
        three = all_to_all_loads(n3, RING, False)
        assert math.prod(n2) == math.prod(n3)
        assert three.max_link_load < two.max_link_load


def test_time_per_chip_grows_with_slice():
    """Fixed bytes per chip: the all-to-all time never falls as the slice grows."""
    shapes = [(4, 4, 4), (4, 4, 8), (4, 8, 8), (8, 8, 8), (8, 8, 16), (8, 16, 16), (16, 16, 16)]
    for twisted in (False, True):
        times = [all_to_all_loads(s, RING, twisted).seconds_per_byte(1.0) for s in shapes]
        assert all(b >= a - 1e-12 for a, b in zip(times, times[1:], strict=False))


def test_cached_and_read_only():
    a = all_to_all_loads((4, 4, 8), RING, True)
    assert all_to_all_loads((4, 4, 8), RING, True) is a
    with pytest.raises(ValueError, match="read-only"):
        a.link_load[0] = 1.0
    assert a.link_load.size == len(torus_links((4, 4, 8), RING, twisted=True))
    assert a.link_load.max() == pytest.approx(a.max_link_load)


def test_single_chip_has_no_traffic():
    loads = all_to_all_loads((1, 1, 1), (False, False, False), False)
    assert loads.max_link_load == 0.0
    assert loads.seconds_per_byte(4.5e10) == 0.0
    assert float(all_to_all_torus_s(1e6, 1, 0.0, 4.5e10)) == 0.0


def test_topology_summary_reports_all_to_all():
    pod = load_pod("tpu-v4-4096")
    plain = topology_summary(pod, "4x4x8")
    twisted = topology_summary(pod, "4x4x8", twisted=True)
    assert plain.all_to_all_bytes_per_s == pytest.approx(4 * plain.bisection_bytes_per_s)
    ratio = twisted.all_to_all_bytes_per_s / plain.all_to_all_bytes_per_s
    assert 1.0 < ratio < twisted.bisection_bytes_per_s / plain.bisection_bytes_per_s
    single = topology_summary(load_pod("tpu-v5e-256"), "1x1")  # v5e-1 (a v4 slice is whole hosts)
    assert np.isinf(single.all_to_all_bytes_per_s)
