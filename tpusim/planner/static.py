"""Static torus model: slices need contiguous boxes of healthy cubes (no OCS).

For every failure pattern the exact maximum number of disjoint all-healthy boxes is computed
(tpusim.planner.packing.count_max_boxes); p_schedulable is the probability that at least
`n_slices` fit and goodput = E[max boxes] x box cubes / pod cubes. Patterns are averaged by
exact enumeration of all 2^n patterns when that is small (exact_limit), otherwise by seeded
Monte Carlo with a 95% confidence interval (Wilson for probabilities, normal for the mean
packing). The same patterns are used for every slice size (common random numbers), so the rows
of a table are comparable. The Monte Carlo goodput uses the OCS goodput of the same pattern
(known exactly in expectation) as a control variate, which narrows its interval several-fold at
no cost in bias. The exact counts of a smaller box that tiles a bigger one bound the bigger
one's on the same pattern (`tiling_bound`: a 2x2x4 packing splits into twice as many 2x2x2
boxes), which spares the search many proofs.

Failure patterns: cubes healthy independently with p_cube; optionally cubes sit in failure
domains of `domain_cubes` consecutive cube ids that are down together with 1 - p_domain.

Invariants (tested): exact enumeration equals brute force on small pods; Monte Carlo agrees
with exact enumeration within its interval; static p_schedulable <= OCS p_schedulable and
static goodput <= OCS goodput for every pattern set; one-cube slices give the OCS numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import permutations, product

import numpy as np

from tpusim.errors import TpusimError
from tpusim.inputs import check_probability
from tpusim.planner.availability import expected_ocs_slices, healthy_pmf, healthy_pmf_correlated
from tpusim.planner.packing import check_cube_shape, count_max_boxes

Z95 = 1.959963984540054  # two-sided 95% normal quantile
EXACT_LIMIT = 1 << 16  # enumerate every pattern when 2^cubes is at most this


@dataclass(frozen=True)
class StaticEstimate:
    """p_schedulable and goodput of one slice shape on a static torus, with 95% intervals
    (lo == hi == value when exact)."""

    slice_cube_shape: tuple[int, ...]
    n_slices: int
    p_schedulable: float
    p_schedulable_lo: float
    p_schedulable_hi: float
    goodput: float
    goodput_lo: float
    goodput_hi: float
    method: str  # "exact" or "monte-carlo"
    patterns: int
    seed: int | None

    def to_dict(self) -> dict:
        return asdict(self)


def sample_healthy(n_cubes: int, p_cube: float, samples: int, seed: int, *,
                   domain_cubes: int = 1, p_domain: float = 1.0) -> np.ndarray:
    """(samples x n_cubes) bool: healthy cubes drawn from default_rng(seed)."""
    p_cube = check_probability(p_cube, "p_cube", "static model", allow_zero=True)
    if samples < 1:
        raise TpusimError(f"samples must be >= 1, got {samples}")
    rng = np.random.default_rng(seed)
    healthy = rng.random((samples, n_cubes)) < p_cube
    if domain_cubes > 1 or p_domain < 1.0:
        if n_cubes % domain_cubes:
            raise TpusimError(f"domain_cubes must divide the pod's {n_cubes} cubes, got {domain_cubes}")
        up = rng.random((samples, n_cubes // domain_cubes)) < p_domain
        healthy &= np.repeat(up, domain_cubes, axis=1)
    return healthy


def all_patterns(n_cubes: int) -> np.ndarray:
    """Every healthy/failed pattern of n cubes, (2^n x n) bool."""
    return np.array(list(product((False, True), repeat=n_cubes)), dtype=bool).reshape(-1, n_cubes)


def pattern_weights(patterns: np.ndarray, p_cube: float) -> np.ndarray:
    """Probability of each pattern with independent cubes."""
    h = patterns.sum(axis=1)
    n = patterns.shape[1]
    return p_cube ** h * (1.0 - p_cube) ** (n - h)


def tiles(small: tuple[int, ...], big: tuple[int, ...]) -> int:
    """How many `small` boxes a `big` box splits into, if some orientation of `small` has every
    extent dividing `big`'s on the same axis; else 0."""
    for perm in set(permutations(small)):
        if all(b % s == 0 for s, b in zip(perm, big, strict=True)):
            return math.prod(big) // math.prod(small)
    return 0


def tiling_bound(shape: tuple[int, ...], known: dict[tuple[int, ...], np.ndarray]) -> np.ndarray | None:
    """Upper bound per pattern on the packing of `shape` boxes from exact packings of smaller
    boxes that tile it: a packing of t big boxes splits into m t disjoint small boxes, so
    t <= floor(max small / m). `known`: uncapped exact counts per shape, same patterns."""
    out = None
    for small, counts in known.items():
        m = tiles(small, shape)
        if m > 1:
            got = counts // m
            out = got if out is None else np.minimum(out, got)
    return out


def _wilson(p: float, n: int) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate_from_counts(shape: tuple[int, ...], n_slices: int, counts: np.ndarray, n_cubes: int,
                         weights: np.ndarray | None, seed: int | None, *,
                         goodput: bool = True,
                         control: tuple[np.ndarray, float] | None = None) -> StaticEstimate:
    """Turn per-pattern box counts into p_schedulable and goodput (exact if weights given;
    goodput fields are NaN when goodput=False, i.e. counts were capped at n_slices).
    `control`: (per-pattern OCS goodput, its exact mean) used as a control variate for the
    Monte Carlo goodput."""
    k = math.prod(shape)
    sched = counts >= n_slices
    frac = counts * k / n_cubes
    nan = math.nan
    if weights is not None:
        p = float(np.dot(weights, sched))
        g = float(np.dot(weights, frac)) if goodput else nan
        return StaticEstimate(shape, n_slices, p, p, p, g, g, g, "exact", len(counts), None)
    m = len(counts)
    p = float(sched.mean())
    lo, hi = _wilson(p, m)
    if not goodput:
        return StaticEstimate(shape, n_slices, p, lo, hi, nan, nan, nan, "monte-carlo", m, seed)
    g, half = _mean_with_control(frac, control)
    return StaticEstimate(shape, n_slices, p, lo, hi, g, max(0.0, g - half), min(1.0, g + half),
                          "monte-carlo", m, seed)


def _mean_with_control(x: np.ndarray, control: tuple[np.ndarray, float] | None) -> tuple[float, float]:
    """Mean of x and its 95% half-width; with a control variate (y per pattern, exact E[y]) the
    regression estimator mean(x) - b (mean(y) - E[y]), b = cov(x, y) / var(y), when it has the
    smaller variance (Rubinstein & Kroese, Simulation and the Monte Carlo Method, 3rd ed., 5.3)."""
    m = len(x)
    if m < 2:
        return float(x.mean()), 1.0
    mean, var = float(x.mean()), float(x.var(ddof=1))
    if control is not None:
        y, ey = control
        vy = float(y.var(ddof=1))
        if vy > 0:
            b = float(np.cov(x, y, ddof=1)[0, 1]) / vy
            resid = x - b * y
            if float(resid.var(ddof=1)) < var:
                mean = mean - b * (float(y.mean()) - ey)
                var = float(resid.var(ddof=1))
    return mean, Z95 * math.sqrt(var / m)


def static_estimates(grid: tuple[int, ...], shapes: list[tuple[int, ...]], p_cube: float, *,
                     n_slices: int = 1, samples: int = 10_000, seed: int = 0,
                     exact_limit: int = EXACT_LIMIT, domain_cubes: int = 1,
                     p_domain: float = 1.0, goodput: bool = True,
                     on_shape: Callable[[int, int], None] | None = None) -> list[StaticEstimate]:
    """Static-torus estimates for several slice shapes (in cubes) on one cube grid, all from
    the same failure patterns: exact enumeration if 2^cubes <= exact_limit and failures are
    independent (or p_cube = 1: one pattern), else `samples` Monte Carlo patterns from
    default_rng(seed). goodput=False
    skips the packing search (only "do n_slices fit?" is answered; much faster). `on_shape(done,
    total)` is called after each shape (for progress bars)."""
    n = math.prod(grid)
    p_cube = check_probability(p_cube, "p_cube", "static model", allow_zero=True)
    exact = (1 << n) <= exact_limit and domain_cubes == 1 and p_domain == 1.0
    if p_cube == 1.0 and p_domain == 1.0:  # one pattern, every cube healthy: nothing to sample
        exact = True
        patterns = np.ones((1, n), dtype=bool)
        weights = np.ones(1)
    elif exact:
        patterns = all_patterns(n)
        weights = pattern_weights(patterns, p_cube)
    else:
        patterns = sample_healthy(n, p_cube, samples, seed, domain_cubes=domain_cubes, p_domain=p_domain)
        weights = None
        h_count = patterns.sum(axis=1)
        if domain_cubes == 1 and p_domain == 1.0:
            pmf = healthy_pmf(n, p_cube)
        else:
            pmf = healthy_pmf_correlated(n, p_cube, domain_cubes, p_domain)
    out = []
    known: dict[tuple[int, ...], np.ndarray] = {}  # uncapped exact counts, for tiling_bound
    for shape in shapes:
        shape = check_cube_shape(grid, tuple(shape))
        counts = count_max_boxes(tuple(grid), shape, patterns, cap=None if goodput else n_slices,
                           upper=tiling_bound(shape, known) if goodput else None)
        if goodput:
            known[shape] = counts
        control = None
        if not exact:
            k = math.prod(shape)
            control = ((h_count // k) * k / n, expected_ocs_slices(pmf, k) * k / n)
        out.append(estimate_from_counts(shape, n_slices, counts, n, weights, None if exact else seed,
                                        goodput=goodput, control=control))
        if on_shape is not None:
            on_shape(len(out), len(shapes))
    return out


def p_schedulable_static(pod, slice_cube_shape: tuple[int, ...], p_cube: float, *,
                         n_slices: int = 1, samples: int = 10_000, seed: int = 0,
                         exact_limit: int = EXACT_LIMIT, goodput: bool = False) -> StaticEstimate:
    """Probability that `n_slices` disjoint boxes of `slice_cube_shape` cubes fit on healthy
    cubes of the pod's static cube torus (exact or Monte Carlo with a 95% interval; see
    StaticEstimate). The simulator's long runs must converge to `.p_schedulable`. Goodput
    fields are NaN unless goodput=True (which runs the full packing search)."""
    grid = pod.cube_grid if hasattr(pod, "cube_grid") else tuple(pod)
    if grid is None:
        raise TpusimError(f"pod {pod.name} is not built of cubes; the static cube model needs cubes")
    return static_estimates(tuple(grid), [tuple(slice_cube_shape)], p_cube, n_slices=n_slices,
                            samples=samples, seed=seed, exact_limit=exact_limit,
                            goodput=goodput)[0]
