"""Confidence intervals over replications: Student-t, so that few replications get honest bands.

With n replications the 95% half-width of a mean is t(0.975, n - 1) x s / sqrt(n); the normal
1.96 is 38% too narrow at n = 4 (t = 3.182) and within 1% only from n ~ 200.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=512)
def t95(n: int) -> float:
    """The two-sided 95% Student-t quantile for the mean of `n` >= 2 values (n - 1 degrees)."""
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def mean_ci95(values) -> tuple[float, float]:
    """(mean, 95% half-width) of the finite values; NaN half-width with fewer than two."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return math.nan, math.nan
    if arr.size == 1:
        return float(arr[0]), math.nan
    return float(arr.mean()), t95(int(arr.size)) * float(arr.std(ddof=1)) / math.sqrt(arr.size)
