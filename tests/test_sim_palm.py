"""PaLM 540B end to end (Chowdhery et al. 2022, arXiv:2204.02311, section 5 and Appendix B):
scenarios/palm-540b-e2e.toml follows the published batch schedule (512 / 1024 / 2048 sequences
to steps 50k / 115k / 255k) with the Llama 3 failure profile and about 20 loss spikes. The paper
reports ~0.67 of the ideal chip-hours (1200 h x 6144 + 336 h x 3072 chips against 2.56e24 FLOPs
at 46.2% MFU), which includes downtime the simulator does not model (debugging, evictions):
the check is that the simulated ratio lies between 0.67 and the failure-free ratio of the same
schedule, not a fit. Ideal chip-hours: the 780B tokens at the final configuration's estimated
throughput (2 x 3072 chips, batch 2048). Tolerance: 4 standard errors over 4 replications.
The published figure and the recipe: the row `palm-540b-e2e-chip-hours` of
tpusim/validation/published.py (`tpusim validate --area simulate` checks it the same way)."""

from __future__ import annotations

import math

import pytest

from tpusim.validation import Context, check, figure

PUBLISHED_RATIO = 0.67  # validation: (5.60M ideal) / (8.40M actual) chip-hours


def test_palm_schedule_end_to_end_chip_hours():
    c = check(figure("palm-540b-e2e-chip-hours"), Context(workers=2))
    assert c.figure.published == PUBLISHED_RATIO and c.figure.tolerance.value == 4
    r = c.measured.result
    assert r.scenario.replications == 4
    plans = {p.spec.name: p for p in r.plans}
    assert [plans[n].spec.global_batch_seqs for n in ("batch-512", "batch-1024", "batch-2048")] \
        == [512, 1024, 2048]
    assert sum(p.spec.steps for p in plans.values()) == 255_000
    final = plans["batch-2048"]
    tokens = sum(p.spec.steps * p.tokens_per_step for p in plans.values())
    assert tokens == pytest.approx(780e9, rel=0.01)  # 775.9B: Table 1's 780B
    ideal = tokens / (final.tokens_per_step / final.step_time_s) * final.chips
    failure_free = sum(p.work_s * p.chips for p in plans.values())
    jobs = r.table[r.table["job"] != "*"]
    used = (jobs["chips"] * jobs["window_s"]).groupby(jobs["replication"]).sum()
    ratios = ideal / used
    mean = float(ratios.mean())
    sigma = float(ratios.std(ddof=1) / math.sqrt(len(ratios)))
    assert r.summary["time_to_train_s"]["finished_fraction"] == 1.0
    assert (c.measured.value, c.measured.spread, c.measured.ceiling) == pytest.approx(
        (mean, sigma, ideal / failure_free), rel=1e-12)
    assert PUBLISHED_RATIO + 4 * sigma < mean < ideal / failure_free - 4 * sigma < 1.0
    assert c.status == "ok"
    # the phases follow each other: each starts when the one before ends
    rows = jobs[jobs["replication"] == 0].set_index("job")
    for before, after in (("batch-512", "batch-1024"), ("batch-1024", "batch-2048")):
        end = rows.loc[before, "submitted_s"] + rows.loc[before, "time_to_train_s"]
        assert rows.loc[after, "submitted_s"] == pytest.approx(end)
    spikes = r.summary["interruptions"]["loss_spike"]  # about 20 over 255k steps
    assert abs(spikes - 20) < 4 * math.sqrt(20 / len(ratios))
    assert r.summary["badput"]["repeated_steps"] > 0
