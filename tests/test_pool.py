"""The interruptible process pool (tpusim/pool.py): results, errors, abandonment and dead
workers, none of which may leave a worker running or hang this process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from tpusim.pool import WorkerDied, imap_unordered


def _square(x: int) -> int:
    return x * x


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def _die_on_three(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return x


def _slow(x: int) -> int:
    time.sleep(0.05)
    return x


def _no_workers_left() -> bool:
    return not multiprocessing.active_children()


def test_every_item_once_whatever_the_order():
    got = list(imap_unordered(_square, range(20), workers=2))
    assert sorted(got) == [x * x for x in range(20)]


def test_one_worker_runs_in_this_process_in_order():
    assert list(imap_unordered(_square, [3, 1, 2], workers=1)) == [9, 1, 4]


def test_an_error_in_a_worker_is_raised_here_and_the_workers_stop():
    with pytest.raises(ValueError, match="three"):
        list(imap_unordered(_fail_on_three, range(10), workers=2))
    assert _no_workers_left()


def test_a_killed_worker_is_an_error_not_a_hang():
    with pytest.raises(WorkerDied, match="fewer workers"):
        list(imap_unordered(_die_on_three, range(10), workers=2))
    assert _no_workers_left()


@pytest.mark.parametrize("repeat", range(5))
def test_abandoning_the_iterator_with_results_in_flight_kills_the_workers(repeat):
    # Ctrl-C in the caller (a progress callback raising KeyboardInterrupt) while the other
    # worker is mid-item: multiprocessing.Pool could hang here (its shared result lock held by a
    # killed worker); the pool must come back at once, with no worker left
    it = imap_unordered(_slow, range(50), workers=2)
    first = next(it)
    assert first in range(50)
    t0 = time.monotonic()
    it.close()  # what a KeyboardInterrupt raised by the consumer does to the generator
    assert time.monotonic() - t0 < 5.0
    assert _no_workers_left()


def test_a_dead_worker_is_one_line_and_exit_1_on_the_command_line(tmp_path, monkeypatch):
    # the CLI's one error handler (tpusim/cli/__init__.py): not bad input (exit 2), a failed run
    from conftest import run_main

    import tpusim.sweeps

    def dead(*_args, **_kwargs):
        raise WorkerDied("a worker process ended without its result")

    monkeypatch.setattr(tpusim.sweeps, "imap_unordered", dead)
    spec = tmp_path / "sweep.toml"
    spec.write_text('[sweep]\nkind = "estimate"\nbase = "workloads/palm-8b.toml"\n[grid]\n'
                    "global_batch_seqs = [128, 256]\n")
    result = run_main("sweep", str(spec), "--out", str(tmp_path / "rows.csv"), "--workers", "2")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "worker process ended" in result.stderr
    assert "Traceback" not in result.stderr
