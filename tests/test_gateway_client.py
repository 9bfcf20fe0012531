"""The orchestrator's gateway client: retries what is retryable, nothing else."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.orchestrator.client import GatewayClient, RetryPolicy, StageFailed


class FakeGateway:
    """Answers each POST with the next (status, body) of a script; records paths."""

    def __init__(self, script):
        self.script = list(script)
        self.paths = []
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                fake.paths.append(self.path)
                status, body = fake.script.pop(0) if fake.script else (500, {})
                if status == "sleep":
                    import time

                    time.sleep(body)
                    status, body = 200, {"outputs": {}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def fake():
    made = []

    def _make(script):
        f = FakeGateway(script)
        made.append(f)
        return f

    yield _make
    for f in made:
        f.close()


FAST = RetryPolicy(max_attempts=4, backoff_s=0.001, max_backoff_s=0.01)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_status_is_retried(fake, status):
    gw = fake([(status, {"error": {"message": "busy"}}), (200, {"outputs": {"x": 1}})])
    client = GatewayClient(gw.url, retry=FAST)
    assert client.call("ffmpeg-0", {"request_id": "r"}) == {"x": 1}
    assert gw.paths == ["/function/ffmpeg-0"] * 2
    assert [r.status for r in client.records] == [status, 200]


def test_bad_input_is_not_retried(fake):
    gw = fake([(422, {"error": {"kind": "bad_input", "message": "no video stream"}})])
    client = GatewayClient(gw.url, retry=FAST)
    with pytest.raises(StageFailed, match="no video stream") as info:
        client.call("ffmpeg-0", {})
    assert info.value.kind == "bad_input" and info.value.status == 422
    assert len(gw.paths) == 1


def test_retries_are_bounded(fake):
    gw = fake([(503, {})] * 10)
    client = GatewayClient(gw.url, retry=FAST)
    with pytest.raises(StageFailed, match="failed after 4 attempts"):
        client.call("asr", {})
    assert len(gw.paths) == 4


def test_connection_error_is_retried_then_fails():
    client = GatewayClient("http://127.0.0.1:9", retry=FAST)  # discard port: refused
    with pytest.raises(StageFailed, match="connection error"):
        client.call("asr", {})
    assert len(client.records) == 4 and all(r.status is None for r in client.records)


def test_per_stage_timeout(fake):
    gw = fake([("sleep", 1.0)])
    client = GatewayClient(gw.url, retry=FAST, timeouts_s={"asr": 0.2})
    with pytest.raises(StageFailed, match="timed out") as info:
        client.call("asr", {})
    assert info.value.kind == "timeout"


def test_200_without_outputs_is_not_success(fake):
    gw = fake([(200, {"error": {"message": "weird"}})])
    client = GatewayClient(gw.url, retry=FAST)
    with pytest.raises(StageFailed):
        client.call("search", {})
