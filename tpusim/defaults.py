"""The one default of each setting that the library, the CLI, sweeps, charts and reports share.

Library functions take these as their keyword defaults; the CLI shows them as its option
defaults; a sweep point that does not set a key gets the same value. Change a default here
and every way of asking the same question still gives the same numbers.
"""

from __future__ import annotations

POD_CHIPS = 4096  # tpusim plan: the TPU v4 pod
HOST_AVAILABILITY = 0.995  # tpusim plan
# Static-torus Monte Carlo failure patterns per slice size: 95% intervals of about +-0.07 on
# P(schedulable) and +-0.03 on goodput in ~0.5 s; pass samples=10000 for report-quality bands.
PLAN_SAMPLES = 200
SEED = 0  # planner patterns; simulate uses the scenario's own seed unless one is given
SEARCH_TOP = 15  # tpusim estimate --search: rows of the ranking kept
SWEEP_BACKEND = "local"  # process pool; "ray" for a Ray cluster
