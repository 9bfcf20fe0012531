"""Tearing the local cluster down so that nothing is left: pods first (through the API, so the
kubelet releases their sandboxes and addresses), then the processes in reverse start order,
then a sweep of what a crash could leave: containers (runc), shims, mounts under the state
folder, network namespaces whose veth sits on our bridge, the bridge, the state folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import components as comp


def _pids_matching(needle: str) -> list[int]:
    import psutil

    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if needle in cmd and p.pid != os.getpid():
            out.append(p.pid)
    return out


def _stop_all(pids: list[tuple[int, float]], grace_s: float) -> None:
    """SIGTERM every (pid, start time) still ours at once; SIGKILL what is left after
    ``grace_s`` (pods are gone by now, so order no longer matters)."""
    import psutil

    procs = []
    for pid, started in pids:
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - started) < 2:  # else the pid is someone else's now
                p.send_signal(signal.SIGTERM)
                procs.append(p)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=10)


def delete_all_pods(kubeconfig: Path, timeout_s: float = 60) -> int:
    """Delete every workload and pod (grace 0); wait until the kubelet has stopped them all.
    Returns how many pods were left when it gave up (0: clean)."""
    from .local import api_client

    try:
        api, client = api_client(kubeconfig)
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        for d in apps.list_deployment_for_all_namespaces(_request_timeout=10).items:
            apps.delete_namespaced_deployment(d.metadata.name, d.metadata.namespace,
                                              grace_period_seconds=0,
                                              propagation_policy="Background",
                                              _request_timeout=10)
        for s in apps.list_stateful_set_for_all_namespaces(_request_timeout=10).items:
            apps.delete_namespaced_stateful_set(s.metadata.name, s.metadata.namespace,
                                                grace_period_seconds=0, _request_timeout=10)
        deadline = time.monotonic() + timeout_s
        while True:
            pods = core.list_pod_for_all_namespaces(_request_timeout=10).items
            if not pods:
                return 0
            if time.monotonic() > deadline:
                return len(pods)
            for p in pods:
                if p.metadata.deletion_timestamp is None:
                    core.delete_namespaced_pod(p.metadata.name, p.metadata.namespace,
                                               grace_period_seconds=0, _request_timeout=10)
            time.sleep(0.5)
    except Exception:  # noqa: BLE001 - the API is gone: the sweep below does it the hard way
        return -1


def _runc_containers(runc_root: Path) -> list[str]:
    if not shutil.which("runc") or not runc_root.is_dir():
        return []
    ids = []
    for ns in runc_root.iterdir():
        out = subprocess.run(["runc", "--root", str(ns), "list", "-q"], capture_output=True,
                             text=True, timeout=30)
        ids += [(str(ns), i) for i in out.stdout.split()]
    return ids


def _our_mounts(state: Path) -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == str(state) or point.startswith(f"{state}/"):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def _bridge_port_indexes() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", comp.BRIDGE],
                         capture_output=True, text=True, timeout=30)
    return {line.split(":", 1)[0].strip() for line in out.stdout.splitlines() if line.strip()}


def our_netns(before: list[str]) -> list[str]:
    """Network namespaces (``/run/netns``) made since up whose eth0's peer is on our bridge."""
    folder = Path("/run/netns")
    if not folder.is_dir():
        return []
    ports = _bridge_port_indexes()
    ours = []
    for name in sorted(os.listdir(folder)):
        if name in before or not name.startswith("cni-"):
            continue
        out = subprocess.run(["ip", "-n", name, "-o", "link", "show", "eth0"],
                             capture_output=True, text=True, timeout=30).stdout
        peer = out.split("@if", 1)[1].split(":", 1)[0] if "@if" in out else None
        if peer in ports or (not out and not ports):
            ours.append(name)  # on our bridge, or an empty namespace once the bridge is gone
    return ours


def cluster_down(log=print) -> dict:
    """Stop the local cluster and remove every trace; returns what was found and removed."""
    from .local import kubeconfig_path, read_record, state_dir

    state = state_dir()
    record = read_record() or {}
    report: dict = {"pods_left": None, "stopped": [], "containers": 0, "mounts": 0,
                    "netns": 0, "bridge": False}
    procs = record.get("procs") or {}
    if "kube-apiserver" in procs and "kubelet" in procs and kubeconfig_path().exists():
        report["pods_left"] = delete_all_pods(kubeconfig_path())
    # 3 s: the state is removed next, so nothing needs a graceful end (kube-apiserver's own
    # shutdown takes over 15 s once etcd is going)
    _stop_all([(procs[n]["pid"], procs[n]["started"]) for n in reversed(list(procs))], 3)
    report["stopped"] = list(reversed(list(procs)))
    runc_root = state / "containerd" / "runc"
    for ns, cid in _runc_containers(runc_root):
        subprocess.run(["runc", "--root", ns, "delete", "--force", cid], capture_output=True,
                       timeout=60)
        report["containers"] += 1
    sock = str(state / "containerd" / "containerd.sock")
    for pid in _pids_matching(sock):  # shims of our containerd
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for name in our_netns(record.get("netns_before") or []):
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=30)
        report["netns"] += 1
    for point in _our_mounts(state):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
        report["mounts"] += 1
    if subprocess.run(["ip", "link", "show", comp.BRIDGE], capture_output=True,
                      timeout=30).returncode == 0:
        subprocess.run(["ip", "link", "delete", comp.BRIDGE], capture_output=True, timeout=30)
        report["bridge"] = True
    if state.exists():
        shutil.rmtree(state, ignore_errors=True)
    report["left"] = leftovers()
    return report


def leftovers() -> list[str]:
    """Anything of a local cluster still on this machine (empty: all clean)."""
    from .local import state_dir

    state = state_dir()
    found = [f"process {pid}" for pid in _pids_matching(str(state))]
    found += [f"mount {m}" for m in _our_mounts(state)]
    if subprocess.run(["ip", "link", "show", comp.BRIDGE], capture_output=True,
                      timeout=30).returncode == 0:
        found.append(f"interface {comp.BRIDGE}")
    if state.exists():
        found.append(f"folder {state}")
    return found
