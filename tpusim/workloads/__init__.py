"""Dense-LLM performance model: parameters, FLOPs, memory, sharding, step time, search.

>>> from tpusim.workloads import load_workload, estimate
>>> est = estimate(load_workload("palm-540b"))
>>> round(est.mfu, 2)  # doctest: +SKIP
"""

from tpusim.workloads.config import Parallelism, Workload, load_workload
from tpusim.workloads.estimator import Estimate, estimate

__all__ = ["Estimate", "Parallelism", "Workload", "estimate", "load_workload"]
