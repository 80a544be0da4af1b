"""tpusim: a simulator and topology planner for distributed training on TPU pods."""

from tpusim.errors import TpusimError

__all__ = ["TpusimError"]
__version__ = "0.1.0"
