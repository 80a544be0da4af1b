"""One exception type for every input problem.

The message says what is wrong and how to fix it; the CLI prints it as one line on stderr
and exits with code 2. Library code raises, never prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TpusimError(ValueError):
    """Bad input: unknown names, malformed files, impossible shapes, out-of-range numbers."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> TpusimError:
    """An error for an unknown `kind` called `name`, suggesting the closest known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return TpusimError(
        f"unknown {kind} {name!r}; {hint + ' ' if hint else ''}known: {', '.join(known)}"
    )


def require_positive(where: str, name: str, value: float) -> float:
    """Return `value` if it is a finite number > 0, else raise a TpusimError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TpusimError(f"{where}: {name} must be a number, got {value!r}")
    if not value > 0 or value != value or value == float("inf"):
        raise TpusimError(f"{where}: {name} must be a positive finite number, got {value!r}")
    return value


def require_probability(where: str, name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return `value` if it lies in (0, 1] (or [0, 1] with allow_zero), else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TpusimError(f"{where}: {name} must be a number in (0, 1], got {value!r}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise TpusimError(
            f"{where}: {name} must lie in {interval}, got {value!r} "
            f"(write 99.5% as 0.995)"
        )
    return float(value)
