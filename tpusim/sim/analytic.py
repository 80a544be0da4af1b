"""Closed forms the discrete-event simulation must converge to (sources below).

Notation: delta = blocking checkpoint save (s), tau = checkpoint interval (compute seconds
between saves), M = mean time between interruptions the job sees (s), R = restart time
(reconfiguration + TPU initialisation + program start-up + restore, s).

- Young (1974): tau_opt = sqrt(2 delta M).
- Daly (2006): tau_opt = sqrt(2 delta M) [1 + sqrt(delta/2M)/3 + (delta/2M)/9] - delta, for delta < 2M.
- First-order waste: delta/tau + (tau/2 + R)/M;  runtime goodput ~ 1 - waste.
- Meta ETTR (Kokolis et al., HPCA 2025, arXiv:2410.21680):
  E[ETTR] ~ (1 - N r_f (u0 + dt/2)) / (1 + w/dt), with N r_f = 1/M.
- Exact runtime goodput for Poisson interruptions (failures also hit saves and restarts; every
  interruption costs a full restart): a segment of tau + delta completes in expected time
  e^{lambda R} (e^{lambda (tau + delta)} - 1) / lambda, so goodput = tau / that.

Failure clocks (`[failures] clock`):
- "wall" (tpusim's default): the job's hardware fails at its rate all the time, also during a
  restart, which then starts over. A restart of R completes after (e^{lambda R} - 1)/lambda on
  average, so with no work lost (state in memory) runtime goodput = e^{-lambda R}, and with
  checkpoints the exact form above.
- "compute" (most analytic models and peer simulators such as AIReSim): failures strike only
  while the job computes or saves, restarts always complete: with no work lost
  goodput = 1 / (1 + lambda R); with checkpoints a segment costs (e^{lambda (tau + delta)} - 1)
  (1/lambda + R), so goodput = lambda tau / ((e^{lambda (tau + delta)} - 1)(1 + lambda R)).

Stragglers ([failures.straggler]; see `straggler_slowed_fraction`): stragglers appear at rate
lambda while the job computes, each is found after an exponential delay of mean d, and the
job's steps take s times as long while one is present. For rare stragglers the compute lost is
about lambda d (1 - 1/s) of the time. Exactly, for a job on one failure unit (every straggler on
the cube that the first one found drains, so a slowed period ends at the first detection among
those present) with instantaneous restarts: with a = lambda d, a slowed period lasts
B = d sum_{n>=0} a^n / ((a+1)(a+2)...(a+n+1)) on average (the survival function
exp(-t/d - lambda t + a (1 - e^{-t/d})), integrated: d e^a a^-(a+1) gamma(a+1, a)), and the
job is slowed B / (1/lambda + B) of the time.
"""

from __future__ import annotations

import math

from tpusim.errors import TpusimError


def young_interval(save_s: float, mtbf_s: float) -> float:
    """Young's first-order optimum checkpoint interval sqrt(2 delta M), seconds."""
    return math.sqrt(2.0 * save_s * mtbf_s)


def daly_interval(save_s: float, mtbf_s: float) -> float:
    """Daly's higher-order optimum checkpoint interval, seconds (= M when delta >= 2M)."""
    if save_s >= 2.0 * mtbf_s:
        return mtbf_s
    x = save_s / (2.0 * mtbf_s)
    return math.sqrt(2.0 * save_s * mtbf_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - save_s


def first_order_waste(save_s: float, interval_s: float, mtbf_s: float, restart_s: float) -> float:
    """Fraction of time wasted, to first order: delta/tau + (tau/2 + R)/M."""
    return save_s / interval_s + (interval_s / 2.0 + restart_s) / mtbf_s


def meta_ettr(mtbf_s: float, restart_s: float, interval_s: float, save_s: float) -> float:
    """Meta's expected effective training time ratio, with N_nodes * r_f = 1 / mtbf_s."""
    return (1.0 - (restart_s + interval_s / 2.0) / mtbf_s) / (1.0 + save_s / interval_s)


def exact_runtime_goodput(save_s: float, interval_s: float, mtbf_s: float, restart_s: float) -> float:
    """Long-run productive fraction under Poisson interruptions of mean spacing mtbf_s.

    Failures strike during compute, saves and restarts alike; each costs the work since the
    last completed save plus a full restart (itself interruptible).
    """
    lam = 1.0 / mtbf_s
    cycle = math.exp(lam * restart_s) * math.expm1(lam * (interval_s + save_s)) / lam
    return interval_s / cycle


def exact_runtime_goodput_async(block_s: float, write_s: float, interval_s: float,
                                mtbf_s: float, restart_s: float) -> float:
    """Asynchronous saves, to first order: only `block_s` blocks; a checkpoint becomes usable
    `write_s` after its snapshot, so an interruption loses on average tau/2 + write_s of work
    (first order in 1/M)."""
    period = interval_s + block_s
    waste = block_s / period + (interval_s / 2.0 + write_s + restart_s) / mtbf_s
    return 1.0 - waste


def optimal_interval(save_s: float, mtbf_s: float, *, method: str = "daly") -> float:
    """The `auto` checkpoint interval: Daly's (default) or Young's formula."""
    if save_s <= 0 or mtbf_s <= 0:
        raise TpusimError("checkpoint save time and MTBF must be positive to choose an interval")
    if method == "young":
        return young_interval(save_s, mtbf_s)
    if method == "daly":
        return daly_interval(save_s, mtbf_s)
    raise TpusimError(f"unknown interval method {method!r}; use daly or young")


def expected_failures(components: int, mtbf_s: float, duration_s: float, mttr_s: float = 0.0) -> float:
    """Expected failures of `components` independent renewal components over `duration_s`
    (steady state): each fails once per MTBF + MTTR cycle."""
    return components * duration_s / (mtbf_s + mttr_s)


def exact_runtime_goodput_compute(save_s: float, interval_s: float, mtbf_s: float,
                                  restart_s: float) -> float:
    """Long-run productive fraction when Poisson interruptions strike only during compute and
    saves (compute clock): each costs the work since the last save plus a restart that always
    completes."""
    lam = 1.0 / mtbf_s
    return lam * interval_s / (math.expm1(lam * (interval_s + save_s)) * (1.0 + lam * restart_s))


def runtime_goodput_no_loss(mtbf_s: float, restart_s: float, *, clock: str) -> float:
    """Runtime goodput when an interruption loses no work (state in memory) and costs a restart
    of `restart_s`: e^{-R/M} on the wall clock, 1 / (1 + R/M) on the compute clock."""
    x = restart_s / mtbf_s
    if clock == "wall":
        return math.exp(-x)
    if clock == "compute":
        return 1.0 / (1.0 + x)
    raise TpusimError(f"unknown failure clock {clock!r}; use wall or compute")


def straggler_slowed_fraction(rate_per_s: float, detection_s: float) -> float:
    """Fraction of the time a job on one failure unit computes at a straggler's pace, with
    stragglers at `rate_per_s` while it computes, each found after an exponential delay of mean
    `detection_s`, a found straggler's drain removing every straggler of the unit and restarts
    taking no time: B / (1/lambda + B) with B the mean slowed period (module docstring).
    About lambda d for rare stragglers (lambda d << 1)."""
    if rate_per_s <= 0 or detection_s <= 0:
        raise TpusimError("straggler_slowed_fraction: rate_per_s and detection_s must be > 0")
    a = rate_per_s * detection_s
    term, total, n = 1.0 / (a + 1.0), 0.0, 0
    while term > 1e-17 * max(total, 1e-300):
        total += term
        n += 1
        term *= a / (a + n + 1.0)
    slowed_s = detection_s * total
    return slowed_s / (1.0 / rate_per_s + slowed_s)
