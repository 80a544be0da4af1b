"""Closed forms: cube availability and the OCS (any-healthy-cubes) slice model.

Model (hardware reference section 1.6, reconstructed from Jouppi et al., ISCA 2023, and the
Google Cloud blog "Cluster-level reliability for trillion-parameter models on TPUs", 2026):

- A cube is usable only if every one of its hosts (and chips and intra-cube copper links, when
  their availabilities are given) is up: p_cube = p_host^hosts x p_chip^chips x p_link^links
  x p_rack. Failures are independent by default.
- Correlated option: cubes sit in failure domains (rack rows, power domains) of `domain_cubes`
  cubes that go down together with probability 1 - p_domain; inside an up domain cubes fail
  independently with p_cube.
- With OCS a slice of k cubes can be formed whenever at least k cubes are healthy, in any
  order: P = P(Binomial(n, p_cube) >= k). An OCS joins only the cubes of its group (one group
  on the catalog pods; several on a custom pod whose OCSes have too few ports), so with groups
  the number of disjoint k-cube slices is S = sum over groups of floor(H_g / k)
  (`ocs_slice_pmf`). Optional OCS term: each of the pod's OCSes is up with
  p_ocs and a cube-built slice uses every OCS (each cube face position goes through one), so
  the OCS model is multiplied by p_ocs^n_ocs.

Invariants (tested): probabilities lie in [0, 1]; p_at_least_k_healthy is 1 at k <= 0, is
p_cube^n at k = n, falls as k rises and rises with p_cube; the healthy-count pmf sums to 1 and
matches brute-force enumeration on small pods; with one group `ocs_slice_pmf` gives
P(S >= m) = P(H >= m k) and E[S] = E[floor(H / k)]; the correlated form with domains of one cube and
p_domain = 1 equals the independent form.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from tpusim.errors import TpusimError
from tpusim.inputs import check_integer, check_probability


def _prob(name: str, value: float, *, allow_zero: bool = True) -> float:
    return check_probability(value, name, "availability", allow_zero=allow_zero)


def _count(name: str, value: int) -> int:
    return check_integer(value, name, "availability", at_least=0)


def cube_availability(p_host: float, hosts_per_cube: int, *, p_chip: float = 1.0,
                      chips_per_cube: int = 0, p_link: float = 1.0, links_per_cube: int = 0,
                      p_rack: float = 1.0) -> float:
    """Probability that a cube is usable: every host, chip and counted link up, and its rack.

    p_host^hosts_per_cube x p_chip^chips_per_cube x p_link^links_per_cube x p_rack.
    Tested: 0.990/0.995/0.999 with 16 hosts give 0.8515/0.9229/0.9841 (reference 1.6).
    """
    p_host = _prob("p_host", p_host, allow_zero=False)
    hosts = _count("hosts_per_cube", hosts_per_cube)
    if hosts == 0:
        raise TpusimError("hosts_per_cube must be >= 1; the pod has no cubes")
    # an availability of 0 (the part is never up) is a typo, not a plan: (0, 1] like p_host
    return (p_host ** hosts
            * _prob("p_chip", p_chip, allow_zero=False) ** _count("chips_per_cube", chips_per_cube)
            * _prob("p_link", p_link, allow_zero=False) ** _count("links_per_cube", links_per_cube)
            * _prob("p_rack", p_rack, allow_zero=False))


# C(n, n/2) fits a float up to n = 1029; catalog pods have at most 144 cubes
_EXACT_PMF_MAX_CUBES = 1000


@lru_cache(maxsize=4096)
def healthy_pmf(n_cubes: int, p_cube: float) -> tuple[float, ...]:
    """P(exactly h healthy cubes) for h = 0..n_cubes, independent cubes (binomial)."""
    n = _count("n_cubes", n_cubes)
    p = _prob("p_cube", p_cube)
    q = 1.0 - p
    if n <= _EXACT_PMF_MAX_CUBES:
        return tuple(math.comb(n, h) * p ** h * q ** (n - h) for h in range(n + 1))
    if p == 0.0 or q == 0.0:  # every cube down, or every cube up
        return tuple(float(h == (n if q == 0.0 else 0)) for h in range(n + 1))
    # beyond that C(n, h) overflows a float (a custom pod of one-host cubes): in logs, then
    # normalised so the pmf sums to 1 within rounding and no tail exceeds 1
    log_n, log_p, log_q = math.lgamma(n + 1), math.log(p), math.log(q)
    terms = [math.exp(log_n - math.lgamma(h + 1) - math.lgamma(n - h + 1) + h * log_p
                      + (n - h) * log_q) for h in range(n + 1)]
    total = math.fsum(terms)
    return tuple(t / total for t in terms)


@lru_cache(maxsize=4096)
def healthy_pmf_correlated(n_cubes: int, p_cube: float, domain_cubes: int,
                           p_domain: float) -> tuple[float, ...]:
    """P(exactly h healthy cubes) when cubes sit in failure domains of `domain_cubes` cubes that
    fail together with probability 1 - p_domain (cubes in an up domain: independent p_cube).
    n_cubes must be a multiple of domain_cubes."""
    n = _count("n_cubes", n_cubes)
    g = _count("domain_cubes", domain_cubes)
    if g == 0 or n % g:
        divisors = ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)
        raise TpusimError(
            f"domain_cubes must divide the pod's {n} cubes, got {domain_cubes}; divisors: {divisors}",
            params=("domain_cubes",))
    pd = _prob("p_domain", p_domain, allow_zero=False)
    one = [(1.0 - pd) * (h == 0) + pd * x for h, x in enumerate(healthy_pmf(g, p_cube))]
    dist = [1.0]
    for _ in range(n // g):
        out = [0.0] * (len(dist) + g)
        for i, a in enumerate(dist):
            if a:
                for j, b in enumerate(one):
                    out[i + j] += a * b
        dist = out
    return tuple(dist)


def _tail(pmf: tuple[float, ...], k: int) -> float:
    if k <= 0:
        return 1.0
    if k >= len(pmf):
        return 0.0
    return min(1.0, max(0.0, math.fsum(pmf[k:])))


def p_at_least_k_healthy(n_cubes: int, k: int, p_cube: float) -> float:
    """OCS closed form: P(Binomial(n_cubes, p_cube) >= k).

    Tested: P(>=48 of 64) = 0.989 at p_cube 0.8515; equals brute-force enumeration on small
    pods; 1 for k <= 0, 0 for k > n_cubes, p_cube^n for k = n_cubes.
    """
    k = check_integer(k, "k (cubes)", "availability")
    return _tail(healthy_pmf(n_cubes, p_cube), k)


def p_at_least_k_healthy_correlated(n_cubes: int, k: int, p_cube: float, domain_cubes: int,
                                    p_domain: float) -> float:
    """P(at least k healthy cubes) with correlated failure domains (see healthy_pmf_correlated)."""
    return _tail(healthy_pmf_correlated(n_cubes, p_cube, domain_cubes, p_domain), k)


def expected_ocs_slices(pmf: tuple[float, ...], slice_cubes: int, n_slices_max: int | None = None) -> float:
    """E[floor(H / slice_cubes)] (capped at n_slices_max): disjoint slices OCS can form."""
    if slice_cubes <= 0:
        raise TpusimError(f"slice_cubes must be >= 1, got {slice_cubes}")
    cap = n_slices_max if n_slices_max is not None else len(pmf)
    return math.fsum(min(h // slice_cubes, cap) * x for h, x in enumerate(pmf))


def ocs_slice_pmf(group_pmfs: list[tuple[float, ...]], slice_cubes: int) -> np.ndarray:
    """P(exactly s disjoint `slice_cubes`-cube slices can be formed) for s = 0, 1, ...: each
    OCS group (its healthy-count pmf in `group_pmfs`) forms floor(H_g / k) slices from its own
    cubes, and groups are independent, so the pmf of S = sum_g floor(H_g / k) is the
    convolution of the groups' pmfs of floor(H_g / k)."""
    if slice_cubes <= 0:
        raise TpusimError(f"slice_cubes must be >= 1, got {slice_cubes}")
    dist = np.ones(1)
    for pmf in group_pmfs:
        per_group = np.bincount(np.arange(len(pmf)) // slice_cubes, weights=np.asarray(pmf))
        dist = np.convolve(dist, per_group)
    return dist


def ocs_goodput(n_cubes: int, slice_cubes: int, p_cube: float) -> float:
    """Expected fraction of the pod's cubes (= chips) busy in disjoint k-cube slices with OCS:
    E[floor(H / k)] x k / n. Tested against brute force; always <= p_cube (can't beat the
    healthy fraction) and equal to p_cube for k = 1."""
    return expected_ocs_slices(healthy_pmf(n_cubes, p_cube), slice_cubes) * slice_cubes / n_cubes


def spares_for_target(slice_cubes: int, p_cube: float, target: float, n_cubes_max: int) -> int | None:
    """Fewest spare cubes s such that a k-cube OCS slice drawn from a pool of k + s cubes is
    schedulable with probability >= target: P(Binomial(k + s, p) >= k) >= target.
    None if even the whole pod (k + s = n_cubes_max) falls short."""
    target = _prob("target", target, allow_zero=False)
    for pool in range(slice_cubes, n_cubes_max + 1):
        if p_at_least_k_healthy(pool, slice_cubes, p_cube) >= target:
            return pool - slice_cubes
    return None


def cube_availability_for_target(n_cubes: int, k: int, confidence: float) -> float:
    """The cube availability p at which P(Binomial(n, p) >= k) = confidence (bisection).

    Tested: 130 of 144 cubes at 95% gives p ~ 0.935 (Google Cloud blog on Ironwood, via the
    hardware reference section 1.6)."""
    confidence = _prob("confidence", confidence, allow_zero=False)
    if not 0 < k <= n_cubes:
        raise TpusimError(f"k must lie in 1..{n_cubes}, got {k}")
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _tail(healthy_pmf.__wrapped__(n_cubes, mid), k) >= confidence:
            hi = mid
        else:
            lo = mid
    return hi
