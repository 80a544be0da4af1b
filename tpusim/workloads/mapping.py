"""Which physical torus axes each logical mesh axis (tensor, fsdp, data, pipeline) runs over.

A slice of shape (n_0, n_1, n_2) is split among the logical axes: on each physical axis i the
logical axes take factors f_{i,a} whose product is n_i. A logical axis that takes a whole
physical axis gets its ring (wraparound if the slice has it); the first logical axis to take
part of a physical axis gets contiguous blocks (a line, no wraparound); a later one gets every
k-th chip (a strided ring sharing each link among the k interleaved rings).

The choice is made like a compiler's device-mesh builder would: logical axes are placed in
order of how exposed their traffic is (tensor first: its collectives sit on the critical path;
then fsdp, in-slice data, pipeline), each taking the placement with the least time per
gathered byte, ties going to whole axes and fewer axes. A user may fix the mapping with
`[parallelism] axes = {tensor = [0], fsdp = [1, 2]}` (whole physical axes).

On a twisted slice (tpusim.topology.torus.twist_offsets: each short axis's wrap link lands k
chips further along the long axis or axes) the wrap link of a short axis leaves a logical axis's
group of chips unless that group also spans the long axes the twist moves along (wholly, or
strided by a divisor of k). A logical axis on a short axis without them has no ring there: its
chips are a line. The twist gives a dense LLM's ring collectives nothing; its gain is the
all-to-all's (topology.alltoall), which only the embedding model uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from tpusim.collectives import AxisSet
from tpusim.errors import TpusimError
from tpusim.topology.torus import twist_offsets

PRIORITY = ("tensor", "fsdp", "data", "pipeline")


@dataclass(frozen=True)
class Mapping:
    """Logical axis -> AxisSet (physical pieces), for the in-slice logical axes."""

    axes: tuple[tuple[str, AxisSet], ...]

    def get(self, name: str) -> AxisSet | None:
        for n, a in self.axes:
            if n == name:
                return a
        return None

    def describe(self) -> dict[str, str]:
        """{'tensor': 'x12(ring)', 'fsdp': 'y16(ring) z16(ring)'} with axes named x, y, z."""
        names = "xyzw"
        out = {}
        for logical, axis in self.axes:
            parts = []
            for phys, n, w, k in zip(axis.physical, axis.sizes, axis.wraps, axis._strides(), strict=True):
                kind = "ring" if w else "line"
                parts.append(f"{names[phys]}{n}({kind}{'' if k == 1 else f'/stride {k}'})")
            out[logical] = " ".join(parts) if parts else "-"
        return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _factor_vectors(size: int, remaining: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every (f_0, ..., f_k) with f_i | remaining_i and prod f_i == size."""
    options = [[d for d in _divisors(r) if size % d == 0] for r in remaining]
    return [f for f in product(*options) if math.prod(f) == size]


def _axis_set(
    factors: tuple[int, ...],
    shape: tuple[int, ...],
    wrap: tuple[bool, ...],
    used: tuple[int, ...],
    link_bw: float,
    latency_s: float,
    fraction: float,
    twists: dict[int, tuple[int, ...]] | None = None,
) -> AxisSet:
    sizes, wraps, strides, phys = [], [], [], []
    for i, f in enumerate(factors):
        if f == 1:
            continue
        whole = f == shape[i]
        contiguous = used[i] == 1
        sizes.append(f)
        phys.append(i)
        if whole:
            wraps.append(wrap[i] and _wrap_stays(i, factors, shape, used, twists))
            strides.append(1)
        elif contiguous:
            wraps.append(False)
            strides.append(1)
        else:  # every used[i]-th chip: a ring only if it closes the physical ring
            wraps.append(wrap[i] and f * used[i] == shape[i] and _wrap_stays(i, factors, shape, used, twists))
            strides.append(used[i])
    return AxisSet(tuple(sizes), tuple(wraps), link_bw, latency_s, fraction, tuple(strides), tuple(phys))


def _wrap_stays(i: int, factors: tuple[int, ...], shape: tuple[int, ...], used: tuple[int, ...],
                twists: dict[int, tuple[int, ...]] | None) -> bool:
    """Whether axis i's wrap link ends inside the logical axis's group: always on a plain torus;
    on a twisted one only if the group's chips along every axis the twist moves along are
    closed under that offset (the whole axis, or a full strided ring whose stride divides it).

    >>> _wrap_stays(0, (4, 1, 1), (4, 4, 8), (1, 1, 1), {0: (0, 0, 4), 1: (0, 0, 4)})
    False
    >>> _wrap_stays(0, (4, 1, 8), (4, 4, 8), (1, 1, 1), {0: (0, 0, 4), 1: (0, 0, 4)})
    True
    """
    if not twists or i not in twists:
        return True
    return all(off == 0 or (factors[j] * used[j] == shape[j] and off % used[j] == 0 and factors[j] > 1)
               for j, off in enumerate(twists[i]))


def _fixed_factors(
    name: str, phys: tuple[int, ...], size: int, shape: tuple[int, ...], used: list[int]
) -> tuple[int, ...]:
    if any(p >= len(shape) for p in phys) or len(set(phys)) != len(phys):
        raise TpusimError(f"axes.{name} = {list(phys)}: physical axes are 0..{len(shape) - 1}, each once")
    if any(used[p] != 1 for p in phys):
        raise TpusimError(f"axes.{name}: a physical axis is already taken by another logical axis")
    got = math.prod(shape[p] for p in phys)
    if got != size:
        raise TpusimError(
            f"axes.{name} = {list(phys)} spans {got} chips but {name} = {size}; "
            f"the slice axes are {'x'.join(map(str, shape))}"
        )
    return tuple(shape[i] if i in phys else 1 for i in range(len(shape)))


@lru_cache(maxsize=4096)
def mapping_candidates(
    shape: tuple[int, ...],
    wrap: tuple[bool, ...],
    sizes: tuple[tuple[str, int], ...],
    link_bw: float,
    latency_s: float,
    fraction: float,
    fixed: tuple[tuple[str, tuple[int, ...]], ...] = (),
    twisted: bool = False,
) -> tuple[Mapping, ...]:
    """Every placement of the in-slice logical axes `sizes` ((name, size), ...) on a slice of
    `shape`, logical axes taking their pieces in PRIORITY order (so the first to take part of a
    physical axis gets contiguous blocks). The caller picks the fastest (like a compiler's
    cost model); `fixed` pins axes to whole physical axes; `twisted` wires the short axes' wrap
    links with the twist (a ring on them closes only through the long axes)."""
    twists = twist_offsets(shape) if twisted else {}
    want = dict(sizes)
    if math.prod(want.values()) != math.prod(shape):
        raise TpusimError(
            f"in-slice sharding {' x '.join(f'{k} {v}' for k, v in sizes)} = {math.prod(want.values())} "
            f"chips does not match the slice's {math.prod(shape)} chips"
        )
    fixed_map = dict(fixed)
    order = [n for n in PRIORITY if n in want and want[n] > 1]
    order = [n for n in order if n in fixed_map] + [n for n in order if n not in fixed_map]
    # Like jax's device-mesh builder, give each logical axis whole physical axes when that is
    # possible (no two logical axes then share a link); split axes only when it is not.
    for whole_only in (True, False):
        found: dict[tuple, Mapping] = {}
        _place(order, want, fixed_map, shape, wrap, link_bw, latency_s, fraction, whole_only,
               0, [1] * len(shape), [], found, twists)
        if found:
            return tuple(_pareto(found))
    raise TpusimError(
        f"sharding {' x '.join(f'{k} {v}' for k, v in sizes)} cannot be laid out on a "
        f"{'x'.join(map(str, shape))} slice; choose sizes that divide the slice's sides"
    )


def _place(order, want, fixed_map, shape, wrap, link_bw, latency_s, fraction, whole_only,
           k: int, used: list[int], chosen: list, found: dict, twists: dict | None = None) -> None:
    """Depth-first placement of the logical axes order[k:], one Mapping per distinct cost."""
    if k == len(order):
        got = dict(chosen)
        empty = AxisSet((), (), link_bw, latency_s, fraction)
        mapping = Mapping(tuple((n, got.get(n, empty)) for n in PRIORITY if n in want))
        found.setdefault(tuple(a.seconds_per_byte for _, a in mapping.axes), mapping)
        return
    name = order[k]
    remaining = tuple(s // u for s, u in zip(shape, used, strict=True))
    if name in fixed_map:
        options = [_fixed_factors(name, fixed_map[name], want[name], shape, used)]
    else:
        options = _factor_vectors(want[name], remaining)
        if whole_only:
            options = [f for f in options
                       if all(x == 1 or (x == shape[i] and used[i] == 1) for i, x in enumerate(f))]
    for factors in options:
        axis = _axis_set(factors, shape, wrap, tuple(used), link_bw, latency_s, fraction, twists)
        _place(order, want, fixed_map, shape, wrap, link_bw, latency_s, fraction, whole_only,
               k + 1, [u * f for u, f in zip(used, factors, strict=True)], chosen + [(name, axis)], found,
               twists)


def _pareto(found: dict[tuple, Mapping]) -> list[Mapping]:
    """Drop placements that are no faster on any axis than another one (costs are distinct)."""
    costs = list(found)
    keep = []
    for c in costs:
        dominated = any(other != c and all(o <= x for o, x in zip(other, c, strict=True))
                        for other in costs)
        if not dominated:
            keep.append(found[c])
    return keep
