"""VideoSearcher on the container host, as a user runs it: platform up --host container,
deploy the cold regime, process the sample video; the answer is the process host's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _cli(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vsbench.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=REPO)


def _essence(result: dict) -> dict:
    """What the application answered, without timings and ids."""
    return {
        "status": result["status"],
        "clips": [{"start_s": round(c["start_s"], 2), "end_s": round(c["end_s"], 2),
                   "transcript": c["transcript"],
                   "labels": sorted({d["label"] for f in c["frames"] for d in f["detections"]})}
                  for c in result["clips"]],
        "matches": [m["clip"] for m in result["matches"]],
    }


def _labelled(state_dir: Path) -> list[dict]:
    out = subprocess.run(["podman", "ps", "--format", "json", "--filter",
                          f"label=vsbench.platform={state_dir.resolve()}"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def test_sample_video_on_containers_matches_the_process_host(function_images, corpus_dir,
                                                             tmp_path):
    video = corpus_dir / "sample.mp4"
    env = {**os.environ, "VSB_PLATFORM_DIR": str(tmp_path / "platform")}
    # the process host, on a temporary platform (no platform is up in this folder yet)
    on_processes = _cli(env, "process", str(video), "--query", "motorcycle")
    assert on_processes.returncode == 0, on_processes.stderr[-800:]

    up = _cli(env, "platform", "up", "--host", "container")
    assert up.returncode == 0, up.stderr
    try:
        status = json.loads(_cli(env, "platform", "status", "--json").stdout)
        assert status["host"] == "container"
        deploy = _cli(env, "deploy", "--regime", "cold")
        assert deploy.returncode == 0, deploy.stderr
        assert function_images["asr"] in deploy.stderr  # deployed with the function's image
        assert _labelled(tmp_path / "platform") == []  # cold: nothing runs yet
        on_containers = _cli(env, "process", str(video), "--query", "motorcycle")
        assert on_containers.returncode == 0, on_containers.stderr[-800:]
        running = _labelled(tmp_path / "platform")
        names = {c["Labels"]["vsbench.function"] for c in running}
        # the last ones called are still up (earlier stages may have idled out already)
        assert {"orchestrator", "search"} <= names
        assert all(c["Image"] == function_images[c["Labels"]["vsbench.function"]]
                   for c in running)
        a, b = json.loads(on_processes.stdout), json.loads(on_containers.stdout)
        assert b["cold"] is True  # every stage waited for a container started for it
        assert all(st["cold"] >= 1 for st in b["timings"]["stages"].values()), b["timings"]
        assert _essence(b) == _essence(a)
        assert _essence(b)["matches"] and len(b["clips"]) == 5
        # the cold regime's keep-alive (10 s) passes: every container is removed
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and _labelled(tmp_path / "platform"):
            time.sleep(0.5)
        assert _labelled(tmp_path / "platform") == []
    finally:
        _cli(env, "platform", "down")
