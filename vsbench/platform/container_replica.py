"""Replicas as containers: each runs its function's image with podman (or docker), via the CLI.

Start-up is split where the engine splits it: ``<engine> create`` (the container's record and
storage layer; ``spawn_ts`` → ``create_done_ts``), then ``<engine> start --attach``
(``start_call_ts`` → cgroup, namespaces and mounts, and the OCI runtime forks the container's
init, which execs the function runtime) → runtime up → import + init → ready. The attached
process relays the container's stdout, read exactly as a process replica's is
(``VSB_LISTENING`` / ``VSB_READY`` / ``VSB_INIT_FAILED``); its stderr (the container's and the
engine's own errors) goes to the replica's log.

``--network host`` with the runtime bound to 127.0.0.1: reachable on loopback only, and it
reaches the loopback S3 server and gateway. ``--memory`` = the policy's ``memory_mb`` (the
kernel enforces it; no swap beyond it). ``--rm``: whatever ends a container, the engine removes
it. A container cannot see the platform's pid, so it watches the platform's lock instead
(``VSB_PARENT_LOCK``, see :mod:`vsbench.platform.lock`).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.runtime import announce

from ..errors import VsbError
from .ports import free_port, wait_http

LABEL_REPLICA = "vsbench.replica"
LABEL_FUNCTION = "vsbench.function"
LABEL_PLATFORM = "vsbench.platform"
# Host env that means the same inside the container (everything else comes from the image).
FORWARDED_ENV = ("VSB_FUNCTION_CONFIG",)
SECRETS_MOUNT = "/var/openfaas/secrets"
POD_PORT = 8080  # where an OpenFaaS image listens in its own network (of-watchdog's default)


@dataclass
class ContainerSpec:
    """What every container of one deployment shares (the provider fills it)."""

    engine: str  # podman | docker
    exe: str  # the engine's CLI
    image: str
    platform: str  # the platform's state folder: label value, and how leftovers are found
    name_suffix: str  # short, unique to the running platform
    lock_path: Path | None  # the platform's lock (VSB_PARENT_LOCK), mounted read-only
    mounts: list[tuple[Path, str]] = field(default_factory=list)  # (host path, "rw" | "ro")
    cpus: float | None = None
    extra_args: list[str] = field(default_factory=list)  # more create options (experiments)
    # An image not built by vsbench (no vsbench.function label) speaks of-watchdog's
    # contract: its own entrypoint serves HTTP on $port (8080) in a network of its own,
    # published on a loopback port; ready when /_/health answers 200.
    watchdog: bool = False
    secrets: list[tuple[Path, str]] = field(default_factory=list)  # (file, name) read-only
    read_only: bool = False


@dataclass
class ContainerReplica:
    function: str
    replica_id: str
    env: dict[str, str]
    log_dir: Path
    spec: ContainerSpec
    memory_mb: int
    port: int = 0
    spawn_ts: float = 0.0  # the create call began
    create_done_ts: float | None = None  # the create call returned
    start_call_ts: float | None = None  # the start call began
    ready_ts: float | None = None  # VSB_READY read here
    init_error: str | None = None
    container_id: str | None = None
    host_pid: int | None = None  # the container's init as the host sees it
    cgroup_dir: Path | None = None  # its memory cgroup
    oom_events: int = 0  # times its cgroup ran out of memory (the OOM killer acted)
    proc: subprocess.Popen | None = field(default=None, repr=False)  # start --attach
    _ready: threading.Event = field(default_factory=threading.Event, repr=False)
    _eof: bool = field(default=False, repr=False)  # stdout closed: the container ended
    _oom_watch: threading.Thread | None = field(default=None, repr=False)
    _stopping: bool = field(default=False, repr=False)  # we stopped or killed it
    _tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=5),
                                     repr=False)

    host = "container"

    @property
    def name(self) -> str:
        return f"{self.replica_id}-{self.spec.name_suffix}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.host_pid

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.replica_id}.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # --- start ---------------------------------------------------------------------------
    def container_env(self) -> dict[str, str]:
        env = {**{k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}, **self.env,
               "VSB_SPAWN_TS": repr(self.spawn_ts), "VSB_REPLICA_ID": self.replica_id}
        if self.spec.lock_path is not None:
            env["VSB_PARENT_LOCK"] = str(self.spec.lock_path)
        return env

    def create_args(self, env: dict[str, str]) -> list[str]:
        """The ``create`` command line (without the engine's executable). Env values travel
        in the engine's own environment (``--env NAME`` copies it from there), not on its
        command line, where ``ps`` would show the S3 secret."""
        # vsbench's runtime shares the host's network (bound to loopback: cheaper to start);
        # any other image gets its own, with its port 8080 published on loopback only.
        network = (["--network", "bridge", "--publish", f"127.0.0.1:{self.port}:{POD_PORT}"]
                   if self.spec.watchdog else ["--network", "host"])
        args = ["create", "--rm", "--pull", "never", "--name", self.name, *network,
                "--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m",
                "--label", f"{LABEL_REPLICA}={self.replica_id}",
                "--label", f"{LABEL_FUNCTION}={self.function}",
                "--label", f"{LABEL_PLATFORM}={self.spec.platform}"]
        if self.spec.cpus:
            args += ["--cpus", f"{self.spec.cpus:g}"]
        mounts = list(self.spec.mounts)
        if self.spec.lock_path is not None:
            mounts.append((self.spec.lock_path, "ro"))
        for path, mode in mounts:  # same path inside: env values stay true in there
            args += ["--volume", f"{path}:{path}:{mode}"]
        for path, name in self.spec.secrets:  # where OpenFaaS functions read their secrets
            args += ["--volume", f"{path}:{SECRETS_MOUNT}/{name}:ro"]
        if self.spec.read_only:
            args.append("--read-only")
        for key in env:
            args += ["--env", key]
        if self.spec.watchdog:  # the image's own entrypoint, on the port we chose
            return [*args, *self.spec.extra_args, self.spec.image]
        return [*args, *self.spec.extra_args, self.spec.image, "--function", self.function,
                "--host", "127.0.0.1", "--port", "0"]

    def spawn(self) -> None:
        """Create the container, then start it attached; returns once it is starting."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spawn_ts = time.time()
        env = self.container_env()
        if self.spec.watchdog:
            self.port = free_port()  # on the host's loopback, published to the container's
            env["port"] = str(POD_PORT)  # of-watchdog's listen port
        created = subprocess.run([self.spec.exe, *self.create_args(env)], capture_output=True,
                                 text=True, stdin=subprocess.DEVNULL, timeout=120,
                                 env={**os.environ, **env}, cwd=self.log_dir)
        self.create_done_ts = time.time()
        if created.returncode != 0:
            err = _last_line(created.stderr) or f"exit {created.returncode}"
            with open(self.log_path, "a") as log:
                log.write(f"{self.spec.engine} create failed: {created.stderr}\n")
            if "image not known" in err or "No such image" in err:
                hint = ("load it into the engine's store (nothing is pulled)"
                        if self.spec.watchdog else
                        f"run `vsbench build --images {self.function}`")
                raise VsbError(f"no image {self.spec.image} for {self.function} in "
                               f"{self.spec.engine}'s local store: {hint}")
            raise VsbError(f"replica {self.replica_id} of {self.function}: {self.spec.engine} "
                           f"create failed: {err}")
        self.container_id = created.stdout.strip().splitlines()[-1]
        self.start_call_ts = time.time()
        try:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.spec.exe, "start", "--attach", self.container_id],
                    stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a terminal's Ctrl-C is the platform's to handle
                    cwd=self.log_dir,  # conmon drops an "oom" file in its cwd on an OOM kill
                )
        except OSError as exc:  # --rm removes only containers that ran
            remove_containers(self.spec.engine, self.spec.exe, [self.container_id])
            raise VsbError(f"replica {self.replica_id} of {self.function}: {self.spec.engine} "
                           f"start could not run: {exc}") from None
        threading.Thread(target=self._watch_stdout, args=(self.proc.stdout,), daemon=True,
                         name=f"stdout-{self.replica_id}").start()
        if self.spec.watchdog:
            threading.Thread(target=self._watch_health, daemon=True,
                             name=f"health-{self.replica_id}").start()

    def _watch_health(self) -> None:
        """of-watchdog's readiness: ``GET /_/health`` answers 200 once its function is up."""
        if wait_http(f"{self.url}/_/health", timeout_s=600, interval_s=0.01,
                     alive=lambda: not self._eof and not self._stopping):
            self.ready_ts = time.time()
            threading.Thread(target=self._find_host_side, daemon=True,
                             name=f"inspect-{self.replica_id}").start()
        self._ready.set()

    def _watch_stdout(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").strip()
            self._tail.append(line)
            said = None if self.spec.watchdog else announce.parse(line)
            if said is None:
                if self.spec.watchdog:  # the function's own output belongs in its log
                    with open(self.log_path, "a") as log:
                        log.write(line + "\n")
                continue
            if said.kind == announce.LISTENING:
                self.port = said.port
                # Off the critical path: the host's view of the container (pid, cgroup).
                threading.Thread(target=self._find_host_side, daemon=True,
                                 name=f"inspect-{self.replica_id}").start()
            elif said.kind == announce.READY:
                self.ready_ts = time.time()
                self._ready.set()
            else:
                self.init_error = said.reason
                self._ready.set()
        self._eof = True
        self._ready.set()  # EOF: the container is gone; wake any waiter

    def _find_host_side(self) -> None:
        state = self.inspect().get("State") or {}
        pid = state.get("Pid") or None
        if not pid:
            return
        self.host_pid = pid
        self.cgroup_dir = memory_cgroup(pid)
        if self.cgroup_dir is not None and (self.cgroup_dir / "memory.oom_control").exists():
            self._oom_watch = threading.current_thread()
            self._watch_oom(self.cgroup_dir)

    def _watch_oom(self, cgroup: Path) -> None:
        """cgroup v1: count the memory controller's OOM notifications (an eventfd). The
        engine removes the cgroup a moment after the container dies, so its exit is too late
        to ask the cgroup; the kernel also signals the eventfd on that removal, which is
        told apart by the cgroup being gone."""
        control = cgroup / "memory.oom_control"
        if not control.exists() or not hasattr(os, "eventfd"):
            return
        try:
            efd = os.eventfd(0)
            cfd = os.open(control, os.O_RDONLY)
            with open(cgroup / "cgroup.event_control", "w") as ec:
                ec.write(f"{efd} {cfd}")
        except OSError:
            return
        try:
            while self.alive():
                os.eventfd_read(efd)  # an OOM event, or the cgroup's removal
                if not cgroup.exists():
                    return
                self.oom_events += 1
        except OSError:
            pass
        finally:
            os.close(cfd)
            os.close(efd)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until the replica is ready; raise :class:`VsbError` (and remove it) otherwise."""
        if (not self._ready.wait(timeout_s) or self.init_error or self._eof
                or not self.alive() or self.ready_ts is None):
            if self.init_error:
                reason = f"init failed: {self.init_error}"
            elif self._eof or not self.alive():
                try:
                    self.proc.wait(10)  # stdout closes a moment before the engine exits
                except subprocess.TimeoutExpired:
                    pass
                reason = f"exited during start-up: {self.exit_reason()}"
            else:
                reason = f"not ready after {timeout_s:.0f} s"
            self.stop()
            raise VsbError(f"replica {self.replica_id} of {self.function} (container "
                           f"{self.name}) {reason}; see {self.log_path}")

    def start(self, timeout_s: float = 120.0) -> ContainerReplica:
        self.spawn()
        self.wait_ready(timeout_s)
        return self

    # --- observing -----------------------------------------------------------------------
    def inspect(self) -> dict[str, Any]:
        """``<engine> inspect`` of the container ({} once it is gone)."""
        if not self.container_id:
            return {}
        out = subprocess.run([self.spec.exe, "inspect", "--type", "container",
                              self.container_id], capture_output=True, timeout=30)
        try:
            return json.loads(out.stdout)[0] if out.returncode == 0 else {}
        except (ValueError, IndexError):
            return {}

    def exit_info(self) -> dict[str, Any]:
        """How the container ended: exit code (``start --attach`` passes it on), OOM kill
        and why, in words. Not ``inspect``: with ``--rm`` the record is gone by now, and
        podman 4.3 with cgroup v1 leaves ``State.OOMKilled`` false anyway; the kernel's own
        count, read while the cgroup still exists (:meth:`_watch_oom`), is what tells."""
        code = self.proc.poll() if self.proc is not None else None
        if code == 137 and self._oom_watch is not None:
            self._oom_watch.join(0.2)  # the OOM event comes before the exit, but on a thread
        killed = code == 137 and not self._stopping  # SIGKILL, and not from us
        info: dict[str, Any] = {"exit_code": code,
                                "oom_killed": killed and self.oom_events > 0}
        if killed and self._oom_watch is None:
            info["oom_killed"] = None  # unwatched: the OOM killer, most likely
        info["exit_reason"] = self.exit_reason(info)
        return info

    def exit_reason(self, info: dict[str, Any] | None = None) -> str:
        info = info if info is not None else self.exit_info()
        code = info.get("exit_code")
        if code is None:
            words = "still running"
        elif code == 137 and not self._stopping:
            words = "exit 137 (SIGKILL)"
            if info.get("oom_killed"):
                words += f": OOM-killed by the kernel at its {self.memory_mb} MiB limit"
            elif info.get("oom_killed") is None:
                words += f", most likely the kernel's OOM killer at {self.memory_mb} MiB"
        else:
            words = f"exit {code}"
        tail = self._log_tail()
        return f"{words}; last output: {tail}" if tail else words

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            text = ""
        out = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
        out += [ln for ln in self._tail if ln and not ln.startswith("VSB_")][-lines:]
        return " | ".join(out[-lines:])

    def telemetry(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_/telemetry", timeout=5) as resp:
            return json.loads(resp.read())

    def lifecycle(self) -> dict[str, Any]:
        """Provider-side milestones for the platform's replica record."""
        return {"host": self.host, "engine": self.spec.engine, "image": self.spec.image,
                "container": self.name, "container_id": self.container_id,
                "create_done_ts": self.create_done_ts, "start_call_ts": self.start_call_ts}

    def rss_mb(self) -> float:
        """Memory the kernel charges the container, minus reclaimable file cache (what
        ``docker stats`` shows); the limit it is enforced against is ``memory_mb``."""
        if self.cgroup_dir is not None:
            mb = cgroup_memory_mb(self.cgroup_dir)
            if mb is not None:
                return mb
        if self.host_pid:  # no cgroup found: the container's process tree
            import psutil

            try:
                root = psutil.Process(self.host_pid)
                procs = [root, *root.children(recursive=True)]
                return sum(p.memory_info().rss for p in procs) / 2**20
            except psutil.Error:
                pass
        return 0.0

    # --- ending --------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL the container (failure injection); the engine then removes it (--rm)."""
        if self.container_id and self.alive():
            self._stopping = True
            subprocess.run([self.spec.exe, "kill", "--signal", "KILL", self.container_id],
                           capture_output=True, timeout=60)

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, SIGKILL after ``grace_s``, and remove the container."""
        if self.container_id is None:
            return
        self._stopping = True
        remove_containers(self.spec.engine, self.spec.exe, [self.container_id], grace_s)
        if self.proc is not None:
            try:
                self.proc.wait(grace_s + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- engine and cgroup helpers -------------------------------------------------------------
def remove_containers(engine: str, exe: str, ids: list[str], grace_s: float = 0.0) -> None:
    """Stop (SIGTERM, SIGKILL after ``grace_s``) and remove containers; gone ones are fine."""
    if not ids:
        return
    t = str(max(0, round(grace_s)))
    if engine == "podman":
        subprocess.run([exe, "rm", "--force", "--time", t, *ids], capture_output=True,
                       timeout=grace_s + 120)
    else:  # docker rm --force has no grace period
        subprocess.run([exe, "stop", "--time", t, *ids], capture_output=True,
                       timeout=grace_s + 120)
        subprocess.run([exe, "rm", "--force", *ids], capture_output=True, timeout=120)


def labelled_containers(exe: str, label: str, value: str) -> list[str]:
    """Ids of every container (running or not) with ``label=value``."""
    out = subprocess.run([exe, "ps", "--all", "--quiet", "--no-trunc",
                          "--filter", f"label={label}={value}"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.split() if out.returncode == 0 else []


def memory_cgroup(pid: int) -> Path | None:
    """The memory cgroup folder of ``pid`` (cgroup v1 memory controller, or v2's unified)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            return folder if folder.is_dir() else None
    for line in lines:
        if line.startswith("0::"):
            folder = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
            return folder if (folder / "memory.current").exists() else None
    return None


def cgroup_memory_mb(cgroup: Path) -> float | None:
    """Charged memory minus inactive file cache, in MiB (None when the cgroup is gone)."""
    try:
        if (cgroup / "memory.usage_in_bytes").exists():
            usage = int((cgroup / "memory.usage_in_bytes").read_text())
            key = "total_inactive_file"
        else:
            usage = int((cgroup / "memory.current").read_text())
            key = "inactive_file"
        stat = dict(line.split() for line in (cgroup / "memory.stat").read_text().splitlines())
        return max(0, usage - int(stat.get(key, 0))) / 2**20
    except (OSError, ValueError):
        return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
