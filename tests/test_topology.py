"""Topology: invariants over every pod, published figures, wraparound rules, twisting, OCS."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpusim.errors import TpusimError
from tpusim.hardware import all_pods, load_chip, load_pod
from tpusim.topology import groups, ocs
from tpusim.topology.graph import min_bisection_brute_force, torus_graph
from tpusim.topology.shape import (
    check_slice_shape,
    compact_shape,
    fmt_shape,
    legal_shapes,
    parse_shape,
    slice_spec,
    twistable,
    wraparound,
)
from tpusim.topology.summary import topology_summary
from tpusim.topology.torus import (
    bisection_links,
    bisection_links_untwisted,
    degrees,
    diameter,
    eccentricity,
    torus_links,
)

V4 = load_pod("tpu-v4-4096")


# --- published figures -------------------------------------------------------------------

def test_v4_pod_figures():
    """Cloud TPU v4 docs: 4096 chips, bisection 24 TB/s, all-reduce 1.1 PB/s (5% tolerance);
    48 OCSes x 128 used ports, 96 optical links per cube, 6144 in all (Jouppi et al. ISCA 2023, sec. 2)."""
    s = topology_summary(V4)
    assert (s.chips, s.hosts, s.cubes) == (4096, 1024, 64)
    assert (s.ocs_count, s.ocs_ports_used) == (48, 128)
    assert s.optical_links == 6144
    assert s.optical_links // s.cubes == 96
    assert s.bisection_bytes_per_s == pytest.approx(24e12, rel=0.05)
    assert s.allreduce_bytes_per_s == pytest.approx(1.1e15, rel=0.05)
    assert s.ici_links == 4096 * 6 // 2
    assert s.wraparound == [True, True, True]


@pytest.mark.parametrize(("pod", "bisection", "allreduce"), [
    ("tpu-v5e-256", 1.6e12, 51.2e12),   # https://docs.cloud.google.com/tpu/docs/v5e
    ("tpu-v6e-256", 3.2e12, 102.4e12),  # https://docs.cloud.google.com/tpu/docs/v6e
])
def test_2d_pod_figures(pod, bisection, allreduce):
    s = topology_summary(load_pod(pod))
    assert s.bisection_bytes_per_s == pytest.approx(bisection, rel=0.05)
    assert s.allreduce_bytes_per_s == pytest.approx(allreduce, rel=0.05)


def test_v4_ocs_count_formula_matches_cross_connects():
    assert ocs.ocs_count(V4.chip.cube_shape, V4.cubes, V4.ocs_ports, V4.ocs_spare_ports) == 48
    assert ocs.optical_links_per_cube(V4.chip.cube_shape) == 96


# --- invariants over every pod ------------------------------------------------------------

@pytest.mark.parametrize("pod", all_pods(), ids=lambda p: p.name)
def test_every_pod_invariants(pod):
    chip = pod.chip
    spec = slice_spec(chip, pod.shape)
    links = torus_links(spec.shape, spec.wrap)
    deg = degrees(spec.shape, links)
    if all(spec.wrap):
        assert set(deg.tolist()) == {2 * chip.torus_dims}  # 6 on 3D tori, 4 on 2D
        assert len(links) == pod.chips * chip.torus_dims
    hosts = groups.host_ids(pod.shape, chip.host_shape)
    assert hosts.size == pod.chips  # one host per chip
    assert np.all(np.bincount(hosts) == chip.chips_per_host)
    assert np.unique(hosts).size == pod.hosts
    if pod.ocs:
        cubes = groups.cube_ids(pod.shape, chip.cube_shape)
        assert np.all(np.bincount(cubes) == chip.chips_per_cube)
        cube_of_host = groups.cube_of_host(pod.shape, chip.host_shape, chip.cube_shape)
        assert np.all(np.bincount(cube_of_host) == chip.hosts_per_cube)
        # every chip of a host sits in that host's cube
        assert np.all(cube_of_host[hosts] == cubes)


@pytest.mark.parametrize("pod", all_pods(), ids=lambda p: p.name)
def test_full_pod_uses_every_used_port_once(pod):
    if not pod.ocs:
        pytest.skip("static torus")
    grid = np.arange(pod.cubes).reshape(pod.cube_grid)
    connects = ocs.slice_cross_connects(grid, pod.chip.cube_shape, pod.ocs_ports, pod.ocs_spare_ports)
    used = ocs.ports_used_per_ocs(connects)
    assert len(used) == ocs.ocs_count(pod.chip.cube_shape, pod.cubes, pod.ocs_ports,
                                      pod.ocs_spare_ports)
    assert set(used.values()) == {2 * pod.cubes}
    ports = [(cc.ocs, cc.port_a) for cc in connects] + [(cc.ocs, cc.port_b) for cc in connects]
    assert len(ports) == len(set(ports))  # no port used twice


# --- bisection and diameter ---------------------------------------------------------------

@pytest.mark.parametrize(("shape", "wrap", "twisted"), [
    ((4, 4), (True, True), False),
    ((4, 4), (False, False), False),
    ((2, 4), (True, True), False),
    ((3, 4), (True, True), False),
    ((2, 2, 2), (True, True, True), False),
    ((2, 2, 4), (True, True, True), False),
    ((2, 2, 4), (True, True, True), True),
    ((2, 2, 4), (False, False, False), False),
])
def test_bisection_equals_brute_force_min_cut(shape, wrap, twisted):
    graph = torus_graph(shape, wrap, twisted=twisted)
    links = torus_links(shape, wrap, twisted=twisted)
    assert bisection_links(shape, links) == min_bisection_brute_force(graph)
    if not twisted:
        assert bisection_links(shape, links) == bisection_links_untwisted(shape, wrap)


@pytest.mark.parametrize("shape", ["4x4x8", "4x8x8", "8x8x16", "8x16x16"])
def test_twisted_bisection_larger_and_diameter_smaller(shape):
    plain = topology_summary(V4, shape)
    twisted = topology_summary(V4, shape, twisted=True)
    assert twisted.bisection_bytes_per_s > plain.bisection_bytes_per_s
    assert twisted.diameter_hops <= plain.diameter_hops
    assert twisted.ici_links == plain.ici_links  # twisting moves links, never adds them
    assert twisted.min_degree == twisted.max_degree == 6


def test_diameter_closed_form_matches_bfs():
    for shape, wrap in [((4, 4, 8), (True,) * 3), ((2, 4, 4), (False,) * 3), ((16, 16), (True, True)),
                        ((5, 3), (True, False))]:
        assert diameter(shape, wrap) == eccentricity(shape, torus_links(shape, wrap))


def test_length_two_ring_keeps_both_links():
    graph = torus_graph((2, 2, 2), (True, True, True))
    assert all(d == 6 for _, d in graph.degree())
    assert graph.number_of_edges((0, 0, 0), (1, 0, 0)) == 2


def test_graph_edges_carry_axis_kind_bandwidth():
    chip = load_chip("v4")
    graph = torus_graph((4, 4, 8), (True,) * 3, link_bytes_per_s=chip.ici_link_one_way_bytes_per_s,
                        cube_shape=chip.cube_shape, optical=True)
    kinds = {d["kind"] for _, _, d in graph.edges(data=True)}
    assert kinds == {"copper", "optical"}
    optical = [d for _, _, d in graph.edges(data=True) if d["kind"] == "optical"]
    # each of 2 cubes has 96 face links; each optical ICI link joins two faces
    assert len(optical) == 2 * 96 // 2
    assert all(d["bandwidth_bytes_per_s"] == 4.5e10 for _, _, d in graph.edges(data=True))


# --- shapes, wraparound and twisting rules ------------------------------------------------

def test_v4_wraparound_rules():
    chip = load_chip("v4")
    assert wraparound(chip, V4.shape, (4, 4, 4)) == (True, True, True)  # one cube, OCS loops
    assert wraparound(chip, V4.shape, (12, 16, 16)) == (True, True, True)
    assert wraparound(chip, V4.shape, (2, 4, 4)) == (False, False, False)  # sub-cube: no wrap
    assert wraparound(chip, V4.shape, (2, 2, 1)) == (False, False, False)


def test_v5e_wraps_only_axes_of_16():
    chip = load_chip("v5e")
    pod = load_pod("tpu-v5e-256")
    assert wraparound(chip, pod.shape, (8, 16)) == (False, True)
    assert wraparound(chip, pod.shape, (16, 16)) == (True, True)
    assert wraparound(chip, pod.shape, (4, 8)) == (False, False)


@pytest.mark.parametrize(("shape", "message"), [
    ("8x4x4", "A<=B<=C; use 4x4x8"),
    ("4x6x8", "multiples of 4"),
    ("4x4", "3D torus"),
    ("4x4x32", "does not fit"),
    ("16x16x32", "more than the pod"),
    ("4xAx8", "cannot read shape"),
    ("0x4x4", "positive"),
    ("3x3x3", "whole hosts, 2x2x1 chips each, axis by axis; e.g. 4x4x3"),  # was 27 chips on "12 hosts"
    ("1x2x2", "whole hosts.*e.g. 2x2x1"),
    ("1x1x1", "whole hosts"),
])
def test_illegal_v4_shapes_name_the_rule(shape, message):
    with pytest.raises(TpusimError, match=message):
        check_slice_shape(V4.chip, V4.shape, shape)


def test_listed_rule():
    pod = load_pod("tpu-v5e-256")
    assert check_slice_shape(pod.chip, pod.shape, "8x16") == (8, 16)
    with pytest.raises(TpusimError, match="legal shapes"):
        check_slice_shape(pod.chip, pod.shape, "4x16")


def test_twistable_shapes():
    chip = load_chip("v4")
    assert twistable(chip, (4, 4, 8)) and twistable(chip, (4, 8, 8))
    assert not twistable(chip, (4, 4, 4)) and not twistable(chip, (2, 2, 4))
    assert not twistable(load_chip("v5e"), (8, 16))
    with pytest.raises(TpusimError, match="cannot be twisted.*use such a slice or drop twisted"):
        slice_spec(chip, V4.shape, "4x4x4", twisted=True)


def test_a_chip_without_twisted_slices_is_named_not_told_to_use_4x4x8():
    """v5e (2D, no OCS) never twists: the refusal says so, not 'use e.g. 4x4x8' (illegal on v5e)."""
    v5e = load_chip("v5e")
    with pytest.raises(TpusimError, match=r"v5e slices are never twisted.*drop twisted") as info:
        slice_spec(v5e, (16, 16), "8x16", twisted=True)
    assert "4x4x8" not in str(info.value)


def test_compact_shape():
    assert compact_shape(V4.chip, V4.shape, 3072) == (12, 16, 16)  # PaLM's slice
    assert compact_shape(V4.chip, V4.shape, 128) == (4, 4, 8)
    with pytest.raises(TpusimError, match="nearest legal sizes"):
        compact_shape(V4.chip, V4.shape, 100)


# --- property tests over random legal shapes ----------------------------------------------

_V4_SHAPES = legal_shapes(V4.chip, V4.shape)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_V4_SHAPES), st.booleans())
def test_random_legal_slices(shape, twist):
    twist = twist and twistable(V4.chip, shape)
    s = topology_summary(V4, shape, twisted=twist)
    assert parse_shape(fmt_shape(shape)) == shape
    assert s.chips == math.prod(shape)
    wrap = wraparound(V4.chip, V4.shape, shape)
    per_line = sum(math.prod(shape) // n * (n if w else n - 1) for n, w in zip(shape, wrap, strict=True)
                   if n > 1)
    assert s.ici_links == per_line
    assert 2 * s.ici_links == s.allreduce_bytes_per_s / V4.chip.ici_link_one_way_bytes_per_s
    if all(wrap):
        assert s.min_degree == s.max_degree == 2 * sum(n > 1 for n in shape)
        assert s.cubes == math.prod(shape) // 64
        assert s.ocs_ports_used == 2 * s.cubes
    assert s.hosts == len(np.unique(groups.host_ids(shape, V4.chip.host_shape)))
    assert s.diameter_hops <= sum(n - 1 for n in shape)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.data())
def test_random_tori_link_counts(shape, data):
    shape = tuple(shape)
    wrap = tuple(data.draw(st.booleans()) for _ in shape)
    links = torus_links(shape, wrap)
    deg = degrees(shape, links)
    assert deg.sum() == 2 * len(links)
    expected = sum(math.prod(shape) // n * (n if w else n - 1) for n, w in zip(shape, wrap, strict=True)
                   if n > 1)
    assert len(links) == expected
    assert diameter(shape, wrap) == eccentricity(shape, links)


def test_reform_changes_only_failed_cube_links():
    grid = np.array([0, 1, 2]).reshape(1, 1, 3)
    before = ocs.slice_cross_connects(grid, V4.chip.cube_shape, V4.ocs_ports, V4.ocs_spare_ports)
    after_grid = np.array([0, 7, 2]).reshape(1, 1, 3)
    after = ocs.slice_cross_connects(after_grid, V4.chip.cube_shape, V4.ocs_ports, V4.ocs_spare_ports)
    removed, added = ocs.changed_connects(before, after)
    assert removed and added
    assert all(1 in (cc.cube_from, cc.cube_to) for cc in removed)
    assert all(7 in (cc.cube_from, cc.cube_to) for cc in added)


# https://docs.cloud.google.com/tpu/docs/v5p slice table: shape -> (chips, hosts,
# cubes, twisted torus offered)
V5P_TABLE = {
    "2x2x1": (4, 1, 0, False), "2x2x2": (8, 2, 0, False), "2x4x4": (32, 8, 0, False),
    "4x4x4": (64, 16, 1, False), "4x4x8": (128, 32, 2, True), "4x8x8": (256, 64, 4, True),
    "8x8x8": (512, 128, 8, False), "8x8x16": (1024, 256, 16, True), "8x16x16": (2048, 512, 32, True),
    "16x16x16": (4096, 1024, 64, False), "16x16x24": (6144, 1536, 96, False),
}


@pytest.mark.parametrize("shape", sorted(V5P_TABLE))
def test_v5p_documented_slices(shape):
    pod = load_pod("tpu-v5p-8960")
    chips, hosts, cubes, twisted = V5P_TABLE[shape]
    dims = check_slice_shape(pod.chip, pod.shape, shape)
    s = topology_summary(pod, shape)
    assert (s.chips, s.hosts) == (chips, hosts)
    assert s.cubes == (cubes if cubes else 1)  # a sub-cube slice sits inside one cube
    assert twistable(pod.chip, dims) == twisted
    # v5p docs: 4x4x4 and larger have full 3D torus connectivity; smaller slices have no wraparound
    assert all(s.wraparound) == (cubes > 0)
