"""The gateway's OpenFaaS API on the process host: namespaces, bad bodies, scale, async,
secrets and records, as OpenFaaS documents them (the container host and schemathesis:
tests/test_openapi_conformance.py)."""

from __future__ import annotations

import json

import pytest
import requests
from conftest import wait_for

from vsbench.platform.embedded import EmbeddedPlatform
from vsbench.platform.policy import ScalingPolicy

ENVELOPE = {"request_id": "t", "stage": "noop", "config": {}}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with EmbeddedPlatform(tmp_path_factory.mktemp("apiplatform")) as p:
        p.admin().deploy("noop", ScalingPolicy(min_replicas=1, max_replicas=2,
                                               idle_timeout_s=None, memory_mb=256), "x")
        p.admin().wait_available(["noop"])
        yield p


def system(platform, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{platform.gateway_url}{path}",
                            auth=platform.auth.as_tuple(), timeout=30, **kw)


@pytest.mark.parametrize("body, field", [
    ({"functionName": [None]}, "service"),
    ([1, 2], "JSON object"),
    ({"service": "a", "image": "x", "limits": "lots"}, "limits"),
    ({"service": "a", "image": "x", "labels": ["a"]}, "labels"),
    ({"service": "a", "image": "x", "envVars": "a"}, "envVars"),
    ({"service": "a", "image": "x", "envVars": {"k": 1}}, "envVars.k"),
    ({"service": "a", "image": "x", "secrets": "s"}, "secrets"),
    ({"service": "a", "image": "x", "namespace": None}, "namespace"),
    ({"service": "a", "image": "x", "limits": {"memory": "lots"}}, "memory"),
    ({"service": "a", "image": "x", "readOnlyRootFilesystem": "yes"}, "readOnlyRoot"),
    ({"service": "A_b", "image": "x"}, "not a valid name"),
    ({"service": "a", "image": 3}, "image"),
    ({"service": "a", "image": "x", "labels": {"com.openfaas.scale.min": "lots"}}, "min"),
])
def test_malformed_deploy_bodies_are_400_naming_the_field(platform, body, field):
    r = system(platform, "POST", "/system/functions", json=body)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]


def test_malformed_update_and_delete_bodies_are_400(platform):
    r = system(platform, "PUT", "/system/functions", json={"service": "noop", "image": "x",
                                                             "limits": "lots"})
    assert r.status_code == 400 and "limits" in r.text
    for body in ({"functionName": [None]}, {"functionName": "noop", "namespace": 3}, "x"):
        r = system(platform, "DELETE", "/system/functions", json=body)
        assert r.status_code == 400, (body, r.text)
    r = system(platform, "DELETE", "/system/functions", data=b"{not json")
    assert r.status_code == 400 and "not JSON" in r.text
    assert system(platform, "DELETE", "/system/functions",
                  json={"functionName": "Not/A.name"}).status_code == 404


@pytest.mark.parametrize("replicas", ["2", 1.9, 2**63, -1, True, None])
def test_scale_takes_only_an_integer_in_range(platform, replicas):
    r = system(platform, "POST", "/system/scale-function/noop",
               json={"serviceName": "noop", "namespace": "openfaas-fn", "replicas": replicas})
    assert r.status_code == 400 and "replicas" in r.text


def test_scale_as_the_go_types_send_it(platform):
    # faas-provider's ScaleServiceRequest leaves an empty namespace out (omitempty)
    r = system(platform, "POST", "/system/scale-function/noop",
               json={"serviceName": "noop", "replicas": 2**63 - 1})
    assert r.status_code == 202 and r.json()["replicas"] == 2  # clamped to max
    wait_for(lambda: platform.admin().function("noop")["availableReplicas"] == 2, what="2")
    assert platform.admin().scale("noop", 0)["replicas"] == 1  # min
    assert system(platform, "POST", "/system/scale-function/nope",
                  json={"serviceName": "nope", "replicas": 1}).status_code == 404


def test_unsupported_methods_are_405(platform):
    assert system(platform, "PATCH", "/system/functions").status_code == 405
    assert system(platform, "DELETE", "/system/info").status_code == 405
    assert requests.request("TRACE", f"{platform.gateway_url}/function/noop").status_code == 405


def test_namespaces_other_than_the_default(platform):
    body = ScalingPolicy(min_replicas=0, max_replicas=1, idle_timeout_s=None,
                         memory_mb=256).to_deployment("noop", "x")
    body["namespace"] = "team-a"
    assert system(platform, "POST", "/system/functions", json=body).status_code == 202
    try:
        assert system(platform, "POST", "/system/functions", json=body).status_code == 409
        assert system(platform, "GET", "/system/namespaces").json() == ["openfaas-fn",
                                                                        "team-a"]
        r = requests.post(f"{platform.gateway_url}/function/noop.team-a", json=ENVELOPE,
                          timeout=60)
        assert r.status_code == 200, r.text
        assert r.headers["X-Vsb-Replica"] == "noop.team-a-0"  # its own pool, not noop's
        listed = system(platform, "GET", "/system/functions?namespace=team-a").json()
        assert [(f["name"], f["namespace"]) for f in listed] == [("noop", "team-a")]
        r = system(platform, "POST", "/system/scale-function/noop?namespace=team-a",
                   json={"serviceName": "noop", "replicas": 0})
        assert r.status_code == 202 and r.json()["namespace"] == "team-a"
        one = system(platform, "GET", "/system/function/noop?namespace=team-a").json()
        assert one["namespace"] == "team-a" and one["invocationCount"] == 1
        metrics = requests.get(f"{platform.gateway_url}/metrics").text
        assert 'gateway_function_invocation_total{function_name="noop.team-a",code="200"} 1' \
            in metrics
    finally:
        r = system(platform, "DELETE", "/system/functions",
                   json={"functionName": "noop", "namespace": "team-a"})
        assert r.status_code == 200
    assert system(platform, "GET", "/system/function/noop").status_code == 200  # untouched


def test_records_keep_what_the_deploy_said(platform):
    body = {"service": "rec", "image": "img:1", "envProcess": "python index.py",
            "annotations": {"a": "1"}, "constraints": ["x == y"],
            "labels": {"com.openfaas.scale.min": "0", "team": "b"},
            "limits": {"memory": "64Mi"}, "requests": {"memory": "32Mi"}}
    assert system(platform, "POST", "/system/functions", json=body).status_code == 202
    try:
        got = system(platform, "GET", "/system/function/rec").json()
        for key in ("image", "envProcess", "annotations", "constraints", "requests"):
            assert got[key] == body[key]
        assert got["labels"]["team"] == "b" and got["limits"] == {"memory": "64Mi"}
        assert got["namespace"] == "openfaas-fn" and got["createdAt"].endswith("Z")
        assert got["vsbench"]["policy"]["memory_mb"] == 64
    finally:
        system(platform, "DELETE", "/system/functions", json={"functionName": "rec"})
    # no scale labels: OpenFaaS's minimum of one replica
    assert system(platform, "POST", "/system/functions",
                  json={"service": "dflt", "image": "x"}).status_code == 202
    try:
        assert system(platform, "GET", "/system/function/dflt").json()[
            "vsbench"]["policy"]["min_replicas"] == 1
    finally:
        system(platform, "DELETE", "/system/functions", json={"functionName": "dflt"})


def test_secrets_never_show_their_values(platform):
    assert system(platform, "POST", "/system/secrets",
                  json={"name": "tok", "rawValue": "aGk="}).status_code == 201
    assert system(platform, "PUT", "/system/secrets",
                  json={"name": "tok", "value": "new"}).status_code == 200
    assert system(platform, "PUT", "/system/secrets",
                  json={"name": "none", "value": "x"}).status_code == 404
    assert system(platform, "POST", "/system/secrets",
                  json={"name": "bad", "rawValue": "%%%"}).status_code == 400
    listed = system(platform, "GET", "/system/secrets").text
    assert "new" not in listed and json.loads(listed) == [{"name": "tok",
                                                          "namespace": "openfaas-fn"}]
    path = platform.state_dir / "secrets" / "openfaas-fn" / "tok"
    assert path.read_text() == "new" and oct(path.stat().st_mode & 0o777) == "0o600"
    assert system(platform, "DELETE", "/system/secrets", json={"name": "tok"}).status_code == 204
    assert system(platform, "DELETE", "/system/secrets", json={"name": "tok"}).status_code == 404


def test_async_queue_is_bounded(platform, monkeypatch):
    """Beyond its bound the async queue answers 429 with Retry-After; queued calls run."""
    gw = platform.gateway
    q = gw.asyncq
    old_workers = list(q._tasks)
    gw.call(q.stop)  # no workers: calls stay queued
    monkeypatch.setattr(q.queue, "_maxsize", 2)
    try:
        codes = [requests.post(f"{platform.gateway_url}/async-function/noop", json=ENVELOPE,
                               timeout=10) for _ in range(3)]
        assert [r.status_code for r in codes] == [202, 202, 429]
        assert codes[2].headers["Retry-After"] == "1" and "queue" in codes[2].text
    finally:
        q.queue._maxsize = q.limit
        gw._loop.call_soon_threadsafe(q.start_workers)
    wait_for(lambda: q.queue.empty() and q.done >= 2, timeout=60,
             what="the queued calls to run")
    assert old_workers and all(t.done() for t in old_workers)
    assert q.limit == 1000  # the default bound (VSB_ASYNC_QUEUE)
    assert all(r["status"] == 200 for r in platform.logs.async_calls.records[-2:])
