"""DLRM (embedding) performance model: tables on SparseCores, TensorCores or the host.

>>> from tpusim.workloads.dlrm import load_dlrm, estimate_dlrm
>>> est = estimate_dlrm(load_dlrm("dlrm-dcnv2"))
>>> est.placement, est.slice_shape, est.twisted
('sparsecore', '4x8x8', True)
>>> round(sum(est.breakdown_s.values()) / est.step_time_s, 9)
1.0
"""

from tpusim.workloads.dlrm.config import DlrmWorkload, load_dlrm
from tpusim.workloads.dlrm.estimate import (
                                           DlrmEstimate,
                                           PlacementComparison,
                                           compare_placements,
                                           estimate_dlrm,
)
from tpusim.workloads.dlrm.search import DlrmSearchResult, search_dlrm

__all__ = ["DlrmEstimate", "DlrmSearchResult", "DlrmWorkload", "PlacementComparison", "compare_placements",
           "estimate_dlrm", "load_dlrm", "search_dlrm"]
