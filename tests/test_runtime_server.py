"""The function runtime (watchdog): readiness, the invoke route, errors, telemetry."""

import json
import threading
import types

import pytest
import requests

from functions.runtime.server import Replica
from functions.runtime.telemetry import TelemetrySink
from vsbench.platform.process_replica import ProcessReplica


def test_not_ready_until_init_done(tmp_path):
    rep = Replica("search", "r-1", store=None, sink=TelemetrySink(None))
    status, body = rep.invoke({"request_id": "a", "stage": "search"})
    assert status == 503 and body["error"]["kind"] == "not_ready"
    assert body["error"]["retryable"] is True
    rep.initialise({})
    assert rep.ready.is_set() and rep.lifecycle.init_done_ts is not None


def test_failed_init_is_reported_and_never_ready(monkeypatch):
    rep = Replica("search", "r-2", store=None, sink=TelemetrySink(None))
    import functions.search.handler as h

    monkeypatch.setattr(h, "init", lambda cfg: (_ for _ in ()).throw(RuntimeError("no model")),
                        raising=False)
    rep.initialise({})
    assert not rep.ready.is_set()
    status, body = rep.invoke({"request_id": "a"})
    assert status == 503 and "no model" in body["error"]["message"]
    assert body["error"]["retryable"] is False


def test_handler_exception_is_a_500_with_reason(tmp_path):
    sink = TelemetrySink(tmp_path)
    rep = Replica("search", "r-3", store=None, sink=sink)
    rep.handler = types.SimpleNamespace(handle=lambda ctx: 1 / 0)
    rep.ready.set()
    status, body = rep.invoke({"request_id": "req-1", "stage": "search"})
    assert status == 500 and "ZeroDivisionError" in body["error"]["message"]
    assert body["metrics"]["replica_invocation"] == 1
    line = json.loads((tmp_path / "invocations.jsonl").read_text().splitlines()[0])
    assert line["request_id"] == "req-1" and line["status"] == 500


def test_max_inflight_answers_429():
    rep = Replica("search", "r-4", store=None, sink=TelemetrySink(None), max_inflight=1)
    gate = threading.Event()
    rep.handler = types.SimpleNamespace(handle=lambda ctx: gate.wait(5) and {})
    rep.ready.set()
    t = threading.Thread(target=rep.invoke, args=({"request_id": "a"},))
    t.start()
    while rep.inflight == 0:
        pass
    status, body = rep.invoke({"request_id": "b"})
    gate.set()
    t.join()
    assert status == 429 and body["error"]["retryable"] is True


def test_workdirs_are_private_per_invocation():
    seen = []
    rep = Replica("search", "r-5", store=None, sink=TelemetrySink(None))
    barrier = threading.Barrier(2)

    def handle(ctx):
        seen.append(ctx.workdir)
        (ctx.workdir / "tmp.bin").write_bytes(b"x")
        barrier.wait(5)
        return {}

    rep.handler = types.SimpleNamespace(handle=handle)
    rep.ready.set()
    threads = [threading.Thread(target=rep.invoke, args=({"request_id": f"r{i}"},))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 2 and not any(p.exists() for p in seen)  # cleaned up too


def test_replica_process_routes_and_lifecycle(s3, store, tmp_path):
    uri = store.put_json([{"index": 0, "transcript": "a cat", "frames": []}],
                         "uploads/t/clips.json")
    rep = ProcessReplica("search", "search-t", s3.settings().to_env(), tmp_path)
    rep.start()
    try:
        assert requests.get(rep.url + "/_/health").status_code == 200
        assert requests.get(rep.url + "/_/ready").status_code == 200
        r = requests.post(rep.url + "/", json={"request_id": "rq", "stage": "search",
                                               "inputs": {"clips": uri},
                                               "config": {"query": "cat"}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["outputs"]["matches"][0]["clip"] == 0
        m = body["metrics"]
        assert m["replica_id"] == "search-t" and m["storage_gets"] == 1
        assert m["exec_ms"] > 0 and m["cpu_ms"] > 0
        assert requests.post(rep.url + "/", data=b"{not json").status_code == 400
        assert requests.get(rep.url + "/nope").status_code == 404
        life = rep.telemetry()["lifecycle"]
        order = [life[k] for k in ("spawn_ts", "process_start_ts", "runtime_up_ts",
                                   "init_done_ts", "ready_ts")]
        assert all(v is not None for v in order)
        assert order[0] <= order[2] <= order[3] <= order[4]
    finally:
        rep.stop()
    assert not rep.alive()


def test_storage_keys_from_secret_files(tmp_path):
    """OpenFaaS mounts secrets as files: VSB_S3_SECRETS_DIR names where the keys are."""
    from functions.runtime.claimcheck import StorageSettings
    from functions.runtime.errors import StageError

    (tmp_path / "access_key").write_text("AK123\n")
    (tmp_path / "secret_key").write_text("SK456\n")
    env = {"VSB_S3_ENDPOINT": "http://s3:8333", "VSB_S3_SECRETS_DIR": str(tmp_path)}
    s = StorageSettings.from_env(env)
    assert (s.access_key, s.secret_key) == ("AK123", "SK456")
    # the environment wins where set
    assert StorageSettings.from_env({**env, "AWS_ACCESS_KEY_ID": "E"}).access_key == "E"
    (tmp_path / "secret_key").unlink()
    with pytest.raises(StageError, match="no readable secret_key"):
        StorageSettings.from_env(env)
