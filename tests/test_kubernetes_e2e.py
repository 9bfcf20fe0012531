"""VideoSearcher on the local cluster, as a user runs it: platform up --host kubernetes,
deploy the cold regime (Deployments at zero pods), process the sample video (a pod per stage
is created), the answer is the process host's, and after the keep-alive every pod is gone."""

from __future__ import annotations

import json
import time

import pytest
from test_container_e2e import _cli, _essence

pytestmark = pytest.mark.slow


def _pods(kubeconfig, state_dir) -> list:
    import hashlib

    from vsbench.cluster.local import api_client
    from vsbench.platform.kubernetes_provider import NAMESPACE

    api, client = api_client(kubeconfig)
    platform_id = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return [p for p in client.CoreV1Api(api).list_namespaced_pod(
        NAMESPACE, label_selector=f"vsbench.platform={platform_id}").items
        if p.metadata.deletion_timestamp is None]


def test_sample_video_on_kubernetes_matches_the_process_host(local_cluster, function_images,
                                                             corpus_dir, tmp_path):
    video = corpus_dir / "sample.mp4"
    state = tmp_path / "platform"
    env = {"VSB_PLATFORM_DIR": str(state)}
    import os

    env = {**os.environ, **env}
    on_processes = _cli(env, "process", str(video), "--query", "motorcycle")
    assert on_processes.returncode == 0, on_processes.stderr[-800:]

    up = _cli(env, "platform", "up", "--host", "kubernetes", "--kubeconfig", str(local_cluster))
    assert up.returncode == 0, up.stderr
    try:
        status = json.loads(_cli(env, "platform", "status", "--json").stdout)
        assert status["host"] == "kubernetes" and status["gateway_url"].startswith(
            "http://10.244.0.1:")
        deploy = _cli(env, "deploy", "--regime", "cold")
        assert deploy.returncode == 0, deploy.stderr
        assert _pods(local_cluster, state) == []  # cold: Deployments at zero
        on_pods = _cli(env, "process", str(video), "--query", "motorcycle")
        assert on_pods.returncode == 0, on_pods.stderr[-800:]
        running = _pods(local_cluster, state)
        names = {p.metadata.labels["vsbench.function"] for p in running}
        assert {"orchestrator", "search"} <= names  # the last called are still up
        assert all(p.spec.containers[0].image == function_images[
            p.metadata.labels["vsbench.function"]] for p in running)
        a, b = json.loads(on_processes.stdout), json.loads(on_pods.stdout)
        assert b["cold"] is True
        assert all(st["cold"] >= 1 for st in b["timings"]["stages"].values()), b["timings"]
        assert _essence(b) == _essence(a)
        assert _essence(b)["matches"] and len(b["clips"]) == 5
        deadline = time.monotonic() + 60  # the cold regime's keep-alive is 10 s
        while time.monotonic() < deadline and _pods(local_cluster, state):
            time.sleep(0.5)
        assert _pods(local_cluster, state) == []
    finally:
        _cli(env, "platform", "down")
