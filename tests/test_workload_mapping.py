"""Logical mesh axes -> physical torus axes (tpusim/workloads/mapping.py)."""

from __future__ import annotations

import pytest

from tpusim.errors import TpusimError
from tpusim.workloads.mapping import mapping_candidates

W, LAT, FRAC = 4.5e10, 1e-6, 0.82


def cands(shape, sizes, wrap=None, fixed=()):
    wrap = wrap or tuple(True for _ in shape)
    return mapping_candidates(tuple(shape), tuple(wrap), tuple(sizes), W, LAT, FRAC, tuple(fixed))


def test_whole_axes_when_possible():
    maps = cands((12, 16, 16), (("tensor", 12), ("fsdp", 256), ("data", 1), ("pipeline", 1)))
    assert all(m.get("tensor").physical == (0,) for m in maps)
    best = maps[0]
    assert best.describe()["tensor"] == "x12(ring)"
    assert best.describe()["fsdp"] == "y16(ring) z16(ring)"


def test_split_axes_only_when_needed():
    maps = cands((16, 16, 16), (("tensor", 8), ("fsdp", 512), ("data", 1), ("pipeline", 1)))
    for m in maps:
        tensor, fsdp = m.get("tensor"), m.get("fsdp")
        assert tensor.shards == 8 and fsdp.shards == 512
        # tensor came first: contiguous pieces (lines); fsdp shares those axes as strided rings
        assert all(k == 1 for k in tensor._strides())
        assert not any(w for n, w in zip(tensor.sizes, tensor.wraps, strict=True) if n < 16)


def test_wraparound_follows_the_slice():
    ring = cands((4, 4, 8), (("fsdp", 128), ("tensor", 1)))[0].get("fsdp")
    line = cands((4, 4, 8), (("fsdp", 128), ("tensor", 1)), wrap=(False, False, False))[0].get("fsdp")
    assert ring.bandwidth_bytes_per_s == pytest.approx(2 * line.bandwidth_bytes_per_s)


def test_fixed_axes():
    maps = cands((4, 4, 8), (("tensor", 8), ("fsdp", 16)), fixed=(("tensor", (2,)),))
    assert len(maps) == 1 and maps[0].get("tensor").physical == (2,)
    with pytest.raises(TpusimError, match="spans 4 chips"):
        cands((4, 4, 8), (("tensor", 8), ("fsdp", 16)), fixed=(("tensor", (0,)),))
    with pytest.raises(TpusimError, match="physical axes are 0..2"):
        cands((4, 4, 8), (("tensor", 8), ("fsdp", 16)), fixed=(("tensor", (3,)),))


def test_sizes_must_cover_the_slice():
    with pytest.raises(TpusimError, match="does not match"):
        cands((4, 4, 4), (("tensor", 2), ("fsdp", 16)))


def _closes_in_group(shape, axis, twisted) -> bool:
    """Oracle from the link list alone (tpusim.topology.torus.torus_links): a piece of a logical
    axis is a ring iff stepping `stride` links in +axis direction from every chip of the group
    (the chips the logical axis spans, through chip 0) lands on a chip of the group."""
    import itertools

    import numpy as np

    from tpusim.topology.torus import torus_links

    links = torus_links(shape, (True,) * len(shape), twisted=twisted)
    step = {}
    for phys, size, stride in zip(axis.physical, axis.sizes, axis._strides(), strict=True):
        nxt = {int(s): int(d) for s, d, a in zip(links.src, links.dst, links.axis, strict=True) if a == phys}
        step[phys] = (nxt, stride, size)
    ranges = [range(1) for _ in shape]
    for phys, (_, stride, size) in step.items():
        ranges[phys] = range(0, size * stride, stride)
    group = {int(np.ravel_multi_index(c, shape)) for c in itertools.product(*ranges)}
    out = []
    for phys, size, stride in zip(axis.physical, axis.sizes, axis._strides(), strict=True):
        nxt = step[phys][0]
        if size * stride != shape[phys]:  # a contiguous block or a strided line: no wrap link used
            out.append(False)
            continue
        landed = set()
        for c in group:
            for _ in range(stride):
                c = nxt[c]
            landed.add(c)
        out.append(landed <= group)
    return tuple(out)


@pytest.mark.parametrize("shape", [(4, 4, 8), (4, 8, 8), (8, 4, 4)])
@pytest.mark.parametrize("sizes", [(("tensor", 4), ("fsdp", 32), ("data", 1)),
                                   (("tensor", 2), ("fsdp", 16), ("data", 4)),
                                   (("tensor", 8), ("fsdp", 8), ("data", 2)),
                                   (("tensor", 1), ("fsdp", 128), ("data", 1))])
def test_twisted_rings_are_the_links_rings(shape, sizes):
    """On a twisted torus each piece's ring/line is what the actual links give (oracle above):
    a short axis's wrap link lands k chips along the long axis, so a logical axis on the short
    axis alone gets a line there, and one spanning the long axis too keeps its ring. Without
    the twist the oracle and the mapping agree as well."""
    n = 1
    for s in shape:
        n *= s
    sizes = tuple((name, size) for name, size in sizes) + (("pipeline", n // sizes[0][1] // sizes[1][1]
                                                           // sizes[2][1]),)
    for twisted in (False, True):
        maps = mapping_candidates(shape, (True,) * 3, sizes, W, LAT, FRAC, (), twisted)
        assert maps
        for m in maps:
            for _, axis in m.axes:
                if axis.sizes:
                    assert axis.wraps == _closes_in_group(shape, axis, twisted), (twisted, m.describe())


def test_twist_opens_a_short_axis_ring_used_alone():
    """4x4x8 twisted, tensor fixed on x (4 chips): x's wrap link goes from (3, y, z) to (0, y, z+4),
    outside the tensor group, so tensor runs on a line (half the bandwidth of its ring,
    collectives.py); fsdp on y and z spans the long axis and keeps both rings."""
    sizes = (("tensor", 4), ("fsdp", 32), ("data", 1), ("pipeline", 1))
    fixed = (("tensor", (0,)), ("fsdp", (1, 2)))
    plain = mapping_candidates((4, 4, 8), (True,) * 3, sizes, W, LAT, FRAC, fixed)[0]
    twisted = mapping_candidates((4, 4, 8), (True,) * 3, sizes, W, LAT, FRAC, fixed, True)[0]
    assert plain.describe()["tensor"] == "x4(ring)" and twisted.describe()["tensor"] == "x4(line)"
    assert twisted.describe()["fsdp"] == plain.describe()["fsdp"] == "y4(ring) z8(ring)"
    assert twisted.get("tensor").bandwidth_bytes_per_s == pytest.approx(
        plain.get("tensor").bandwidth_bytes_per_s / 2)
