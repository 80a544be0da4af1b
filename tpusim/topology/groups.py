"""Hosts and cubes: which chips belong to which host (tray) and which OCS cube.

Both are tilings of the torus by a block shape: the block of a chip is coord // block_shape,
numbered in C order over the grid of blocks. Sub-cube slices that do not fill a block still get
one (partial) block.

Invariants (tested): every chip is in exactly one host and one cube; every full host has
chips_per_host chips; every cube has hosts_per_cube hosts.
"""

from __future__ import annotations

import numpy as np


def block_ids(shape: tuple[int, ...], block: tuple[int, ...]) -> np.ndarray:
    """Block index of every chip (C order), for blocks of shape `block` tiling `shape`."""
    coords = np.indices(shape).reshape(len(shape), -1)
    block_arr = np.array(block)[:, None]
    grid = tuple(-(-s // b) for s, b in zip(shape, block, strict=True))
    return np.ravel_multi_index(tuple(coords // block_arr), grid)


def host_ids(shape: tuple[int, ...], host_shape: tuple[int, ...]) -> np.ndarray:
    """Host index of every chip."""
    return block_ids(shape, host_shape)


def cube_ids(shape: tuple[int, ...], cube_shape: tuple[int, ...]) -> np.ndarray:
    """Cube index of every chip."""
    return block_ids(shape, cube_shape)


def count_blocks(ids: np.ndarray) -> int:
    return int(np.unique(ids).size)


def cube_of_host(shape: tuple[int, ...], host_shape: tuple[int, ...],
                 cube_shape: tuple[int, ...]) -> np.ndarray:
    """For each host, the cube it sits in (hosts tile cubes exactly)."""
    hosts = host_ids(shape, host_shape)
    cubes = cube_ids(shape, cube_shape)
    out = np.empty(hosts.max() + 1, dtype=int)
    out[hosts] = cubes
    return out
