"""The one interruptible process pool: `simulate` replications and sweep points run through it.

    for result in imap_unordered(func, items, workers):   # as each finishes, any order
        sink.write(result)

With `workers <= 1` (or one item) everything runs in this process, in order. Otherwise worker
processes, each with its own pipe to this process: this process sends a worker one item, the
worker sends back its result (or the exception it raised, re-raised here), and gets the next
item. Workers ignore SIGINT: Ctrl-C reaches this process only, which kills the workers at once
(no hang, no traceback from them) and re-raises KeyboardInterrupt; results already yielded are
the caller's to keep. An error, or the caller abandoning the iterator, kills the workers the same
way. On Linux a worker also dies when this process is killed outright (SIGKILL: it cannot clean
up), so no orphan runs on.

Why not `multiprocessing.Pool`: its workers share one result queue guarded by a lock between
processes; a worker killed while it holds that lock (in the middle of sending a result) leaves
it held, and `Pool.terminate()` then waits forever on its task-handler thread, which needs the
same lock (seen as a hung `sweep` test, interrupted while results were in flight). Here no lock
is shared: each worker owns its pipe, so killing workers can never block this process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

T = TypeVar("T")

PR_SET_PDEATHSIG = 1  # Linux prctl(2): a signal sent to this process when its parent dies
_STOP = ("stop", None)  # the message that ends a worker's loop


class WorkerDied(RuntimeError):
    """A worker process ended without sending its result (killed, or out of memory)."""


def _init_worker(parent_pid: int) -> None:
    """Workers leave Ctrl-C to the parent, which kills them; and die with the parent when it is
    killed outright (SIGKILL, the OOM killer), instead of living on as orphans."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _worker(func: Callable[[Any], Any], conn: Connection, parent_pid: int) -> None:
    """A worker's loop: receive ("item", x), send (True, func(x)) or (False, exception)."""
    _init_worker(parent_pid)
    while True:
        try:
            kind, item = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe
            return
        if kind == "stop":
            return
        try:
            reply = (True, func(item))
        except Exception as exc:  # re-raised in the parent
            reply = (False, exc)
        try:
            conn.send(reply)
        except Exception as exc:  # the exception (or result) cannot be pickled: send its text
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def imap_unordered(func: Callable[[Any], T], items: Iterable[Any], workers: int) -> Iterator[T]:
    """`func(item)` for every item, yielded as each finishes (see the module docstring).
    `func` must be a module-level function (it is pickled to the workers)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield func(item)
        return
    ctx = multiprocessing.get_context()
    procs: list[multiprocessing.process.BaseProcess] = []
    conns: list[Connection] = []
    finished = False
    try:
        for _ in range(min(workers, len(items))):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(func, theirs, os.getpid()), daemon=True)
            proc.start()
            theirs.close()  # only the worker holds its end: its death closes the pipe
            procs.append(proc)
            conns.append(mine)
        todo = iter(items)
        for conn in conns:  # one item each to start (no more workers than items, above)
            conn.send(("item", next(todo)))
        busy = set(conns)
        while busy:
            for conn in wait(list(busy)):
                try:
                    ok, value = conn.recv()
                except EOFError:
                    raise WorkerDied("a worker process ended without its result (killed, or out "
                                     "of memory?); rerun with fewer workers") from None
                if not ok:
                    raise value
                nxt = next(todo, _STOP)
                if nxt is _STOP:
                    conn.send(_STOP)
                    busy.discard(conn)
                else:
                    conn.send(("item", nxt))
                yield value
        finished = True
    finally:  # normal end: every worker got _STOP and exits; otherwise they are killed unfinished
        for proc in procs:
            if not finished:
                proc.kill()
            proc.join()
        for conn in conns:
            conn.close()
