"""``vsbench platform up|status|down``, ``vsbench deploy`` and ``process`` on a running platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

pytestmark = pytest.mark.slow


def _vsbench(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "vsbench.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_platform_lifecycle_through_the_cli(tmp_path, corpus_dir):
    env = {**os.environ, "VSB_PLATFORM_DIR": str(tmp_path / "platform")}
    assert _vsbench(env, "platform", "status").returncode == 1  # nothing running yet
    up = _vsbench(env, "platform", "up")
    assert up.returncode == 0, up.stderr
    try:
        status = json.loads(_vsbench(env, "platform", "status", "--json").stdout)
        assert {"gateway_url", "s3_url", "basic_auth_file"} <= set(status)
        assert status["healthy"] is True and status["functions"] == []
        user, _, password = open(status["basic_auth_file"]).read().strip().partition(":")
        assert user and len(password) >= 16

        deploy = _vsbench(env, "deploy", "--regime", "warm")
        assert deploy.returncode == 0, deploy.stderr
        # One clip at a time: each function sees one call at once, which its min replica
        # serves, so the request is warm (clips in parallel would scale some stages out).
        proc = _vsbench(env, "process", str(corpus_dir / "short.mp4"), "--query", "cat",
                        "--config", '{"max_parallel_clips": 1}')
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["status"] == "ok" and result["cold"] is False

        status = json.loads(_vsbench(env, "platform", "status", "--json").stdout)
        fns = {f["name"]: f for f in status["functions"]}
        assert fns["orchestrator"]["invocationCount"] == 1
        assert all(f["availableReplicas"] >= 1 for f in fns.values())
        assert fns["asr"]["image"].startswith("vsbench/asr:")  # the build fingerprint
        daemon = psutil.Process(status["pid"])
        children = daemon.children(recursive=True)
        assert len(children) >= 10  # S3 server + one replica per function
    finally:
        down = _vsbench(env, "platform", "down")
    assert down.returncode == 0 and "platform down" in down.stdout
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphans: {[p.pid for p in alive]}"
    assert _vsbench(env, "platform", "status").returncode == 1


def test_deploy_without_platform_is_one_clear_line(tmp_path):
    env = {**os.environ, "VSB_PLATFORM_DIR": str(tmp_path / "none")}
    proc = _vsbench(env, "deploy", "--regime", "cold")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("vsbench deploy: error: no platform running; start one "
                                   "with: vsbench platform up")
