"""Telemetry measured inside a replica: its lifecycle, and each invocation's cost.

CPU time of an invocation = CPU of the thread that ran the handler (``time.thread_time``)
plus the exact CPU of every tool subprocess it ran (``os.wait4`` rusage of that child). Both
are per invocation even when a replica serves several requests at once. Native worker
threads of libraries (none by default: onnxruntime runs with one intra-op thread) are not
in it; ``process_cpu_ms`` (the whole process' CPU delta) is reported beside it and is exact
when the replica served one request at a time.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def _maxrss_mb(ru_maxrss_kb: int) -> float:
    return round(ru_maxrss_kb / 1024, 1)  # Linux reports KiB


@dataclass
class ReplicaLifecycle:
    """Wall-clock (epoch seconds) milestones of one replica, from spawn to ready."""

    replica_id: str
    function: str
    pid: int
    spawn_ts: float | None = None  # when the provider asked for the process (VSB_SPAWN_TS)
    process_start_ts: float | None = None  # kernel's process start time
    runtime_up_ts: float | None = None  # HTTP server bound, /_/health answers
    init_done_ts: float | None = None  # handler init() returned (models loaded)
    ready_ts: float | None = None  # /_/ready answers 200
    import_ms: float | None = None  # storage client + importing the handler module
    init_ms: float | None = None  # handler init()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ToolRun:
    cmd: list[str]
    returncode: int
    stderr: str
    cpu_ms: float
    maxrss_mb: float
    wall_ms: float


class InvocationMeter:
    """Measures one invocation on the thread that runs it."""

    def __init__(self) -> None:
        self.start_ts = time.time()
        self._t0 = time.perf_counter()
        self._thread_cpu0 = time.thread_time()
        self._proc_cpu0 = time.process_time()
        self.child_cpu_ms = 0.0
        self.child_maxrss_mb = 0.0
        self.tools: list[dict[str, Any]] = []
        self.end_ts: float | None = None
        self.exec_ms: float | None = None

    def add_tool(self, run: ToolRun) -> None:
        self.child_cpu_ms += run.cpu_ms
        self.child_maxrss_mb = max(self.child_maxrss_mb, run.maxrss_mb)
        self.tools.append(
            {"tool": tool_name(run.cmd), "wall_ms": round(run.wall_ms, 3),
             "cpu_ms": round(run.cpu_ms, 3)}
        )

    def finish(self) -> dict[str, Any]:
        self.exec_ms = (time.perf_counter() - self._t0) * 1000
        self.end_ts = time.time()
        thread_cpu_ms = (time.thread_time() - self._thread_cpu0) * 1000
        self_rss = _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return {
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "exec_ms": round(self.exec_ms, 3),
            "cpu_ms": round(thread_cpu_ms + self.child_cpu_ms, 3),
            "process_cpu_ms": round((time.process_time() - self._proc_cpu0) * 1000, 3),
            "child_cpu_ms": round(self.child_cpu_ms, 3),
            "replica_peak_rss_mb": self_rss,  # high-water mark of the replica process so far
            "child_peak_rss_mb": self.child_maxrss_mb,
            "tools": self.tools,
        }


def tool_name(cmd: list[str]) -> str:
    """``ffmpeg`` for imageio-ffmpeg's ``ffmpeg-linux-x86_64-v9.0.2`` and the like."""
    return Path(cmd[0]).name.split("-linux")[0].split("-macos")[0].split("-win")[0]


class ToolError(RuntimeError):
    def __init__(self, run: ToolRun, message: str):
        super().__init__(message)
        self.run = run


def run_tool(
    cmd: list[str],
    meter: InvocationMeter | None = None,
    timeout_s: float = 300.0,
    cwd: Path | None = None,
) -> ToolRun:
    """Run an external tool, measuring its exact CPU time and peak RSS.

    ``subprocess.run`` reaps the child without its rusage, so the child is reaped here with
    ``os.wait4``; a timer kills it past ``timeout_s``. Raises :class:`ToolError` on a
    non-zero exit, with the tail of its stderr.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd
        )
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, _kill)
        timer.daemon = True
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from reaping again
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    run = ToolRun(
        cmd=cmd,
        returncode=proc.returncode,
        stderr=stderr,
        cpu_ms=(ru.ru_utime + ru.ru_stime) * 1000,
        maxrss_mb=_maxrss_mb(ru.ru_maxrss),
        wall_ms=(time.perf_counter() - t0) * 1000,
    )
    if meter is not None:
        meter.add_tool(run)
    if timed_out.is_set():
        raise ToolError(run, f"{tool_name(cmd)} timed out after {timeout_s:.0f} s")
    if run.returncode != 0:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        raise ToolError(run, f"{tool_name(cmd)} exited {run.returncode}: {tail}")
    return run


@dataclass
class TelemetrySink:
    """Appends JSON lines to files under a directory (``VSB_TELEMETRY_DIR``), if one is set."""

    directory: Path | None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, stream: str, record: dict[str, Any]) -> None:
        if self.directory is None:
            return
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, open(self.directory / f"{stream}.jsonl", "a") as fh:
            fh.write(line)
