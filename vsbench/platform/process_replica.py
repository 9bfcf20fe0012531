"""Replicas as local OS processes: each runs ``python -m functions.runtime`` on a loopback port.

Start-up is what a container start is, minus the container: spawn → interpreter and runtime
up (HTTP bound) → handler imported and ``init()`` done (models loaded) → ready.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import VsbError
from ..paths import function_env
from .ports import wait_http


@dataclass
class ProcessReplica:
    function: str
    replica_id: str
    env: dict[str, str]
    log_dir: Path
    port: int = 0
    spawn_ts: float = 0.0
    ready_ts: float | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Start the process and learn its port (it prints ``VSB_LISTENING <port>``)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spawn_ts = time.time()
        env = {**os.environ, **function_env(), **self.env,
               "VSB_SPAWN_TS": repr(self.spawn_ts), "VSB_REPLICA_ID": self.replica_id}
        log = open(self.log_dir / f"{self.replica_id}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "functions.runtime", "--function", self.function,
             "--port", "0"],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # its own process group: stopping it stops its tools too
        )
        log.close()
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("VSB_LISTENING "):
            self.stop()
            raise VsbError(f"replica {self.replica_id} of {self.function} failed to start; "
                           f"see {self.log_dir / (self.replica_id + '.log')}")
        self.port = int(line.split()[1])
        # Drain stdout so a chatty handler can never block on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        if not wait_http(f"{self.url}/_/ready", timeout_s, alive=self.alive, interval_s=0.005):
            reason = "exited" if not self.alive() else f"not ready after {timeout_s:.0f} s"
            self.stop()
            raise VsbError(f"replica {self.replica_id} of {self.function} {reason}; "
                           f"see {self.log_dir / (self.replica_id + '.log')}")
        self.ready_ts = time.time()

    def start(self, timeout_s: float = 120.0) -> ProcessReplica:
        self.spawn()
        self.wait_ready(timeout_s)
        return self

    def telemetry(self) -> dict[str, Any]:
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_/telemetry", timeout=5) as resp:
            return json.loads(resp.read())

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
        self.proc = None
