"""Literature sanity checks for the simulator (each test names its source).

Each scenario states its assumptions; the published numbers are targets, never inputs.
"""

from __future__ import annotations

import pytest

from tpusim.sim import load_scenario, simulate, with_overrides
from tpusim.validation import Context, check, figure

# The published figures, scenarios (tpusim.validation.recipes: llama3_like, gemini_like, with
# their assumptions) and tolerances are rows of tpusim/validation/published.py; `tpusim validate
# --area simulate` checks them the same way.
CONTEXT = Context(workers=2)


def test_llama3_interruption_rate_gives_runtime_goodput_above_090():
    # Llama 3 405B (arXiv:2407.21783 sec. 3.3): one unexpected interruption every 3.09 h, >90% effective
    # training time. Assumptions: checkpoints of 60 s written in the background after a 5 s
    # blocking snapshot, the fast restart (Google's 2026 elastic-recovery figures), interval auto
    # (Young/Daly). Tolerance: the lower end of the 95% interval, doubled, above 0.90.
    c = check(figure("llama3-runtime-goodput"), CONTEXT)
    s = c.measured.result.summary
    assert (c.figure.published, c.figure.tolerance.kind, c.figure.tolerance.value) == (0.90, "margin", 2)
    assert s["runtime_goodput"] - 2 * s["runtime_goodput_ci95"] > 0.90, s["runtime_goodput"]
    assert c.status == "ok"
    assert s["interruptions"]["job"] == pytest.approx(419, rel=0.1)


def test_in_memory_replica_gains_like_gemini():
    # Gemini (arXiv 2312.11805): in-memory replica recovery took goodput from 85% to 97%.
    # Comparable assumptions: tpusim.validation.recipes.gemini_like. Tolerances: persistent
    # within 5 points of 85%, replica above 95%, gain within 6 points of +12.
    persistent = check(figure("gemini-persistent-goodput"), CONTEXT)
    replica = check(figure("gemini-replica-goodput"), CONTEXT)
    gain = check(figure("gemini-replica-gain"), CONTEXT)
    p = persistent.measured.result.summary["runtime_goodput"]
    q = replica.measured.result.summary["runtime_goodput"]
    assert (persistent.figure.published, persistent.figure.tolerance.value) == (0.85, 0.05)
    assert (replica.figure.tolerance.lo, gain.figure.published, gain.figure.tolerance.value) == (
        0.95, 0.12, 0.06)
    assert gain.measured.value == q - p
    assert 0.80 < p < 0.90, p
    assert q > 0.95, q
    assert 0.06 < q - p < 0.18, q - p  # Gemini: +0.12
    assert {persistent.status, replica.status, gain.status} == {"ok"}


def lost_s(summary: dict) -> float:
    return sum(summary["badput"].values())


def test_palm_with_ocs_loses_far_less_than_static():
    ocs = simulate(with_overrides(load_scenario("palm-540b-50d"), replications=2), workers=1)
    static = simulate(with_overrides(load_scenario("palm-540b-50d-static"), replications=2),
                      workers=1)
    assert ocs.summary["scheduling_goodput"] > 0.99
    assert ocs.summary["time_to_train_s"]["finished_fraction"] == 1.0
    assert lost_s(static.summary) > 5 * lost_s(ocs.summary)
    assert static.summary["badput"]["waiting_for_resources"] > lost_s(ocs.summary)
    # the static job waits although most cubes are healthy and free: fragmentation, not shortage
    waiting = static.summary["badput"]["waiting_for_resources"]
    assert static.summary["waiting_fragmented_s"] > 0.9 * waiting
