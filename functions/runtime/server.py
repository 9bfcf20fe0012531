"""The watchdog-equivalent HTTP server every function replica runs in.

Routes: ``GET /_/health`` (the runtime is up), ``GET /_/ready`` (the handler's ``init()``
finished: models loaded), ``GET /_/telemetry`` (lifecycle and counters) and ``POST /``
(invoke: an :class:`~functions.runtime.envelope.Envelope` in, ``{outputs, metrics}`` out).

A handler module defines ``init(config: dict) -> None`` (optional; once per replica) and
``handle(ctx: InvocationContext) -> dict`` (the outputs). The server binds first, prints
``VSB_LISTENING <port>`` on stdout (how a process provider learns an ephemeral port), then
imports the handler and runs ``init()``; until then ``/_/ready`` answers 503. When init is done
it prints ``VSB_READY`` (or ``VSB_INIT_FAILED <reason>``), so a provider need not poll.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import announce
from .claimcheck import ClaimCheckStore, StorageSettings
from .context import InvocationContext
from .envelope import Envelope
from .errors import BadEnvelope, NotReady, StageError
from .telemetry import InvocationMeter, ReplicaLifecycle, TelemetrySink

MAX_BODY = 1 << 20  # envelopes are small by design (claim-check); 1 MiB is generous


class Replica:
    """State of this replica: its handler, storage client, counters and lifecycle."""

    def __init__(self, function: str, replica_id: str, store: ClaimCheckStore | None,
                 sink: TelemetrySink, max_inflight: int = 0):
        self.function = function
        self.replica_id = replica_id
        self.store = store
        self.sink = sink
        self.max_inflight = max_inflight
        self.handler: Any = None
        self.ready = threading.Event()
        self.init_error: str | None = None
        self.inflight = 0
        self.invocations = 0
        self.lock = threading.Lock()
        self.lifecycle = ReplicaLifecycle(replica_id=replica_id, function=function,
                                          pid=os.getpid())

    def initialise(self, config: dict[str, Any], init_done: bool = False) -> None:
        """Import the handler and run its ``init()``: the model-loading part of a cold start.
        ``init_done``: a fork server's template already ran it (:mod:`.zygote`)."""
        from functions.registry import get_spec, load_handler

        t0 = time.perf_counter()
        try:
            # The S3 client (boto3 import + client: ~0.2 s) is built here, in the init
            # thread after the port is bound, and only for functions that use storage.
            if (self.store is None and get_spec(self.function).storage
                    and os.environ.get("VSB_S3_ENDPOINT")):
                self.store = ClaimCheckStore(StorageSettings.from_env())
            self.handler = load_handler(self.function)
            self.lifecycle.import_ms = round((time.perf_counter() - t0) * 1000, 3)
            t1 = time.perf_counter()
            init = getattr(self.handler, "init", None)
            if init is not None and not init_done:
                init(config)
            self.lifecycle.init_ms = round((time.perf_counter() - t1) * 1000, 3)
        except Exception as exc:  # a replica whose init failed stays up but never ready
            self.init_error = f"{type(exc).__name__}: {exc}"
            print(f"[{self.function}] init failed: {self.init_error}", file=sys.stderr)
            traceback.print_exc()
            print(announce.init_failed(self.init_error), flush=True)
            return
        self.lifecycle.init_done_ts = time.time()
        self.lifecycle.ready_ts = time.time()
        self.ready.set()
        # Tell a process provider at once (no readiness polling on the critical path).
        print(announce.READY, flush=True)
        self.sink.write("replicas", self.lifecycle.to_dict())

    def invoke(self, body: Any, call_id: str | None = None) -> tuple[int, dict[str, Any]]:
        if not self.ready.is_set():
            reason = self.init_error or "handler init() has not finished"
            err = NotReady(f"replica {self.replica_id} not ready: {reason}",
                           retryable=self.init_error is None)
            return err.status, {"error": err.to_dict()}
        with self.lock:
            if self.max_inflight and self.inflight >= self.max_inflight:
                return 429, {"error": {"kind": "busy", "retryable": True,
                                       "message": f"replica at max_inflight={self.max_inflight}"}}
            self.inflight += 1
            self.invocations += 1
            seq = self.invocations
        meter = InvocationMeter()
        workdir = Path(tempfile.mkdtemp(prefix=f"vsb-{self.function}-"))
        status, payload = 200, {}
        ctx = None
        try:
            envelope = Envelope.from_dict(body)
            ctx = InvocationContext(envelope, self.function, self.store, workdir, meter,
                                    self.replica_id)
            outputs = self.handler.handle(ctx)
            payload = {"outputs": outputs}
        except StageError as exc:
            status, payload = exc.status, {"error": exc.to_dict()}
        except Exception as exc:
            traceback.print_exc()
            status = 500
            payload = {"error": {"kind": "internal", "retryable": False,
                                 "message": f"{type(exc).__name__}: {exc}"}}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            with self.lock:
                self.inflight -= 1
        metrics = meter.finish()
        metrics.update(ctx.stats.to_dict() if ctx else {})
        metrics.update({
            "call_id": call_id,  # the gateway's id of this call (X-Vsb-Call-Id)
            "function": self.function,
            "replica_id": self.replica_id,
            "replica_invocation": seq,  # 1 = the first request this replica ever served
            "status": status,
        })
        payload["metrics"] = metrics
        record = {"request_id": body.get("request_id") if isinstance(body, dict) else None,
                  **metrics}
        self.sink.write("invocations", record)
        return status, payload


def make_handler_class(replica: Replica) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive between gateway and replica
        # Headers and body go out in separate writes; with Nagle on, a keep-alive peer's
        # delayed ACK held the body back ~40 ms on every warm call.
        disable_nagle_algorithm = True

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet access log
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Vsb-Replica", replica.replica_id)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_/health":
                self._send(200, {"status": "up", "replica_id": replica.replica_id})
            elif self.path == "/_/ready":
                if replica.ready.is_set():
                    self._send(200, {"status": "ready", "replica_id": replica.replica_id})
                else:
                    self._send(503, {"status": "initialising", "error": replica.init_error})
            elif self.path == "/_/telemetry":
                self._send(200, {"lifecycle": replica.lifecycle.to_dict(),
                                 "invocations": replica.invocations,
                                 "inflight": replica.inflight})
            else:
                self._send(404, {"error": {"kind": "not_found", "message": self.path}})

        def do_POST(self) -> None:
            if self.path.startswith("/_/"):  # the envelope goes to any other path
                self._send(404, {"error": {"kind": "not_found", "message": self.path}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                err = BadEnvelope(f"envelope of {length} bytes exceeds {MAX_BODY}")
                self._send(err.status, {"error": err.to_dict()})
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"null")
            except ValueError as exc:
                err = BadEnvelope(f"body is not JSON: {exc}")
                self._send(err.status, {"error": err.to_dict()})
                return
            status, payload = replica.invoke(body, self.headers.get("X-Vsb-Call-Id"))
            self._send(status, payload)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(function: str, host: str = "127.0.0.1", port: int = 0,
          replica_id: str | None = None, config: dict[str, Any] | None = None,
          init_done: bool = False) -> None:
    """Run one replica until SIGTERM/SIGINT (``init_done``: forked from a template that
    ran the handler's ``init()``)."""
    lifecycle_spawn = os.environ.get("VSB_SPAWN_TS")
    replica_id = replica_id or os.environ.get("VSB_REPLICA_ID") or (
        f"{function}-{socket.gethostname()}-{os.getpid()}")
    tdir = os.environ.get("VSB_TELEMETRY_DIR")
    sink = TelemetrySink(Path(tdir) if tdir else None)
    replica = Replica(function, replica_id, None, sink,
                      max_inflight=int(os.environ.get("VSB_MAX_INFLIGHT", "0")))
    replica.lifecycle.process_start_ts = process_start_ts()
    replica.lifecycle.spawn_ts = float(lifecycle_spawn) if lifecycle_spawn else None

    server = _Server((host, port), make_handler_class(replica))
    replica.lifecycle.runtime_up_ts = time.time()
    print(announce.listening(server.server_address[1]), flush=True)

    def _stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    parent = os.environ.get("VSB_PARENT_PID")
    if parent:
        threading.Thread(target=_exit_with_parent, args=(int(parent), server), daemon=True,
                         name="parent-watch").start()
    platform = os.environ.get("VSB_PLATFORM_PID")  # a forked replica's platform: not its parent
    if platform:
        threading.Thread(target=_exit_when_gone, args=(int(platform), server), daemon=True,
                         name="platform-watch").start()
    parent_lock = os.environ.get("VSB_PARENT_LOCK")
    if parent_lock:
        threading.Thread(target=_exit_when_unlocked, args=(parent_lock, server), daemon=True,
                         name="parent-lock-watch").start()
    threading.Thread(target=replica.initialise, args=(config or {}, init_done),
                     daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()


def process_start_ts() -> float | None:
    """When the kernel started this process, in epoch seconds, to the clock tick.

    psutil's ``create_time()`` adds a boot time that /proc/stat rounds down to whole seconds
    (up to 1 s early); the offset from CLOCK_BOOTTIME is exact.
    """
    try:
        fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counting from the state field
        # The kernel counts whole ticks (10 ms here), rounded down: half a tick centres the
        # estimate (+-5 ms instead of 0-10 ms early; a start seemed to precede its spawn).
        since_boot = (start_ticks + 0.5) / os.sysconf("SC_CLK_TCK")
        return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)
    except (OSError, IndexError, ValueError, AttributeError):
        return None


def _exit_with_parent(parent_pid: int, server: ThreadingHTTPServer) -> None:
    """Stop when the platform that started this replica is gone: no orphan replicas."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    server.shutdown()


def _exit_when_gone(pid: int, server: ThreadingHTTPServer) -> None:
    """Stop when process ``pid`` (the platform, which is not this replica's parent) ends."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            pass  # alive, another user's
        time.sleep(0.5)
    server.shutdown()


def _exit_when_unlocked(path: str, server: ThreadingHTTPServer) -> None:
    """Stop when the platform is gone, where its pid cannot be seen (a container).

    The platform holds an exclusive ``flock`` on ``path`` for its whole life; a shared lock
    is granted only once it has died, however it died. A lock file that cannot be opened
    stops the replica too: better no replica than one nobody will stop.
    """
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        print(f"VSB_PARENT_LOCK {path} cannot be opened ({exc}); stopping", file=sys.stderr,
              flush=True)
    else:
        fcntl.flock(fd, fcntl.LOCK_SH)  # blocks while the platform lives
        os.close(fd)  # releases it at once: a new platform may take the file
        print("the platform is gone (its lock was released); stopping", file=sys.stderr,
              flush=True)
    server.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m functions.runtime",
                                     description="Run one replica of a vsbench function.")
    parser.add_argument("--function", default=os.environ.get("VSB_FUNCTION"),
                        required=not os.environ.get("VSB_FUNCTION"),
                        help="function name, e.g. ffmpeg-0 (default: $VSB_FUNCTION, as images set)")
    parser.add_argument("--host", default=os.environ.get("VSB_LISTEN_HOST", "127.0.0.1"),
                        help="address to listen on (default: $VSB_LISTEN_HOST, else loopback)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    parser.add_argument("--replica-id", default=None)
    args = parser.parse_args(argv)
    config = json.loads(os.environ.get("VSB_FUNCTION_CONFIG", "{}") or "{}")
    from functions.registry import get_spec

    try:
        get_spec(args.function)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    serve(args.function, args.host, args.port, args.replica_id, config)
