"""Torus topology: slice shapes and wraparound rules, hosts and cubes, OCS wiring, a graph view.

The torus is arithmetic (integers and numpy); networkx graphs are built on demand as a view.
"""

from tpusim.topology.shape import (
    SliceSpec,
    check_slice_shape,
    compact_shape,
    fmt_shape,
    parse_shape,
    slice_spec,
    twistable,
    wraparound,
)

__all__ = [
    "SliceSpec",
    "check_slice_shape",
    "compact_shape",
    "fmt_shape",
    "parse_shape",
    "slice_spec",
    "twistable",
    "wraparound",
]
