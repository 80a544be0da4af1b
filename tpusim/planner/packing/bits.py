"""Bit sets of cubes and boxes, and their uint64 word arrays: every conversion in one place.

A set of cubes (or boxes) is a Python int, bit i = cube i (cube ids as in
tpusim.topology.groups.cube_ids), or a row of `n_words` uint64 words, bit i in word i // 64
(what the compiled search reads). Bool matrices (rows x bits) convert to word rows in one
vectorised step.

Invariants (tested): every conversion round-trips; unique_rows groups rows exactly like
np.unique(axis=0).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_WORD = (1 << 64) - 1


def mask_of(ids: Iterable[int]) -> int:
    """Bit set of an iterable of cube (or box) ids."""
    mask = 0
    for c in ids:
        mask |= 1 << int(c)
    return mask


def mask_of_bools(flags: np.ndarray) -> int:
    """Bit set of the True entries of a bool array (C order)."""
    flat = np.asarray(flags, dtype=bool).ravel()
    return int.from_bytes(np.packbits(flat, bitorder="little").tobytes(), "little")


def n_words(bits: int) -> int:
    """uint64 words that hold `bits` bits."""
    return -(-bits // 64)


def to_words(mask: int, words: int) -> list[int]:
    """One bit set as `words` uint64 values, lowest bits first."""
    return [(mask >> (64 * w)) & _WORD for w in range(words)]


def word_array(masks: Iterable[int], words: int) -> np.ndarray:
    """Bit sets -> (sets x words) contiguous uint64 array."""
    out = np.array([to_words(m, words) for m in masks], dtype=np.uint64).reshape(-1, words)
    return np.ascontiguousarray(out)


def bool_words(rows: np.ndarray, words: int) -> np.ndarray:
    """(rows x bits) bool -> (rows x words) contiguous uint64, bit i of a row in word i // 64."""
    rows = np.asarray(rows, dtype=bool)
    padded = np.zeros((rows.shape[0], 64 * words), dtype=bool)
    padded[:, :rows.shape[1]] = rows
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed.view("<u8").astype(np.uint64, copy=False))


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a bool matrix: (index of each distinct row's first occurrence, index
    of every row's distinct row), like np.unique(axis=0) but on packed 64-bit words (faster)."""
    rows = np.asarray(rows, dtype=bool)
    if not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    words = bool_words(rows, max(1, n_words(rows.shape[1])))
    order = np.lexsort(words.T[::-1])
    sorted_words = words[order]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = np.any(sorted_words[1:] != sorted_words[:-1], axis=1)
    group = np.cumsum(new) - 1
    inverse = np.empty(len(rows), dtype=np.int64)
    inverse[order] = group
    return order[new], inverse
