"""The Kubernetes host on the local cluster: each function a Deployment the gateway scales,
replicas are its pods. Skipped (failed under VSB_REQUIRE_CLUSTER=1) when the cluster cannot
be had, naming what is missing."""

from __future__ import annotations

import json
import time

import pytest
import requests
from conftest import wait_for

from vsbench.errors import VsbError
from vsbench.platform.policy import ScalingPolicy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def noop_image(podman):
    from vsbench.images import image_for

    try:
        image = image_for("noop")
    except VsbError as exc:
        from conftest import _missing

        _missing(str(exc))
    return image


@pytest.fixture(scope="module")
def platform(local_cluster, noop_image, tmp_path_factory):
    from vsbench.platform.embedded import EmbeddedPlatform

    with EmbeddedPlatform(tmp_path_factory.mktemp("kplatform"), host="kubernetes",
                          kubeconfig=local_cluster) as p:
        yield p
    assert pods(p) == [], "the platform's stop left pods behind"
    assert p.provider.apps.list_namespaced_deployment(
        p.provider.namespace, label_selector=selector(p)).items == []


def selector(platform) -> str:
    return f"vsbench.platform={platform.provider.platform_id}"


def pods(platform, function: str = "noop") -> list:
    prov = platform.provider
    return [p for p in prov.core.list_namespaced_pod(
        prov.namespace, label_selector=f"{selector(platform)},vsbench.function={function}").items
        if p.metadata.deletion_timestamp is None]


def deployment(platform, function: str = "noop"):
    prov = platform.provider
    return prov.apps.read_namespaced_deployment(f"vsb-{function}", prov.namespace)


def invoke(platform, timeout=120):
    return requests.post(f"{platform.gateway_url}/function/noop", timeout=timeout,
                         json={"request_id": "t", "stage": "noop", "config": {}})


def test_cold_regime_scales_a_deployment_from_zero_and_back(platform, noop_image):
    policy = ScalingPolicy(min_replicas=0, max_replicas=2, idle_timeout_s=2.0,
                           memory_mb=128).validate()
    platform.admin().deploy("noop", policy, noop_image)
    dep = deployment(platform)
    assert dep.spec.replicas == 0 and pods(platform) == []  # deployed, nothing runs
    container = dep.spec.template.spec.containers[0]
    assert container.resources.limits["memory"] == "128Mi"
    assert container.readiness_probe.http_get.path == "/_/ready"
    assert container.image_pull_policy == "Never" and container.image == noop_image
    assert not container.env or all(e.name == "VSB_REPLICA_ID" for e in container.env)

    r = invoke(platform)
    assert r.status_code == 200, r.text
    assert r.headers["X-Vsb-Cold"] == "1"
    rid = r.headers["X-Vsb-Replica"]
    [pod] = pods(platform)
    assert deployment(platform).spec.replicas == 1
    assert pod.status.pod_ip.startswith("10.244.0.")  # on the pod bridge
    replica = platform.gateway.pools["noop"].ready()[0].replica
    wait_for(lambda: replica.rss_mb() > 0, what="the pod's cgroup memory")
    assert 1 < replica.rss_mb() < 128  # its own cgroup, found through its host pid
    warm = invoke(platform)
    assert warm.status_code == 200 and warm.headers["X-Vsb-Cold"] == "0"
    assert warm.headers["X-Vsb-Replica"] == rid

    # The pod goes first and the count follows it (kubernetes_replica's doc): wait for both.
    wait_for(lambda: pods(platform) == [] and deployment(platform).spec.replicas == 0,
             timeout=60, what="pod gone and the count at 0 after the idle timeout")
    [rec] = platform.logs.replicas.where(replica_id=rid)
    assert rec["host"] == "kubernetes" and rec["stop_reason"] == "idle"
    assert rec["pod"] == pod.metadata.name
    order = [rec["spawn_ts"], rec["pod_created_ts"], rec["scheduled_ts"],
             rec["process_start_ts"], rec["runtime_up_ts"], rec["ready_ts"], rec["stop_ts"]]
    assert None not in order and order == sorted(order), order
    assert rec["scheduled_ts"] < rec["address_seen_ts"] < rec["stop_ts"]
    # the pod's own record, in whole seconds: scheduled, sandbox ready, container started
    conds = rec["pod_conditions"]
    assert {"PodScheduled", "PodReadyToStartContainers"} <= set(conds)
    assert int(rec["spawn_ts"]) <= conds["PodScheduled"] <= rec["ready_ts"]
    assert conds["PodScheduled"] <= conds["PodReadyToStartContainers"] <= rec["ready_ts"]
    assert int(rec["spawn_ts"]) <= rec["container_started_at"] <= rec["ready_ts"]
    events = [e["reason"] for e in platform.logs.scale_events.where(function="noop")]
    assert "idle" in events
    platform.admin().remove("noop")


def test_scale_down_deletes_the_stopped_replicas_pod_and_no_other(platform, noop_image):
    """Two replicas, scaled to one through the API: the ReplicaSet deletes exactly the pod
    of the replica the pool stopped (its deletion cost), and the other serves on."""
    policy = ScalingPolicy(min_replicas=1, max_replicas=2, idle_timeout_s=None,
                           memory_mb=128).validate()
    admin = platform.admin()
    admin.deploy("noop", policy, noop_image)
    admin.scale("noop", 2)
    pool = platform.gateway.pools["noop"]
    wait_for(lambda: len(pool.ready()) == 2, timeout=120, what="two ready replicas")
    before = {s.replica.replica_id: s.replica.pod.name for s in pool.ready()}
    assert {p.metadata.name for p in pods(platform)} == set(before.values())
    admin.scale("noop", 1)
    wait_for(lambda: len(pods(platform)) == 1, timeout=60, what="one pod left")
    [kept] = pool.ready()
    [stopped] = set(before) - {kept.replica.replica_id}
    assert [p.metadata.name for p in pods(platform)] == [kept.replica.pod.name]
    [rec] = platform.logs.replicas.where(replica_id=stopped)
    assert rec["pod"] == before[stopped] and rec["stop_reason"] != "died"
    assert deployment(platform).spec.replicas == 1
    r = invoke(platform)
    assert r.status_code == 200 and r.headers["X-Vsb-Replica"] == kept.replica.replica_id
    admin.remove("noop")
    wait_for(lambda: pods(platform) == [], timeout=60, what="pods gone after remove")


def test_a_deleted_pod_is_a_dead_replica(platform, noop_image):
    policy = ScalingPolicy(min_replicas=1, max_replicas=1, idle_timeout_s=None,
                           memory_mb=128).validate()
    admin = platform.admin()
    admin.deploy("noop", policy, noop_image)
    admin.wait_available(["noop"])
    pool = platform.gateway.pools["noop"]
    [slot] = pool.ready()
    slot.replica.kill()
    wait_for(lambda: not slot.replica.alive(), timeout=30, what="replica seen dead")
    rid = slot.replica.replica_id
    died = lambda: platform.logs.scale_events.where(function="noop",  # noqa: E731
                                                    reason="replica_died", replica=rid)
    wait_for(lambda: died(), timeout=30, what="replica_died event")
    # min 1: a new replica comes up, on a new pod
    wait_for(lambda: pool.ready() and pool.ready()[0] is not slot, timeout=120,
             what="replacement ready")
    assert pool.ready()[0].replica.pod.name != slot.replica.pod.name
    r = invoke(platform)
    assert r.status_code == 200, r.text
    admin.remove("noop")
    wait_for(lambda: pods(platform) == [], timeout=60, what="pods gone after remove")
    assert "pod deleted" in died()[0]["exit_reason"]


def test_histogram_keepalive_deletes_the_pod_between_calls_and_prewarms_one(
        platform, noop_image):
    """The same keep-alive code as the process host, on pods: calls 6 s apart; once the
    histogram has 3 idle times, each call ends with the pod deleted at once, and the
    pre-warm window (its bin's edge less the 50 % margin, about 3 s later) starts a new pod
    that is ready for the next call (a pod starts in under a second here)."""
    policy = ScalingPolicy(min_replicas=0, max_replicas=1, idle_timeout_s=30, memory_mb=128,
                           keepalive={"policy": "histogram", "bin_s": 1, "range_s": 30,
                                      "min_samples": 3, "margin": 0.5, "min_cv": 1}).validate()
    admin = platform.admin()
    admin.deploy("noop", policy, noop_image)
    before = len(platform.logs.scale_events.where(function="noop"))
    seen = len(platform.logs.replicas.where(function="noop"))
    starts, rids = [], []
    for i in range(7):
        t0 = time.monotonic()
        r = invoke(platform)
        assert r.status_code == 200, r.text
        starts.append(r.headers["X-Vsb-Start"])
        rids.append(r.headers["X-Vsb-Replica"])  # its pod may already be gone: stop at once
        if i < 6:
            time.sleep(max(0.0, 6.0 - (time.monotonic() - t0)))
    events = [e["reason"] for e in platform.logs.scale_events.where(function="noop")[before:]]
    assert starts[0] == "scale_from_zero" and starts[4:] == ["warm"] * 3, starts
    assert events[1:7] == ["idle", "keepalive_prewarm"] * 3, events
    stopped = [r for r in platform.logs.replicas.where(function="noop")[seen:]
               if r["stop_reason"] == "idle"]
    assert len(stopped) >= 3 and all(r["host"] == "kubernetes" for r in stopped)
    assert all(r["idle_timeout_s"] == 0.0 for r in stopped[-3:])
    admin.remove("noop")
    wait_for(lambda: pods(platform) == [], timeout=60, what="pods gone after remove")
    pod_of = lambda: {r["replica_id"]: r["pod"]  # noqa: E731
                      for r in platform.logs.replicas.where(function="noop")}
    wait_for(lambda: set(rids) <= set(pod_of()), timeout=30, what="every replica recorded")
    assert len({pod_of()[rid] for rid in rids[4:]}) == 3  # a new pod for each of the last three


def test_an_openfaas_template_image_runs_as_its_own_pods(platform, podman):
    """Any image, run as OpenFaaS runs it: its entrypoint on port 8080, ready on /_/health,
    method, path, query and body passed through."""
    import openfaas_template

    image = openfaas_template.build(podman.exe)
    auth = platform.auth.as_tuple()
    r = requests.post(f"{platform.gateway_url}/system/functions", auth=auth,
                      json={"service": "echo", "image": image})
    assert r.status_code == 202, r.text
    try:
        platform.admin().wait_available(["echo"], timeout_s=300)
        container = deployment(platform, "echo").spec.template.spec.containers[0]
        assert container.readiness_probe.http_get.path == "/_/health" and not container.args
        assert {e.name: e.value for e in container.env}.get("port") == "8080"
        r = requests.put(f"{platform.gateway_url}/function/echo.openfaas-fn/p?q=1", data=b"x",
                         timeout=120)
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["method"], got["path"], got["query"], got["body"]) == (
            "PUT", "/p", {"q": "1"}, "x")
        assert got["hostname"] == pods(platform, "echo")[0].metadata.name  # ran in the pod
        r = requests.get(f"{platform.gateway_url}/system/logs?name=echo&tail=5", auth=auth)
        entries = [json.loads(line) for line in r.text.splitlines()]
        assert any("upstream ready" in e["text"] for e in entries), entries
        assert entries[0]["instance"] == got["hostname"] and entries[0]["timestamp"]
    finally:
        platform.admin().remove("echo")
