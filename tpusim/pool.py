"""The one interruptible process pool: `simulate` replications and sweep points run through it.

    for result in imap_unordered(func, items, workers):   # as each finishes, any order
        sink.write(result)

With `workers <= 1` (or one item) everything runs in this process, in order. Otherwise a
`multiprocessing` pool whose workers ignore SIGINT: Ctrl-C reaches this process only, which
terminates the workers at once (no hang, no traceback from them) and re-raises
KeyboardInterrupt; results already yielded are the caller's to keep. An error, or the caller
abandoning the iterator, terminates the workers the same way.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def imap_unordered(func: Callable[[Any], T], items: Iterable[Any], workers: int) -> Iterator[T]:
    """`func(item)` for every item, yielded as each finishes (see the module docstring).
    `func` must be a module-level function (it is pickled to the workers)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield func(item)
        return
    pool = multiprocessing.get_context().Pool(min(workers, len(items)), initializer=_ignore_sigint)
    try:
        yield from pool.imap_unordered(func, items)
        pool.close()
    except BaseException:  # Ctrl-C, an error, or the caller stopped: drop what is unfinished
        pool.terminate()
        raise
    finally:
        pool.join()
