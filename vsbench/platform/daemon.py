"""``vsbench platform up | down | status``: the embedded platform as a background daemon.

The daemon (``python -m vsbench.platform.daemon STATE_DIR``) runs an
:class:`EmbeddedPlatform` until SIGTERM and writes ``STATE_DIR/state.json`` (pid,
gateway_url, s3_url, basic_auth_file, host, logs) once it is up; ``down`` stops it and
everything it started. Replicas exit by themselves if the daemon dies: a process replica
watches its parent, a container replica the daemon's lock (``STATE_DIR/platform.lock``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import VsbError
from ..paths import vsb_home
from .storage import StorageConfig


def default_state_dir() -> Path:
    return Path(os.environ.get("VSB_PLATFORM_DIR") or vsb_home() / "platform")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs. Reaps it if it is our own exited child (a zombie would
    otherwise look alive to ``kill(pid, 0)``)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: its parent or init reaps it
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def read_state(state_dir: Path | None = None) -> dict[str, Any] | None:
    """The running platform's state, or None when none is up (stale files are ignored)."""
    path = (state_dir or default_state_dir()) / "state.json"
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(state.get("pid"), int) or not _alive(state["pid"]):
        return None
    return state


def platform_up(state_dir: Path | None = None, storage: StorageConfig | None = None,
                timeout_s: float = 60.0, exit_with_parent: bool = False,
                host: str = "process", engine: str = "podman",
                cpus: float | None = None) -> dict[str, Any]:
    """Start the daemon and wait until it is up. ``exit_with_parent``: the daemon stops by
    itself when this process dies (experiments: a killed run leaves nothing behind).
    ``host``: replicas as processes or containers (``engine``, ``cpus`` per replica)."""
    state_dir = state_dir or default_state_dir()
    running = read_state(state_dir)
    if running:
        if running.get("host", "process") != host:
            raise VsbError(f"a platform with host={running.get('host', 'process')} is already "
                           f"running on {state_dir}; stop it first with `vsbench platform down`")
        return running
    if host == "container":
        from ..images.engine import find_engine

        find_engine(engine)  # one clear line here rather than a dead daemon
    if host == "kubernetes":
        from ..cluster.local import api_client
        from .kubernetes_provider import default_kubeconfig

        api_client(default_kubeconfig())  # likewise: no cluster, or no client package
    storage = (storage or StorageConfig()).resolved()
    storage.check()  # likewise: a missing binary or credentials file is one line here
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "state.json").unlink(missing_ok=True)
    log = open(state_dir / "daemon.log", "ab")
    cmd = [sys.executable, "-m", "vsbench.platform.daemon", str(state_dir),
           "--storage", json.dumps(storage.to_dict()),
           "--host", host, "--engine", engine]
    if cpus:
        cmd += ["--cpus", f"{cpus:g}"]
    if exit_with_parent:
        cmd += ["--parent", str(os.getpid())]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(state_dir)
        if state:
            return state
        if proc.poll() is not None:
            tail = (state_dir / "daemon.log").read_text().strip().splitlines()[-1:]
            raise VsbError(f"the platform daemon exited ({tail[0] if tail else 'no output'}); "
                           f"see {state_dir / 'daemon.log'}")
        time.sleep(0.05)
    proc.terminate()
    raise VsbError(f"the platform did not come up within {timeout_s:.0f} s; "
                   f"see {state_dir / 'daemon.log'}")


def platform_down(state_dir: Path | None = None, timeout_s: float = 60.0) -> bool:
    """Stop the daemon (it stops its replicas and S3). False when none was running."""
    state_dir = state_dir or default_state_dir()
    state = read_state(state_dir)
    if not state:
        (state_dir / "state.json").unlink(missing_ok=True)
        return False
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(state["pid"]):
            break
        time.sleep(0.05)
    else:
        os.killpg(state["pid"], signal.SIGKILL)
    (state_dir / "state.json").unlink(missing_ok=True)
    return True


def _watch_parent(pid: int, stop: threading.Event) -> None:
    # Re-parenting happens when the parent dies, reaped or not (a zombie still answers kill 0).
    while not stop.wait(0.5):
        if os.getppid() != pid:
            print(f"parent {pid} is gone; stopping", flush=True)
            stop.set()


def _serve(state_dir: Path, storage: StorageConfig, parent: int | None = None,
           host: str = "process", engine: str = "podman", cpus: float | None = None) -> None:
    from .embedded import EmbeddedPlatform

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    if parent:
        threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()
    try:
        platform = EmbeddedPlatform(state_dir, storage=storage, host=host, engine=engine,
                                    cpus=cpus).start()
    except VsbError as exc:  # the last line of the log is what `platform up` reports
        print(f"error: {exc}", flush=True)
        sys.exit(2)
    try:
        state = {"pid": os.getpid(), "started_ts": time.time(), **platform.describe(),
                 "logs": {"daemon": str(state_dir / "daemon.log"),
                          "events": str(state_dir / "events"),
                          "replicas": str(state_dir / "replicas")}}
        tmp = state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, state_dir / "state.json")  # atomic: readers never see half a file
        leftovers = (f" ({platform.leftovers_removed} leftover containers removed)"
                     if platform.leftovers_removed else "")
        print(f"platform up: gateway {platform.gateway_url}, s3 {platform.s3.url}, host {host}"
              f"{leftovers}", flush=True)
        stop.wait()
    finally:
        platform.stop()
        (state_dir / "state.json").unlink(missing_ok=True)
        print("platform down", flush=True)


if __name__ == "__main__":
    import argparse

    from .providers import add_host_arguments

    ap = argparse.ArgumentParser()
    ap.add_argument("state_dir", type=Path)
    ap.add_argument("--storage", default="{}", help="StorageConfig as JSON")
    ap.add_argument("--parent", type=int, help="stop when this process is gone")
    add_host_arguments(ap)
    a = ap.parse_args()
    _serve(a.state_dir, StorageConfig(**json.loads(a.storage)), a.parent, a.host, a.engine, a.cpus)
