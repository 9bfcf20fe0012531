"""``vsbench cluster up|down|status``: a real single-node Kubernetes on this machine.

``up`` builds what is missing (:mod:`.build`), makes the pod bridge, certificates and configs
(:mod:`.pki`, :mod:`.components`), starts etcd, the control plane, containerd and the kubelet
as detached processes, imports the pause image and waits for the node to be Ready. Its record
(pids, ports, timings) is ``<state>/cluster.json``. ``down`` deletes every pod through the API
(so the kubelet tears their sandboxes down), stops the processes, then sweeps whatever is left:
containers (runc), shims, mounts under the state folder, the pods' network namespaces (found by
their veth on our bridge), the bridge, and the state folder itself. Images and binaries stay
in the cluster folder (:func:`vsbench.paths.cluster_dir`: ``bin/``, ``images/``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import VsbError
from . import components as comp
from .build import KUBERNETES_VERSION, bin_dir, binaries_present, cluster_home

ORDER = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd",
         "kubelet"]
PORTS = ["etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kubelet",
         "kubelet_healthz"]


def state_dir() -> Path:
    return cluster_home() / "state"


def record_path() -> Path:
    return state_dir() / "cluster.json"


def read_record() -> dict | None:
    try:
        return json.loads(record_path().read_text())
    except (OSError, ValueError):
        return None


def kubeconfig_path() -> Path:
    """Where the running local cluster's admin kubeconfig is (whether or not it is up)."""
    return state_dir() / "kubeconfig"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise VsbError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-200:]}")
    return proc


def find_cni_bin() -> str | None:
    for d in comp.CNI_BIN_DIRS:
        if all((Path(d) / p).exists() for p in ("bridge", "host-local", "loopback")):
            return d
    return None


def missing_host_tools() -> list[str]:
    """What the local cluster needs from the system and does not find (names to install)."""
    missing = [t for t in ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "ip")
               if not shutil.which(t)]
    if find_cni_bin() is None:
        missing.append("containernetworking-plugins")
    return missing


def _alive(pid: int, started: float) -> bool:
    import psutil

    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - started) < 2 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass
class UpResult:
    kubeconfig: Path
    seconds: dict[str, float]
    version: str


def _spawn(name: str, cmd: list[str], layout: comp.Layout, env: dict | None = None) -> dict:
    import psutil

    log = open(layout.logs / f"{name}.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, **(env or {})})
    log.close()
    return {"pid": proc.pid, "started": psutil.Process(proc.pid).create_time()}


def _wait(what: str, check, timeout: float, layout: comp.Layout, name: str,
          procs: dict) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        info = procs.get(name)
        if info and not _alive(info["pid"], info["started"]):
            raise VsbError(f"{name} exited during start-up: "
                           f"{_log_tail(layout.logs / f'{name}.log')}; see {failed_log(name)}")
        time.sleep(0.2)
    raise VsbError(f"{what} not within {timeout:.0f} s; see {failed_log(name)}")


def failed_log(name: str) -> Path:
    """Where a component's log is kept when ``up`` fails (the state folder is removed)."""
    return cluster_home() / "last-failed-logs" / f"{name}.log"


def _log_tail(path: Path, n: int = 2) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()
                 if ln.strip()]
    except OSError:
        return "(no log)"
    return " | ".join(ln[-240:] for ln in lines[-n:])


def _https_ok(url: str, pki) -> bool:
    import requests

    try:
        r = requests.get(url, cert=(str(pki.clients["admin"].cert),
                                    str(pki.clients["admin"].key)),
                         verify=str(pki.ca.cert), timeout=2)
        return r.status_code == 200
    except requests.RequestException:
        return False


def _http_ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def make_bridge() -> None:
    if _run(["ip", "link", "show", comp.BRIDGE], check=False).returncode != 0:
        _run(["ip", "link", "add", comp.BRIDGE, "type", "bridge"])
    addrs = _run(["ip", "-o", "-4", "addr", "show", "dev", comp.BRIDGE]).stdout
    if f"{comp.BRIDGE_IP}/" not in addrs:
        prefix = comp.POD_CIDR.split("/")[1]
        _run(["ip", "addr", "add", f"{comp.BRIDGE_IP}/{prefix}", "dev", comp.BRIDGE])
    _run(["ip", "link", "set", comp.BRIDGE, "up"])


def cluster_up(version: str = KUBERNETES_VERSION, log=print, timeout_s: float = 240) -> UpResult:
    from .build import build_cluster_binaries

    if os.geteuid() != 0:
        raise VsbError("the local cluster needs root (the kubelet mounts volumes and "
                       "containerd makes network namespaces): run `sudo vsbench cluster up`")
    missing = missing_host_tools()
    if missing:
        raise VsbError(f"the local cluster needs {', '.join(missing)}: run "
                       f"`vsbench setup --cluster`")
    record = read_record()
    if record and cluster_alive(record):
        raise VsbError(f"a local cluster is already up (kubeconfig {kubeconfig_path()}); "
                       f"`vsbench cluster down` first")
    if state_dir().exists():
        from .teardown import cluster_down

        cluster_down(log=lambda *_: None)  # a dead cluster's leftovers
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    if not binaries_present(version):
        log(f"cluster up: building Kubernetes v{version} (cold: about 15 min on 2 cores)")
        build_cluster_binaries(version, log=log)
        seconds["build"] = time.perf_counter() - t0
    layout = comp.Layout(state_dir(), bin_dir(version), {k: _free_port() for k in PORTS})
    for folder in (layout.logs, layout.pki, layout.etcd_data, layout.kubelet_root,
                   layout.config):
        folder.mkdir(parents=True, exist_ok=True)
    layout.etcd_data.chmod(0o700)
    record = {"version": version, "ports": layout.ports, "procs": {}, "bin": str(layout.bin),
              "netns_before": sorted(os.listdir("/run/netns")) if Path("/run/netns").is_dir()
              else []}
    record_path().write_text(json.dumps(record, indent=1))
    try:
        return _bring_up(layout, record, version, seconds, t0, timeout_s)
    except BaseException:
        from .teardown import cluster_down

        keep = failed_log("x").parent
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(layout.logs, keep, dirs_exist_ok=True)
        cluster_down(log=lambda *_: None)  # nothing half-started stays behind
        raise


def _bring_up(layout: comp.Layout, record: dict, version: str, seconds: dict, t0: float,
              timeout_s: float) -> UpResult:
    from .images import PAUSE_IMAGE, cluster_images, import_archive
    from .pki import make_pki, write_kubeconfig

    make_bridge()
    pki = make_pki(layout.pki, comp.NODE_NAME, ["127.0.0.1", comp.BRIDGE_IP], comp.SERVICE_IP)
    write_kubeconfig(layout.kubeconfig, layout.server, pki.ca.cert, pki.clients["admin"],
                     "vsbench-admin")
    for name in ("kube-controller-manager", "kube-scheduler"):
        write_kubeconfig(layout.component_kubeconfig(name), layout.server, pki.ca.cert,
                         pki.clients[name], name)
    write_kubeconfig(layout.component_kubeconfig("kubelet"), layout.server, pki.ca.cert,
                     pki.kubelet, f"system:node:{comp.NODE_NAME}")
    pause = ensure_pause(version)
    comp.write_configs(layout, pki, find_cni_bin(), PAUSE_IMAGE)
    cmds = comp.commands(layout, pki)
    procs = record["procs"]

    def start(name: str) -> None:
        procs[name] = _spawn(name, cmds[name], layout)
        record_path().write_text(json.dumps(record, indent=1))

    t = time.perf_counter()
    start("etcd")
    _wait("etcd healthy", lambda: _http_ok(f"http://127.0.0.1:{layout.ports['etcd']}/health"),
          60, layout, "etcd", procs)
    start("kube-apiserver")
    _wait("API server ready", lambda: _https_ok(f"{layout.server}/readyz", pki), timeout_s,
          layout, "kube-apiserver", procs)
    start("kube-controller-manager")
    start("kube-scheduler")
    seconds["control_plane"] = time.perf_counter() - t
    t = time.perf_counter()
    start("containerd")
    _wait("containerd socket", layout.containerd_sock.exists, 60, layout, "containerd", procs)
    if PAUSE_IMAGE not in cluster_images(layout.containerd_sock):
        import_archive(layout.containerd_sock, pause)
    start("kubelet")
    _wait("node Ready", lambda: node_ready(layout.kubeconfig), timeout_s, layout, "kubelet",
          procs)
    seconds["node_ready"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    record["seconds"] = seconds
    record["up_ts"] = time.time()
    record_path().write_text(json.dumps(record, indent=1))
    return UpResult(layout.kubeconfig, seconds, version)


def ensure_pause(version: str = KUBERNETES_VERSION) -> Path:
    """The pause image archive, built once from the release's ``pause.c`` (the module's
    source, from the Go module cache or the proxy)."""
    from .build import find_go
    from .images import build_pause

    archive = cluster_home() / "images" / "pause.tar"
    if archive.is_file():
        return archive
    proc = subprocess.run([find_go(), "mod", "download", "-json",
                           f"k8s.io/kubernetes@v{version}"], capture_output=True, text=True,
                          timeout=900, cwd=cluster_home())
    try:
        source = Path(json.loads(proc.stdout)["Dir"]) / "build" / "pause" / "linux" / "pause.c"
    except (ValueError, KeyError):
        raise VsbError(f"cannot get the source of Kubernetes v{version} for its pause image: "
                       f"{proc.stderr.strip()[-200:]}") from None
    return build_pause(source, archive.parent)


def api_client(kubeconfig: Path):
    """A ``kubernetes`` client ApiClient for ``kubeconfig``."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise VsbError("the Kubernetes platform needs the `kubernetes` package: "
                       "pip install 'vsbench[cluster]'") from None
    if not Path(kubeconfig).is_file():
        hint = ("the local cluster is not up: run `vsbench cluster up`"
                if Path(kubeconfig) == kubeconfig_path() else "pass --kubeconfig FILE")
        raise VsbError(f"no kubeconfig at {kubeconfig}; {hint}")
    try:
        return config.new_client_from_config(str(kubeconfig)), client
    except Exception as exc:  # noqa: BLE001 - malformed file: one line
        raise VsbError(f"kubeconfig {kubeconfig} cannot be used: {exc}") from None


def node_ready(kubeconfig: Path) -> bool:
    try:
        api, client = api_client(kubeconfig)
        node = client.CoreV1Api(api).read_node(comp.NODE_NAME, _request_timeout=3)
    except Exception:  # noqa: BLE001 - not registered yet, or the API is busy
        return False
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def cluster_alive(record: dict) -> bool:
    procs = record.get("procs") or {}
    return bool(procs) and all(_alive(p["pid"], p["started"]) for p in procs.values())


def cluster_status() -> dict:
    record = read_record()
    if record is None:
        return {"up": False, "state": str(state_dir())}
    procs = {n: _alive(p["pid"], p["started"]) for n, p in (record.get("procs") or {}).items()}
    out = {"up": bool(procs) and all(procs.values()), "processes": procs,
           "version": f"v{record.get('version')}", "kubeconfig": str(kubeconfig_path()),
           "ports": record.get("ports"), "seconds": record.get("seconds")}
    if out["up"]:
        out["node_ready"] = node_ready(kubeconfig_path())
    return out


def import_image(image: str, engine: str = "podman") -> float:
    """Make ``image`` (from the container engine's store) available to the local cluster's
    containerd; seconds taken (0 when it was there already)."""
    from ..images.engine import find_engine
    from .images import cluster_images, import_from_engine

    record = read_record()
    if not record or not cluster_alive(record):
        raise VsbError("the local cluster is not up: run `vsbench cluster up`")
    sock = state_dir() / "containerd" / "containerd.sock"
    if image in cluster_images(sock):
        return 0.0
    return import_from_engine(sock, image, find_engine(engine).exe)
