"""Replicas as local OS processes: each runs ``python -m functions.runtime`` on a loopback port.

Start-up is what a container start is, minus the container: spawn → interpreter and runtime
up (HTTP bound, ``VSB_LISTENING <port>`` on stdout) → handler imported and ``init()`` done
(models loaded) → ready (``VSB_READY`` on stdout). Reading those lines, instead of polling
``/_/ready``, keeps the platform's own share of a cold start near zero.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.runtime import announce

from ..errors import VsbError
from ..paths import function_env


@dataclass
class ProcessReplica:
    function: str
    replica_id: str
    env: dict[str, str]
    log_dir: Path
    port: int = 0
    spawn_ts: float = 0.0
    ready_ts: float | None = None
    init_error: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)
    _listening: threading.Event = field(default_factory=threading.Event, repr=False)

    host = "process"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.replica_id}.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _watch_stdout(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            said = announce.parse(raw.decode(errors="replace"))
            if said is None:
                continue
            if said.kind == announce.LISTENING:
                self.port = said.port
                self._listening.set()
            elif said.kind == announce.READY:
                self.ready_ts = time.time()
                self._ready.set()
            else:
                self.init_error = said.reason
                self._ready.set()
        self._listening.set()  # EOF: the process is gone; wake any waiter
        self._ready.set()

    def spawn(self) -> None:
        """Start the process; returns at once (see :meth:`wait_ready`)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spawn_ts = time.time()
        env = {**os.environ, **function_env(), **self.env,
               "VSB_SPAWN_TS": repr(self.spawn_ts), "VSB_REPLICA_ID": self.replica_id,
               "VSB_PARENT_PID": str(os.getpid())}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "functions.runtime", "--function", self.function,
                 "--port", "0"],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # own process group: stopping it stops its tools too
            )
        threading.Thread(target=self._watch_stdout, args=(self.proc.stdout,), daemon=True,
                         name=f"stdout-{self.replica_id}").start()

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until the replica is ready; raise :class:`VsbError` (and stop it) otherwise."""
        # Ready only on VSB_READY: the end of its output also wakes the wait, a moment
        # before the exited process can be reaped (alive() would still say yes).
        said_ready = self._ready.wait(timeout_s) and self.ready_ts is not None
        if not said_ready or self.init_error or not self.alive():
            if self.init_error:
                reason = f"init failed: {self.init_error}"
            elif self._ready.is_set() or not self.alive():
                reason = "exited during start-up"
            else:
                reason = f"not ready after {timeout_s:.0f} s"
            self.stop()
            raise VsbError(f"replica {self.replica_id} of {self.function} {reason}; "
                           f"see {self.log_path}")

    def start(self, timeout_s: float = 120.0) -> ProcessReplica:
        self.spawn()
        self.wait_ready(timeout_s)
        return self

    def telemetry(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_/telemetry", timeout=5) as resp:
            return json.loads(resp.read())

    def lifecycle(self) -> dict[str, Any]:
        """Provider-side fields for the platform's replica record."""
        return {"host": self.host}

    def exit_info(self) -> dict[str, Any]:
        code = self.proc.poll() if self.proc is not None else None
        return {"exit_code": code, "exit_reason": f"exit {code}; see {self.log_path}"}

    def rss_mb(self) -> float:
        """Resident memory of the replica and its tool subprocesses."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs) / 2**20
        except (psutil.Error, AttributeError):
            return 0.0

    def kill(self) -> None:
        """SIGKILL the replica's process group (failure injection, OOM enforcement)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self, grace_s: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        else:
            self.proc.wait()
