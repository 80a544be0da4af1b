"""tpusim: a simulator and topology planner for distributed training on TPU pods.

    from tpusim import plan, estimate, simulate, sweep, report, validate
    plan(availability=0.995).to_frame()

The six functions (tpusim.api; report from tpusim.reports) and the result types load on
first use, so `import tpusim` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tpusim.data import tpusim_version
from tpusim.errors import TpusimError

__version__ = tpusim_version()  # pyproject.toml's version, read from the installed metadata
__all__ = ["SweepResult", "TpusimError", "__version__", "estimate", "plan", "report", "simulate",
           "sweep", "validate"]

_API = ("plan", "estimate", "simulate", "sweep", "validate", "SweepResult")

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them lazily
    from tpusim.api import SweepResult, estimate, plan, simulate, sweep, validate
    from tpusim.reports import report


def __getattr__(name: str) -> Any:
    if name in _API:
        from tpusim import api

        return getattr(api, name)
    if name == "report":
        from tpusim.reports import report

        return report
    raise AttributeError(f"module 'tpusim' has no attribute {name!r}")
