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
