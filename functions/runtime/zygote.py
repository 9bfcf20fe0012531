"""A fork server ("zygote", as SOCK's): one resident template process per function that has
paid for the imports once and forks a replica on demand.

``python -m functions.runtime.zygote --function F --socket PATH`` (``@NAME``: an abstract
socket) imports the runtime, boto3
(and builds one S3 client, so botocore's service models are loaded), the handler module and
the modules it lists in ``FORK_PRELOAD`` (imports whose use must stay per replica, e.g.
onnxruntime, whose sessions start thread pools), and runs the handler's ``init()`` when the
handler declares it fork-safe (``FORK_SAFE_INIT = True``: it starts no thread and opens no
socket, so nothing it leaves behind breaks in a forked copy). It then prints
``VSB_ZYGOTE_READY`` and serves fork requests on the Unix socket ``PATH``, one per
connection: a JSON line ``{"replica_id", "env", "log"}`` with the write end of the replica's
stdout pipe passed as ``SCM_RIGHTS``. It answers ``{"pid": N}`` (or ``{"error": ...}``).

The child starts a session of its own (the platform stops it by process group), takes the
pipe as stdout and the log as stderr, applies ``env``, reseeds ``random`` and numpy (a fork
copies the parent's generator state), drops the template's socket and then runs
:func:`.server.serve` as a spawned replica would: it announces ``VSB_LISTENING`` and, once
``init()`` is done (at once when the template ran it), ``VSB_READY``. The template reaps its
children (SIGCHLD); the platform sees a replica's end as its process disappearing.
"""

from __future__ import annotations

import argparse
import array
import importlib
import json
import os
import random
import signal
import socket
import sys
import time
import traceback

READY = "VSB_ZYGOTE_READY"
MAX_MSG = 1 << 16


def _reap(signum, frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def preload(function: str, config: dict) -> bool:
    """Import what every replica of ``function`` imports; run ``init()`` when the handler
    says it is fork-safe. True when the template ran ``init()``."""
    from functions.registry import get_spec, load_handler

    if get_spec(function).storage and os.environ.get("VSB_S3_ENDPOINT"):
        from .claimcheck import ClaimCheckStore, StorageSettings

        ClaimCheckStore(StorageSettings.from_env())  # loads botocore's models; no socket yet
    from . import server  # noqa: F401 - what every replica runs, imported once here

    handler = load_handler(function)
    for module in getattr(handler, "FORK_PRELOAD", ()):  # imports whose use is per replica
        importlib.import_module(module)
    if getattr(handler, "FORK_SAFE_INIT", False) and hasattr(handler, "init"):
        handler.init(config)
        return True
    return False


def _child(conn: socket.socket, listener: socket.socket, request: dict, fds: list[int],
           function: str, config: dict, init_done: bool) -> None:
    """In the forked child: become a replica. Never returns."""
    try:
        listener.close()
        conn.close()
        os.setsid()
        os.dup2(fds[0], 1)
        os.close(fds[0])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        os.environ.update(request.get("env") or {})
        # The platform is this replica's grandparent: watch it by pid (the template may be
        # replaced while its replicas go on serving).
        platform = os.environ.pop("VSB_PARENT_PID", None)
        if platform:
            os.environ["VSB_PLATFORM_PID"] = platform
        random.seed()
        np = sys.modules.get("numpy")  # reseeded where the template loaded it (not imported)
        if np is not None:
            np.random.seed(int.from_bytes(os.urandom(4), "little"))
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from . import server

        server.serve(function, replica_id=request["replica_id"], config=config,
                     init_done=init_done)
        code = 0
    except BaseException:  # noqa: BLE001 - the child must never return into the template
        traceback.print_exc()
        code = 1
    os._exit(code)


def _handle(conn: socket.socket, listener: socket.socket, function: str, config: dict,
            init_done: bool) -> None:
    fds = array.array("i")
    msg, ancdata, _, _ = conn.recvmsg(MAX_MSG, socket.CMSG_LEN(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    try:
        request = json.loads(msg)
        if len(fds) != 1 or not isinstance(request, dict) or "replica_id" not in request:
            raise ValueError("a fork request is one JSON object with replica_id, env and "
                             "log, and the stdout pipe's write end")
    except ValueError as exc:
        for fd in fds:
            os.close(fd)
        conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
        return
    pid = os.fork()
    if pid == 0:
        _child(conn, listener, request, list(fds), function, config, init_done)
    os.close(fds[0])
    conn.sendall(json.dumps({"pid": pid, "ts": time.time()}).encode() + b"\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m functions.runtime.zygote")
    ap.add_argument("--function", required=True)
    ap.add_argument("--socket", required=True)
    a = ap.parse_args(argv)
    config = json.loads(os.environ.get("VSB_FUNCTION_CONFIG", "{}") or "{}")
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    t0 = time.perf_counter()
    init_done = preload(a.function, config)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if a.socket.startswith("@"):  # Linux's abstract namespace: no file, no path limit
        listener.bind("\0" + a.socket[1:])
    else:
        if os.path.exists(a.socket):
            os.unlink(a.socket)
        listener.bind(a.socket)
    listener.listen(64)
    print(f"{READY} {(time.perf_counter() - t0) * 1000:.1f} {int(init_done)}", flush=True)
    parent = os.getppid()
    listener.settimeout(0.5)
    while os.getppid() == parent:  # the platform gone: so is its template
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except InterruptedError:
            continue
        with conn:
            conn.settimeout(10)
            try:
                _handle(conn, listener, a.function, config, init_done)
            except OSError as exc:
                print(f"fork request failed: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
