"""Units. SI base units inside tpusim (s, bytes, FLOP, bytes/s, FLOP/s); convert only at the edges.

Binary prefixes are for memory sizes (HBM is sold in GiB); decimal prefixes for rates
(bandwidths and FLOP/s are quoted in decimal units by every source we use).
"""

from __future__ import annotations

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

KILO = 1e3
MEGA = 1e6
GIGA = 1e9
TERA = 1e12
PETA = 1e15
EXA = 1e18

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0

BITS_PER_BYTE = 8


def gbit_per_s_to_bytes_per_s(gbit_per_s: float) -> float:
    """Network rates are quoted in Gbit/s; 100 Gbit/s = 12.5e9 bytes/s."""
    return gbit_per_s * GIGA / BITS_PER_BYTE


def fmt_count(mean: float, replications: int) -> str:
    """A count averaged over replications: a whole number when there is one replication (the
    count itself: 63.0 -> '63'), else a mean with one decimal ('62.5')."""
    return f"{mean:.0f}" if replications == 1 else f"{mean:.1f}"


def fmt_bytes(n_bytes: float) -> str:
    """Human-readable binary size: 34359738368 -> '32.0 GiB'."""
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if abs(n_bytes) >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes:.0f} B"


def fmt_rate(value: float, unit: str) -> str:
    """Human-readable decimal rate: fmt_rate(2.4e13, 'B/s') -> '24.0 TB/s'."""
    for prefix, size in (("E", EXA), ("P", PETA), ("T", TERA), ("G", GIGA), ("M", MEGA), ("k", KILO)):
        if abs(value) >= size:
            return f"{value / size:.1f} {prefix}{unit}"
    return f"{value:.1f} {unit}"


def fmt_duration(seconds: float) -> str:
    """Human-readable duration: 5400 -> '1.50 h'."""
    if abs(seconds) >= DAY_S:
        return f"{seconds / DAY_S:.2f} d"
    if abs(seconds) >= HOUR_S:
        return f"{seconds / HOUR_S:.2f} h"
    if abs(seconds) >= MINUTE_S:
        return f"{seconds / MINUTE_S:.1f} min"
    if abs(seconds) >= 1:
        return f"{seconds:.2f} s"
    if abs(seconds) >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def fmt_slices(slices: int, shape: str, twisted: bool) -> str:
    """A job's slices as simulate's Jobs table and the report's job table show them (T: twisted).

    >>> fmt_slices(2, "4x4x8", True), fmt_slices(1, "8x8x8", False)
    ('2 x 4x4x8 T', '1 x 8x8x8')
    """
    return f"{slices} x {shape}{' T' if twisted else ''}"
