"""The ``fork-server`` starter on the process host: replicas forked from a resident template.

:class:`ForkServer` runs one template per function deployment (``python -m
functions.runtime.zygote``, :mod:`functions.runtime.zygote`): it has imported the runtime,
boto3 and the handler, and ran ``init()`` where the handler declares it fork-safe. A
:class:`ForkedReplica` asks it for a child instead of spawning an interpreter; from then on
it is a replica like any other (its own session, port, log, ``VSB_READY``). The template is
started with the deployment, not on a request's path, and is billed as idle memory while it
lives. A template that dies is replaced on the next start; a start under way when it died
fails with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import VsbError
from ..paths import function_env
from .process_replica import ProcessReplica

READY_TIMEOUT_S = 180.0  # the template's imports and init (librosa: seconds)


class ForkServer:
    """One resident template of ``function`` (its environment fixed at deploy time)."""

    def __init__(self, function: str, env: dict[str, str], state_dir: Path):
        self.function = function
        self.env = env
        self.state_dir = state_dir
        # An abstract Unix socket: no path (whose 108-byte limit a deep state folder
        # passes), gone with the template.
        self.socket_name = f"vsb-{os.getpid()}-{function}-{secrets.token_hex(4)}"
        self.log_path = state_dir / f"{function}-template.log"
        self.proc: subprocess.Popen | None = None
        self.ready_ms: float | None = None  # its imports (and fork-safe init), measured
        self.init_in_template = False
        self.started_ts: float | None = None
        self.restarts = 0
        # Each template that ran (a dead one is replaced): pid, started_ts, ready_ts, ended_ts,
        # end ("died", or the stop's reason), peak_rss_mb; the pool bills them as idle memory.
        self.instances: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> ForkServer:
        """Start the template and wait until it serves fork requests."""
        with self._lock:
            if self.alive():
                return self
            if self.proc is not None:
                self.restarts += 1
                self.proc.wait()
                self._ended("died")
            self.state_dir.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, **function_env(), **self.env}
            self.started_ts = time.time()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "functions.runtime.zygote", "--function",
                     self.function, "--socket", "@" + self.socket_name],
                    stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env,
                    start_new_session=True)
            line = _read_line(self.proc.stdout, READY_TIMEOUT_S)
            if not line.startswith("VSB_ZYGOTE_READY"):
                self.stop()
                raise VsbError(f"the fork server of {self.function} did not start "
                               f"({line.strip() or 'no output'}); see {self.log_path}")
            parts = line.split()
            self.ready_ms = float(parts[1])
            self.init_in_template = parts[2] == "1"
            self.instances.append({"pid": self.proc.pid, "started_ts": self.started_ts,
                                   "ready_ts": time.time(), "ended_ts": None, "end": None,
                                   "peak_rss_mb": self.rss_mb()})
            return self

    def _ended(self, how: str) -> None:
        if self.instances and self.instances[-1]["ended_ts"] is None:
            self.instances[-1].update(ended_ts=time.time(), end=how)

    def sample_rss(self) -> None:
        """Keep the running template's peak RSS (the pool calls this as it samples replicas)."""
        if self.instances and self.alive():
            last = self.instances[-1]
            last["peak_rss_mb"] = max(last["peak_rss_mb"], self.rss_mb())

    def fork(self, replica_id: str, env: dict[str, str], log: Path) -> tuple[int, int]:
        """A new replica: (its pid, the read end of its stdout). Raises VsbError when the
        template is gone or refuses."""
        if not self.alive():
            self.start()  # replaced: this start pays for the template's imports
        r, w = os.pipe()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(30)
                s.connect("\0" + self.socket_name)
                msg = json.dumps({"replica_id": replica_id, "env": env, "log": str(log)})
                s.sendmsg([msg.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                            _fds(w))])
                os.close(w)
                w = -1
                answer = s.makefile("rb").readline()
        except OSError as exc:
            os.close(r)
            why = "it died" if self._died() else f"{type(exc).__name__}: {exc}"
            raise VsbError(f"the fork server of {self.function} could not start replica "
                           f"{replica_id}: {why}; see {self.log_path}") from None
        finally:
            if w >= 0:
                os.close(w)
        try:
            reply = json.loads(answer)
            return int(reply["pid"]), r
        except (ValueError, KeyError, TypeError):
            os.close(r)
            reason = (reply.get("error") if isinstance(locals().get("reply"), dict)
                      else None) or ("it died" if self._died() else answer[:200])
            raise VsbError(f"the fork server of {self.function} could not start replica "
                           f"{replica_id}: {reason}; see {self.log_path}") from None

    def _died(self) -> bool:
        """Whether the template is gone (a broken connection is noticed a moment before
        the process is reaped)."""
        try:
            self.proc.wait(1.0)
        except subprocess.TimeoutExpired:
            return False
        return True

    def replica_records(self, reason: str) -> list[dict[str, Any]]:
        """Each template that ran, as a replica record with ``role: template``: alive from
        its start to its end, never busy, so the cost model bills it as idle memory at the
        function's limit (the pool adds function and memory), its peak RSS beside it."""
        out = []
        for t in self.instances:
            end = t["ended_ts"] or time.time()
            out.append({
                "replica_id": f"{self.function}-template-{t['pid']}", "role": "template",
                "pid": t["pid"], "spawn_ts": t["started_ts"], "ready_ts": t["ready_ts"],
                "stop_ts": end, "stop_reason": reason if t["end"] in (None, reason)
                else t["end"], "served": 0, "busy_s": 0.0,
                "alive_s": round(end - t["started_ts"], 6), "last_active_ts": None,
                "idle_timeout_s": None, "peak_rss_mb": round(t["peak_rss_mb"], 1)})
        return out

    def rss_mb(self) -> float:
        import psutil

        try:
            return psutil.Process(self.proc.pid).memory_info().rss / 2**20
        except (psutil.Error, AttributeError):
            return 0.0

    def stop(self, grace_s: float = 5.0, reason: str = "stopped") -> None:
        if self.proc is None:
            return
        self.sample_rss()
        self._ended(reason if self.proc.poll() is None else "died")
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _fds(fd: int) -> bytes:
    import array

    return array.array("i", [fd]).tobytes()


def _read_line(stream, timeout_s: float) -> str:
    """One line of ``stream``, or "" after ``timeout_s`` or at EOF."""
    out: list[bytes] = []
    t = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout_s)
    return out[0].decode(errors="replace") if out else ""


class ForkedReplica(ProcessReplica):
    """A replica forked by a :class:`ForkServer`; the template reaps it, so it is alive
    while its pid exists and is not a zombie."""

    server: ForkServer | None = None
    _pid: int | None = None

    @property
    def pid(self) -> int | None:
        return self._pid

    def spawn(self) -> None:
        assert self.server is not None, "a ForkedReplica needs its ForkServer"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spawn_ts = time.time()
        env = {**self.env, "VSB_SPAWN_TS": repr(self.spawn_ts),
               "VSB_REPLICA_ID": self.replica_id, "VSB_PARENT_PID": str(os.getpid())}
        self._pid, fd = self.server.fork(self.replica_id, env, self.log_path)
        threading.Thread(target=self._watch_stdout, args=(os.fdopen(fd, "rb"),), daemon=True,
                         name=f"stdout-{self.replica_id}").start()

    def alive(self) -> bool:
        if self._pid is None:
            return False
        try:
            with open(f"/proc/{self._pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def exit_info(self) -> dict[str, Any]:
        return {"exit_code": None,
                "exit_reason": f"forked replica ended (the template reaped it); see "
                               f"{self.log_path}"}

    def rss_mb(self) -> float:
        import psutil

        try:
            root = psutil.Process(self._pid)
            procs = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs) / 2**20
        except (psutil.Error, TypeError):
            return 0.0

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self._pid, 9)
            except ProcessLookupError:
                pass

    def stop(self, grace_s: float = 5.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self._pid, 15)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.02)
        if self.alive():
            self.kill()
            while self.alive():
                time.sleep(0.02)
