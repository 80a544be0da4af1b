"""Sweeps on Ray: the same rows as the local process pool, in this process's Ray and from a
second process that connects to it by address (`--address`, and `RAY_ADDRESS`), without passing
resources. The test starts its own Ray (own temp dir, auth mode set on both sides) and stops
only that one (ray.shutdown); it never runs `ray stop`, which would stop every Ray on the machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tpusim.sweeps import load_sweep, point_id, points, read_rows, run_points

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]' "
                                        "(.ci/run installs it)")

REPO = Path(__file__).resolve().parent.parent
SWEEP = """[sweep]
kind = "estimate"
base = "palm-8b"

[grid]
chip = ["v4"]
chips_per_slice = [64, 128]
"global_batch_seqs" = [256, 512]
"""
ENV = {"RAY_AUTH_MODE": "disabled"}  # the same on the cluster and on every client (no token)


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU Ray started by this test process; yields its address; shut down afterwards."""
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a limit
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        mp.delenv("RAY_ADDRESS", raising=False)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ray") / "est.toml"
    path.write_text(SWEEP)
    return path


def _by_point(rows) -> dict[str, tuple]:
    return {r["point_id"]: (r["step_time_s"], r["mfu"], r["memory_per_chip_bytes"]) for r in rows}


def test_ray_rows_equal_the_process_pool(cluster, sweep_file):
    spec = load_sweep(sweep_file)
    todo = points(spec)
    local = [r for rows in run_points(spec, todo, backend="local", workers=2) for r in rows]
    on_ray = [r for rows in run_points(spec, todo, backend="ray") for r in rows]
    assert len(on_ray) == len(todo) == 4
    assert _by_point(on_ray) == _by_point(local)
    assert ray.is_initialized()  # a Ray this process started itself is left running


@pytest.mark.parametrize("how", ["--address", "RAY_ADDRESS"])
def test_cli_connects_to_a_running_cluster(cluster, sweep_file, tmp_path, how):
    out = tmp_path / "rows.jsonl"
    env = dict(os.environ, **ENV)
    args = [sys.executable, "-m", "tpusim", "sweep", str(sweep_file), "--backend", "ray",
            "--out", str(out), "--json"]
    if how == "--address":
        args += ["--address", cluster]
        env.pop("RAY_ADDRESS", None)
    else:
        env["RAY_ADDRESS"] = cluster
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["ran_points"] == 4
    spec = load_sweep(sweep_file)
    expected = {point_id(p) for p in points(spec)}
    assert set(_by_point(read_rows(out))) == expected


def test_address_needs_the_ray_backend(sweep_file):
    from tpusim.errors import TpusimError

    spec = load_sweep(sweep_file)
    with pytest.raises(TpusimError, match="address is for backend 'ray'"):
        run_points(spec, points(spec), backend="local", address="auto")
