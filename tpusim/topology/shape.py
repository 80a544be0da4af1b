"""Slice shapes: each generation's legality rules, wraparound and twisting.

Shapes are written in chips, `AxBxC` (or `AxB` on 2D tori); `parse_shape` and `fmt_shape` live
on the ground floor (`tpusim.inputs`) and are re-exported here. The rules are data in the chip's
TOML (`[slices]`), applied here:

- rule "cubes" (v4, v5p, v7): either every side <= the cube's side on that axis (a sub-cube
  slice, no wraparound; written as the docs do, e.g. 2x2x1) or every side a multiple of it
  (whole cubes, wraparound on every axis through the OCS). With a cubic cube (4x4x4) whole-cube
  shapes are written A <= B <= C and sorted sides must fit in the pod's sorted sides; with a
  cube of unequal sides (a chip TOML may give any cube_shape) the axes are fixed: each side is
  checked against the cube's and the pod's side on the same axis.
- rule "listed" (v2, v3, v5e, v6e): the shape must be one of the listed shapes (either order).
- wrap "whole_cubes": every axis wraps iff the slice is whole cubes. wrap "full_axis": an axis
  wraps iff it spans the whole pod axis (v5e/v6e: axes of 16).
- Twisted tori exist for k x k x 2k and k x 2k x 2k slices of whole cubes.

Invariants (tested): a legal shape has as many axes as the
chip's torus; wraparound(...) has one boolean per axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

from tpusim.errors import TpusimError
from tpusim.inputs import fmt_shape, parse_shape

__all__ = ["SliceSpec", "check_slice_shape", "compact_shape", "fmt_shape", "is_whole_cubes",
           "legal_shapes", "parse_shape", "slice_spec", "twistable", "wraparound"]


def _as_shape(shape: str | tuple[int, ...]) -> tuple[int, ...]:
    return parse_shape(shape) if isinstance(shape, str) else tuple(int(d) for d in shape)


def check_slice_shape(chip, pod_shape: tuple[int, ...], shape: str | tuple[int, ...]) -> tuple[int, ...]:
    """Return the slice shape if it is legal for `chip` in a pod of `pod_shape`; else raise a
    TpusimError that names the rule broken and a legal alternative."""
    dims = _as_shape(shape)
    name = fmt_shape(dims)
    if len(dims) != chip.torus_dims:
        raise TpusimError(
            f"slice {name} has {len(dims)} axes but {chip.name} is a {chip.torus_dims}D torus; "
            f"write {chip.torus_dims} sides like {'x'.join(['4'] * chip.torus_dims)}"
        )
    if math.prod(dims) > math.prod(pod_shape):
        raise TpusimError(
            f"slice {name} has {math.prod(dims)} chips, more than the pod's {math.prod(pod_shape)}"
        )
    if chip.slice_rule == "listed":
        if tuple(sorted(dims)) not in {tuple(sorted(s)) for s in chip.slice_shapes}:
            legal = ", ".join(fmt_shape(s) for s in chip.slice_shapes)
            raise TpusimError(f"slice {name} is not a {chip.name} slice shape; legal shapes: {legal}")
        return dims
    cube = tuple(chip.cube_shape)
    small = all(d <= c for d, c in zip(dims, cube, strict=True))
    whole = all(d % c == 0 for d, c in zip(dims, cube, strict=True))
    cubic = len(set(cube)) == 1  # a cubic cube lets a slice be written in any axis order
    if whole and cubic and list(dims) != sorted(dims):
        raise TpusimError(
            f"slice {name}: {chip.name} shapes are written A<=B<=C; use {fmt_shape(tuple(sorted(dims)))}"
        )
    if not (small or whole):
        side = str(cube[0]) if cubic else f"the cube's sides ({'x'.join(map(str, cube))}), axis by axis,"
        raise TpusimError(
            f"slice {name}: {chip.name} sides must all be <= {side} (sub-cube) or all "
            f"multiples of {side.removesuffix(',')} (whole cubes); e.g. "
            f"{fmt_shape(tuple(max(c, -(-d // c) * c) for d, c in zip(dims, cube, strict=True)))}"
        )
    host = tuple(chip.host_shape)
    if small and not whole and any(d % h for d, h in zip(dims, host, strict=True)):
        turned = tuple(sorted(dims, reverse=True))  # 1x2x2 -> 2x2x1
        fix = fmt_shape(turned if not any(d % h for d, h in zip(turned, host, strict=True))
                        else tuple(-(-d // h) * h for d, h in zip(dims, host, strict=True)))
        raise TpusimError(f"slice {name}: a {chip.name} slice is made of whole hosts, "
                          f"{fmt_shape(host)} chips each, axis by axis; e.g. {fix}")
    if cubic:
        fits = all(d <= p for d, p in zip(sorted(dims), sorted(pod_shape), strict=True))
    else:  # the cube's orientation is fixed: side by side
        fits = all(d <= p for d, p in zip(dims, pod_shape, strict=True))
    if not fits:
        how = "sorted sides must fit" if cubic else "each side must fit the pod's side on that axis"
        raise TpusimError(f"slice {name} does not fit in the {fmt_shape(pod_shape)} pod ({how})")
    return dims


def is_whole_cubes(chip, shape: tuple[int, ...]) -> bool:
    """True if the slice is made of whole OCS cubes (every side a multiple of the cube side)."""
    if chip.cube_shape is None:
        return False
    return all(d % c == 0 for d, c in zip(shape, chip.cube_shape, strict=True))


def wraparound(chip, pod_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[bool, ...]:
    """One boolean per axis: does the slice have a wraparound link on that axis?

    whole_cubes rule: all axes wrap iff the slice is whole cubes (the OCS closes each ring, even a
    ring of one cube). full_axis rule: an axis wraps iff it spans the whole pod axis.
    An axis of length 1 never wraps (there is no neighbour).
    """
    if chip.wrap_rule == "whole_cubes":
        whole = is_whole_cubes(chip, shape)
        return tuple(whole and d > 1 for d in shape)
    pod_sorted = sorted(pod_shape)
    # Axes are matched to pod axes by sorted order (a 16x8 slice on a 16x16 pod wraps on the 16).
    order = sorted(range(len(shape)), key=lambda i: shape[i])
    wrap = [False] * len(shape)
    for rank, axis in enumerate(order):
        wrap[axis] = shape[axis] > 1 and shape[axis] == pod_sorted[rank]
    return tuple(wrap)


def twistable(chip, shape: tuple[int, ...]) -> bool:
    """True if the slice may be a twisted torus: whole cubes, 3D, k x k x 2k or k x 2k x 2k."""
    if not chip.twisted_allowed or len(shape) != 3 or not is_whole_cubes(chip, shape):
        return False
    a, b, c = sorted(shape)
    return (a == b and c == 2 * a) or (b == c and b == 2 * a)


@dataclass(frozen=True)
class SliceSpec:
    """A checked slice: shape in chips, wraparound per axis, and whether it is twisted."""

    shape: tuple[int, ...]
    wrap: tuple[bool, ...]
    twisted: bool

    @property
    def chips(self) -> int:
        return math.prod(self.shape)

    @property
    def name(self) -> str:
        return fmt_shape(self.shape)


def slice_spec(chip, pod_shape: tuple[int, ...], shape: str | tuple[int, ...] | None = None,
               *, twisted: bool = False) -> SliceSpec:
    """Check a slice shape (the whole pod if None) and derive its wraparound; twisted=True
    raises unless the shape can be twisted."""
    dims = tuple(pod_shape) if shape is None else check_slice_shape(chip, pod_shape, shape)
    if twisted and not chip.twisted_allowed:
        raise TpusimError(
            f"slice {fmt_shape(dims)} cannot be twisted: {chip.name} slices are never twisted (its "
            f"chip file's [slices] twisted = false); drop twisted, or use a chip with twisted slices "
            f"(v4, v5p, v7)"
        )
    if twisted and not twistable(chip, dims):
        raise TpusimError(
            f"slice {fmt_shape(dims)} cannot be twisted: twisted tori are k x k x 2k or k x 2k x 2k "
            f"slices of whole cubes (e.g. 4x4x8, 4x8x8); use such a slice or drop twisted"
        )
    return SliceSpec(shape=dims, wrap=wraparound(chip, pod_shape, dims), twisted=twisted)


def legal_shapes(chip, pod_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every legal slice shape for `chip` in a pod of `pod_shape`, smallest first."""
    if chip.slice_rule == "listed":
        found = [s for s in chip.slice_shapes if math.prod(s) <= math.prod(pod_shape)]
        return sorted(found, key=lambda s: (math.prod(s), s))
    cube = tuple(chip.cube_shape)
    cubic = len(set(cube)) == 1
    found = set()
    for dims in product(*(range(1, c + 1) for c in cube)):
        if not cubic or list(dims) == sorted(dims, reverse=True):  # sub-cube shapes once each, as 2x2x1
            found.add(dims)
    top = sorted(pod_shape) if cubic else pod_shape
    for dims in product(*(range(c, t + 1, c) for c, t in zip(cube, top, strict=True))):
        if not cubic or list(dims) == sorted(dims):
            found.add(dims)
    legal = []
    for dims in found:
        try:
            check_slice_shape(chip, pod_shape, dims)
        except TpusimError:
            continue
        legal.append(dims)
    return sorted(legal, key=lambda s: (math.prod(s), s))


def compact_shape(chip, pod_shape: tuple[int, ...], chips: int) -> tuple[int, ...]:
    """The most compact legal slice shape with exactly `chips` chips: the one with the smallest
    longest side (then the largest bisection). Raises TpusimError listing legal sizes if none."""
    candidates = [s for s in legal_shapes(chip, pod_shape) if math.prod(s) == chips]
    if not candidates:
        sizes = sorted({math.prod(s) for s in legal_shapes(chip, pod_shape)})
        near = sorted(sizes, key=lambda n: abs(n - chips))[:4]
        raise TpusimError(
            f"no legal {chip.name} slice has {chips} chips; nearest legal sizes: "
            f"{', '.join(map(str, sorted(near)))}"
        )
    return min(candidates, key=lambda s: (max(s), -min(s), s))
