"""The models against published numbers: one table of published figures
(`published.FIGURES`), each with its source, tolerance and a recipe that computes the model's
value through the library; `validate()` checks them (`tpusim validate`), and the validation
tests read the same table.

>>> from tpusim.validation import figure
>>> figure("palm-540b-mfu").published
0.462
"""

from tpusim.validation.figure import Check, Context, Figure, Measured, Tolerance, check
from tpusim.validation.published import AREAS, FIGURES
from tpusim.validation.run import ValidationResult, figure, figures, parse_areas, validate

__all__ = ["AREAS", "FIGURES", "Check", "Context", "Figure", "Measured", "Tolerance",
           "ValidationResult", "check", "figure", "figures", "parse_areas", "validate"]
