"""The sharding search: legality of every candidate, ranking, and agreement with estimate()."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpusim.errors import TpusimError
from tpusim.workloads import Parallelism, estimate, load_workload
from tpusim.workloads.config import REMATS, with_overrides
from tpusim.workloads.search import MAX_MICROBATCHES, search, shardings
from tpusim.workloads.sharding import check_parallelism, sharding_problem
from tpusim.workloads.step import BREAKDOWN_KEYS


def test_every_candidate_is_legal():
    wl = load_workload("palm-540b")
    cands = shardings(wl)
    assert (12, 256, 1, 1, 1) in cands  # the PaLM layout
    for t, f, dpi, p, mb in cands:
        check_parallelism(
            wl, Parallelism(data=dpi * 2, fsdp=f, tensor=t, pipeline=p, microbatches=mb), 3072, 2
        )


def test_search_yields_every_legal_sharding():
    # the converse: a brute force over all factorisations, filtered by the one predicate, gives
    # exactly the search's candidates (microbatches capped as the search caps them)
    wl = with_overrides(load_workload("palm-8b"), chips_per_slice=32, global_batch_seqs=64)
    c = wl.system.chips_per_slice
    divs = [d for d in range(1, 65) if 64 % d == 0 or c % d == 0]
    legal = {
        (t, f, dpi, p, mb)
        for t in divs for f in divs for dpi in divs for p in divs for mb in divs
        if mb <= MAX_MICROBATCHES and sharding_problem(
            wl, Parallelism(data=dpi, fsdp=f, tensor=t, pipeline=p, microbatches=mb), c, 1
        ) is None
    }
    assert legal == set(shardings(wl)) and len(legal) > 10


def test_ranked_and_consistent_with_estimate():
    wl = load_workload("maxtext-v4-22b")
    result = search(wl, top=10)
    assert result.feasible > 0 and len(result.rows) == 10
    times = [r["step_time_s"] for r in result.rows]
    assert times == sorted(times)
    assert all(r["memory_per_chip_bytes"] <= 32 * 2**30 for r in result.rows)
    assert result.rows[0]["loses_by"] == "" and all(r["loses_by"] for r in result.rows[1:])
    # each loser names its worst cause with a scaled unit: "+<number> <unit> <cause>"
    for r in result.rows[1:]:
        plus, unit, cause = r["loses_by"].split(" ")
        assert plus.startswith("+") and float(plus[1:]) > 0
        assert unit in {"us", "ms", "s", "min", "h", "d"} and cause in BREAKDOWN_KEYS
    # the best row re-estimated on its own gives the same step time
    best = result.rows[0]
    par = Parallelism(
        data=best["data"],
        fsdp=best["fsdp"],
        tensor=best["tensor"],
        pipeline=best["pipeline"],
        microbatches=best["microbatches"],
    )
    again = estimate(with_overrides(wl, remat=best["remat"]), parallelism=par)
    assert again.step_time_s == pytest.approx(best["step_time_s"])
    assert result.best.step_time_s == pytest.approx(best["step_time_s"])


def test_search_beats_or_matches_the_file_layout():
    wl = load_workload("palm-540b")
    file_est = estimate(wl)
    best = search(wl, top=1).rows[0]
    assert best["step_time_s"] <= file_est.step_time_s * (1 + 1e-9)


def test_estimate_without_parallelism_searches():
    wl = load_workload("gpt3-175b")  # no [parallelism] table
    est = estimate(wl)
    assert est.fits_in_hbm and est.remat == wl.training.remat
    assert (
        est.parallelism["data"]
        * est.parallelism["fsdp"]
        * est.parallelism["tensor"]
        * est.parallelism["pipeline"]
        == 1024
    )


def test_other_chip_and_size():
    est = estimate(load_workload("palm-62b"), chip="v5p", chips_per_slice=1024, slices=1)
    assert est.chip == "v5p" and est.chips == 1024 and est.fits_in_hbm


def test_nothing_fits_is_reported():
    wl = load_workload("palm-540b")
    result = search(wl, chips_per_slice=4, slices=1)
    assert result.rows == [] and result.feasible == 0 and result.evaluated > 0
    # estimate() reports the sharding closest to fitting, with its memory breakdown
    est = estimate(wl, chips_per_slice=4, slices=1)
    assert not est.fits_in_hbm and est.memory_per_chip_bytes > est.hbm_bytes
    assert est.memory_per_chip_bytes == pytest.approx(result.best.memory_per_chip_bytes)


def test_no_legal_sharding_is_an_error():
    with pytest.raises(TpusimError, match="no legal sharding"):
        estimate(load_workload("palm-540b"), chips_per_slice=64, slices=1, global_batch_seqs=3)


def test_bad_remat_list():
    with pytest.raises(TpusimError, match="remat"):
        search(load_workload("palm-8b"), remats=("sometimes",))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_legal_sharding_gives_a_consistent_estimate(data):
    name = data.draw(st.sampled_from(["palm-8b", "maxtext-v4-22b", "gpt3-175b"]))
    wl = load_workload(name)
    t, f, dpi, p, mb = data.draw(st.sampled_from(shardings(wl)))
    remat = data.draw(st.sampled_from(REMATS))
    par = Parallelism(data=dpi * wl.system.slices, fsdp=f, tensor=t, pipeline=p, microbatches=mb)
    est = estimate(with_overrides(wl, remat=remat), parallelism=par)
    assert est.step_time_s > 0 and sum(est.breakdown.values()) == pytest.approx(est.step_time_s)
    assert all(v >= 0 for v in est.breakdown.values())
    # HFU counts what the chips execute: causal flash skips blocks above the diagonal, so it can be
    # below the full-attention MFU (6N + 12LHQT) but never below the causal-halved one
    assert 0 < est.mfu_by_convention["causal"] <= est.hfu < 1
    assert est.mfu_by_convention["params_only"] > 0
    assert est.memory_per_chip_bytes == pytest.approx(sum(est.memory_breakdown.values()))
    assert est.fits_in_hbm == (est.memory_per_chip_bytes <= est.hbm_bytes)


def test_results_turn_into_dataframes():
    import pandas as pd

    result = search(load_workload("palm-8b"), top=5)
    frame = result.to_frame()
    assert len(frame) == 5 and {"mfu", "step_time_s", "loses_by"} <= set(frame.columns)
    row = estimate(load_workload("palm-540b")).to_row()
    assert row["tensor"] == 12 and row["breakdown_dcn_s"] > 0
    assert pd.DataFrame([row]).shape[0] == 1


def test_divisors_are_found_in_square_root_time():
    """The microbatch counts of a replica's batch were found by trying every number up to the
    batch: `--global-batch 1000000000` ran for minutes. Same divisors, ascending."""
    from tpusim.workloads.search import _divisors

    for n in (1, 2, 12, 97, 360, 1024, 2 * 3 * 5 * 7 * 11):
        assert _divisors(n) == [d for d in range(1, n + 1) if n % d == 0]
    assert _divisors(10**9, 64) == [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64]
    est = estimate(load_workload("palm-8b"), global_batch_seqs=10**9)
    assert est.step_time_s > 0 and est.parallelism["microbatches"] <= MAX_MICROBATCHES
