"""A run killed mid-way (SIGKILL, as a crashed job) leaves no process behind; SIGTERM leaves
no scratch folder either, and the folder SIGKILL leaves is swept by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:  # exited (or a zombie) since it was listed
        return ""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_experiment_leaves_no_orphans(tmp_path, sig):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["workloads"] = {"long": {"pattern": "steady", "rate": 0.5, "duration_s": 120}}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    scratch = tmp_path / "tmp"  # the run's TMPDIR: its scratch folder lands here
    scratch.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "vsbench.cli", "experiment", "--regime",
                             "warm", "--workload", "long", "--out", str(tmp_path / "out"),
                             "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "TMPDIR": str(scratch)})
    exp = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    family: list[psutil.Process] = []
    while time.monotonic() < deadline:  # the platform is up and every function has a replica
        family = exp.children(recursive=True)
        if sum("functions.runtime" in _cmdline(p) for p in family) >= 9:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the experiment's platform never came up")
    os.kill(proc.pid, sig)
    proc.wait(60)
    _, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, f"left behind: {[(p.pid, _cmdline(p)[:80]) for p in alive]}"
    assert not (tmp_path / "out" / "raw").exists()  # no half-written archive
    from vsbench.scratch import sweep_stale

    left = list(scratch.glob("vsb-exp-*"))
    if sig == signal.SIGTERM:
        assert left == []  # the run removed its own
    else:
        assert len(left) == 1 and sweep_stale(scratch) == left  # the next run's sweep
