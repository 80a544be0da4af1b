"""Time-to-failure and time-to-repair distributions, and fast batched sampling.

A `Lifetime` is a distribution of durations given by its mean (seconds) and a shape:

- exponential: memoryless; `shape` ignored.
- weibull: `shape` = k (k < 1: infant mortality, k > 1: wear-out); scale = mean / Gamma(1 + 1/k).
- lognormal: `shape` = sigma of the underlying normal; mu = ln(mean) - sigma^2 / 2.

Every distribution is parameterised by its mean so that availability = MTBF / (MTBF + MTTR)
holds for any of them (renewal theory). A scenario may give availability and MTTR instead of
MTBF: `mtbf_from_availability`.

`Sampler` draws in batches from a `numpy.random.Generator` (one per component class, derived
from the replication's seed) so that per-event work is a list pop, not a numpy call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tpusim.errors import TpusimError

DISTRIBUTIONS = ("exponential", "weibull", "lognormal")
_BATCH = 512


@dataclass(frozen=True)
class Lifetime:
    """A duration distribution: kind, mean in seconds, shape (Weibull k or lognormal sigma)."""

    kind: str
    mean_s: float
    shape: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in DISTRIBUTIONS:
            raise TpusimError(
                f"unknown distribution {self.kind!r}; use one of {', '.join(DISTRIBUTIONS)}"
            )
        if not (self.mean_s > 0 and math.isfinite(self.mean_s)):
            raise TpusimError(f"a {self.kind} mean must be a positive finite time, got {self.mean_s!r}")
        if self.kind != "exponential" and not (self.shape > 0 and math.isfinite(self.shape)):
            raise TpusimError(f"a {self.kind} shape must be positive, got {self.shape!r}")

    @property
    def rate_per_s(self) -> float:
        """Long-run events per second of a renewal process with this lifetime (1 / mean)."""
        return 1.0 / self.mean_s

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` independent draws, in seconds."""
        if self.kind == "exponential":
            return rng.exponential(self.mean_s, size)
        if self.kind == "weibull":
            scale = self.mean_s / math.gamma(1.0 + 1.0 / self.shape)
            return scale * rng.weibull(self.shape, size)
        mu = math.log(self.mean_s) - 0.5 * self.shape**2
        return rng.lognormal(mu, self.shape, size)


def mtbf_from_availability(availability: float, mttr_s: float) -> float:
    """MTBF (seconds) of a component that is up a fraction `availability` of the time and takes
    `mttr_s` on average to repair: A = MTBF / (MTBF + MTTR)  =>  MTBF = MTTR * A / (1 - A)."""
    if not 0 < availability < 1:
        raise TpusimError(
            f"availability must lie strictly between 0 and 1 to derive an MTBF, got {availability!r}"
        )
    return mttr_s * availability / (1.0 - availability)


def availability(mtbf_s: float, mttr_s: float) -> float:
    """Steady-state fraction of time up: MTBF / (MTBF + MTTR)."""
    return mtbf_s / (mtbf_s + mttr_s)


class Sampler:
    """Draws from a Lifetime in batches of 512; `draw()` returns one float (seconds)."""

    __slots__ = ("_buffer", "_lifetime", "_rng")

    def __init__(self, lifetime: Lifetime, rng: np.random.Generator) -> None:
        self._lifetime = lifetime
        self._rng = rng
        self._buffer: list[float] = []

    def draw(self) -> float:
        if not self._buffer:
            self._buffer = self._lifetime.sample(self._rng, _BATCH).tolist()
            self._buffer.reverse()
        return self._buffer.pop()
