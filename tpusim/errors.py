"""One exception type for every input problem.

The message says what is wrong and how to fix it; the CLI prints it as one line on stderr
and exits with code 2. Library code raises, never prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TpusimError(ValueError):
    """Bad input: unknown names, malformed files, impossible shapes, out-of-range numbers.

    Library messages name the Python parameter (`n_slices must be >= 1`); `params` lists the
    parameter names the message mentions, and the CLI rewrites each as its flag (`--slices`).
    """

    def __init__(self, message: str, *, params: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.params = tuple(params)


def unknown_name(kind: str, name: str, known: Iterable[str], *, note: str = "") -> TpusimError:
    """An error for an unknown `kind` called `name`, suggesting the closest known names;
    `note` (if any) follows the name in parentheses."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    note = f" ({note})" if note else ""
    return TpusimError(
        f"unknown {kind} {name!r}{note}; {hint + ' ' if hint else ''}known: {', '.join(known)}"
    )
