"""`estimate(workload)`: the facade. Step time, tokens/s, MFU, HFU and memory of a workload on
its system, with the file's sharding or the best one the search finds.

MFU = model FLOPs per token (6N + 12LHQT) x tokens/s / (chips x peak), PaLM App. B;
HFU counts the rematerialised FLOPs too. One sharding is evaluated by `sharding.estimate_one`;
the search (`search.py`) sits between the two, so this module is the only one that imports it.
"""

from __future__ import annotations

from dataclasses import replace

from tpusim.errors import TpusimError
from tpusim.workloads.config import Parallelism, Workload, with_overrides
from tpusim.workloads.search import search
from tpusim.workloads.sharding import Estimate, estimate_one

__all__ = ["Estimate", "estimate"]


def estimate(
    wl: Workload,
    *,
    chip: str | None = None,
    chips_per_slice: int | None = None,
    slices: int | None = None,
    slice_shape: str | None = None,
    global_batch_seqs: int | None = None,
    remat: str | None = None,
    parallelism: Parallelism | None = None,
) -> Estimate:
    """Estimate `wl` (overrides replace the file's values).

    The sharding is `parallelism`, else the file's [parallelism] (data scaled with the slices
    when only the slice count changed), else the best one found by the search with the file's
    remat policy (any policy if none fits with it); searches are cached per workload. When no
    sharding fits in HBM, the one needing the least memory is returned with fits_in_hbm False.
    """
    wl2 = with_overrides(
        wl,
        chip=chip,
        chips_per_slice=chips_per_slice,
        slices=slices,
        slice_shape=slice_shape,
        global_batch_seqs=global_batch_seqs,
        remat=remat,
    )
    par = parallelism if parallelism is not None else _file_parallelism(wl, wl2)
    if par is None:
        # keep the file's remat policy; try the others only if nothing fits with it
        result = search(wl2, top=1, remats=(wl2.training.remat,))
        if not result.rows:
            result = search(wl2, top=1)
        if result.best is None:
            raise TpusimError(
                f"{wl2.name} has no legal sharding on {wl2.system.chips} chips; check that the "
                f"batch ({wl2.training.global_batch_seqs} sequences) divides among the chips"
            )
        return result.best  # when nothing fits: the sharding closest to fitting, fits_in_hbm False
    return estimate_one(wl2, par)


def _file_parallelism(wl: Workload, wl2: Workload) -> Parallelism | None:
    par = wl.parallelism
    if par is None:
        return None
    s1, s2 = wl.system, wl2.system
    if s1.chips_per_slice != s2.chips_per_slice:
        return None  # the in-slice sharding was for another slice size: search
    if s1.slices != s2.slices and par.data % s1.slices == 0:
        par = replace(par, data=par.data // s1.slices * s2.slices)
    return par
