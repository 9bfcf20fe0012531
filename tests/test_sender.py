"""The open-loop sender against a scripted fake gateway on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vsbench.workload.sender import TERMINAL, RequestRecord, SenderConfig, classify, run_open_loop


class Fake:
    """Answers by request id suffix: ok, app, gw, slow, badjson."""

    def __init__(self):
        fake = self
        self.arrivals: list[tuple[str, float]] = []

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rid = body["request_id"]
                fake.arrivals.append((rid, time.time()))
                kind = rid.rsplit("-", 1)[-1]
                status, out = 200, {"outputs": {"status": "ok"}}
                if kind == "app":
                    status, out = 422, {"error": {"kind": "bad_input", "message": "no video"}}
                elif kind == "gw":
                    status, out = 504, {"error": {"kind": "queue_timeout", "message": "waited"}}
                elif kind == "slow":
                    time.sleep(0.6)
                elif kind == "flaky":  # 502 (a killed replica), then ok
                    if sum(1 for r, _ in fake.arrivals if r == rid) == 1:
                        status, out = 502, {"error": {"kind": "replica_failed",
                                                      "message": "replica died"}}
                elif kind == "store":  # the application's retryable 503 (store down), then ok
                    if sum(1 for r, _ in fake.arrivals if r == rid) == 1:
                        status, out = 503, {"error": {"kind": "storage_unavailable",
                                                      "message": "down", "retryable": True}}
                elif kind == "full":  # always 429, with Retry-After
                    status, out = 429, {"error": {"kind": "queue_full", "message": "full"}}
                data = b"not json" if kind == "badjson" else json.dumps(out).encode()
                if kind == "badjson":
                    status = 502
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Vsb-Cold", "1" if kind == "ok" else "0")
                if kind == "full":
                    self.send_header("Retry-After", "0.1")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/function/orchestrator"


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.server.shutdown()


def _records(kinds, spacing=0.05):
    return [RequestRecord(i, f"r{i}-{k}", i * spacing, 0.0) for i, k in enumerate(kinds)]


def _body(rec):
    return {"request_id": rec.request_id}


def test_each_request_gets_exactly_one_terminal_status(fake):
    recs = run_open_loop(SenderConfig(fake.url, request_timeout_s=0.3),
                         _records(["ok", "app", "gw", "slow", "badjson"]), _body)
    assert [r.status for r in recs] == ["ok", "app_error", "http_error", "timeout",
                                        "http_error"]
    assert all(r.status in TERMINAL and r.end_ts and r.sent_ts for r in recs)
    assert recs[0].cold is True and recs[1].cold is False
    assert "bad_input" in recs[1].reason and "queue_timeout" in recs[2].reason


def test_open_loop_sends_on_schedule_regardless_of_slow_answers(fake):
    recs = _records(["slow", "ok", "ok", "ok"], spacing=0.1)
    run_open_loop(SenderConfig(fake.url), recs, _body)
    # The slow first answer (0.6 s) did not hold back the next sends.
    sent = {rid: t for rid, t in fake.arrivals}
    assert sent["r3-ok"] - sent["r0-slow"] == pytest.approx(0.3, abs=0.05)
    assert all(abs(r.send_lag_ms) < 20 for r in recs)
    # Latency counts from the scheduled time.
    assert recs[0].latency_ms >= 600 and recs[0].latency_ms >= recs[0].service_ms


def test_over_max_outstanding_is_dropped_not_skipped(fake):
    recs = _records(["slow", "ok", "ok"], spacing=0.05)
    run_open_loop(SenderConfig(fake.url, max_outstanding=1), recs, _body)
    assert [r.status for r in recs] == ["ok", "dropped", "dropped"]
    assert recs[1].sent_ts is None and "max_outstanding=1" in recs[1].reason
    assert [rid for rid, _ in fake.arrivals] == ["r0-slow"]


def test_connection_refused_is_http_error():
    recs = run_open_loop(SenderConfig("http://127.0.0.1:9/function/x"), _records(["ok"]),
                         _body)
    assert recs[0].status == "http_error" and "Connect" in recs[0].reason


@pytest.mark.parametrize("status,body,expected", [
    (200, {"outputs": {"status": "ok"}}, "ok"),
    (200, {"outputs": {"status": "app_error"}}, "app_error"),
    (502, {"error": {"kind": "replica_failed", "message": "died"}}, "http_error"),
    (502, {"error": {"kind": "retries_exhausted", "message": "asr"}}, "app_error"),
    (500, None, "http_error"),
])
def test_classify(status, body, expected):
    assert classify(status, body)[0] == expected


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_of_a_502_and_a_429_within_the_budget(fake, retries):
    recs = [RequestRecord(0, "r-flaky", 0.0, 0.0), RequestRecord(1, "r-full", 0.0, 0.0),
            RequestRecord(2, "r-app", 0.0, 0.0), RequestRecord(3, "r-store", 0.0, 0.0)]
    cfg = SenderConfig(fake.url, request_timeout_s=10, retries=retries)
    run_open_loop(cfg, recs, lambda r: {"request_id": r.request_id})
    flaky, full, app, store = recs
    if retries:
        assert (flaky.status, flaky.attempts) == ("ok", 2)
        assert (store.status, store.attempts) == ("ok", 2)
    else:
        assert (flaky.status, flaky.attempts, flaky.http_status) == ("http_error", 1, 502)
        assert (store.status, store.attempts, store.http_status) == ("app_error", 1, 503)
    assert (full.status, full.attempts, full.http_status) == ("http_error", 1 + retries, 429)
    assert (app.status, app.attempts) == ("app_error", 1)  # the application's: not retried
    assert sum(1 for r, _ in fake.arrivals if r == "r-full") == 1 + retries
